"""Panel 1: per-role API usage against the endpoint's limits as the engine's limiter counts them
(core/throughput.py: each request reserves its prompt estimate + max_tokens of the TPM limit), dollars
spent and projected."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from lion_cli.tui.snapshot import RoleUsage, Snapshot
from lion_cli.tui.widgets.columns import Column, dropped_note, fitted_table
from lion_cli.tui.widgets.format import bar, compact, count, usd
from lion_cli.tui.widgets.view import SnapshotView

# In table order; a narrow terminal drops the highest priority numbers first (role, money and the
# request counts stay at 80 columns).
API_COLUMNS = (Column("role", 0), Column("done / total", 2), Column("req/min/rpm", 4),
               Column("tok/min rsv (used)/tpm", 6), Column("429s", 3, "right"), Column("retry", 5, "right"),
               Column("tokens in/out", 8), Column("spent", 1, "right"), Column("$/req", 7, "right"),
               Column("cached", 9, "right"))


def _per_min(now: int, limit: int | None, used: int | None = None, bar_width: int = 0) -> Text:
    t = Text(f"{compact(now)}" + ("" if used is None else f" ({compact(used)})") + f" / {compact(limit)}")
    if limit and bar_width:
        share = now / limit
        t.append(" ")
        t.append_text(bar(share, width=bar_width, style="red" if share > 0.9 else "green"))
    elif limit and now / limit > 0.9:
        t.stylize("red")
    return t


def role_row(u: RoleUsage) -> list[Text | str]:
    total = u.total_calls
    done = Text(f"{u.calls:,} / {count(total)}")
    if total:
        done.append(" ")
        done.append_text(bar(u.calls / total, width=4))
    paid = u.calls - u.cached
    return [Text(u.role, style="bold"), done, _per_min(u.rpm_now, u.rpm_limit),
            _per_min(u.reserved_now, u.tpm_limit, used=u.tpm_now, bar_width=4),
            Text(f"{u.rate_limited:,}", style="red" if u.rate_limited else ""), f"{u.retries:,}",
            f"{u.prompt_tokens:,} / {u.completion_tokens:,}", usd(u.cost_usd),
            usd(u.cost_usd / paid if paid else None, 5), f"{u.cached:,}"]


def money_line(snap: Snapshot) -> Text:
    money = Text()
    money.append("spent ", style="bold")
    money.append(usd(snap.spent_usd))
    money.append("   projected total ", style="bold")
    money.append(usd(snap.projected_total_usd))
    money.append("   budget ", style="bold")
    if snap.budget_usd:
        left = snap.budget_left_usd or 0.0
        money.append(f"{usd(snap.budget_usd, 2)}, left {usd(left)}", style="red" if left <= 0 else "")
        over = snap.projected_total_usd is not None and snap.projected_total_usd > snap.budget_usd
        if over:
            money.append("  (projection exceeds the budget: the run will pause)", style="yellow")
    else:
        money.append("no cap")
    return money


class ApiPanel(SnapshotView, Static):
    def on_resize(self) -> None:
        if self.snapshot is not None:   # the columns that fit depend on the width
            self.show(self.snapshot)

    def show(self, snap: Snapshot) -> None:
        width = self.content_region.width or self.app.size.width - 4   # hidden tab: about the pane's width
        table, dropped = fitted_table(API_COLUMNS, [role_row(u) for u in snap.roles.values()], width)
        advice = Table.grid(padding=(0, 1))   # a wrapped line hangs under its text, not under the role
        advice.add_column(style="bold yellow", no_wrap=True)
        advice.add_column(style="yellow")
        for u in snap.roles.values():
            if u.advice:
                advice.add_row(f"{u.role}:", u.advice.removeprefix(f"{u.role}: "))
        for e in snap.endpoints:  # the engine's concurrency: in flight, the limit it found, backing off
            advice.add_row(f"{'/'.join(e.roles)}:", e.describe())
        for b in snap.batches:  # the roles in batch mode: each batch's state at the provider
            advice.add_row(f"{b.role}:", b.describe().removeprefix(f"{b.role} "))
        note = Text("rsv, reserved: what the limiter takes from the tpm limit per request, prompt estimate +"
                    " max_tokens, as providers count it\nprojection: remaining requests (pools × iterations left)"
                    " × mean cost per request per role", style="dim")
        self.update(Group(table, *dropped_note(dropped), money_line(snap), Text(""), advice, note))

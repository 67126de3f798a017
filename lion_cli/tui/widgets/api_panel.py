"""Panel 1: per-role API usage against the endpoint's limits as the engine's limiter counts them
(core/throughput.py: each request reserves its prompt estimate + max_tokens of the TPM limit), dollars
spent and projected."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from lion_cli.tui.snapshot import RoleUsage, Snapshot
from lion_cli.tui.widgets.format import bar, compact, count, usd
from lion_cli.tui.widgets.view import SnapshotView


def _per_min(now: int, limit: int | None, used: int | None = None) -> Text:
    t = Text(f"{compact(now)}" + ("" if used is None else f" ({compact(used)})") + f" / {compact(limit)}")
    if limit:
        share = now / limit
        t.append(" ")
        t.append_text(bar(share, width=6, style="red" if share > 0.9 else "green"))
    return t


def role_row(u: RoleUsage) -> list[Text | str]:
    total = u.total_calls
    done = Text(f"{u.calls:,} / {count(total)}")
    if total:
        done.append(" ")
        done.append_text(bar(u.calls / total, width=6))
    paid = u.calls - u.cached
    return [Text(u.role, style="bold"), done, _per_min(u.rpm_now, u.rpm_limit),
            _per_min(u.reserved_now, u.tpm_limit, used=u.tpm_now),
            Text(f"{u.rate_limited:,}", style="red" if u.rate_limited else ""), f"{u.retries:,}",
            f"{u.prompt_tokens:,} / {u.completion_tokens:,}", usd(u.cost_usd),
            usd(u.cost_usd / paid if paid else None, 5), f"{u.cached:,}"]


class ApiPanel(SnapshotView, Static):
    def show(self, snap: Snapshot) -> None:
        table = Table(expand=True, box=None, header_style="bold", pad_edge=False)
        for col in ("role", "requests done / total", "req/min / rpm", "tok/min rsv (used) / tpm", "429s",
                    "retries", "tokens in / out", "spent", "$/request", "cached"):
            table.add_column(col, no_wrap=True)
        for u in snap.roles.values():
            table.add_row(*role_row(u))
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
        advice = Table.grid(padding=(0, 1))   # a wrapped line hangs under its text, not under the role
        advice.add_column(style="bold yellow", no_wrap=True)
        advice.add_column(style="yellow")
        for u in snap.roles.values():
            if u.advice:
                advice.add_row(f"{u.role}:", u.advice.removeprefix(f"{u.role}: "))
        for e in snap.endpoints:  # the engine's concurrency: in flight, the limit it found, backing off
            advice.add_row(f"{'/'.join(e.roles)}:", e.describe())
        note = Text("rsv, reserved: what the limiter takes from the tpm limit per request, prompt estimate +"
                    " max_tokens, as providers count it\nprojection: remaining requests (pools × iterations left)"
                    " × mean cost per request per role", style="dim")
        self.update(Group(table, advice, Text(""), money, note))

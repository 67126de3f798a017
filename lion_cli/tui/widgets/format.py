"""Number and text formatting shared by the panels."""

from __future__ import annotations

from rich.text import Text

from lion_cli.core.eta import clock

BAR_WIDTH = 12


def duration(seconds: float | None) -> str:
    return "--:--" if seconds is None else clock(seconds)


def usd(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"${value:,.{digits}f}"


def count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def compact(value: int | None) -> str:
    """1,234 up to 9,999, then 12.3k / 4.5M: rates and limits in a narrow column."""
    if value is None:
        return "?"
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if abs(value) >= 10_000 and abs(value) >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:,}"


def pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def ratio(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def bar(fraction: float, width: int = BAR_WIDTH, style: str = "green") -> Text:
    """A progress bar in eighths of a cell, so slow stages still visibly move."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    text = Text("█" * full + partial, style=style)
    text.append("░" * (width - full - (1 if partial else 0)), style="grey37")
    return text


def one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"

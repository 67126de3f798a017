"""When the dashboard warns that the referee's labels should not be trusted.

The thresholds live here only (docs/dashboard.md explains them). Both measure the referee, not the
student: a referee that prefers whichever answer comes first (or second) flips its winner when the
two answers swap places, and a referee whose replies cannot be read leaves instructions unscored, so
the hard/easy split that drives generation is then mostly noise."""

from __future__ import annotations

from lion_cli.tui.snapshot import LabelCounts

# A referee that picks its winner at random keeps it across the swap half the time (0.5); one that
# always prefers a position never does (0.0). Below this it is barely better than a coin.
MIN_ORDER_CONSISTENCY = 0.6
# Share of referee replies (every attempt) from which two scores were read.
MIN_PARSE_RATE = 0.75
# Fewer scored items than this say too little about the referee to warn either way.
MIN_SCORED = 5


def referee_warnings(counts: LabelCounts) -> list[str]:
    """One line per reason not to trust this iteration's labels; empty when there is none."""
    out = []
    consistency = counts.order_consistency
    if consistency is not None and counts.hard + counts.easy >= MIN_SCORED and consistency < MIN_ORDER_CONSISTENCY:
        out.append(f"order consistency {consistency:.2f} < {MIN_ORDER_CONSISTENCY}: the referee's winner follows"
                   f" the answers' positions ({100 * (1 - consistency):.0f}% flip when swapped)")
    parsed = counts.parse_rate
    if parsed is not None and counts.replies >= MIN_SCORED and parsed < MIN_PARSE_RATE:
        unread = counts.replies - counts.replies_read
        out.append(f"parse rate {100 * parsed:.0f}% < {100 * MIN_PARSE_RATE:.0f}%: {unread} of {counts.replies}"
                   " referee replies had no readable scores")
    return out

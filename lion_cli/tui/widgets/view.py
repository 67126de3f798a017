"""What every part of the main screen shares: a `snapshot` reactive that the app binds to its own
(`widget.data_bind(LionDashboard.snapshot)`), so each new read of the store redraws every part,
hidden tabs included, without the app reaching into them."""

from __future__ import annotations

from textual.css.query import NoMatches
from textual.reactive import var

from lion_cli.tui.snapshot import Snapshot


class SnapshotView:
    """Mix in before the Textual widget class: `class ApiPanel(SnapshotView, Static)`."""

    # A bound reactive is set on every change of the app's, even to an equal value; None until the
    # first read has finished.
    snapshot: var[Snapshot | None] = var(None, init=False)

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        try:
            self.show(snap)
        except NoMatches:
            pass   # the app is closing and has already removed this widget's children

    def show(self, snap: Snapshot) -> None:
        """Redraw from one snapshot (each widget says how)."""
        raise NotImplementedError

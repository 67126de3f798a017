"""Render the dashboard's PNGs in docs/ from the SVG snapshots the tests keep.

    .venv/bin/pytest tests/test_tui_snapshots.py --snapshot-update   # after a visual change
    .venv/bin/pip install cairosvg                                   # once; not a dependency of lion
    .venv/bin/python docs/dashboard_png.py [--panel discrimination]

writes docs/dashboard-80x24.png and docs/dashboard-120x40.png (the API panel unless --panel says
another). The snapshots are of tests/tui_fixtures.py's known project, so the numbers in the pictures
are the ones the tests check."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = ROOT / "tests" / "__snapshots__" / "test_tui_snapshots"
SIZES = ("80x24", "120x40")


def svg_for_cairo(svg: str) -> str:
    """Textual's SVG asks for Fira Code from the web; offline, name a local monospace font instead so
    every cell keeps its width."""
    svg = re.sub(r"@font-face\s*\{[^}]*\}", "", svg)
    return svg.replace('font-family: Fira Code, monospace', 'font-family: DejaVu Sans Mono, monospace')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panel", default="api")
    parser.add_argument("--scale", type=float, default=1.5)
    args = parser.parse_args()
    import cairosvg  # here, not at the top: `--help` works without it

    for size in SIZES:
        source = SNAPSHOTS / f"test_snapshot_panel[{args.panel}-{size}].svg"
        target = ROOT / "docs" / f"dashboard-{size}.png"
        cairosvg.svg2png(bytestring=svg_for_cairo(source.read_text(encoding="utf-8")).encode(),
                         write_to=str(target), scale=args.scale)
        print(f"{target.relative_to(ROOT)} ← {source.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""The files and folders a project's commands wrote where the user chose (`lion export --out`,
`lion student train --out`), as the store records them: what `lion init --force` clears when they
lie inside the project folder."""

from __future__ import annotations

from pathlib import Path

from lion_cli.store.db import Store
from lion_cli.store.paths import read_path, stored_path

EXPORT_KINDS = ("delta", "data", "pairs")


def record_export(store: Store, kind: str, path: str | Path, iteration: int | None) -> None:
    if kind not in EXPORT_KINDS:
        raise ValueError(f"export kind {kind!r}: expected one of {', '.join(EXPORT_KINDS)}")
    with store.tx() as c:
        c.execute("INSERT INTO export_records (kind, path, iteration) VALUES (?,?,?)",
                  (kind, stored_path(store, Path(path).resolve()), iteration))


def written_paths(store: Store) -> list[Path]:
    """Every job output folder and export the store recorded, absolute (in this store's folder)."""
    rows = store.query("SELECT output_dir AS path FROM train_jobs UNION SELECT path FROM export_records")
    return sorted({Path(read_path(store, str(r["path"]))) for r in rows if r["path"]})

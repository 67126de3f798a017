"""`lion init --seed FILE|DIR|HUB_ID` → parsed seeds, or a SeedError naming where and what was expected.

- a file: by its extension (core/seeds.py detects the text formats; .parquet is read with pyarrow);
- a folder written by `datasets`' save_to_disk (dataset_info.json or dataset_dict.json): its train split
  (or its only split);
- any other folder: its data files (.json, .jsonl, .csv, .tsv, .parquet, in subfolders too), only those
  whose name says train when some do (the split `datasets` would call train: lion's own `export data
  --format hf` folder reads back its train.jsonl, not its pairs);
- a hub id (owner/name, not a path here): `datasets.load_dataset`, which needs the network.
"""

from __future__ import annotations

from pathlib import Path

from lion_cli.core.seeds import Progress, SeedError, SeedParse, parse_seed_bytes, seed_parse
from lion_cli.core.types import SeedItem

DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".parquet")


def looks_like_hub_id(source: str) -> bool:
    """owner/name as the hub spells a dataset (letters, digits, '-', '_', '.'), never an absolute path nor
    a name ending like a seed file (a mistyped `data/seeds.json` is a missing file, not a hub request)."""
    parts = source.split("/")
    if len(parts) != 2 or source.lower().endswith((*DATA_SUFFIXES, ".txt", ".tab")):
        return False
    return all(p and p[0].isalnum() for p in parts) and all(ch.isalnum() or ch in "-_." for ch in "".join(parts))


def _read_file(path: Path, columns: dict[str, str], progress: Progress | None) -> SeedParse:
    where = str(path)
    if path.suffix.lower() == ".parquet":
        from lion_cli.seeds_io.arrow import parquet_items

        return seed_parse(parquet_items(path, columns, progress), where, "parquet")
    return parse_seed_bytes(path.read_bytes(), where, columns, progress)


def _data_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    train = [p for p in files if "train" in p.relative_to(folder).as_posix().lower()]
    return train or files


def _read_folder(folder: Path, columns: dict[str, str], progress: Progress | None) -> SeedParse:
    if (folder / "dataset_info.json").is_file() or (folder / "dataset_dict.json").is_file():
        from lion_cli.seeds_io.arrow import saved_dataset_items

        return seed_parse(saved_dataset_items(folder, columns, progress), str(folder), "hf-saved")
    files = _data_files(folder)
    if not files:
        raise SeedError(f"{folder}: a folder with no data files (expected a `datasets` save_to_disk folder, or "
                        f"files ending in {', '.join(DATA_SUFFIXES)})")
    items: list[SeedItem] = []
    formats = []
    for path in files:
        got = _read_file(path, columns, progress)
        items += got.items
        formats.append(got.fmt)
    return seed_parse(items, str(folder), f"folder ({', '.join(sorted(set(formats)))})")


def read_seeds(source: str | Path, columns: dict[str, str] | None = None,
               progress: Progress | None = None) -> SeedParse:
    """The seeds a source holds, exact duplicates dropped."""
    path = Path(source)
    if path.is_file():
        return _read_file(path, columns or {}, progress)
    if path.is_dir():
        return _read_folder(path, columns or {}, progress)
    if isinstance(source, str) and looks_like_hub_id(source):
        from lion_cli.seeds_io.arrow import hub_items

        return seed_parse(hub_items(source, columns or {}, progress), source, "hub")
    raise SeedError(f"{source}: seed file not found (expected a file, a dataset folder or a hub id owner/name)")

"""Parquet files and `datasets` datasets as seed records (pyarrow and datasets: the `data` extra)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lion_cli.core.seed_records import items_from_records
from lion_cli.core.seeds import Progress, SeedError
from lion_cli.core.types import SeedItem

BATCH_ROWS = 10_000
INSTALL_HINT = "pip install 'lion-cli[data]'"


def _rows(batches: Iterator[Any]) -> Iterator[dict[str, Any]]:
    for batch in batches:
        yield from batch.to_pylist()


def parquet_items(path: Path, columns: dict[str, str], progress: Progress | None) -> list[SeedItem]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise SeedError(f"{path}: reading Parquet needs pyarrow ({INSTALL_HINT})") from None
    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS)
    except Exception as exc:  # pyarrow's errors have no common base but Exception
        raise SeedError(f"{path}: not a readable Parquet file ({exc})") from None
    items, _ = items_from_records(_rows(batches), lambda i: f"{path}: row {i + 1}", columns=columns,
                                  progress=progress)
    return items


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise SeedError(f"reading a `datasets` folder or hub id needs datasets ({INSTALL_HINT})") from None
    datasets.disable_progress_bars()  # lion's own progress line says how far it is
    return datasets


def _one_split(data: Any, where: str) -> Any:
    """A DatasetDict's train split, or its only one; a Dataset as it is."""
    if not hasattr(data, "keys"):
        return data
    splits = list(data.keys())
    if "train" in splits:
        return data["train"]
    if len(splits) == 1:
        return data[splits[0]]
    raise SeedError(f"{where}: splits {', '.join(splits)} and none is called train (expected a train split, "
                    "or one split only)")


def _dataset_items(data: Any, where: str, columns: dict[str, str], progress: Progress | None) -> list[SeedItem]:
    dataset = _one_split(data, where)
    batches = dataset.with_format("arrow").iter(batch_size=BATCH_ROWS)
    items, _ = items_from_records(_rows(batches), lambda i: f"{where}: row {i + 1}", columns=columns,
                                  progress=progress)
    return items


def saved_dataset_items(folder: Path, columns: dict[str, str], progress: Progress | None) -> list[SeedItem]:
    datasets = _datasets()
    try:
        data = datasets.load_from_disk(str(folder))
    except Exception as exc:  # a damaged folder: datasets raises many kinds
        raise SeedError(f"{folder}: not a readable `datasets` folder ({exc})") from None
    return _dataset_items(data, str(folder), columns, progress)


def hub_items(dataset_id: str, columns: dict[str, str], progress: Progress | None) -> list[SeedItem]:
    datasets = _datasets()
    try:
        data = datasets.load_dataset(dataset_id)
    except Exception as exc:  # offline, unknown id, gated: each its own class
        raise SeedError(f"{dataset_id}: could not load this dataset from the Hugging Face hub ({exc}). "
                        "No network here? Save it elsewhere with datasets' save_to_disk and pass that folder, "
                        "or pass a file") from None
    return _dataset_items(data, dataset_id, columns, progress)

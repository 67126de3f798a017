"""lm-evaluation-harness itself as the reference for `--protocol harness`: its own task configs (the
installed package's bbh/zeroshot and agieval yaml files) pointed at the local data files, its own
request building, filters and metrics, fed with given model outputs instead of a model.

Imported only by tests that first `pytest.importorskip("lm_eval")`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _tasks_dir() -> Path:
    import lm_eval

    return Path(lm_eval.__file__).parent / "tasks"


def _load(tmp: Path, yamls: dict[str, str]) -> dict[str, Any]:
    """The named tasks, from one folder of configs read by one TaskManager (each costs seconds)."""
    from lm_eval.tasks import TaskManager

    folder = tmp / "harness-tasks"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in yamls.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    manager = TaskManager(include_path=str(folder), include_defaults=False)
    loaded = manager.load_task_or_group(list(yamls))
    return {name: loaded[name] for name in yamls}


def bbh_tasks(tmp: Path, data: Path, tasks: list[str]) -> dict[str, Any]:
    """The harness's bbh_zeroshot_<task> for each task, reading bbh/<task>.json from `data`."""
    yamls = {}
    for task in tasks:
        include = _tasks_dir() / "bbh" / "zeroshot" / f"{task}.yaml"
        yamls[task] = (f"include: {include}\ntask: lionref_bbh_{task}\ndataset_path: json\ndataset_name: null\n"
                       f"dataset_kwargs:\n  data_files:\n    train: {data / 'bbh' / f'{task}.json'}\n"
                       "  field: examples\ntest_split: train\n")
    loaded = _load(tmp, {f"lionref_bbh_{t}": y for t, y in yamls.items()})
    return {t: loaded[f"lionref_bbh_{t}"] for t in tasks}


def agieval_task(tmp: Path, rows: list[dict[str, Any]], task: str) -> Any:
    """The harness's agieval task config on the given {query, choices, gold} rows."""
    name = f"lionref_agieval_{task.replace('-', '_')}"
    path = tmp / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    include = _tasks_dir() / "agieval" / "aqua-rat.yaml"
    text = (f"include: {include}\ntask: {name}\ndataset_path: json\ndataset_name: null\n"
            f"dataset_kwargs:\n  data_files:\n    test: {path}\ntest_split: test\n")
    return _load(tmp, {name: text})[name]


def generate_results(task: Any, replies: list[str]) -> list[dict[str, Any]]:
    """Per item: the harness's context and stop list, each filter's output and each filter's metrics,
    for the given replies (one per item, in data order)."""
    task.build_all_requests(limit=len(replies), rank=0, world_size=1)
    instances = sorted(task.instances, key=lambda i: i.doc_id)
    for inst, reply in zip(instances, replies, strict=True):
        inst.resps = [reply]
    task.apply_filters()
    out = []
    for inst in instances:
        row: dict[str, Any] = {"context": inst.args[0], "until": list(inst.args[1]["until"])}
        for key, filtered in inst.filtered_resps.items():
            row[key] = filtered
            row[f"{key}:metrics"] = task.process_results(inst.doc, [filtered])
        out.append(row)
    return out


def multiple_choice_results(task: Any, logliks: list[list[float]]) -> list[dict[str, Any]]:
    """Per item: the harness's context, its continuations, and its metrics for the given log-likelihoods."""
    task.build_all_requests(limit=len(logliks), rank=0, world_size=1)
    by_doc: dict[int, list[Any]] = {}
    for inst in task.instances:
        by_doc.setdefault(inst.doc_id, []).append(inst)
    out = []
    for doc_id in sorted(by_doc):
        insts = sorted(by_doc[doc_id], key=lambda i: i.idx)
        results = [(ll, False) for ll in logliks[doc_id]]
        out.append({"context": insts[0].args[0], "continuations": [i.args[1] for i in insts],
                    "metrics": task.process_results(insts[0].doc, results)})
    return out

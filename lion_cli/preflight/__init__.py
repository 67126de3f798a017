"""`lion check`: prove a project can run before a run pays for anything.

Every problem is collected (never only the first), each naming its file and key. The offline
checks read lion.toml, lion.db (read-only), the files the settings name, the installed packages and
the environment; nothing is written. The probe (opt-in) talks to the endpoints, and only when every
offline check passed, so a project with any problem costs no request at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lion_cli.config import CONFIG_NAME, DB_NAME, ConfigError, Settings, load_settings, resolve_path
from lion_cli.core.value_checks import Problem
from lion_cli.preflight.endpoints import (
    judge_key_notes,
    key_findings,
    limit_findings,
    price_notes,
    probe_findings,
    reply_shape_notes,
)
from lion_cli.preflight.student import base_model_findings, launch_findings, strategy_findings, student_notes
from lion_cli.preflight.teacher_model import teacher_model_findings
from lion_cli.store.health import store_problems, stored_seed_count


@dataclass
class Report:
    project_dir: Path
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    probed: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {"project": str(self.project_dir), "ok": self.ok, "probed": self.probed,
                "problems": [p.as_dict() for p in self.problems], "notes": self.notes}


def seed_file_gone(settings: Settings, project_dir: Path) -> tuple[Path, int] | None:
    """(the seed file, the seeds lion.db holds) when project.seed_file names a file that is not there.
    `lion init` read it into lion.db: once the store holds the seeds the file is not needed any more
    (a copied project, a deleted download), so it is a problem only for a store without seeds."""
    from lion_cli.seeds_io.read import looks_like_hub_id

    seed = settings.project.seed_file
    path = resolve_path(project_dir, seed)
    if not seed or path.exists() or looks_like_hub_id(seed):  # a seed folder, or a dataset on the hub
        return None
    return path, stored_seed_count(project_dir / DB_NAME)


def project_file_findings(settings: Settings, project_dir: Path) -> list[tuple[str, str]]:
    findings = []
    gone = seed_file_gone(settings, project_dir)
    if gone is not None and gone[1] == 0:
        findings.append(("project.seed_file", f"{gone[0]}: no such file, and lion.db holds no seeds "
                                              "(run `lion init` with the seed file again)"))
    data_dir = settings.project.data_dir
    if data_dir and not resolve_path(project_dir, data_dir).is_dir():
        findings.append(("project.data_dir", f"{resolve_path(project_dir, data_dir)}: no such folder "
                                             "(\"\" uses lion's benchmark cache)"))
    return findings


def offline_findings(settings: Settings, project_dir: Path) -> list[tuple[str, str]]:
    """(dotted key, message) for everything checkable without the network, all of it."""
    checks = (base_model_findings, strategy_findings, launch_findings, teacher_model_findings)
    student = [("student." + key, message) for check in checks for key, message in check(settings.student, project_dir)]
    return [*project_file_findings(settings, project_dir), *student, *key_findings(settings),
            *limit_findings(settings)]


def check_project(project_dir: Path, *, probe: bool = False) -> Report:
    """The preflight of the project in `project_dir`; `probe` adds one look at every endpoint."""
    report = Report(project_dir)
    cfg = project_dir / CONFIG_NAME
    settings: Settings | None = None
    try:
        settings = load_settings(cfg)
    except ConfigError as exc:
        report.problems += exc.problems
    db = project_dir / DB_NAME
    report.problems += [Problem(str(db), "", message) for message in store_problems(db)]
    if settings is None:
        return report
    report.problems += [Problem(str(cfg), key, message) for key, message in offline_findings(settings, project_dir)]
    report.notes += student_notes(settings.student) + price_notes(settings) + judge_key_notes(settings)
    gone = seed_file_gone(settings, project_dir)
    if gone is not None and gone[1] > 0:
        report.notes.append(f"project.seed_file {gone[0]}: no such file; lion.db holds its {gone[1]} seeds, "
                            "so nothing needs it (seed_file = \"\" silences this)")
    if probe and report.ok:
        report.probed = True
        report.problems += [Problem(str(cfg), key, message) for key, message in probe_findings(settings)]
        if report.ok:
            report.notes += reply_shape_notes(settings)
    return report

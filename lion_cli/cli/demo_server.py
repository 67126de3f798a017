"""A demo project's local server: `lion demo` records how to start it (the `lion serve` arguments,
never the port, which is chosen afresh each time) in demo-server.json, and `lion run` / `lion resume`
of that project start it again when it no longer answers, pointing the endpoints at it for that run.
lion.toml keeps the address the demo was made with."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lion_cli.cli.common import CONFIG_NAME, Project, err
from lion_cli.cli.project_files import DEMO_RECORD
from lion_cli.core.types import ENDPOINT_ROLES

TOML_NOTE = ("# A `lion demo` project: teacher, referee and generator are lion's local server, and `lion resume`\n"
             f"# starts it again (on a new port) when it is gone: {DEMO_RECORD} says how.\n")


def write_server_record(directory: Path, backend: str, options: dict[str, Any]) -> None:
    """Record how this demo's server starts, and say so at the top of its lion.toml."""
    from lion_cli.server.process import serve_command

    args = serve_command(backend, **options)[3:]  # without the interpreter: `lion serve …`
    record = {"about": "how `lion run` / `lion resume` start this demo's local server again (a fresh port)",
              "command": ["lion", *args], "backend": backend, "options": options,
              "roles": [r.value for r in ENDPOINT_ROLES]}
    (directory / DEMO_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    config = directory / CONFIG_NAME
    config.write_text(TOML_NOTE + config.read_text(encoding="utf-8"), encoding="utf-8")


def read_server_record(directory: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((directory / DEMO_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("backend"), str) else None


def _answers(base_url: str) -> bool:
    import httpx

    try:
        return httpx.get(base_url.rstrip("/") + "/models", timeout=2.0).status_code < 500
    except httpx.HTTPError:
        return False


@contextmanager
def demo_server_for(project: Project) -> Iterator[None]:
    """While inside: a demo project's server answers (started again if it was gone), and the
    project's endpoints point at it. Any other project is left as it is."""
    record = read_server_record(project.dir)
    if record is None or _answers(project.settings.teacher.base_url):
        yield
        return
    from lion_cli.server.process import running_server

    err(f"the demo's local server ({' '.join(record.get('command', []))}) is gone: starting it again …")
    with running_server(backend=record["backend"], **dict(record.get("options") or {})) as url:
        for role in record.get("roles", []):
            endpoint = project.settings.endpoint(role)
            setattr(project.settings, role, dataclasses.replace(endpoint, base_url=url))
        err(f"demo server at {url} for this run ({CONFIG_NAME} keeps the old address)")
        yield

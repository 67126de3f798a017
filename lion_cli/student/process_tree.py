"""A job's processes, wherever they are: its launcher's process group is not all of them.

torchrun starts every worker in a session of its own, so a signal to the launcher's group never
reaches a worker, and a launcher killed outright leaves its workers running as orphans. Stopping a job
therefore walks the launcher's descendants in /proc (by parent pid) before anything is signalled.
Linux only; without /proc the family is empty and the process group is all there is to go by.
"""

from __future__ import annotations

import contextlib
import os
import signal

PROC = "/proc"


def _stat_fields(pid: int | str) -> list[str] | None:
    """/proc/PID/stat from the state field on ("S", ppid, pgrp, ...), or None when it is gone."""
    try:
        with open(os.path.join(PROC, str(pid), "stat"), encoding="utf-8", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()  # the command name may hold spaces and ')'


def descendants(pid: int) -> set[int]:
    """Every live process below pid (children, theirs, ...), found by parent pid; empty without /proc."""
    if not os.path.isdir(PROC):
        return set()
    children: dict[int, list[int]] = {}
    for entry in os.scandir(PROC):
        if entry.name.isdigit() and (fields := _stat_fields(entry.name)) and len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie, dead and waiting to be reaped, is not)."""
    if not os.path.isdir(PROC):
        try:
            os.kill(pid, 0)  # signal 0: an existence check, nothing is sent
        except (ProcessLookupError, PermissionError):
            return False
        return True
    fields = _stat_fields(pid)
    return fields is not None and bool(fields) and fields[0] not in ("Z", "X")


def send(pgid: int, family: set[int], sig: int) -> None:
    """sig to the process group pgid and to each process of `family`. No waiting, no locks: a signal
    handler may call it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    for pid in family:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_now(pgid: int) -> None:
    """SIGKILL the group pgid and everything below its leader."""
    send(pgid, descendants(pgid), signal.SIGKILL)

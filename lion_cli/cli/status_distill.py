"""A distillation run's held-out metric as `lion status` shows it: per iteration, the latest KL to the
teacher over the held-out rows that its imitation job scored (student.heldout_rows)."""

from __future__ import annotations

from typing import Any


def heldout_kl_states(store: Any) -> dict[int, dict[str, Any]]:
    """iteration → {status, step, heldout_kl} of its newest training job that scored one."""
    from lion_cli.store.jobs import imitation_heldout_kl

    return {int(r["iteration"]): {"status": r["status"], "step": r["step"], "heldout_kl": r["heldout_kl"]}
            for r in imitation_heldout_kl(store)}


def heldout_kl_line(state: dict[str, Any]) -> str:
    return (f"      held-out KL to the teacher {state['heldout_kl']:.4f} at step {state['step']} "
            f"(imitation job {state['status']})")

"""`lion rerun`: drop one stage's derived rows and everything that depends on them, so the loop does
that stage again from where it starts.

Rerunning stage S of iteration N drops:
- what S and the later stages of N wrote: the student (imitation: its folder is trained again and
  its answers asked again), referee verdicts and labels (discrimination), generator candidates and
  the instructions they made (generation, always: it comes after every stage of N);
- every later iteration: its pools, instructions, answers, verdicts, labels, candidates and stages;
- online DPO's samples and their verdicts from every student trained again, and of every instruction dropped;
- the failure marks of those stages, whose items are then sent again.
It keeps what is still valid whatever the new settings are: the teacher's answers to the instructions
that stay (keyed by instruction, model and settings hash: a changed teacher misses them by itself),
the request cache (a request with the same model, messages and sampling is answered from it, so a
referee or generator whose settings did not change costs nothing; a new referee model misses it),
api_calls, train_jobs and metrics (history), evaluation results and export records."""

from __future__ import annotations

from dataclasses import dataclass

from lion_cli.core.answer_keys import student_label
from lion_cli.core.types import STAGES, Role, Stage
from lion_cli.store.db import Store

# The instructions generation made after iteration N (iteration column: the one that starts with them).
_MADE_AFTER = "SELECT id FROM instructions WHERE iteration > :n AND origin != 'seed'"
# Online DPO's samples and verdicts made by a student trained again, or of an instruction dropped.
_ONLINE_DROPPED = f"iteration >= :student OR instruction_id IN ({_MADE_AFTER})"


@dataclass(frozen=True)
class RerunScope:
    """Which rows a rerun of `stage` in `iteration` drops."""

    iteration: int
    stage: Stage
    last_iteration: int

    @property
    def stages_of_n(self) -> list[str]:
        return [s.value for s in STAGES[STAGES.index(self.stage):]]

    @property
    def first_student(self) -> int:
        """The first iteration whose student is trained again."""
        return self.iteration if self.stage is Stage.IMITATION else self.iteration + 1

    @property
    def judged_from(self) -> int:
        """The first iteration whose verdicts and labels are dropped."""
        return self.iteration if self.stage is not Stage.GENERATION else self.iteration + 1

    def params(self) -> dict[str, object]:
        """The named parameters of the statements below: :n, :judged, :student, and :s0.. the stages of N
        dropped."""
        return {"n": self.iteration, "judged": self.judged_from, "student": self.first_student,
                **{f"s{i}": s for i, s in enumerate(self.stages_of_n)}}

    @property
    def stage_marks(self) -> str:
        return ", ".join(f":s{i}" for i in range(len(self.stages_of_n)))

    def student_labels(self) -> list[str]:
        return [student_label(k) for k in range(self.first_student, self.last_iteration + 1)]


def rerun_scope(store: Store, iteration: int, stage: Stage) -> RerunScope:
    last = store.scalar("SELECT MAX(iteration) FROM iterations")
    return RerunScope(iteration, stage, int(last if last is not None else iteration))


def stage_status(store: Store, iteration: int, stage: Stage) -> str | None:
    """The stage row's status, None when the iteration never started."""
    value = store.scalar("SELECT status FROM stages WHERE iteration=? AND stage=?", (iteration, stage.value))
    return None if value is None else str(value)


def _in_labels(labels: list[str]) -> str:
    return "(" + ",".join("?" * len(labels)) + ")" if labels else "(NULL)"


def _counted(scope: RerunScope) -> dict[str, tuple[str, tuple[object, ...] | dict[str, object]]]:
    """What is dropped, by name: (a COUNT query, its parameters)."""
    p = scope.params()
    labels = scope.student_labels()
    return {
        "referee verdicts": ("SELECT COUNT(*) FROM judgements WHERE iteration >= :judged", p),
        "labels": ("SELECT COUNT(*) FROM labels WHERE iteration >= :judged", p),
        "generator candidates": ("SELECT COUNT(*) FROM candidates WHERE iteration >= :n", p),
        "generated instructions": (f"SELECT COUNT(*) FROM ({_MADE_AFTER})", p),
        "student answers": (f"SELECT COUNT(*) FROM responses WHERE role = ? AND model IN {_in_labels(labels)}",
                            (Role.STUDENT.value, *labels)),
        "online DPO samples": (f"SELECT COUNT(*) FROM online_samples WHERE {_ONLINE_DROPPED}", p),
        "later iterations": ("SELECT COUNT(*) FROM iterations WHERE iteration > :n", p),
    }


def rerun_counts(store: Store, scope: RerunScope) -> dict[str, int]:
    """How many rows of each kind the rerun drops (for the confirmation)."""
    return {name: int(store.scalar(sql, params) or 0) for name, (sql, params) in _counted(scope).items()}


def kept_counts(store: Store, scope: RerunScope) -> dict[str, int]:
    """What stays that a paid or slow step made: teacher answers and cached requests."""
    p = scope.params()
    return {"teacher answers": int(store.scalar(
                f"SELECT COUNT(*) FROM responses WHERE role = 'teacher' AND instruction_id NOT IN ({_MADE_AFTER})",
                p) or 0),
            "cached requests": int(store.scalar("SELECT COUNT(*) FROM request_cache") or 0)}


def drop_for_rerun(store: Store, scope: RerunScope) -> None:
    """Delete the rows the rerun drops and set the stages back to pending, in one transaction."""
    p = scope.params()
    labels = scope.student_labels()
    with store.tx() as c:
        c.execute(f"DELETE FROM item_failures WHERE iteration > :n OR instruction_id IN ({_MADE_AFTER})"
                  f" OR (iteration = :n AND stage IN ({scope.stage_marks}))", p)
        c.execute(f"DELETE FROM responses WHERE role = ? AND model IN {_in_labels(labels)}",
                  (Role.STUDENT.value, *labels))
        c.execute(f"DELETE FROM responses WHERE instruction_id IN ({_MADE_AFTER})", p)
        c.execute(f"DELETE FROM judgements WHERE iteration >= :judged OR instruction_id IN ({_MADE_AFTER})", p)
        c.execute(f"DELETE FROM labels WHERE iteration >= :judged OR instruction_id IN ({_MADE_AFTER})", p)
        c.execute("DELETE FROM candidates WHERE iteration >= :n", p)
        c.execute(f"DELETE FROM online_scores WHERE {_ONLINE_DROPPED}", p)
        c.execute(f"DELETE FROM online_samples WHERE {_ONLINE_DROPPED}", p)
        c.execute(f"DELETE FROM pool_members WHERE iteration > :n OR instruction_id IN ({_MADE_AFTER})", p)
        c.execute(_MADE_AFTER.replace("SELECT id", "DELETE"), p)
        c.execute("DELETE FROM stages WHERE iteration > :n", p)
        c.execute("DELETE FROM iterations WHERE iteration > :n", p)
        c.execute("UPDATE stages SET status='pending', step='', done=0, total=0, started_at=NULL, finished_at=NULL,"
                  f" detail_json='{{}}' WHERE iteration = :n AND stage IN ({scope.stage_marks})", p)
        c.execute("UPDATE iterations SET status=:status, finished_at=NULL WHERE iteration=:n",
                  {**p, "status": "pending" if scope.stage is Stage.IMITATION else "running"})
        if scope.stage is Stage.IMITATION:
            c.execute("UPDATE iterations SET student_path=NULL WHERE iteration=:n", p)

"""Rows the three stages write: answers, referee verdicts, labels and generator candidates.

Each write is its own short transaction, made as soon as the work finishes, so a killed run keeps
everything it paid for."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from lion_cli.core.discrimination import LabelRow
from lion_cli.core.types import Label, Order, Pool
from lion_cli.store.db import Store

# --- responses -----------------------------------------------------------------------------------

def save_response(store: Store, instruction_id: int, role: str, model: str, settings_hash: str,
                  iteration: int, text: str, finish_reason: str, prompt_tokens: int = 0,
                  completion_tokens: int = 0) -> None:
    with store.tx() as c:
        c.execute(
            "INSERT OR IGNORE INTO responses (instruction_id, role, model, settings_hash, iteration, text,"
            " finish_reason, prompt_tokens, completion_tokens) VALUES (?,?,?,?,?,?,?,?,?)",
            (instruction_id, role, model, settings_hash, iteration, text, finish_reason, prompt_tokens,
             completion_tokens))


def answers(store: Store, ids: Sequence[int], role: str, model: str, settings_hash: str) -> dict[int, str]:
    wanted = set(ids)
    return {r[0]: r[1] for r in store.query(
        "SELECT instruction_id, text FROM responses WHERE role=? AND model=? AND settings_hash=?",
        (role, model, settings_hash)) if r[0] in wanted}


def cut_off_per_iteration(store: Store, role: str) -> dict[int, int]:
    """iteration → how many of the answers it asked `role` for were cut off by max_tokens."""
    return {r[0]: r[1] for r in store.query(
        "SELECT iteration, COUNT(*) FROM responses WHERE role=? AND finish_reason='length' GROUP BY iteration",
        (role,))}


def cut_off_answers(store: Store, ids: Sequence[int], role: str, model: str, settings_hash: str) -> int:
    """How many of the answers to `ids` were cut off by max_tokens (finish_reason length)."""
    wanted = set(ids)
    return sum(1 for r in store.query(
        "SELECT instruction_id FROM responses WHERE role=? AND model=? AND settings_hash=? AND finish_reason='length'",
        (role, model, settings_hash)) if r[0] in wanted)


def missing_in_pool(store: Store, iteration: int, pool: Pool, role: str, model: str,
                    settings_hash: str) -> list[int]:
    """Pool members without an answer of this (role, model, settings) — the work still to do."""
    return [r[0] for r in store.query(
        "SELECT p.instruction_id FROM pool_members p WHERE p.iteration=? AND p.pool=? AND NOT EXISTS ("
        " SELECT 1 FROM responses r WHERE r.instruction_id=p.instruction_id AND r.role=? AND r.model=?"
        " AND r.settings_hash=?) ORDER BY p.instruction_id",
        (iteration, pool.value, role, model, settings_hash))]


# --- judgements ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    instruction_id: int
    order: Order
    attempt: int
    teacher_score: float | None
    student_score: float | None
    parse_error: str | None


def save_judgement(store: Store, instruction_id: int, iteration: int, order: Order, attempt: int,
                   referee_model: str, raw_text: str, teacher_score: float | None,
                   student_score: float | None, parse_error: str | None) -> None:
    """One referee verdict; asked again, the (instruction, iteration, order, attempt) row is updated
    in place (keeping its id, which the dashboard counts new rows by)."""
    with store.tx():
        store.db.table("judgements").upsert(
            {"instruction_id": instruction_id, "iteration": iteration, "order_name": order.value, "attempt": attempt,
             "referee_model": referee_model, "raw_text": raw_text, "teacher_score": teacher_score,
             "student_score": student_score, "parse_error": parse_error},
            pk=("instruction_id", "iteration", "order_name", "attempt"))


def verdicts(store: Store, iteration: int) -> list[Verdict]:
    return [Verdict(r["instruction_id"], Order(r["order_name"]), r["attempt"], r["teacher_score"],
                    r["student_score"], r["parse_error"])
            for r in store.query("SELECT * FROM judgements WHERE iteration=? ORDER BY instruction_id,"
                                 " order_name, attempt", (iteration,))]


# --- labels --------------------------------------------------------------------------------------

def replace_labels(store: Store, iteration: int, rows: Iterable[LabelRow]) -> None:
    with store.tx() as c:
        c.execute("DELETE FROM labels WHERE iteration=?", (iteration,))
        store.db.table("labels").insert_all(
            {"iteration": iteration, "instruction_id": r.instruction_id, "teacher_score": r.teacher_score,
             "student_score": r.student_score, "gap": r.gap, "label": r.label.value,
             "order_flip": None if r.order_flip is None else int(r.order_flip)} for r in rows)


def label_ids(store: Store, iteration: int, label: Label) -> list[int]:
    return [r[0] for r in store.query(
        "SELECT instruction_id FROM labels WHERE iteration=? AND label=? ORDER BY instruction_id",
        (iteration, label.value))]


# --- candidates ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CandidateRow:
    slot: int
    kind: str
    seed_instruction_id: int
    raw_text: str
    text: str
    input: str
    finish_reason: str
    accepted: bool
    reject_reason: str | None
    max_rouge: float | None
    nearest_text: str | None
    instruction_id: int | None


def save_candidate(store: Store, iteration: int, row: CandidateRow) -> None:
    """One generator output; written again for the same (iteration, slot), the row is updated in place."""
    with store.tx():
        store.db.table("candidates").upsert({"iteration": iteration, **asdict(row), "accepted": int(row.accepted)},
                                            pk=("iteration", "slot"))


def candidates(store: Store, iteration: int) -> list[CandidateRow]:
    return [CandidateRow(r["slot"], r["kind"], r["seed_instruction_id"], r["raw_text"], r["text"], r["input"],
                         r["finish_reason"], bool(r["accepted"]), r["reject_reason"], r["max_rouge"],
                         r["nearest_text"], r["instruction_id"])
            for r in store.query("SELECT * FROM candidates WHERE iteration=? ORDER BY slot", (iteration,))]


# --- novelty token cache -------------------------------------------------------------------------

def tokens_for(store: Store, ids: Sequence[int]) -> dict[int, str | None]:
    return {r[0]: r[1] for r in store.query_in("SELECT id, tokens FROM instructions WHERE id IN ({marks})", ids)}


def save_tokens(store: Store, pairs: Iterable[tuple[int, str]]) -> None:
    with store.tx() as c:
        c.executemany("UPDATE instructions SET tokens=? WHERE id=?", [(t, i) for i, t in pairs])

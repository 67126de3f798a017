"""Online DPO's rows (migrations/0013): the current student's k samples per prompt of a round, and the
referee's verdict on each sample against the teacher's answer, per order and attempt."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lion_cli.core.types import Order
from lion_cli.store.db import Store


@dataclass(frozen=True, slots=True)
class OnlineSample:
    instruction_id: int
    sample: int
    seed: int
    text: str
    finish_reason: str = ""  # "length": the sample was cut off at max_new_tokens


@dataclass(frozen=True, slots=True)
class SampleVerdict:
    instruction_id: int
    sample: int
    order: Order
    attempt: int
    sample_score: float | None
    parse_error: str | None


def save_samples(store: Store, iteration: int, round_no: int, model_path: str, rows: Iterable[OnlineSample]) -> None:
    with store.tx() as conn:
        conn.executemany(
            "INSERT OR REPLACE INTO online_samples (iteration, round, instruction_id, sample, seed, model_path, text,"
            " finish_reason) VALUES (?,?,?,?,?,?,?,?)",
            [(iteration, round_no, r.instruction_id, r.sample, r.seed, model_path, r.text, r.finish_reason)
             for r in rows])


def round_samples(store: Store, iteration: int, round_no: int) -> dict[tuple[int, int], str]:
    """(instruction id, sample) → the sample's text."""
    return {(r[0], r[1]): r[2] for r in store.query(
        "SELECT instruction_id, sample, text FROM online_samples WHERE iteration=? AND round=?"
        " ORDER BY instruction_id, sample", (iteration, round_no))}


def save_sample_verdict(store: Store, iteration: int, round_no: int, v: SampleVerdict, referee_model: str,
                        raw_text: str, teacher_score: float | None) -> None:
    with store.tx() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO online_scores (iteration, round, instruction_id, sample, order_name, attempt,"
            " referee_model, raw_text, teacher_score, sample_score, parse_error) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (iteration, round_no, v.instruction_id, v.sample, v.order.value, v.attempt, referee_model, raw_text,
             teacher_score, v.sample_score, v.parse_error))


def round_verdicts(store: Store, iteration: int, round_no: int) -> list[SampleVerdict]:
    """Every verdict of the round, by instruction, sample, order and attempt."""
    return [SampleVerdict(r[0], r[1], Order(r[2]), r[3], r[4], r[5]) for r in store.query(
        "SELECT instruction_id, sample, order_name, attempt, sample_score, parse_error FROM online_scores"
        " WHERE iteration=? AND round=? ORDER BY instruction_id, sample, order_name, attempt",
        (iteration, round_no))]

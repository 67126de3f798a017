"""The vocabulary shared by every layer: roles, stages, pools, instructions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter, methodcaller
from typing import NamedTuple, TypeVar

T = TypeVar("T")
_HEX_DIGEST = methodcaller("hexdigest")
_INSTRUCTION_AND_INPUT = itemgetter(0, 1)


class Role(StrEnum):
    TEACHER = "teacher"
    REFEREE = "referee"
    GENERATOR = "generator"
    STUDENT = "student"
    JUDGE = "judge"


# The loop's API roles. The judge (Vicuna-80's, `lion eval vicuna`) has an endpoint too, but the loop
# never calls it: ENDPOINT_ROLES is every role a lion.toml endpoint section configures.
API_ROLES: tuple[Role, ...] = (Role.TEACHER, Role.REFEREE, Role.GENERATOR)
ENDPOINT_ROLES: tuple[Role, ...] = (*API_ROLES, Role.JUDGE)


class Stage(StrEnum):
    IMITATION = "imitation"
    DISCRIMINATION = "discrimination"
    GENERATION = "generation"


STAGES: tuple[Stage, ...] = (Stage.IMITATION, Stage.DISCRIMINATION, Stage.GENERATION)


class StageStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # stopped by SIGINT/SIGTERM; `lion resume` goes on from where it stood


class Pool(StrEnum):
    TRAIN = "train"
    CACHE = "cache"


class Origin(StrEnum):
    SEED = "seed"
    HARD = "hard"
    EASY = "easy"


class Label(StrEnum):
    HARD = "hard"
    EASY = "easy"
    UNSCORED = "unscored"


class Order(StrEnum):
    """Which answer the referee sees first: teacher-first or student-first."""

    TEACHER_FIRST = "teacher_first"
    STUDENT_FIRST = "student_first"


def shown_pair(order: Order, teacher: T, student: T) -> tuple[T, T]:
    """(shown first, shown second) of the teacher's and the student's under `order`."""
    return (teacher, student) if order is Order.TEACHER_FIRST else (student, teacher)


def teacher_student(order: Order, first: T, second: T) -> tuple[T, T]:
    """(the teacher's, the student's) of what was shown first and second under `order`."""
    return (first, second) if order is Order.TEACHER_FIRST else (second, first)


class SeedItem(NamedTuple):
    """One instruction as read from a seed file, before it gets an id in the store. A named tuple, not a
    dataclass: a 52K-row seed file's items are made from plain tuples in C (core/seed_fast.py maps
    `tuple.__new__` over them), where a dataclass costs a Python-level constructor per item."""

    instruction: str
    input: str = ""
    output: str = ""


@dataclass(frozen=True, slots=True)
class Instruction:
    id: int
    text: str
    input: str
    origin: Origin
    iteration: int
    parent_id: int | None = None


def content_hash(instruction: str, input_text: str = "") -> str:
    """The identity of an instruction: exact duplicates (same text, same input) share it."""
    return content_hashes([(instruction, input_text)])[0]


def content_hashes(pairs: Sequence[Sequence[str]]) -> list[str]:
    """content_hash of each (instruction, input, ...) in turn, the rule's one place. In bulk because
    `lion init` hashes a whole seed file: the hashing maps run in C, where a call per item costs a third
    more on 52K items."""
    keys = map(str.encode, map("\x00".join, map(_INSTRUCTION_AND_INPUT, pairs)))  # "instruction\0input"
    return list(map(_HEX_DIGEST, map(hashlib.sha256, keys)))

"""The scripted backend: deterministic answers for each role, so tests can predict what the loop
will decide (which instructions are hard, which generated instructions are rejected and why).

- teacher: an answer built from word lists seeded by the instruction (`scripted_teacher_answer`).
- referee: a short justification, then the two lines prompts/referee.txt asks for
  (`Assistant 1: <score>` / `Assistant 2: <score>`). The teacher's own answer scores `teacher_score`;
  any other answer a whole number in [student_min, student_max] fixed by its text; `position_bias`
  is added to Assistant 1 (capped at 10); a share
  `bad_reply_rate` of replies carries no readable scores (drawn per request, seed and sample, so a
  retry with another sample can succeed).
- generator: one new instruction per reply (as prompts/generator_*.txt ask), drawn from (the whole
  prompt, request seed, sample): mostly novel, some near-copies of the seed, some too short, some
  with leading punctuation.

Choice i of a request with n > 1 is its own deterministic sample: the referee and generator draw with
(sample, i), the teacher answers a variant of the instruction. Under a `response_format` schema the reply is
a JSON value built from the schema (schema.example): its strings carry the role's text and the referee's
two scores fill its first two numbers; such a referee reply always carries scores (bad_reply_rate applies
to free text only), as structured outputs make every reply readable.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass
from typing import Any

from lion_cli.server.schema import example

_SUBJECTS = ["The key idea", "A careful reader", "This approach", "The first step", "A good summary",
             "The main risk", "An experienced engineer", "The simplest answer", "A useful example", "The result"]
_VERBS = ["depends on", "starts from", "explains", "highlights", "balances", "connects", "reveals",
          "builds on", "clarifies", "questions"]
_OBJECTS = ["the underlying assumptions", "a clear definition", "the trade-offs involved", "the available evidence",
            "several small steps", "the context of the question", "a concrete illustration", "the expected outcome",
            "common mistakes", "the most relevant facts"]
_TAILS = ["in practice.", "before drawing conclusions.", "for most readers.", "without extra detail.",
          "with a short example.", "step by step.", "as the final check.", "in plain words."]

_GEN_VERBS = ["Write", "Describe", "Explain", "Compose", "Summarize", "Design", "Compare", "List", "Draft", "Outline"]
_GEN_ADJ = ["short", "detailed", "friendly", "formal", "humorous", "concise", "persuasive", "practical",
            "creative", "balanced", "technical", "simple"]
_GEN_NOUNS = ["story", "email", "plan", "poem", "guide", "checklist", "dialogue", "review", "lesson", "recipe",
              "proposal", "report", "riddle", "speech"]
_GEN_TOPICS = ["a rainy harbour town", "saving energy at home", "learning a second language", "the history of maps",
               "a robot gardener", "planning a budget trip", "caring for houseplants", "a chess tournament",
               "volcanoes and their warning signs", "a night market", "writing clean code", "migrating birds",
               "an old lighthouse", "baking sourdough bread", "the first day at a new job", "solar eclipses"]
_GEN_AUDIENCE = ["for a ten-year-old", "for a busy manager", "for a first-year student", "for a travel blog",
                 "for a school newsletter", "for a podcast intro", "for new volunteers", "for a museum guide"]
_SHORT = ["Explain recursion.", "Define entropy.", "Name three colours.", "Summarize this.", "Tell jokes."]
_PUNCT = ["- ", "* ", ": ", "... ", "# "]
_NO_SCORES = ["Both answers have merits and weaknesses; I would rather not assign numbers to them.",
              "The two responses address the question differently, and a fair comparison needs more context.",
              "I cannot judge these answers reliably without knowing the intended audience."]
_JUSTIFY = ["Assistant {a} is more complete and more precise than Assistant {b}.",
            "Assistant {a} answers the question more directly, while Assistant {b} wanders.",
            "Both answers are relevant; Assistant {a} is somewhat clearer.",
            "The answers are close in quality, with small differences in detail."]

_BLOCK = r"\[{0}\]\n(.*?)\n\[End of {1}\]"


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def scripted_teacher_answer(instruction: str) -> str:
    """The scripted teacher's complete answer to an instruction: 20–120 words, a few sentences."""
    rng = _rng("teacher", instruction.strip())
    target = rng.randint(20, 120)
    words: list[str] = []
    while len(words) < target:
        sentence = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_TAILS)}"
        words.extend(sentence.split())
    return " ".join(words[:target]).rstrip(".,") + "."


def _truncate(text: str, max_tokens: int) -> tuple[str, str, int]:
    """Whitespace tokens stand in for tokens: over max_tokens → cut and finish_reason 'length'."""
    words = text.split()
    if len(words) > max_tokens:
        return " ".join(words[:max_tokens]), "length", max_tokens
    return text, "stop", len(words)


def count_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """The same 4-characters-per-token rule the engine reserves with."""
    return max(1, math.ceil(sum(len(str(m.get("content") or "")) for m in messages) / 4))


def _user_text(messages: list[dict[str, Any]]) -> str:
    users = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    return users[-1] if users else (str(messages[-1].get("content") or "") if messages else "")


def guess_role(messages: list[dict[str, Any]]) -> str:
    text = "\n".join(str(m.get("content") or "") for m in messages)
    if "[Assistant 1]" in text and "[Assistant 2]" in text:
        return "referee"
    if "[Seed instruction]" in text:
        return "generator"
    if "### Instruction:" in text:
        return "teacher"
    return "echo"


def _fmt(score: float) -> str:
    return str(int(score)) if float(score).is_integer() else f"{score:.1f}"


@dataclass
class ScriptedBackend:
    teacher_score: float = 9.0
    student_min: float = 2.0
    student_max: float = 9.0
    position_bias: float = 0.0
    bad_reply_rate: float = 0.05
    model_name: str = "scripted"
    structured_output = True  # answers a `response_format` schema itself (x_lion_json_schema)

    async def complete(self, request: dict[str, Any], role: str | None) -> tuple[str, str, int, int]:
        messages = request.get("messages") or []
        role = role if role in ("teacher", "referee", "generator") else guess_role(messages)
        user = _user_text(messages)
        choice, schema = int(request.get("x_lion_choice") or 0), request.get("x_lion_json_schema")
        seed, sample = request.get("seed"), request.get("x_lion_sample", 0)
        if choice:
            sample = f"{sample}.{choice}"
        numbers: list[float] = []
        if role == "teacher":
            text = self.teacher(user, choice)
        elif role == "referee":
            text, numbers = self.verdict(user, seed, sample, always_scores=schema is not None)
        elif role == "generator":
            text = self.generator(user, seed, sample)
        else:
            text = ("You said: " if not choice else f"You said ({choice}): ") + " ".join(user.split()[:60])
        if schema is not None:
            text = json.dumps(example(schema, text, numbers, _rng("json", user, seed, sample)), ensure_ascii=False)
        limit = request.get("max_tokens") or request.get("max_completion_tokens") or 1024
        text, finish, completion = _truncate(text, int(limit))
        return text, finish, count_prompt_tokens(messages), completion

    @staticmethod
    def count_tokens(text: str) -> int:
        return len(text.split())

    # -- roles ---------------------------------------------------------------------------------------
    @staticmethod
    def teacher(user: str, choice: int = 0) -> str:
        m = re.search(r"### Instruction:\n(.*?)(?:\n\n### Input:\n.*?)?\n\n### Response:", user, re.S)
        instruction = m.group(1) if m else user
        # Choice i > 0 answers a marked variant of the instruction: another answer, as fixed as the first.
        return scripted_teacher_answer(instruction + (f"\x1f{choice}" if choice else ""))

    def student_score(self, answer: str) -> float:
        # sqrt skews toward the top of the range: most answers lose clearly, a fair share come close.
        # Whole numbers, as the referee prompt asks (bounds that are not whole are kept as given).
        u = _rng("student-score", answer.strip()).random()
        raw = self.student_min + (self.student_max - self.student_min) * math.sqrt(u)
        return min(self.student_max, max(self.student_min, float(round(raw))))

    def score(self, instruction: str, answer: str) -> float:
        # The referee's instruction block may carry the input after a blank line; the teacher saw
        # the instruction alone, so either form identifies the teacher's answer.
        forms = {instruction.strip(), instruction.split("\n\n")[0].strip()}
        if any(answer.strip() == scripted_teacher_answer(f) for f in forms):
            return self.teacher_score
        return self.student_score(answer)

    def referee(self, user: str, seed: object, sample: object) -> str:
        text, _ = self.verdict(user, seed, sample)
        return text

    def verdict(self, user: str, seed: object, sample: object, always_scores: bool = False) -> tuple[str, list[float]]:
        """The referee's reply and its two scores ([] when the reply carries none). With always_scores the
        text is the justification alone (the scores travel in a structured reply)."""
        blocks = [re.search(_BLOCK.format(re.escape(a), re.escape(b)), user, re.S)
                  for a, b in (("Instruction", "instruction"), ("Assistant 1", "Assistant 1"),
                               ("Assistant 2", "Assistant 2"))]
        rng = _rng("referee", user, seed, sample)
        if any(b is None for b in blocks) or (rng.random() < self.bad_reply_rate and not always_scores):
            return rng.choice(_NO_SCORES), []
        instruction, a1, a2 = (b.group(1) for b in blocks if b is not None)
        s1 = min(10.0, max(1.0, self.score(instruction, a1) + self.position_bias))
        s2 = self.score(instruction, a2)
        better, worse = ("1", "2") if s1 >= s2 else ("2", "1")
        why = rng.choice(_JUSTIFY).format(a=better, b=worse)
        if always_scores:
            return why, [s1, s2]
        return f"{why}\n\nAssistant 1: {_fmt(s1)}\nAssistant 2: {_fmt(s2)}", [s1, s2]

    @staticmethod
    def generator(user: str, seed: object, sample: object) -> str:
        m = re.search(r"\[Seed instruction\]\n(.*?)\n\[End of seed instruction\]", user, re.S)
        seed_text = (m.group(1) if m else user).strip()
        # The whole prompt, not just the seed: the hard and the easy prompt on one seed differ.
        rng = _rng("generator", user, seed, sample)
        u = rng.random()
        if u < 0.12:  # a near-copy: the novelty filter must catch it
            words = seed_text.split() or ["Explain"]
            return " ".join([*words, rng.choice(["briefly", "again", "clearly", "please"])])
        if u < 0.20:
            return rng.choice(_SHORT)
        novel = (f"{rng.choice(_GEN_VERBS)} a {rng.choice(_GEN_ADJ)} {rng.choice(_GEN_NOUNS)} about "
                 f"{rng.choice(_GEN_TOPICS)} {rng.choice(_GEN_AUDIENCE)}")
        if rng.random() < 0.5:
            novel += f", in {rng.randint(2, 9)} {rng.choice(['sentences', 'bullet points', 'paragraphs'])}"
        novel += "."
        if u < 0.28:
            return rng.choice(_PUNCT) + novel
        return novel

"""The loop's two protocols (lion.toml's loop.protocol): the rules that differ between the official
Lion code ("paper") and lion's own improved set ("lion"). prompts/README.md sets them side by side.

- prompts: each protocol has its own role templates (prompts/paper/ and prompts/).
- generator max_tokens: the paper caps each generator call at 4 × the seed's words (its length
  control; a cut-off reply is rejected as "cut_off", in both protocols); lion uses [generator]
  max_tokens. Under a JSON schema the reply's wrapper gets a few tokens more, so the cap still
  bounds the instruction itself.
- the word "instruction": the paper drops any candidate that contains it (a reply that talks about
  the task instead of being one); lion relies on its echo markers (core/prompts.py GENERATOR_MARKERS).
- the student's top_k: 50 in the paper (the library default its inference ran with); off in lion."""

from __future__ import annotations

from dataclasses import dataclass

PROTOCOLS: tuple[str, ...] = ("paper", "lion")
PROTOCOL_DEFAULT = "paper"
# The tokens a JSON wrapper ({"instruction": "…"}) adds to a generator reply under a schema.
SCHEMA_WRAPPER_TOKENS = 16


@dataclass(frozen=True)
class LoopProtocol:
    name: str
    prompts_folder: str                      # under the shipped prompts/ folder ("" = prompts/ itself)
    generator_tokens_per_seed_word: int      # 0: [generator] max_tokens applies
    rejected_words: tuple[str, ...]          # a candidate containing one (any case) is rejected
    student_top_k: int                       # student.generation.top_k = "protocol" means this (0 = off)

    def generator_max_tokens(self, seed_text: str, configured: int, structured: bool) -> int:
        """max_tokens for one generator call on `seed_text` (the seed instruction and its input)."""
        if not self.generator_tokens_per_seed_word:
            return configured
        cap = self.generator_tokens_per_seed_word * max(1, len(seed_text.split()))
        return cap + (SCHEMA_WRAPPER_TOKENS if structured else 0)


_PROTOCOLS = {
    "paper": LoopProtocol("paper", "paper", generator_tokens_per_seed_word=4, rejected_words=("instruction",),
                          student_top_k=50),
    "lion": LoopProtocol("lion", "", generator_tokens_per_seed_word=0, rejected_words=(), student_top_k=0),
}


def loop_protocol(name: str) -> LoopProtocol:
    """The protocol named `name` (config validates the name; an unknown one is a KeyError here)."""
    return _PROTOCOLS[name]

"""Novelty filter speed: 6,000 generated candidates against a 58,000-instruction Cache Pool, as one
generation stage of the paper's loop does it (each accepted candidate joins the pool the next one is
checked against), with lion's NoveltyIndex versus rouge-score.

rouge-score is timed on a sample of candidates against the full pool each of them saw, in the
strongest form the reference code uses it (pre-tokenised tokens into `rouge_scorer._score_lcs`, one
process), and scaled to the whole job by pair count. Both sides are timed in process CPU time (both
are single-threaded), so other load on a shared machine does not tilt the ratio; wall times are
printed too. The sample's scores and accept/reject decisions
must be identical to lion's (asserted). Speed-up = scaled rouge-score time / lion's time; target ≥ 500.

Run: .venv/bin/python bench/novelty.py   [--candidates N --pool N --sample N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lion_cli.core.novelty import NoveltyIndex, tokenize  # noqa: E402

THRESHOLD = 0.7
TARGET = 500.0

_OPENERS = ["Write a", "Explain how", "Describe the", "Give three examples of", "Summarize the following",
            "Generate a list of", "Compose a short", "What is the difference between", "How can I",
            "Create a plan for", "Classify the", "Rewrite this sentence about", "Suggest ways to improve",
            "Translate into plain English the", "Compare and contrast", "Name five", "Outline the steps to"]
_FUNCTION = ["the", "a", "of", "to", "and", "in", "for", "on", "with", "that", "is", "as", "your", "an", "by",
             "from", "about", "it", "this", "be", "or", "at", "how", "why", "what"]
_SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "dri", "pel", "sun", "ga", "ter", "bo", "lin", "qua", "ros",
              "ne", "fi", "mar", "tu", "zel", "ko", "pra", "ven", "di", "sto", "la", "mo", "nu", "chi", "ber"]


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    ranked = sorted(words)
    rng.shuffle(ranked)  # the Zipf rank must not follow the alphabet
    return ranked


class InstructionMaker:
    """Instruction-like sentences of 5–40 words: an opener, then Zipf-distributed content words mixed
    with function words, some punctuation and capitals (which the tokeniser must handle)."""

    def __init__(self, seed: int, vocab_size: int = 3000) -> None:
        self.rng = random.Random(seed)
        self.vocab = _vocabulary(self.rng, vocab_size)
        self.weights = [1.0 / (rank + 1) for rank in range(vocab_size)]

    def sentence(self) -> str:
        rng = self.rng
        opener = rng.choice(_OPENERS).split()
        n = rng.randint(max(5, len(opener) + 3), 40)
        words = opener + [rng.choice(_FUNCTION) if rng.random() < 0.35 else w
                          for w in rng.choices(self.vocab, self.weights, k=n - len(opener))]
        text = " ".join(words)
        if rng.random() < 0.3:
            text = text.replace(" ", ", ", 1)
        return text[0].upper() + text[1:] + rng.choice([".", "?", ".", ":"])

    def near_copy(self, text: str) -> str:
        """A light edit of an existing instruction (one or two words changed or dropped)."""
        words = text.split()
        for _ in range(self.rng.randint(1, 2)):
            i = self.rng.randrange(len(words))
            if self.rng.random() < 0.5 and len(words) > 6:
                del words[i]
            else:
                words[i] = self.rng.choice(self.vocab)
        return " ".join(words)


def build(n_pool: int, n_candidates: int, seed: int = 7) -> tuple[list[str], list[str]]:
    maker = InstructionMaker(seed)
    pool = [maker.sentence() for _ in range(n_pool)]
    candidates: list[str] = []
    for _ in range(n_candidates):
        u = maker.rng.random()
        if u < 0.06:
            candidates.append(maker.near_copy(maker.rng.choice(pool)))
        elif u < 0.09 and candidates:
            candidates.append(maker.near_copy(maker.rng.choice(candidates)))
        else:
            candidates.append(maker.sentence())
    return pool, candidates


def run_lion(pool_tokens: list[list[str]], candidates: list[str]) -> tuple[float, list[tuple[float, bool, int]]]:
    """The stage's work: tokenise each candidate, max ROUGE-L against the growing pool, accept if ≤ τ.
    Returns the time and, per candidate, (max F, accepted, pool size it was checked against)."""
    start = time.process_time()
    index = NoveltyIndex(pool_tokens)
    decisions: list[tuple[float, bool, int]] = []
    for text in candidates:
        tokens = tokenize(text)
        size = len(index)
        score, _ = index.max_rouge(tokens)
        accepted = not score > THRESHOLD
        if accepted:
            index.add(tokens)
        decisions.append((score, accepted, size))
    return time.process_time() - start, decisions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=6000)
    ap.add_argument("--pool", type=int, default=58000)
    ap.add_argument("--sample", type=int, default=4, help="candidates scored with rouge-score (full pool each)")
    args = ap.parse_args()
    from rouge_score import rouge_scorer

    pool, candidates = build(args.pool, args.candidates)
    pool_tokens = [tokenize(t) for t in pool]  # the store caches these; not part of the stage's time
    wall = time.perf_counter()
    ours_s, decisions = run_lion(pool_tokens, candidates)
    wall = time.perf_counter() - wall
    accepted = [tokenize(c) for c, d in zip(candidates, decisions, strict=True) if d[1]]
    rejected = sum(1 for d in decisions if not d[1])
    print(f"lion: {len(candidates)} candidates vs {len(pool)} pool in {ours_s:.2f} s CPU ({wall:.1f} s wall); "
          f"{len(candidates) - rejected} accepted, {rejected} rejected (F > {THRESHOLD})", file=sys.stderr)

    # The sample: half rejected, half accepted candidates (so both decisions are checked), fixed seed.
    rng = random.Random(11)
    rej = [i for i, d in enumerate(decisions) if not d[1]]
    acc = [i for i, d in enumerate(decisions) if d[1]]
    sample = sorted(rng.sample(rej, min(len(rej), args.sample // 2))
                    + rng.sample(acc, min(len(acc), args.sample - min(len(rej), args.sample // 2))))
    grown = pool_tokens + accepted  # the pool as it grew: candidate i saw the first `size` items
    pairs = 0
    start, wall = time.process_time(), time.perf_counter()
    for i in sample:
        tokens = tokenize(candidates[i])
        size = decisions[i][2]
        best = max((rouge_scorer._score_lcs(tokens, other).fmeasure for other in grown[:size]), default=0.0)
        pairs += size
        assert best == decisions[i][0], f"candidate {i}: rouge-score {best!r} != lion {decisions[i][0]!r}"
        assert (not best > THRESHOLD) == decisions[i][1], f"candidate {i}: decisions differ"
    ref_s, wall = time.process_time() - start, time.perf_counter() - wall
    total_pairs = sum(d[2] for d in decisions)
    scaled = ref_s / pairs * total_pairs
    speedup = scaled / ours_s
    print(f"rouge-score: {len(sample)} candidates ({sum(1 for i in sample if not decisions[i][1])} rejected) "
          f"× full pool = {pairs} pairs in {ref_s:.1f} s CPU ({wall:.1f} s wall, "
          f"{ref_s / pairs * 1e6:.1f} µs/pair); scores and decisions "
          f"identical; scaled to the job's {total_pairs} pairs: {scaled:.0f} s", file=sys.stderr)
    print(f"speed-up: {speedup:.0f}× (target ≥ {TARGET:.0f}×)", file=sys.stderr)
    print(json.dumps({"bench": "novelty", "value": round(speedup, 1), "target": TARGET, "ok": speedup >= TARGET}))


if __name__ == "__main__":
    main()

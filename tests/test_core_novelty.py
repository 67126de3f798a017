"""ROUGE-L novelty against rouge-score itself: the same tokens, the same F to 1e-9 (in fact the same
float) on thousands of random pairs, the same max/argmax over a pool and the same accept/reject
decisions, also while the pool grows."""

from __future__ import annotations

import random

import pytest
from rouge_score import rouge_scorer
from rouge_score import tokenize as rs_tokenize

from lion_cli.core.novelty import NoveltyIndex, rouge_l, rouge_l_f, tokenize

SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
THRESHOLD = 0.7
# A small vocabulary so random pairs share many tokens and LCS is non-trivial; mixed case,
# punctuation, digits and non-ASCII exercise the tokeniser.
WORDS = ["the", "a", "of", "write", "poem", "story", "about", "cats", "dogs", "rain", "explain", "how",
         "list", "three", "five", "tips", "for", "and", "to", "in", "Summarize", "TEXT", "below", "it's",
         "e-mail", "don't", "3rd", "2024", "x", "café", "naïve", "über", "C++", "Q&A", "well-known", "--", "!!"]


def random_text(rng: random.Random, lo: int = 0, hi: int = 25) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    seps = [rng.choice([" ", " ", " ", ", ", "-", "  ", "\n", "/"]) for _ in words]
    return "".join(w + s for w, s in zip(words, seps, strict=True)).strip()


def near_copy(rng: random.Random, text: str) -> str:
    words = text.split()
    for _ in range(rng.randint(0, 2)):
        if words:
            i = rng.randrange(len(words))
            if rng.random() < 0.5:
                del words[i]
            else:
                words[i] = rng.choice(WORDS)
    return " ".join(words)


def reference_f(target: str, prediction: str) -> float:
    return SCORER.score(target, prediction)["rougeL"].fmeasure


def test_tokenize_matches_rouge_score() -> None:
    rng = random.Random(1)
    texts = [random_text(rng) for _ in range(500)] + ["", "   ", "!!! ---", "Ünïcode ÄND 42x", "a_b c-d e.f"]
    for text in texts:
        assert tokenize(text) == rs_tokenize.tokenize(text, None), text


def test_f_equals_rouge_score_on_5000_random_pairs() -> None:
    rng = random.Random(2)
    checked = nonzero = 0
    for i in range(6000):
        a = random_text(rng)
        b = near_copy(rng, a) if i % 3 == 0 else random_text(rng)
        ours = rouge_l(tokenize(a), tokenize(b))
        ref = reference_f(a, b)
        assert abs(ours - ref) <= 1e-9, (a, b, ours, ref)
        assert ours == ref  # the same float operations: the same bits
        assert (ours > THRESHOLD) == (ref > THRESHOLD)
        checked += 1
        nonzero += ref > 0
    assert checked >= 5000 and nonzero > 4000


def test_f_from_lcs_edge_cases() -> None:
    assert rouge_l_f(0, 0, 5) == 0.0 and rouge_l_f(0, 5, 0) == 0.0 and rouge_l_f(0, 3, 4) == 0.0
    assert rouge_l_f(3, 3, 3) == 1.0
    assert rouge_l([], ["a"]) == 0.0
    assert rouge_l(["a", "b", "c", "d"], ["a", "c"]) == reference_f("a b c d", "a c")


@pytest.mark.parametrize("seed", [3, 4])
def test_index_max_equals_rouge_score_over_a_pool(seed: int) -> None:
    rng = random.Random(seed)
    pool = [random_text(rng, 1, 20) for _ in range(120)]
    pool += [near_copy(rng, p) for p in rng.sample(pool, 30)]  # duplicates and near-duplicates in the pool
    index = NoveltyIndex(tokenize(p) for p in pool)
    assert len(index) == len(pool)
    for i in range(80):
        cand = near_copy(rng, rng.choice(pool)) if i % 2 else random_text(rng)
        scores = [reference_f(p, cand) for p in pool]
        best = max(scores)
        score, where = index.max_rouge(tokenize(cand))
        assert score == best
        if best > 0:
            assert where == scores.index(best)  # the first item reaching the max, as max() in pool order
        else:
            assert where is None
        assert index.is_novel(tokenize(cand), THRESHOLD) == (not best > THRESHOLD)


def test_growing_pool_decisions_equal_rouge_score() -> None:
    """The generation stage's use: each accepted candidate joins the pool the next one is checked
    against (hard and easy together)."""
    rng = random.Random(5)
    pool = [random_text(rng, 1, 15) for _ in range(80)]
    index = NoveltyIndex(tokenize(p) for p in pool)
    reference_pool = list(pool)
    decisions = []
    for i in range(120):
        source = rng.choice(reference_pool)
        cand = near_copy(rng, source) if i % 2 else random_text(rng, 1, 15)
        ref_best = max(reference_f(p, cand) for p in reference_pool)
        score, _ = index.max_rouge(tokenize(cand))
        assert score == ref_best
        accept = not score > THRESHOLD
        decisions.append(accept)
        if accept:
            index.add(tokenize(cand))
            reference_pool.append(cand)
    assert 0 < sum(decisions) < len(decisions)  # both decisions occurred


def test_no_shared_token_and_empty_cases() -> None:
    index = NoveltyIndex([tokenize("write a poem"), tokenize("explain the rain")])
    assert index.max_rouge(tokenize("zebra quokka")) == (0.0, None)
    assert index.max_rouge([]) == (0.0, None)
    assert NoveltyIndex().max_rouge(["a"]) == (0.0, None)
    assert index.is_novel(tokenize("zebra quokka"), THRESHOLD)
    assert index.max_rouge(tokenize("Write a POEM!")) == (1.0, 0)
    assert not index.is_novel(tokenize("Write a POEM!"), THRESHOLD)


def test_repeated_tokens_use_counts() -> None:
    """The overlap bound counts repeats: 'a a a b' vs 'a b b b' overlap 2, not 4."""
    pool = ["a a a b", "a b b b", "b a", "a a b b a a"]
    index = NoveltyIndex(tokenize(p) for p in pool)
    for cand in ["a a b", "b b b a", "a b a b a b", "a"]:
        scores = [reference_f(p, cand) for p in pool]
        assert index.max_rouge(tokenize(cand)) == (max(scores), scores.index(max(scores)))


def test_bulk_built_and_grown_indexes_agree() -> None:
    """The constructor's bulk load (numpy postings) and one-by-one `add` give identical answers."""
    rng = random.Random(6)
    pool = [tokenize(random_text(rng, 0, 12)) for _ in range(150)]
    bulk = NoveltyIndex(pool)
    grown = NoveltyIndex()
    for tokens in pool:
        grown.add(tokens)
    half = NoveltyIndex(pool[:75])
    for tokens in pool[75:]:
        half.add(tokens)
    for _ in range(100):
        cand = tokenize(random_text(rng, 0, 12))
        assert bulk.max_rouge(cand) == grown.max_rouge(cand) == half.max_rouge(cand)


def test_packed_key_sort_equals_column_sort() -> None:
    """The bulk load sorts one packed int64 key when it fits and falls back to np.lexsort when it
    would not; both give the same postings, occurrence counts included."""
    import numpy as np

    from lion_cli.core.novelty import _occurrences_by_posting

    rng = np.random.default_rng(3)
    doc = np.sort(rng.integers(0, 200, 5000))
    tok = rng.integers(0, 40, 5000)   # a small vocabulary: tokens repeat within an item, k up to ~6
    packed = _occurrences_by_posting(tok, doc, 40)
    fallback = _occurrences_by_posting(tok, doc, 2**61)   # too wide to pack: lexsort
    for a, b in zip(packed, fallback, strict=True):
        assert a.tolist() == b.tolist()
    assert int(packed[1].max()) > 1

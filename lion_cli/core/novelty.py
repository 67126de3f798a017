"""ROUGE-L novelty of generated instructions, identical to rouge-score's and much faster.

`rouge_score.rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)` lowercases, turns every run
of characters outside [a-z0-9] into a space and splits on whitespace; its F-measure is
2·p·r / (p + r) with p = LCS/len(prediction), r = LCS/len(target), and 0 when either side has no
tokens. `tokenize` and `rouge_l_f` reproduce both exactly (the same float operations, so the same
bits). The LCS itself comes from rapidfuzz's bit-parallel `LCSseq` on strings in which each distinct
token is one character (measured faster than lists of ints, and exact: the mapping is injective).

`NoveltyIndex` avoids most LCS computations with an exact bound: LCS(q, d) ≤ Σ_t min(count_q(t),
count_d(t)) (the multiset overlap), hence F ≤ 2·overlap/(m + n). The overlap is at most min(m, n),
so this bound is never looser than the length bound 2·min(m, n)/(m + n); an inverted index
(token → items holding it at least k times) gives it for the whole pool with a few numpy adds, and
items sharing no token are never touched. Candidates are then scored in decreasing-bound order and
the scan stops as soon as the bound cannot reach the best score (or the threshold).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from rapidfuzz.distance import LCSseq

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# Float slack for bound comparisons: a bound computed in floats may sit an ulp away from the exact
# fraction; 1e-9 is far above that and far below the gap between two distinct F values
# (fractions with denominators under a few thousand differ by more than 1e-7).
_EPS = 1e-9
_FIRST_ROUND = 32  # items scored before the best score is used to prune the rest
_UNKNOWN = "\x01"  # stands for a query token no pool item holds: it can never match


def tokenize(text: str) -> list[str]:
    """rouge-score's tokens (no stemming); the store caches them space-joined."""
    return _NON_ALNUM.sub(" ", text.lower()).split()


def rouge_l_f(lcs: int, target_len: int, prediction_len: int) -> float:
    """rouge-score's F-measure from an LCS length, computed with its exact float operations."""
    if target_len == 0 or prediction_len == 0:
        return 0.0
    precision = lcs / prediction_len
    recall = lcs / target_len
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def rouge_l(target: Sequence[str], prediction: Sequence[str]) -> float:
    """ROUGE-L F of two token lists (a convenience for one pair; use NoveltyIndex for a pool)."""
    codes: dict[str, str] = {}
    a = "".join(codes.setdefault(t, _char(len(codes))) for t in target)
    b = "".join(codes.setdefault(t, _char(len(codes))) for t in prediction)
    return rouge_l_f(int(LCSseq.similarity(a, b)), len(target), len(prediction))


def _char(token_id: int) -> str:
    """One code point per token id, clear of control characters and the surrogate range."""
    cp = 0x100 + token_id
    if cp >= 0xD800:
        cp += 0x800
    return chr(cp)


class _GrowingInts:
    """Ints appended one by one as Python ints (cheap), moved into a numpy buffer only when a query
    needs them: a posting list (the items holding one token at least k times) or the lengths."""

    __slots__ = ("buf", "n", "pending")

    def __init__(self, initial: np.ndarray | None = None) -> None:
        self.buf = np.empty(8, dtype=np.int64) if initial is None else np.ascontiguousarray(initial, dtype=np.int64)
        self.n = 0 if initial is None else len(initial)
        self.pending: list[int] = []

    def append(self, value: int) -> None:
        self.pending.append(value)

    def array(self) -> np.ndarray:
        if self.pending:
            need = self.n + len(self.pending)
            if need > len(self.buf):
                grown = np.empty(max(need, 2 * len(self.buf)), dtype=np.int64)
                grown[: self.n] = self.buf[: self.n]
                self.buf = grown
            self.buf[self.n:need] = self.pending
            self.n = need
            self.pending = []
        return self.buf[: self.n]


def _occurrences_by_posting(tok: np.ndarray, doc: np.ndarray, vocab: int) -> tuple[np.ndarray, ...]:
    """Each (token, item) occurrence with k = how many times the token occurred in that item up to
    here (1-based), ordered by (token, k, item): the postings, one run per (token, k). Sorting one
    packed int64 key is several times faster than np.lexsort over the columns; the packing is exact
    while the key fits, else lexsort."""
    docs = int(doc[-1]) + 1
    if vocab * docs < 2**62:
        key = np.sort(doc * vocab + tok)
        doc, tok = key // vocab, key % vocab
    else:
        order = np.lexsort((tok, doc))
        tok, doc = tok[order], doc[order]
    starts = np.r_[True, (tok[1:] != tok[:-1]) | (doc[1:] != doc[:-1])]
    run_start = np.maximum.accumulate(np.where(starts, np.arange(len(tok)), 0))
    k = np.arange(len(tok)) - run_start + 1
    kmax = int(k.max())
    if vocab * kmax * docs < 2**62:
        key = np.sort((tok * kmax + (k - 1)) * docs + doc)
        doc, rest = key % docs, key // docs
        return rest // kmax, rest % kmax + 1, doc
    order = np.lexsort((doc, k, tok))
    return tok[order], k[order], doc[order]


class NoveltyIndex:
    """The pool's token sequences, for the max ROUGE-L F of a candidate against all of them."""

    def __init__(self, pool: Iterable[Sequence[str]] = ()) -> None:
        self._ids: dict[str, int] = {}
        self._chars: list[str] = []  # token id → its code point, so a document is one str.join
        self._docs: list[str] = []
        self._len_list: list[int] = []
        self._lens = _GrowingInts()
        self._postings: dict[tuple[int, int], _GrowingInts] = {}
        self._bulk_load(pool)

    def _bulk_load(self, pool: Iterable[Sequence[str]]) -> None:
        """The initial pool at once: the postings are built with numpy sorts instead of one Python
        append per (item, token) — the Cache Pool is tens of thousands of items every stage."""
        ids_of = self._ids
        token_ids: list[int] = []
        doc_lens: list[int] = []
        for tokens in pool:
            ids = [ids_of.setdefault(t, len(ids_of)) for t in tokens]
            token_ids.extend(ids)
            doc_lens.append(len(ids))
        self._chars.extend(_char(i) for i in range(len(self._chars), len(ids_of)))
        if not doc_lens:
            return
        chars = self._chars
        pos = 0
        for n in doc_lens:
            self._docs.append("".join([chars[i] for i in token_ids[pos:pos + n]]))
            pos += n
        self._len_list.extend(doc_lens)
        self._lens = _GrowingInts(np.array(doc_lens, dtype=np.int64))
        if not token_ids:
            return
        tok = np.array(token_ids, dtype=np.int64)
        doc = np.repeat(np.arange(len(doc_lens), dtype=np.int64), doc_lens)
        tok, k, doc = _occurrences_by_posting(tok, doc, len(ids_of))
        cuts = np.flatnonzero(np.r_[True, (tok[1:] != tok[:-1]) | (k[1:] != k[:-1]), True])
        for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
            self._postings[(int(tok[a]), int(k[a]))] = _GrowingInts(doc[a:b])

    def __len__(self) -> int:
        return len(self._docs)

    def add(self, tokens: Sequence[str]) -> int:
        """Add one item (its tokens, e.g. `cached.split()`); returns its index."""
        index = len(self._docs)
        ids = [self._ids.setdefault(t, len(self._ids)) for t in tokens]
        if len(self._chars) < len(self._ids):
            self._chars.extend(_char(i) for i in range(len(self._chars), len(self._ids)))
        self._docs.append("".join([self._chars[i] for i in ids]))
        self._len_list.append(len(ids))
        self._lens.append(len(ids))
        for token_id, count in Counter(ids).items():
            for k in range(1, count + 1):
                posting = self._postings.get((token_id, k))
                if posting is None:
                    posting = self._postings[(token_id, k)] = _GrowingInts()
                posting.append(index)
        return index

    def max_rouge(self, tokens: Sequence[str]) -> tuple[float, int | None]:
        """The highest F against the pool and the lowest index reaching it (what `max()` over
        rouge-score's scores in pool order picks); (0.0, None) when no item shares a token."""
        return self._scan(tokens, stop_above=None)

    def is_novel(self, tokens: Sequence[str], threshold: float) -> bool:
        """True when no pool item has F > threshold; stops at the first item above it."""
        score, _ = self._scan(tokens, stop_above=threshold)
        return not score > threshold

    # -- internals --------------------------------------------------------------------------------
    def _scan(self, tokens: Sequence[str], stop_above: float | None) -> tuple[float, int | None]:
        m = len(tokens)
        known = [self._ids.get(t) for t in tokens]
        query_counts = Counter(i for i in known if i is not None)
        if m == 0 or not query_counts or not self._docs:
            return 0.0, None
        items, bounds = self._overlap_bounds(query_counts, m)
        if stop_above is not None:  # only items that could exceed the threshold matter
            keep = bounds >= stop_above - _EPS
            items, bounds = items[keep], bounds[keep]
        query = "".join(_UNKNOWN if i is None else _char(i) for i in known)
        best: tuple[float, int | None] = (0.0, None)
        # Score the most promising items first, then only those whose bound can still reach the best:
        # selecting the top few is O(n), so the whole candidate list is never sorted.
        first = np.argpartition(-bounds, _FIRST_ROUND)[:_FIRST_ROUND] if len(items) > _FIRST_ROUND \
            else np.arange(len(items))
        best = self._score_ranked(query, m, items, bounds, first, best, stop_above)
        if stop_above is not None and best[0] > stop_above:
            return best
        rest = bounds >= best[0] - _EPS
        rest[first] = False
        best = self._score_ranked(query, m, items, bounds, np.flatnonzero(rest), best, stop_above)
        return best if best[1] is not None else (0.0, None)

    def _score_ranked(self, query: str, m: int, items: np.ndarray, bounds: np.ndarray, subset: np.ndarray,
                      best: tuple[float, int | None], stop_above: float | None) -> tuple[float, int | None]:
        """Score `subset` in decreasing-bound order until no bound can reach the best score."""
        sub_items, sub_bounds = items[subset], bounds[subset]
        order = np.lexsort((sub_items, -sub_bounds))  # ties on the bound: lowest index first
        best_f, best_index = best
        docs, lens = self._docs, self._len_list
        for item, bound in zip(sub_items[order].tolist(), sub_bounds[order].tolist(), strict=True):
            if best_index is not None and bound < best_f - _EPS:
                break  # no later item can reach the best score
            f = rouge_l_f(int(LCSseq.similarity(query, docs[item])), m, lens[item])
            if f > best_f or (f == best_f and best_index is not None and item < best_index):
                best_f, best_index = f, item
            if stop_above is not None and best_f > stop_above:
                break
        return best_f, best_index

    def _overlap_bounds(self, query_counts: Counter[int], m: int) -> tuple[np.ndarray, np.ndarray]:
        """Items sharing at least one token with the query, and 2·overlap/(m + n) for each."""
        n_docs = len(self._docs)
        hits: list[np.ndarray] = []
        for token_id, count in query_counts.items():
            for k in range(1, count + 1):
                posting = self._postings.get((token_id, k))
                if posting is None:
                    break
                hits.append(posting.array())
        # Σ_t min(count_q, count_d) = the number of (t, k ≤ count_q) postings that hold the item.
        overlap = np.bincount(np.concatenate(hits), minlength=n_docs)
        items = np.flatnonzero(overlap)
        bounds = 2.0 * overlap[items] / (m + self._lens.array()[items])
        return items, bounds

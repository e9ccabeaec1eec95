"""Evaluation metrics as small pure functions: retrieval, answers, abstention, latency.

Relevance is judged on text, not on chunk ids: a retrieved passage *contains the support*
of a question when it contains one of the question's ``expected_passages`` (see
:func:`contains_support`). That makes the metrics independent of how a system chunks,
so our chunker and llama-index's ``SentenceSplitter`` are scored by the same rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from llama_index.core.evaluation import MRR, HitRate

HIT_KS = (1, 3, 5, 10)
SHINGLE_SIZE = 3
SHINGLE_SHARE = 0.8  # a passage split over two chunks still counts when one holds 80% of it
CONTEXT_CHARS = 2000
_NOT_RETRIEVED = "support-not-retrieved"  # llama-index's metrics refuse an empty expected list


def collapse(text: str) -> str:
    """Collapse whitespace runs (incl. no-break spaces and newlines) to one space, trimmed."""
    return re.sub(r"\s+", " ", text or "").strip()


def shingles(text: str, size: int = SHINGLE_SIZE) -> set[tuple[str, ...]]:
    """Lower-cased word n-grams of ``text`` (the whole text as one gram when it is shorter)."""
    words = collapse(text).lower().split()
    if len(words) < size:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def contains_passage(text: str, passage: str, share: float = SHINGLE_SHARE) -> bool:
    """True when ``text`` holds ``passage`` verbatim (after whitespace collapsing) or most of its 3-grams."""
    haystack, needle = collapse(text), collapse(passage)
    if not needle:
        return False
    if needle in haystack:
        return True
    wanted = shingles(needle)
    return bool(wanted) and len(wanted & shingles(haystack)) / len(wanted) >= share


def contains_support(text: str, expected_passages: Sequence[str]) -> bool:
    """True when ``text`` contains any one of the question's supporting passages."""
    return any(contains_passage(text, p) for p in expected_passages)


def support_ranks(retrieved_texts: Sequence[str], expected_passages: Sequence[str]) -> list[int]:
    """1-based ranks of the retrieved passages that contain the support."""
    return [rank for rank, text in enumerate(retrieved_texts, 1) if contains_support(text, expected_passages)]


def _ids(retrieved_texts: Sequence[str], expected_passages: Sequence[str]) -> tuple[list[str], list[str]]:
    # llama-index's HitRate/MRR compare ids; they cannot judge whether a passage *contains*
    # a quote. So relevance is decided here on the text and the metrics get ids: each
    # retrieved passage is named by its rank, the expected ids are the ranks that hold support.
    retrieved = [f"rank-{rank}" for rank in range(1, len(retrieved_texts) + 1)]
    expected = [f"rank-{rank}" for rank in support_ranks(retrieved_texts, expected_passages)]
    return retrieved, expected or [_NOT_RETRIEVED]


def hit_at(retrieved_texts: Sequence[str], expected_passages: Sequence[str], k: int) -> bool:
    """Whether one of the top ``k`` retrieved passages contains the support (llama-index ``HitRate``)."""
    retrieved, expected = _ids(retrieved_texts, expected_passages)
    if not retrieved[:k]:
        return False
    return HitRate().compute(expected_ids=expected, retrieved_ids=retrieved[:k]).score == 1.0


def reciprocal_rank(retrieved_texts: Sequence[str], expected_passages: Sequence[str]) -> float:
    """1 / rank of the first passage containing the support, 0 if none (llama-index ``MRR``)."""
    retrieved, expected = _ids(retrieved_texts, expected_passages)
    if not retrieved:
        return 0.0
    return MRR().compute(expected_ids=expected, retrieved_ids=retrieved).score


def passage_recall(retrieved_texts: Sequence[str], expected_passages: Sequence[str]) -> float:
    """Share of the expected passages found somewhere in the retrieved list (multi-passage questions)."""
    if not expected_passages:
        return 0.0
    joined = [collapse(t) for t in retrieved_texts]
    found = sum(any(contains_passage(t, p) for t in joined) for p in expected_passages)
    return found / len(expected_passages)


def support_in_context(
    retrieved_texts: Sequence[str], expected_passages: Sequence[str], budget: int = CONTEXT_CHARS
) -> bool:
    """Whether the support lies inside the first ``budget`` characters of the ranked passages, joined.

    This is what a reader (or a language model with a small context) would get to see.
    """
    context = "\n\n".join(retrieved_texts)[:budget]
    return contains_support(context, expected_passages)


def fact_found(answer: str, key_fact: str) -> bool:
    """A key fact ("a|b" = alternatives) occurs in the answer, ignoring case and whitespace runs."""
    text = collapse(answer).lower()
    return any(collapse(alt).lower() in text for alt in key_fact.split("|") if alt.strip())


def missing_facts(answer: str, key_facts: Iterable[str]) -> list[str]:
    """The key facts the answer does not contain."""
    return [fact for fact in key_facts if not fact_found(answer, fact)]


def key_fact_recall(answer: str, key_facts: Sequence[str]) -> float:
    """Share of the key facts found in the answer."""
    if not key_facts:
        return 0.0
    return 1.0 - len(missing_facts(answer, key_facts)) / len(key_facts)


def supported_citations(citation_texts: Sequence[str], expected_passages: Sequence[str]) -> int:
    """How many cited passages contain the support of the question."""
    return sum(contains_support(text, expected_passages) for text in citation_texts)


@dataclass(frozen=True)
class Abstention:
    """Abstention as a classifier; the positive class is *unanswerable*."""

    true_positive: int  # abstained on an unanswerable question
    false_positive: int  # abstained although the corpus answers it
    false_negative: int  # answered an unanswerable question

    @classmethod
    def count(cls, pairs: Iterable[tuple[bool, bool]]) -> Abstention:
        """From (abstained, unanswerable) pairs."""
        tp = fp = fn = 0
        for abstained, unanswerable in pairs:
            tp += abstained and unanswerable
            fp += abstained and not unanswerable
            fn += unanswerable and not abstained
        return cls(tp, fp, fn)

    @property
    def precision(self) -> float | None:
        """Of the abstentions, the share that was right (None when it never abstained)."""
        total = self.true_positive + self.false_positive
        return self.true_positive / total if total else None

    @property
    def recall(self) -> float | None:
        """Of the unanswerable questions, the share it abstained on (None when there are none)."""
        total = self.true_positive + self.false_negative
        return self.true_positive / total if total else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) with linear interpolation, like ``numpy.percentile``."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Iterable[float | bool | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None

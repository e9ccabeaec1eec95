"""Keyword scoring whose scores do not depend on what else is indexed.

Why not bm25s (or llama-index's BM25 retriever) for our own ranking: classic BM25 takes each
term's IDF and the average passage length from the indexed collection, so adding unrelated
documents — a CoP adding a hundred pages about bijstand, or one file repeating a word —
changes every passage's score and reorders answers about documents nobody touched. Here a
term's weight comes from its rarity in general Dutch (:func:`kb.nl.terms.keyword_weights`) and the
length normalisation uses a fixed typical passage length (the chunker cuts passages to
220–900 characters), so a passage's score is a function of the question and that passage
alone. Scores are divided by the best score the question could reach, which puts them on a
fixed 0–1 scale for fusion with the dense similarity. The eval's BM25 baseline keeps bm25s
(:mod:`evals.baselines`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse

K1 = 1.2
B = 0.75
TYPICAL_LENGTH = 60  # content tokens in a typical passage (title and heading included)


class FixedScaleKeywords:
    """A term-saturation matrix over the passages; scores = matrix · question weights."""

    def __init__(self, passages_tokens: Sequence[Sequence[str]]) -> None:
        vocabulary: dict[str, int] = {}
        rows, cols, values = [], [], []
        for row, tokens in enumerate(passages_tokens):
            counts = Counter(tokens)
            norm = K1 * (1 - B + B * len(tokens) / TYPICAL_LENGTH)
            for term, tf in counts.items():
                rows.append(row)
                cols.append(vocabulary.setdefault(term, len(vocabulary)))
                values.append(tf * (K1 + 1) / (tf + norm))
        self.vocabulary = vocabulary
        self.matrix = sparse.csc_matrix(
            (np.array(values, dtype=np.float32), (rows, cols)), shape=(len(passages_tokens), max(len(vocabulary), 1))
        )

    def scores(self, weights: Mapping[str, float]) -> np.ndarray:
        """Each passage's score on a 0–1 scale (1 = every question term, saturated)."""
        known = [(self.vocabulary[t], w) for t, w in weights.items() if t in self.vocabulary]
        reachable = sum(weights.values()) * (K1 + 1)
        if not known or reachable <= 0:
            return np.zeros(self.matrix.shape[0], dtype=np.float32)
        columns, w = zip(*known)
        return np.asarray(self.matrix[:, list(columns)] @ np.array(w, dtype=np.float32)).ravel() / reachable

"""The eval's textbook retrievers: BM25 only, dense only, and BM25 + dense by reciprocal rank.

They stand for what one gets out of the box, next to which ours (:class:`kb.search.retrieve.HybridRetriever`)
is measured. Each is a :class:`kb.search.protocol.Retriever`, composed into a knowledge base with
``build_kb(settings, retriever=...)``; the modes are named by strings in the eval and turned into
:class:`Mode` and :class:`Fusion` here, which refuse an unknown name with the names to choose from.
bm25s is used as it comes: its IDF and average length come from what is indexed, which is what
a textbook BM25 does (and why ours does not, :mod:`kb.search.lexical`).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import Enum

import bm25s
import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from kb.index.store import ChunkStore
from kb.nl.text import tokenize
from kb.records import Passage, Query
from kb.search.lexicon import Lexicon
from kb.search.retrieve import (
    IndexedChunk,
    chroma_where,
    clean_filters,
    filter_values_of,
    idf_of,
    indexed_chunk,
    matches_filters,
    merge_passages,
)

logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG on import


class _Choice(Enum):
    """An option named by a string; an unknown name is refused with the names to choose from."""

    @classmethod
    def _missing_(cls, value: object) -> None:
        choices = ", ".join(member.value for member in cls)
        raise ValueError(f"Unknown {cls.__name__.lower()} {value!r}. Choose one of: {choices}.")


class Mode(_Choice):
    """Which rankings a textbook retriever uses."""

    BM25 = "bm25"  # bm25s over the question's stems
    DENSE = "dense"  # the store's nearest neighbours of the question's embedding
    HYBRID = "hybrid"  # both, fused


class Fusion(_Choice):
    """How a textbook retriever fuses its rankings (with one ranking: how it scores it)."""

    RELATIVE = "relative"  # min-max normalised scores plus a small reciprocal-rank term (llama-index's idea)
    RRF = "rrf"  # reciprocal rank, k = 60


RRF_K = 60
RANK_TIEBREAK = 0.05  # small reciprocal-rank term next to normalised scores


@dataclass(frozen=True)
class _TextbookSnapshot:
    generation: str | None = None
    chunks: list[IndexedChunk] = field(default_factory=list)
    by_id: dict[str, int] = field(default_factory=dict)
    df: Counter = field(default_factory=Counter)
    bm25: bm25s.BM25 | None = None


class TextbookRetriever:
    """The textbook baselines (a :class:`~kb.search.protocol.Retriever`): bm25s and/or the store's
    nearest neighbours, equal weights, none of our additions — no compound parts, lexicon,
    near-duplicate removal, passage quality or per-document cap. Same chunks as ours, and the
    same merging of adjacent retrieved chunks into passages."""

    def __init__(
        self,
        store: ChunkStore,
        embed_model: BaseEmbedding,
        mode: Mode | str = Mode.HYBRID,
        fusion: Fusion | str = Fusion.RELATIVE,
    ) -> None:
        self.store = store
        self.embed_model = embed_model
        self.mode = Mode(mode)
        self.fusion = Fusion(fusion)
        self._snapshot = _TextbookSnapshot()
        self._refresh_lock = threading.Lock()
        self.refresh()

    @property
    def lexicon(self) -> Lexicon:
        return Lexicon([])  # none of our additions: questions are not expanded, definitions not looked up

    def refresh(self, force: bool = False) -> _TextbookSnapshot:
        generation = self.store.generation()
        if generation == self._snapshot.generation and not force:
            return self._snapshot
        with self._refresh_lock:
            generation = self.store.generation()
            if generation != self._snapshot.generation or force:
                chunks = [indexed_chunk(p, tokenize) for p in self.store.current_passages()]
                bm25 = None
                if chunks:
                    bm25 = bm25s.BM25()
                    bm25.index([c.tokens or ["∅"] for c in chunks], show_progress=False)
                self._snapshot = _TextbookSnapshot(
                    generation,
                    chunks,
                    {c.chunk_id: i for i, c in enumerate(chunks)},
                    Counter(t for c in chunks for t in set(c.tokens)),
                    bm25,
                )
            return self._snapshot

    def idf(self, term: str) -> float:
        snap = self._snapshot
        return idf_of(snap.df, len(snap.chunks), term)

    def filter_values(self) -> dict[str, list]:
        return filter_values_of(self.refresh().chunks)

    def retrieve(self, query: Query, k: int = 10, filters: dict | None = None) -> list[Passage]:
        snap = self.refresh()
        if not snap.chunks:
            return []
        filters = clean_filters(filters)
        pool = max(4 * k, 40)
        dense: list[tuple[str, float]] = []
        if self.mode in (Mode.HYBRID, Mode.DENSE):
            embedding = self.embed_model.get_query_embedding(query.search_text)
            found = self.store.query(embedding, pool, chroma_where(filters))
            dense = [(cid, s) for cid, s in found if cid in snap.by_id]
        lexical: list[tuple[str, float]] = []
        if self.mode in (Mode.HYBRID, Mode.BM25) and snap.bm25 is not None:
            lexical = self._bm25(snap, query.search_text, pool, filters)
        fused = self._fuse(dense, lexical)
        dense_map, lexical_map = dict(dense), dict(lexical)
        floor = min(dense_map.values()) if dense_map else 0.0
        ranked = sorted(fused.items(), key=lambda item: item[1], reverse=True)
        return merge_passages(snap.chunks, snap.by_id, ranked, dense_map, lexical_map, floor)[: max(k, 10)]

    def _fuse(self, dense: list[tuple[str, float]], lexical: list[tuple[str, float]]) -> dict[str, float]:
        """Equal-weight fusion of the two rankings.

        ``rrf``: reciprocal ranks. ``relative``: min-max normalised scores (llama-index's
        relative-score idea), so a passage that only BM25 finds, with a far stronger score
        than the rest, is not pushed out by passages both searches rank in the middle.
        """
        fused: dict[str, float] = defaultdict(float)
        for weight, ranking in ((1.0, dense), (1.0, lexical)):
            if not ranking:
                continue
            top, bottom = ranking[0][1], ranking[-1][1]
            spread = (top - bottom) or 1.0
            for rank, (cid, score) in enumerate(ranking):
                if self.fusion is Fusion.RRF:
                    fused[cid] += weight / (RRF_K + rank + 1)
                else:
                    fused[cid] += weight * ((score - bottom) / spread + RANK_TIEBREAK / (rank + 1))
        return fused

    @staticmethod
    def _bm25(snap: _TextbookSnapshot, text: str, n: int, filters: dict) -> list[tuple[str, float]]:
        tokens = tokenize(text)
        if not tokens:
            return []
        mask = None
        if filters:
            mask = np.array([matches_filters(c.meta, filters) for c in snap.chunks], dtype=float)
            if not mask.any():
                return []
        k = min(n, len(snap.chunks))
        indexes, scores = snap.bm25.retrieve([tokens], k=k, weight_mask=mask, show_progress=False)
        return [(snap.chunks[int(i)].chunk_id, float(s)) for i, s in zip(indexes[0], scores[0]) if s > 0]

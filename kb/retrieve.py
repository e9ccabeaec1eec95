"""Hybrid retrieval: dense (Chroma, e5) + BM25 (Dutch stemmer and stop words), fused.

Why bm25s directly instead of llama-index's ``BM25Retriever`` wrapper: the wrapper fixes
metadata filters at construction (we filter per question) and loses the Dutch stemmer
on reload. Why our own fusion instead of ``QueryFusionRetriever``: its reciprocal-rank
mode has no per-retriever weights, and the answerer needs each passage's dense and
lexical evidence separately (for abstention), which fused ``NodeWithScore`` drops.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from dataclasses import dataclass

import bm25s
import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from ingest.chunk import embed_input
from kb.records import Passage
from kb.store import ChunkStore
from kb.text import tokenize

log = logging.getLogger(__name__)

FILTER_KEYS = ("kind", "cop", "year", "doc_id", "publisher")
RRF_K = 60


@dataclass
class IndexedChunk:
    chunk_id: str
    doc_id: str
    index: int
    text: str
    meta: dict
    tokens: list[str]


def _latest_versions(records: list[tuple[str, dict, str]]) -> list[tuple[str, dict, str]]:
    """Hide half-written or superseded versions: per document keep the newest complete one."""
    versions: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        versions[record[1]["doc_id"]][record[1]["doc_hash"]].append(record)
    kept = []
    for by_hash in versions.values():

        def rank(recs: list) -> tuple:
            md = recs[0][1]
            return (len(recs) == md.get("n_chunks", -1), md.get("ingested_at", ""))

        kept.extend(max(by_hash.values(), key=rank))
    return kept


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = text.lower().split()
    return {tuple(words[i : i + 3]) for i in range(max(len(words) - 2, 1))}


class HybridRetriever:
    """Retrieves passages for a question; reloads the BM25 index when the store changes."""

    def __init__(
        self,
        store: ChunkStore,
        embed_model: BaseEmbedding,
        dense_weight: float = 1.0,
        lexical_weight: float = 1.0,
        mode: str = "hybrid",  # hybrid | dense | bm25 (the latter two for the eval baselines)
    ) -> None:
        self.store = store
        self.embed_model = embed_model
        self.dense_weight = dense_weight
        self.lexical_weight = lexical_weight
        self.mode = mode
        self._count = -1
        self.chunks: list[IndexedChunk] = []
        self.by_id: dict[str, int] = {}
        self.df: Counter = Counter()
        self._bm25: bm25s.BM25 | None = None

    # -- index -----------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """(Re)build the in-memory lexical index if the store changed."""
        count = self.store.count()
        if count == self._count and not force:
            return
        records = [
            (cid, md, doc or "") for cid, md, doc, _ in self.store.iter_records(include=["metadatas", "documents"])
        ]
        records = _latest_versions(records)
        records.sort(key=lambda r: (r[1]["doc_id"], r[1].get("chunk_index", 0)))
        self.chunks = [
            IndexedChunk(
                cid,
                md["doc_id"],
                int(md.get("chunk_index", 0)),
                text,
                md,
                tokenize(embed_input(md.get("title", ""), md.get("section", ""), text)),
            )
            for cid, md, text in records
        ]
        self.by_id = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self.df = Counter(t for c in self.chunks for t in set(c.tokens))
        self._bm25 = None
        if self.chunks:
            self._bm25 = bm25s.BM25()
            self._bm25.index([c.tokens or ["∅"] for c in self.chunks], show_progress=False)
        self._count = count
        log.info("lexical index rebuilt: %d passages", len(self.chunks))

    def idf(self, term: str) -> float:
        n = max(len(self.chunks), 1)
        df = self.df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    # -- filters ---------------------------------------------------------------------
    def filter_values(self) -> dict[str, list]:
        """Values present in the index per filter key (for the UI and for resolving CLI input)."""
        self.refresh()
        values: dict[str, set] = defaultdict(set)
        for chunk in self.chunks:
            for key in FILTER_KEYS:
                value = chunk.meta.get(key)
                if value not in (None, "", 0):
                    values[key].add(value)
        return {k: sorted(v) for k, v in values.items()}

    def _matches(self, meta: dict, filters: dict) -> bool:
        for key, wanted in filters.items():
            value = meta.get(key)
            if isinstance(wanted, (list, tuple, set)):
                if value not in wanted:
                    return False
            elif value != wanted:
                return False
        return True

    @staticmethod
    def _where(filters: dict) -> dict | None:
        clauses = [{k: {"$in": list(v)}} if isinstance(v, (list, tuple, set)) else {k: v} for k, v in filters.items()]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    # -- search ----------------------------------------------------------------------
    def retrieve(
        self,
        question: str,
        k: int = 10,
        filters: dict | None = None,
        history: list[str] | tuple[str, ...] = (),
    ) -> list[Passage]:
        """Ranked passages (adjacent chunks merged, near-duplicates dropped), best first."""
        self.refresh()
        if not self.chunks:
            return []
        filters = {key: v for key, v in (filters or {}).items() if v not in (None, "", [])}
        query = " ".join([*list(history)[-2:], question]) if history else question
        pool = max(4 * k, 40)
        dense: list[tuple[str, float]] = []
        if self.mode in ("hybrid", "dense"):
            embedding = self.embed_model.get_query_embedding(query)
            dense = [
                (cid, s) for cid, s in self.store.query(embedding, pool, self._where(filters)) if cid in self.by_id
            ]
        lexical: list[tuple[str, float]] = []
        if self.mode in ("hybrid", "bm25") and self._bm25 is not None:
            lexical = self._lexical(query, pool, filters)
        fused: dict[str, float] = defaultdict(float)
        for weight, ranking in ((self.dense_weight, dense), (self.lexical_weight, lexical)):
            for rank, (cid, _score) in enumerate(ranking):
                fused[cid] += weight / (RRF_K + rank + 1)
        dense_map, lexical_map = dict(dense), dict(lexical)
        floor = min(dense_map.values()) if dense_map else 0.0
        ranked = sorted(fused.items(), key=lambda item: item[1], reverse=True)
        passages = self._merge(ranked, dense_map, lexical_map, floor)
        return passages[: max(k, 10)]

    def _lexical(self, query: str, n: int, filters: dict) -> list[tuple[str, float]]:
        tokens = tokenize(query)
        if not tokens:
            return []
        mask = None
        if filters:
            mask = np.array([self._matches(c.meta, filters) for c in self.chunks], dtype=float)
            if not mask.any():
                return []
        k = min(n, len(self.chunks))
        indexes, scores = self._bm25.retrieve([tokens], k=k, weight_mask=mask, show_progress=False)
        return [(self.chunks[int(i)].chunk_id, float(s)) for i, s in zip(indexes[0], scores[0]) if s > 0]

    def _merge(self, ranked, dense_map, lexical_map, floor) -> list[Passage]:
        """Merge a passage with its retrieved neighbours; drop near-duplicates of better passages."""
        retrieved = {cid for cid, _ in ranked}
        taken: set[str] = set()
        passages: list[Passage] = []
        seen_shingles: list[set] = []
        top_score = ranked[0][1] if ranked else 1.0
        for cid, score in ranked:
            if cid in taken:
                continue
            start = end = self.by_id[cid]
            doc_id = self.chunks[start].doc_id
            while (
                start > 0
                and self.chunks[start - 1].doc_id == doc_id
                and self.chunks[start - 1].chunk_id in retrieved - taken
                and end - start < 2
            ):
                start -= 1
            while (
                end + 1 < len(self.chunks)
                and self.chunks[end + 1].doc_id == doc_id
                and self.chunks[end + 1].chunk_id in retrieved - taken
                and end - start < 2
            ):
                end += 1
            members = self.chunks[start : end + 1]
            taken.update(m.chunk_id for m in members)
            text = "\n".join(m.text for m in members)
            shingles = _shingles(text)
            if any(len(shingles & s) / max(min(len(shingles), len(s)), 1) > 0.7 for s in seen_shingles):
                continue
            seen_shingles.append(shingles)
            first, md = members[0], members[0].meta
            locators = list(dict.fromkeys(m.meta.get("locator", "") for m in members))
            passages.append(
                Passage(
                    chunk_ids=[m.chunk_id for m in members],
                    doc_id=doc_id,
                    title=md.get("title", doc_id),
                    publisher=md.get("publisher", ""),
                    date=md.get("date", ""),
                    kind=md.get("kind", ""),
                    locator=locators[0] if len(locators) == 1 else f"{locators[0]} – {locators[-1]}",
                    text=text,
                    score=score / top_score,
                    first_index=first.index,
                    last_index=members[-1].index,
                    section=md.get("section", ""),
                    dense_score=max(dense_map.get(m.chunk_id, floor) for m in members),
                    lexical_score=max(lexical_map.get(m.chunk_id, 0.0) for m in members),
                    parts=[(m.meta.get("locator", ""), m.text) for m in members],
                )
            )
        return passages

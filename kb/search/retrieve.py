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
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import bm25s
import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from kb.index import passage_text
from kb.index.store import ChunkStore
from kb.nl.question import question_kind
from kb.nl.text import tokenize, tokenize_compounds
from kb.records import Passage
from kb.search.lexical import FixedScaleKeywords, query_terms
from kb.search.lexicon import Lexicon
from kb.search.quality import near_duplicates, passage_quality
from kb.validity import Validity, recency_key

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG on import

FILTER_KEYS = ("kind", "cop", "year", "doc_id", "publisher")
RRF_K = 60
RANK_TIEBREAK = 0.05  # small reciprocal-rank term next to normalised scores (plain baselines)
DENSE_UNRELATED = 0.80  # e5 similarity of unrelated text (its scores are compressed)
DENSE_SPAN = 0.10  # a close match scores about this much higher
MERGE_SHARE = 0.6  # a neighbouring chunk joins a passage when it scores at least this share of it
DOC_CAP = 3  # at most this many passages of one document before every other document had its turn


@dataclass
class IndexedChunk:
    chunk_id: str
    doc_id: str
    index: int
    text: str
    meta: dict
    tokens: list[str]
    quality: float = 1.0


@dataclass(frozen=True)
class _Snapshot:
    """An immutable view of the searchable passages; swapped as a whole on refresh."""

    generation: str | None = None  # the store generation it was built from (None: not built)
    chunks: list[IndexedChunk] = field(default_factory=list)
    by_id: dict[str, int] = field(default_factory=dict)
    df: Counter = field(default_factory=Counter)
    bm25: bm25s.BM25 | None = None
    lexicon: Lexicon = field(default_factory=lambda: Lexicon([]))
    keywords: FixedScaleKeywords | None = None
    quality: np.ndarray | None = None  # passage_quality of ``chunks``
    vectors: np.ndarray | None = None  # unit e5 vectors of ``chunks`` (ours: exact, in-memory dense scores)
    duplicates: int = 0


def cap_per_document(passages: list[Passage], cap: int) -> list[Passage]:
    """Keep the order, but move a document's passages beyond the first ``cap`` behind the
    passages of other documents, so one large document cannot fill the top results."""
    seen: Counter = Counter()
    first, later = [], []
    for passage in passages:
        seen[passage.doc_id] += 1
        (first if seen[passage.doc_id] <= cap else later).append(passage)
    return first + later


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
        fusion: str = "relative",  # relative | rrf
        plain: bool = False,  # the textbook baseline: no compounds, lexicon, duplicates, quality or cap
        index_compounds: bool = True,  # add compound parts to the passages' tokens
        query_compounds: bool = False,  # add compound parts to the question's tokens
        expansion_weight: float = 0.5,  # weight of the lexicon's other names, as a separate keyword ranking
        today: Callable[[], date] = date.today,  # for "still valid" in the tie-break between equal passages
    ) -> None:
        # Defaults from the dev split (``python -m evals.tune_retrieval``; its output:
        # evals/tuning/retrieval-dev.txt, best mean hit@5 over the sample and the grown corpus):
        # passages carry their compounds' parts next to the whole word, so a question's
        # "reiskosten" meets a text's "reiskostenvergoeding"; splitting the question as well
        # added nothing there; the lexicon's other names help as a second, lighter ranking.
        self.index_compounds = index_compounds and not plain
        self.query_compounds = query_compounds and not plain
        self.expansion_weight = 0.0 if plain else expansion_weight
        self.fusion = fusion
        self.plain = plain
        if plain:
            self.dense_weight = self.lexical_weight = 1.0
        self.store = store
        self.embed_model = embed_model
        if not plain:
            self.dense_weight = dense_weight
            self.lexical_weight = lexical_weight
        self.mode = mode
        self.today = today
        self._snapshot = _Snapshot()
        self._refresh_lock = threading.Lock()
        self.refresh()  # IDF statistics are right from the first question on

    @property
    def chunks(self) -> list[IndexedChunk]:
        return self._snapshot.chunks

    def _vectors(self, chunks: list[IndexedChunk]) -> np.ndarray | None:
        """The passages' vectors as one unit-length matrix, or None when the store cannot give them all.

        Exact scoring instead of Chroma's HNSW search: an approximate index answers differently as
        it grows, and at this size (a few thousand passages, 384 dimensions) a matrix product takes
        a millisecond or two. A local Chroma folder written by another process can lack the new
        vectors in this process's view ("Error finding id"); then this snapshot falls back to
        Chroma's own nearest-neighbour search, and the next change tries again."""
        try:
            stored = self.store.embeddings_of([c.chunk_id for c in chunks])
        except Exception as exc:  # chromadb raises InternalError for ids its vector segment lacks
            log.warning("passage vectors not readable here (%s); using the store's search", type(exc).__name__)
            return None
        if any(stored.get(c.chunk_id) is None for c in chunks):
            return None
        matrix = np.array([stored[c.chunk_id] for c in chunks], dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms > 0, norms, 1.0)

    @property
    def lexicon(self) -> Lexicon:
        """The domain lexicon: curated terms plus those the indexed documents define."""
        return self.refresh().lexicon

    # -- index -----------------------------------------------------------------------
    def refresh(self, force: bool = False) -> _Snapshot:
        """(Re)build the in-memory lexical index if the store changed; returns the current snapshot.

        "Changed" means the store's write generation differs from the one the snapshot was
        built from (one small read per call): any add, replace, removal or import by any
        process, whatever it did to the number of passages. The generation is read before
        the passages, so a write that lands in between is seen on the next call.
        """
        generation = self.store.generation()
        if generation == self._snapshot.generation and not force:
            return self._snapshot
        with self._refresh_lock:
            generation = self.store.generation()
            if generation == self._snapshot.generation and not force:
                return self._snapshot
            # Of near-copies the newest valid one stays searchable (the same passage in an old and a
            # new version of a handreiking is equal evidence); among equals the earliest indexed.
            today = self.today()
            passages = sorted(
                self.store.current_passages(),
                key=lambda p: (recency_key(Validity.from_fields(p.fields), today), p.ingested_at, p.doc_id, p.index),
            )
            duplicates = {} if self.plain else near_duplicates([p.text for p in passages])
            kept = [p for i, p in enumerate(passages) if i not in duplicates]
            kept.sort(key=lambda p: (p.doc_id, p.index))
            lexicon = (
                Lexicon([]) if self.plain else Lexicon.build((p.chunk_id, p.doc_id, p.section, p.text) for p in kept)
            )
            analyze = tokenize_compounds if self.index_compounds else tokenize
            chunks = [
                IndexedChunk(
                    p.chunk_id,
                    p.doc_id,
                    p.index,
                    p.text,
                    p.fields,
                    analyze(passage_text.embed_input(p.title, p.section, p.text)),
                    1.0 if self.plain else passage_quality(p.text),
                )
                for p in kept
            ]
            if not self.plain:  # a passage is worth at most what its document typically is
                by_doc: dict[str, list[float]] = defaultdict(list)
                for c in chunks:
                    by_doc[c.doc_id].append(c.quality)
                typical = {doc: float(np.median(values)) for doc, values in by_doc.items()}
                for c in chunks:
                    c.quality = min(c.quality, typical[c.doc_id])
            bm25 = None
            if chunks and self.plain:  # the textbook baselines; ours scores with kb.search.lexical
                bm25 = bm25s.BM25()
                bm25.index([c.tokens or ["∅"] for c in chunks], show_progress=False)
            self._snapshot = _Snapshot(
                generation=generation,
                chunks=chunks,
                by_id={c.chunk_id: i for i, c in enumerate(chunks)},
                df=Counter(t for c in chunks for t in set(c.tokens)),
                bm25=bm25,
                lexicon=lexicon,
                keywords=None if self.plain or not chunks else FixedScaleKeywords([c.tokens for c in chunks]),
                vectors=None if self.plain or not chunks else self._vectors(chunks),
                quality=np.array([c.quality for c in chunks], dtype=np.float32),
                duplicates=len(duplicates),
            )
            log.info("lexical index rebuilt: %d passages", len(chunks))
            return self._snapshot

    def idf(self, term: str) -> float:
        snap = self._snapshot
        n = max(len(snap.chunks), 1)
        df = snap.df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def known(self, term: str) -> bool:
        """True when the stem occurs in the indexed passages (also inside a compound word)."""
        snap = self._snapshot
        if term in snap.df:
            return True
        return len(term) >= 5 and any(term in t for t in snap.df)

    # -- filters ---------------------------------------------------------------------
    def filter_values(self) -> dict[str, list]:
        """Values present in the index per filter key (for the UI and for resolving CLI input)."""
        values: dict[str, set] = defaultdict(set)
        for chunk in self.refresh().chunks:
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
        snap = self.refresh()
        if not snap.chunks:
            return []
        filters = {key: v for key, v in (filters or {}).items() if v not in (None, "", [])}
        query = " ".join([*list(history)[-2:], question])
        pool = max(4 * k, 40)
        if not self.plain:
            return self._retrieve_fixed_scale(snap, question, query, k, pool, filters)
        dense: list[tuple[str, float]] = []
        if self.mode in ("hybrid", "dense"):
            embedding = self.embed_model.get_query_embedding(query)
            dense = [
                (cid, s) for cid, s in self.store.query(embedding, pool, self._where(filters)) if cid in snap.by_id
            ]
        lexical: list[tuple[str, float]] = []
        if self.mode in ("hybrid", "bm25") and snap.bm25 is not None:
            lexical = self._lexical(snap, query, pool, filters)
        fused = self._fuse(dense, lexical)
        dense_map, lexical_map = dict(dense), dict(lexical)
        floor = min(dense_map.values()) if dense_map else 0.0
        ranked = sorted(fused.items(), key=lambda item: item[1], reverse=True)
        return self._merge(snap, ranked, dense_map, lexical_map, floor)[: max(k, 10)]

    def _retrieve_fixed_scale(
        self, snap: _Snapshot, question: str, query: str, k: int, pool: int, filters: dict
    ) -> list[Passage]:
        """Ours: every score is a function of the question and one passage only — the exact e5
        similarity on a fixed scale and a keyword score with fixed term weights (:mod:`kb.search.lexical`),
        times the passage's quality — and a neighbour joins a passage by its own score, not by the
        company it keeps. Documents added elsewhere can push a passage down the list but never
        change its score or its text."""
        n = len(snap.chunks)
        dense = np.full(n, DENSE_UNRELATED, dtype=np.float32)
        lexical = np.zeros(n, dtype=np.float32)
        fused = np.zeros(n, dtype=np.float32)
        if self.mode in ("hybrid", "dense"):
            embedding = self.embed_model.get_query_embedding(query)
            if snap.vectors is not None:
                vector = np.asarray(embedding, dtype=np.float32)
                dense = snap.vectors @ (vector / (np.linalg.norm(vector) or 1.0))
            else:  # see _vectors: the store's nearest neighbours, the rest at the unrelated level
                for cid, score in self.store.query(embedding, pool, self._where(filters)):
                    if cid in snap.by_id:
                        dense[snap.by_id[cid]] = score
            fused += self.dense_weight * (dense - DENSE_UNRELATED) / DENSE_SPAN
        if self.mode in ("hybrid", "bm25") and snap.keywords is not None:
            lexical = snap.keywords.scores(query_terms(query, self.query_compounds))
            fused += self.lexical_weight * lexical
            extra = snap.lexicon.expansions(query) if self.expansion_weight else []
            if extra:
                fused += self.expansion_weight * snap.keywords.scores(
                    query_terms(" ".join(extra), self.query_compounds)
                )
        fused *= snap.quality
        mask = self._mask(snap, filters)
        if mask is not None:
            fused = np.where(mask, fused, -np.inf)
        top = np.argsort(-fused, kind="stable")[: min(pool, n)]
        candidates = {snap.chunks[int(i)].chunk_id: float(fused[i]) for i in top if np.isfinite(fused[i])}
        self._definition_first(snap, question, candidates, filters)
        ranked = sorted(candidates.items(), key=self._tie_break(snap))

        def joins(neighbour: int, member: int) -> bool:
            return bool(np.isfinite(fused[neighbour]) and fused[neighbour] >= MERGE_SHARE * max(fused[member], 0.0))

        # evidence of the candidates and the neighbours that may join them (not of every passage)
        near = {j for cid, _ in ranked for j in range(snap.by_id[cid] - 2, snap.by_id[cid] + 3) if 0 <= j < n}
        dense_map = {snap.chunks[j].chunk_id: float(dense[j]) for j in near}
        lexical_map = {snap.chunks[j].chunk_id: float(lexical[j]) for j in near}
        passages = self._merge(snap, ranked, dense_map, lexical_map, DENSE_UNRELATED, joins)
        return cap_per_document(passages, DOC_CAP)[: max(k, 10)]

    def _tie_break(self, snap: _Snapshot) -> Callable[[tuple[str, float]], tuple]:
        """Sort key for (chunk id, score): best score first; of equal scores the newer valid
        passage first (:func:`kb.validity.recency_key`), then by id. Only exact ties move, so
        the ranking of passages with different evidence stays as it was."""
        today = self.today()

        def key(item: tuple[str, float]) -> tuple:
            chunk_id, score = item
            meta = snap.chunks[snap.by_id[chunk_id]].meta
            return (-score, recency_key(Validity.from_fields(meta), today), chunk_id)

        return key

    def _mask(self, snap: _Snapshot, filters: dict) -> np.ndarray | None:
        if not filters:
            return None
        return np.array([self._matches(c.meta, filters) for c in snap.chunks], dtype=bool)

    def _definition_first(self, snap: _Snapshot, question: str, fused: dict[str, float], filters: dict) -> None:
        """'Wat is X?': the passage where a document defines X (its glossary or "Een X is ...") ranks first."""
        if question_kind(question) != "definition":
            return
        terms = snap.lexicon.find(question)
        top = max(fused.values(), default=1.0)
        for term in terms[:1]:
            cid = term.chunk_id
            if cid in snap.by_id and self._matches(snap.chunks[snap.by_id[cid]].meta, filters):
                fused[cid] = top * 1.01

    def _fuse(self, dense: list[tuple[str, float]], lexical: list[tuple[str, float]]) -> dict[str, float]:
        """Weighted fusion of the two rankings.

        ``rrf``: reciprocal ranks. ``relative``: min-max normalised scores (llama-index's
        relative-score idea), so a passage that only BM25 finds, with a far stronger score
        than the rest, is not pushed out by passages both searches rank in the middle.
        """
        fused: dict[str, float] = defaultdict(float)
        for weight, ranking in ((self.dense_weight, dense), (self.lexical_weight, lexical)):
            if not ranking:
                continue
            top, bottom = ranking[0][1], ranking[-1][1]
            spread = (top - bottom) or 1.0
            for rank, (cid, score) in enumerate(ranking):
                if self.fusion == "rrf":
                    fused[cid] += weight / (RRF_K + rank + 1)
                else:
                    fused[cid] += weight * ((score - bottom) / spread + RANK_TIEBREAK / (rank + 1))
        return fused

    def _lexical(self, snap: _Snapshot, query: str, n: int, filters: dict) -> list[tuple[str, float]]:
        tokens = tokenize_compounds(query) if self.query_compounds else tokenize(query)
        if not tokens:
            return []
        mask = None
        if filters:
            mask = np.array([self._matches(c.meta, filters) for c in snap.chunks], dtype=float)
            if not mask.any():
                return []
        k = min(n, len(snap.chunks))
        indexes, scores = snap.bm25.retrieve([tokens], k=k, weight_mask=mask, show_progress=False)
        return [(snap.chunks[int(i)].chunk_id, float(s)) for i, s in zip(indexes[0], scores[0]) if s > 0]

    def _merge(self, snap: _Snapshot, ranked, dense_map, lexical_map, floor, joins=None) -> list[Passage]:
        """Merge a passage with its retrieved neighbours; drop near-duplicates of better passages.

        ``joins(neighbour, member)`` decides whether a neighbouring chunk joins; by default a
        neighbour joins when it was retrieved too."""
        retrieved = {cid for cid, _ in ranked}
        if joins is None:

            def joins(neighbour: int, _member: int) -> bool:
                return snap.chunks[neighbour].chunk_id in retrieved

        taken: set[str] = set()
        passages: list[Passage] = []
        seen_shingles: list[set] = []
        top_score = ranked[0][1] if ranked else 1.0
        for cid, score in ranked:
            if cid in taken:
                continue
            start = end = snap.by_id[cid]
            doc_id = snap.chunks[start].doc_id
            while (
                start > 0
                and snap.chunks[start - 1].doc_id == doc_id
                and snap.chunks[start - 1].chunk_id not in taken
                and joins(start - 1, start)
                and end - start < 2
            ):
                start -= 1
            while (
                end + 1 < len(snap.chunks)
                and snap.chunks[end + 1].doc_id == doc_id
                and snap.chunks[end + 1].chunk_id not in taken
                and joins(end + 1, end)
                and end - start < 2
            ):
                end += 1
            members = snap.chunks[start : end + 1]
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
                    validity=Validity.from_fields(md),
                )
            )
        return passages

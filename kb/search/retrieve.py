"""Our retrieval: exact dense similarity (Chroma's stored vectors) + fixed-scale keyword scores, fused.

Why our own keyword scoring instead of bm25s or llama-index's ``BM25Retriever``: their IDF and
average length come from whatever is indexed, so an unrelated document moves every score
(:mod:`kb.search.lexical`). Why our own fusion instead of ``QueryFusionRetriever``: its
reciprocal-rank mode has no per-retriever weights, and the answerer needs each passage's dense
and lexical evidence separately (for abstention), which fused ``NodeWithScore`` drops. The
textbook baselines the eval compares with (BM25 only, dense only, reciprocal-rank fusion) live
in :mod:`evals.baselines`, behind the same :class:`~kb.search.protocol.Retriever` protocol; they
share this module's passage merging and filters.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from kb.embeddings import ScoreProfile
from kb.index import passage_text
from kb.index.schema import StoredPassage
from kb.index.store import ChunkStore
from kb.nl.text import tokenize, tokenize_compounds
from kb.records import Passage, Query
from kb.search.defaults import RetrievalConfig
from kb.search.lexical import FixedScaleKeywords
from kb.search.lexicon import Lexicon
from kb.search.quality import near_duplicates, passage_quality
from kb.validity import Validity, recency_key

log = logging.getLogger(__name__)

FILTER_KEYS = ("kind", "cop", "year", "doc_id", "publisher")
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
    lexicon: Lexicon = field(default_factory=lambda: Lexicon([]))
    keywords: FixedScaleKeywords | None = None
    quality: np.ndarray | None = None  # passage_quality of ``chunks``
    vectors: np.ndarray | None = None  # unit vectors of ``chunks`` (exact, in-memory dense scores)
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


def idf_of(df: Counter, passages: int, term: str) -> float:
    """BM25's IDF of ``term`` over ``passages`` passages of which ``df[term]`` hold it."""
    n = max(passages, 1)
    count = df.get(term, 0)
    return math.log(1 + (n - count + 0.5) / (count + 0.5))


def matches_filters(meta: dict, filters: dict) -> bool:
    """Does a passage with metadata ``meta`` pass every filter (a value, or a list of allowed values)?"""
    for key, wanted in filters.items():
        value = meta.get(key)
        if isinstance(wanted, (list, tuple, set)):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


def chroma_where(filters: dict) -> dict | None:
    """The filters as a Chroma ``where`` clause (None: no filter)."""
    clauses = [{k: {"$in": list(v)}} if isinstance(v, (list, tuple, set)) else {k: v} for k, v in filters.items()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def clean_filters(filters: dict | None) -> dict:
    """The filters that filter something (empty values left out)."""
    return {key: v for key, v in (filters or {}).items() if v not in (None, "", [])}


def filter_values_of(chunks: Sequence[IndexedChunk]) -> dict[str, list]:
    """Values present in ``chunks`` per filter key (for the UI and for resolving CLI input)."""
    values: dict[str, set] = defaultdict(set)
    for chunk in chunks:
        for key in FILTER_KEYS:
            value = chunk.meta.get(key)
            if value not in (None, "", 0):
                values[key].add(value)
    return {k: sorted(v) for k, v in values.items()}


def indexed_chunk(p: StoredPassage, analyze: Callable[[str], list[str]], quality: float = 1.0) -> IndexedChunk:
    """A stored passage as the retrievers search it: its text with title and heading, tokenised."""
    tokens = analyze(passage_text.embed_input(p.title, p.section, p.text))
    return IndexedChunk(p.chunk_id, p.doc_id, p.index, p.text, p.fields, tokens, quality)


def merge_passages(
    chunks: Sequence[IndexedChunk],
    by_id: Mapping[str, int],
    ranked: Sequence[tuple[str, float]],
    dense_map: Mapping[str, float],
    lexical_map: Mapping[str, float],
    floor: float,
    joins: Callable[[int, int], bool] | None = None,
) -> list[Passage]:
    """Merge each ranked chunk with its neighbours into a passage; drop near-duplicates of better passages.

    ``chunks`` are in document order, ``by_id`` gives a chunk id's position, ``ranked`` holds
    (chunk id, score) best first. ``joins(neighbour, member)`` decides whether a neighbouring
    chunk joins; by default a neighbour joins when it was ranked too. ``floor`` is the dense
    evidence of a chunk missing from ``dense_map``."""
    retrieved = {cid for cid, _ in ranked}
    if joins is None:

        def joins(neighbour: int, _member: int) -> bool:
            return chunks[neighbour].chunk_id in retrieved

    taken: set[str] = set()
    passages: list[Passage] = []
    seen_shingles: list[set] = []
    top_score = ranked[0][1] if ranked else 1.0
    for cid, score in ranked:
        if cid in taken:
            continue
        start = end = by_id[cid]
        doc_id = chunks[start].doc_id
        while (
            start > 0
            and chunks[start - 1].doc_id == doc_id
            and chunks[start - 1].chunk_id not in taken
            and joins(start - 1, start)
            and end - start < 2
        ):
            start -= 1
        while (
            end + 1 < len(chunks)
            and chunks[end + 1].doc_id == doc_id
            and chunks[end + 1].chunk_id not in taken
            and joins(end + 1, end)
            and end - start < 2
        ):
            end += 1
        members = chunks[start : end + 1]
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


class HybridRetriever:
    """Retrieves passages for a :class:`~kb.records.Query`; rebuilds its index when the store changes.

    ``profile`` puts the embedding model's similarities on a common scale (:class:`kb.embeddings.ScoreProfile`);
    ``config`` holds the options fitted on dev (default: ``kb/data/retrieval.json``)."""

    def __init__(
        self,
        store: ChunkStore,
        embed_model: BaseEmbedding,
        profile: ScoreProfile,
        config: RetrievalConfig | None = None,
        today: Callable[[], date] = date.today,  # for "still valid" in the tie-break between equal passages
    ) -> None:
        self.store = store
        self.embed_model = embed_model
        self.profile = profile
        self.config = config or RetrievalConfig.load()
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
        """(Re)build the in-memory index if the store changed; returns the current snapshot.

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
            self._snapshot = self._build(generation)
            log.info("lexical index rebuilt: %d passages", len(self._snapshot.chunks))
            return self._snapshot

    def _build(self, generation: str) -> _Snapshot:
        # Of near-copies the newest valid one stays searchable (the same passage in an old and a
        # new version of a handreiking is equal evidence); among equals the earliest indexed.
        today = self.today()
        passages = sorted(
            self.store.current_passages(),
            key=lambda p: (recency_key(Validity.from_fields(p.fields), today), p.ingested_at, p.doc_id, p.index),
        )
        duplicates = near_duplicates([p.text for p in passages])
        kept = [p for i, p in enumerate(passages) if i not in duplicates]
        kept.sort(key=lambda p: (p.doc_id, p.index))
        lexicon = Lexicon.build((p.chunk_id, p.doc_id, p.section, p.text) for p in kept)
        analyze = tokenize_compounds if self.config.index_compounds else tokenize
        chunks = [indexed_chunk(p, analyze, passage_quality(p.text)) for p in kept]
        # a passage is worth at most what its document typically is
        by_doc: dict[str, list[float]] = defaultdict(list)
        for c in chunks:
            by_doc[c.doc_id].append(c.quality)
        typical = {doc: float(np.median(values)) for doc, values in by_doc.items()}
        for c in chunks:
            c.quality = min(c.quality, typical[c.doc_id])
        return _Snapshot(
            generation=generation,
            chunks=chunks,
            by_id={c.chunk_id: i for i, c in enumerate(chunks)},
            df=Counter(t for c in chunks for t in set(c.tokens)),
            lexicon=lexicon,
            keywords=FixedScaleKeywords([c.tokens for c in chunks]) if chunks else None,
            vectors=self._vectors(chunks) if chunks else None,
            quality=np.array([c.quality for c in chunks], dtype=np.float32),
            duplicates=len(duplicates),
        )

    def idf(self, term: str) -> float:
        snap = self._snapshot
        return idf_of(snap.df, len(snap.chunks), term)

    def known(self, term: str) -> bool:
        """True when the stem occurs in the indexed passages (also inside a compound word)."""
        snap = self._snapshot
        if term in snap.df:
            return True
        return len(term) >= 5 and any(term in t for t in snap.df)

    def filter_values(self) -> dict[str, list]:
        """Values present in the index per filter key (for the UI and for resolving CLI input)."""
        return filter_values_of(self.refresh().chunks)

    # -- search ----------------------------------------------------------------------
    def retrieve(self, query: Query, k: int = 10, filters: dict | None = None) -> list[Passage]:
        """Ranked passages (adjacent chunks merged, near-duplicates dropped), best first.

        Every score is a function of the question and one passage only — the exact dense
        similarity on the model's fixed scale and a keyword score with fixed term weights
        (:mod:`kb.search.lexical`), times the passage's quality — and a neighbour joins a passage
        by its own score, not by the company it keeps. Documents added elsewhere can push a
        passage down the list but never change its score or its text."""
        snap = self.refresh()
        if not snap.chunks:
            return []
        filters = clean_filters(filters)
        pool = max(4 * k, 40)
        cfg, profile = self.config, self.profile
        n = len(snap.chunks)
        dense = np.full(n, profile.unrelated, dtype=np.float32)
        embedding = self.embed_model.get_query_embedding(query.search_text)
        if snap.vectors is not None:
            vector = np.asarray(embedding, dtype=np.float32)
            dense = snap.vectors @ (vector / (np.linalg.norm(vector) or 1.0))
        else:  # see _vectors: the store's nearest neighbours, the rest at the unrelated level
            for cid, score in self.store.query(embedding, pool, chroma_where(filters)):
                if cid in snap.by_id:
                    dense[snap.by_id[cid]] = score
        fused = np.zeros(n, dtype=np.float32)
        fused += cfg.dense_weight * (dense - profile.unrelated) / profile.span
        lexical = np.zeros(n, dtype=np.float32)
        if snap.keywords is not None:
            lexical = snap.keywords.scores(query.keyword_weights)
            fused += cfg.lexical_weight * lexical
            if cfg.expansion_weight and query.expansion_keyword_weights:
                fused += cfg.expansion_weight * snap.keywords.scores(query.expansion_keyword_weights)
        fused *= snap.quality
        mask = self._mask(snap, filters)
        if mask is not None:
            fused = np.where(mask, fused, -np.inf)
        top = np.argsort(-fused, kind="stable")[: min(pool, n)]
        candidates = {snap.chunks[int(i)].chunk_id: float(fused[i]) for i in top if np.isfinite(fused[i])}
        self._definition_first(snap, query, candidates, filters)
        ranked = sorted(candidates.items(), key=self._tie_break(snap))

        def joins(neighbour: int, member: int) -> bool:
            return bool(np.isfinite(fused[neighbour]) and fused[neighbour] >= MERGE_SHARE * max(fused[member], 0.0))

        # evidence of the candidates and the neighbours that may join them (not of every passage)
        near = {j for cid, _ in ranked for j in range(snap.by_id[cid] - 2, snap.by_id[cid] + 3) if 0 <= j < n}
        dense_map = {snap.chunks[j].chunk_id: float(dense[j]) for j in near}
        lexical_map = {snap.chunks[j].chunk_id: float(lexical[j]) for j in near}
        passages = merge_passages(snap.chunks, snap.by_id, ranked, dense_map, lexical_map, profile.unrelated, joins)
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

    @staticmethod
    def _mask(snap: _Snapshot, filters: dict) -> np.ndarray | None:
        if not filters:
            return None
        return np.array([matches_filters(c.meta, filters) for c in snap.chunks], dtype=bool)

    @staticmethod
    def _definition_first(snap: _Snapshot, query: Query, fused: dict[str, float], filters: dict) -> None:
        """'Wat is X?': the passage where a document defines X (its glossary or "Een X is ...") ranks first."""
        if query.kind != "definition":
            return
        top = max(fused.values(), default=1.0)
        cid = query.definition_chunk_id
        if cid in snap.by_id and matches_filters(snap.chunks[snap.by_id[cid]].meta, filters):
            fused[cid] = top * 1.01

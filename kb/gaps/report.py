"""The Kennislacunes report: the weak, unanswered and 👎 questions of a period, grouped into themes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from kb.gaps.grouping import DISTANCE_THRESHOLD, MIN_THEME_SIZE, background, centre, cluster_vectors, unit
from kb.gaps.labels import theme_label, theme_terms
from kb.gaps.records import GAP_KINDS, ClosestDocument, GapReport, Theme, gap_kind
from kb.gaps.status import check_status
from kb.nl.text import fold
from kb.questions_log import LoggedQuestion, QuestionLog
from kb.search.lexicon import Lexicon

if TYPE_CHECKING:
    from kb.service import KnowledgeBase

DEFAULT_PERIOD_DAYS = 90
EXAMPLES = 5
LABEL_SAMPLE = 300  # the label of a larger theme is read from this many of its questions
CLOSEST_DOCUMENTS = 3


def build_gap_report(
    log: QuestionLog,
    kb: KnowledgeBase | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Iterable[str] = GAP_KINDS,
    cop: str = "",
    recheck: bool = True,
    now: datetime | None = None,
) -> GapReport:
    """Themes of the weak, unanswered and 👎 questions asked in [since, until).

    ``since`` defaults to :data:`DEFAULT_PERIOD_DAYS` before ``until`` (default: now); the trend
    compares with the period of the same length before ``since``. ``kinds`` and ``cop`` narrow the
    questions (``cop``: those asked with that CoP filter). Without ``kb`` there are no closest
    documents and no status check; entries without a stored vector are then left out.
    """
    now = now or datetime.now(UTC)
    until = until or now + timedelta(seconds=1)  # the end is exclusive: a question asked just now counts
    since = since or until - timedelta(days=DEFAULT_PERIOD_DAYS)
    previous_since = since - (until - since)
    kinds = tuple(k for k in GAP_KINDS if k in set(kinds))
    log.purge_if_due()
    entries, vectors = log.gaps(previous_since, until)
    stored = [v for v in vectors if v is not None] if kb is None else []
    everything = unit(np.stack(stored).astype(np.float32)) if stored else None  # the background without kb
    chosen = [
        i
        for i, e in enumerate(entries)
        if gap_kind(e) in kinds and (not cop or fold(str(e.filters.get("cop", ""))) == fold(cop))
    ]
    entries, vectors = [entries[i] for i in chosen], [vectors[i] for i in chosen]
    entries, matrix = _with_vectors(log, kb, entries, vectors)
    current = np.array([e.asked_at >= since for e in entries], dtype=bool)
    report = GapReport(
        since, until, previous_since, [], log.count(since, until), int(current.sum()), 0, kinds, cop, now
    )
    if not current.any():
        return report
    now_entries = [e for e, c in zip(entries, current) if c]
    mean = background(kb, everything if everything is not None else matrix)
    centred = centre(matrix[current], mean)
    labels = cluster_vectors(centred)
    members = [np.flatnonzero(labels == label) for label in np.unique(labels)]
    members = sorted((m for m in members if len(m) >= MIN_THEME_SIZE), key=len, reverse=True)
    report.loose = report.gaps - sum(len(m) for m in members)
    if not members:
        return report
    centres = unit(np.stack([centred[m].mean(axis=0) for m in members]))
    previous = _previous_counts(centre(matrix[~current], mean), centred, members, centres)
    lexicon = kb.retriever.lexicon if kb is not None else Lexicon.build()
    samples = [m[:: max(1, len(m) // LABEL_SAMPLE)] for m in members]  # a large theme: a spread sample
    terms = theme_terms([[now_entries[i].question for i in m] for m in samples], lexicon)
    for n, rows in enumerate(members):
        report.themes.append(_theme(now_entries, centred, rows, centres[n], terms[n], previous[n]))
    if kb is not None:  # documents are compared in e5's own space: the themes' plain mean vectors
        raw = matrix[current]
        _closest_documents(kb, report.themes, unit(np.stack([raw[m].mean(axis=0) for m in members])))
        if recheck:
            by_id = {e.id: e for e in now_entries}
            check_status(log, kb, report.themes, by_id)
    return report


def _with_vectors(
    log: QuestionLog, kb: KnowledgeBase | None, entries: list[LoggedQuestion], vectors: list[np.ndarray | None]
) -> tuple[list[LoggedQuestion], np.ndarray]:
    """The entries with a vector (missing ones embedded with ``kb`` and stored), and the unit vectors."""
    missing = [i for i, v in enumerate(vectors) if v is None]
    if missing and kb is not None:
        found = {entries[i].id: kb.embed_model.get_query_embedding(entries[i].question) for i in missing}
        log.store_vectors(found)
        for i in missing:
            vectors[i] = np.asarray(found[entries[i].id], dtype=np.float32)
    keep = [i for i, v in enumerate(vectors) if v is not None]
    if not keep:
        return [], np.zeros((0, 0), dtype=np.float32)
    matrix = unit(np.stack([vectors[i] for i in keep]).astype(np.float32))
    return [entries[i] for i in keep], matrix


def _previous_counts(
    previous: np.ndarray, centred: np.ndarray, members: list[np.ndarray], centres: np.ndarray
) -> list[int]:
    """How many questions of the previous period fall in each theme: nearest to its centre, and no
    farther from it than the theme's own farthest question (or the clustering threshold, if wider)."""
    if not len(previous):
        return [0] * len(centres)
    radius = np.array(
        [min(float((centred[m] @ centres[n]).min()), 1.0 - DISTANCE_THRESHOLD) for n, m in enumerate(members)]
    )
    similarity = previous @ centres.T
    best = similarity.argmax(axis=1)
    near = similarity[np.arange(len(previous)), best] >= radius[best]
    return [int(((best == n) & near).sum()) for n in range(len(centres))]


def _theme(
    entries: list[LoggedQuestion],
    matrix: np.ndarray,
    rows: np.ndarray,
    centre: np.ndarray,
    terms: tuple[str, ...],
    previous: int,
) -> Theme:
    order = rows[np.argsort(-(matrix[rows] @ centre), kind="stable")]
    members = [entries[i] for i in order]
    examples = tuple(dict.fromkeys(m.question for m in members))[:EXAMPLES]
    times = [m.asked_at for m in members]
    weekly = Counter((t - timedelta(days=t.weekday())).date().isoformat() for t in times)
    return Theme(
        key=f"thema-{min(m.id for m in members)}",
        label=theme_label(terms),
        terms=terms,
        size=len(members),
        previous=previous,
        first_seen=min(times),
        last_seen=max(times),
        kinds=dict(Counter(gap_kind(m) for m in members)),
        examples=examples,
        question_ids=tuple(m.id for m in members),  # closest to the centre first
        weekly=dict(sorted(weekly.items())),
    )


def _closest_documents(kb: KnowledgeBase, themes: list[Theme], centres: np.ndarray) -> None:
    snapshot = kb.retriever.refresh()
    if not snapshot.chunks:
        return
    if snapshot.vectors is not None:
        similarity = centres @ snapshot.vectors.T
        scored = [list(zip(range(len(snapshot.chunks)), row)) for row in similarity]
    else:  # the store could not give its vectors: its own nearest-neighbour search
        scored = [
            [(snapshot.by_id[c], s) for c, s in kb.store.query(centre.tolist(), 40) if c in snapshot.by_id]
            for centre in centres
        ]
    for theme, pairs in zip(themes, scored):
        best: dict[str, ClosestDocument] = {}
        for index, score in sorted(pairs, key=lambda p: -p[1]):
            chunk = snapshot.chunks[index]
            if chunk.doc_id not in best:
                best[chunk.doc_id] = ClosestDocument(chunk.doc_id, str(chunk.meta.get("title", "")), float(score))
            if len(best) == CLOSEST_DOCUMENTS:
                break
        theme.documents = tuple(best.values())

"""Grouping questions into themes by their vectors, with scikit-learn's agglomerative clustering.

Average linkage, cosine distance, a distance threshold instead of a number of themes. The vectors
are centred first: every e5 vector of a Dutch question shares a large common part, so the mean vector
of a few generic questions about inburgering (:data:`BACKGROUND_QUESTIONS`, embedded once with the
knowledge base's model) is taken off, and the distances say more about the topic. A fixed background,
not the mean of the questions at hand: a log of nearly one topic would lose that topic with its own
mean taken off. Above :data:`DIRECT_LIMIT` questions the clustering runs on a random sample of that
size, every question joins the nearest theme it lies within (no farther from the centre than the
theme's own farthest sampled question), and the questions left over are sampled and clustered again,
so that a theme too small to show in the first sample is still found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from kb.service import KnowledgeBase

# cosine distance between centred vectors (average linkage) under which questions share a theme; on the
# simulated log (evals/gaps_simulation.py) 0.4 gives purity 0.96 (112 of 207 questions in 31 themes),
# 0.5 0.87 (155 in 35), 0.6 0.74 (181 in 31)
DISTANCE_THRESHOLD = 0.5
BACKGROUND_QUESTIONS = (
    "Hoe werkt de inburgering voor statushouders in de gemeente?",
    "Wat moet een klantmanager weten over de Wet inburgering 2021?",
    "Wie is verantwoordelijk voor de begeleiding van nieuwkomers?",
    "Welke regels gelden er voor inburgeraars?",
    "Hoe lang duurt het traject van een inburgeraar?",
    "Hoeveel geld krijgt een statushouder?",
    "Wat kan de gemeente doen voor vergunninghouders?",
    "Waar vind ik informatie over inburgering?",
    "Welke organisaties werken samen bij de inburgering?",
    "Wat zijn de kosten voor de gemeente?",
    "Mag een inburgeraar werken tijdens de inburgering?",
    "Hoe regel ik dit voor mijn klant?",
)
_backgrounds: dict[str, np.ndarray] = {}  # model id → mean vector of BACKGROUND_QUESTIONS (a cache)
MIN_THEME_SIZE = 2  # a single question is listed as "los", not as a theme
DIRECT_LIMIT = 2000  # up to this many questions are clustered directly; more: a sample of this size
SAMPLE_ROUNDS = 4  # samples of the questions no theme took yet


def centre(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Unit vectors with the ``mean`` of :func:`background` taken off."""
    return unit(vectors - mean)


def background(kb: KnowledgeBase | None, vectors: np.ndarray) -> np.ndarray:
    """The common part of question vectors: the mean of :data:`BACKGROUND_QUESTIONS` in ``kb``'s model;
    without a knowledge base the mean of ``vectors`` (every gap in the two periods, before the kind and
    CoP filters: enough for a log of several topics)."""
    if kb is None:
        return vectors.mean(axis=0)
    model_id = kb.store.model_id
    if model_id not in _backgrounds:
        embedded = np.array([kb.embed_model.get_query_embedding(q) for q in BACKGROUND_QUESTIONS], dtype=np.float32)
        _backgrounds[model_id] = unit(embedded).mean(axis=0)
    return _backgrounds[model_id]


def cluster_vectors(vectors: np.ndarray, threshold: float = DISTANCE_THRESHOLD) -> np.ndarray:
    """A theme number per row of ``vectors`` (centred unit vectors, see :func:`centre`)."""
    from sklearn.cluster import AgglomerativeClustering

    def agglomerate(x: np.ndarray) -> np.ndarray:
        distances = np.clip(1.0 - x.astype(np.float64) @ x.T.astype(np.float64), 0.0, 2.0)  # cosine, by BLAS
        np.fill_diagonal(distances, 0.0)
        model = AgglomerativeClustering(
            n_clusters=None, distance_threshold=threshold, metric="precomputed", linkage="average"
        )
        return model.fit_predict(distances)

    n = len(vectors)
    if n < 2:
        return np.zeros(n, dtype=int)
    if n <= DIRECT_LIMIT:
        return agglomerate(vectors)
    labels = np.full(n, -1)
    rest = np.arange(n)
    rng = np.random.default_rng(0)  # the same log gives the same themes
    themes = 0
    for _round in range(SAMPLE_ROUNDS):
        sample = rest if len(rest) <= DIRECT_LIMIT else np.sort(rng.choice(rest, DIRECT_LIMIT, replace=False))
        found = agglomerate(vectors[sample])
        groups = [sample[found == label] for label in np.unique(found)]
        groups = [g for g in groups if len(g) >= MIN_THEME_SIZE]
        if not groups:
            break
        centres = unit(np.stack([vectors[g].mean(axis=0) for g in groups]))
        radius = np.array([float((vectors[g] @ c).min()) for g, c in zip(groups, centres)])
        similarity = vectors[rest] @ centres.T
        best = similarity.argmax(axis=1)
        within = similarity[np.arange(len(rest)), best] >= radius[best]
        labels[rest[within]] = themes + best[within]
        themes += len(groups)
        rest = rest[~within]
        if len(rest) <= DIRECT_LIMIT:  # the last round clusters all that is left
            if len(rest) >= MIN_THEME_SIZE:
                found = agglomerate(vectors[rest]) if len(rest) > 1 else np.zeros(1, dtype=int)
                labels[rest] = themes + found
                themes += int(found.max()) + 1
            rest = rest[:0]
            break
    labels[rest] = themes + np.arange(len(rest))  # never taken: each on its own
    return labels


def unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)

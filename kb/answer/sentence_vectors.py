"""Embeddings of single sentences, cached: for choosing answer sentences and checking claims.

The passage vectors in the store say which passage is about the question; they cannot say
which sentence in it answers. Embedding every sentence at ingest would multiply the ingest
time by the number of sentences per passage (for short texts the model's cost is per text,
not per token), and on dev the answerer gained nothing from embedding more than the dozen
most probable sentences of a question. So sentences are embedded when they are first
needed, and their vectors kept in a bounded cache shared by the answerer and the citation
verifier: a sentence's vector depends on its text alone, so the cache is correct in every
process, whatever the index holds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from threading import Lock

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / (np.linalg.norm(vectors, axis=-1, keepdims=True) + 1e-12)


class SentenceVectors:
    """Unit vectors of texts (``passage:`` side) and questions (``query:`` side), LRU-cached.

    Thread-safe: the chat app answers several questions at once."""

    def __init__(self, embed_model: BaseEmbedding, cache_size: int = 20_000) -> None:
        self.embed_model = embed_model
        self.cache_size = cache_size
        self._texts: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = Lock()

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        """One unit row per text; embeds only texts not seen before."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with self._lock:
            known = {t: self._texts[t] for t in texts if t in self._texts}
            for t in known:
                self._texts.move_to_end(t)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            vectors = _unit_rows(np.asarray(self.embed_model.get_text_embedding_batch(missing), dtype=np.float32))
            known.update(zip(missing, vectors))
            with self._lock:
                self._texts.update(zip(missing, vectors))
                while len(self._texts) > self.cache_size:
                    self._texts.popitem(last=False)
        return np.stack([known[t] for t in texts])

    def query(self, question: str) -> np.ndarray:
        with self._lock:
            vector = self._queries.get(question)
        if vector is None:
            vector = _unit_rows(np.asarray(self.embed_model.get_query_embedding(question), dtype=np.float32))
            with self._lock:
                self._queries[question] = vector
                while len(self._queries) > 256:
                    self._queries.popitem(last=False)
        return vector

    def similarities(self, question: str, sentences: Sequence[str]) -> list[float]:
        """Cosine similarity of the question to each sentence."""
        if not sentences:
            return []
        return [float(x) for x in self.texts(sentences) @ self.query(question)]

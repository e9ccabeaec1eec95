"""What the knowledge base asks of a retriever.

Ours is :class:`kb.search.retrieve.HybridRetriever`; the eval's textbook baselines
(:mod:`evals.baselines`) are other implementations, composed into a knowledge base the same way
(``build_kb(settings, retriever=...)``) instead of being switched on inside ours by flags.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from kb.records import Passage, Query
from kb.search.lexicon import Lexicon


@runtime_checkable
class Retriever(Protocol):
    """Finds passages for an analysed question in the passages of one store."""

    @property
    def lexicon(self) -> Lexicon:
        """The domain lexicon questions are analysed with (an empty one: no synonyms, no definitions)."""
        ...

    def refresh(self, force: bool = False) -> object:
        """Re-read the store when it changed since the last call (or always, with ``force``)."""
        ...

    def retrieve(self, query: Query, k: int = 10, filters: dict | None = None) -> list[Passage]:
        """The best passages for ``query``, best first (at least ``max(k, 10)`` when there are that many)."""
        ...

    def filter_values(self) -> dict[str, list]:
        """The values present in the index per filter key."""
        ...

    def idf(self, term: str) -> float:
        """How rare a stem is among the indexed passages (the citation verifier weighs words by it)."""
        ...

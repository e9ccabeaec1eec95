"""Analyse a question once: its kind, its term weights and the lexicon's other names for its terms.

:class:`~kb.service.KnowledgeBase` builds the :class:`~kb.records.Query` before retrieval; the
retriever and the answerers read it instead of re-analysing the string.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

from kb.nl.question import question_kind
from kb.nl.terms import coverage_weights, keyword_weights
from kb.records import Query
from kb.search.defaults import split_question_compounds
from kb.search.lexicon import Lexicon

HISTORY_WEIGHT = 0.35  # earlier questions of a follow-up count, less than the question itself
HISTORY_TURNS = 2  # a follow-up goes with at most this many earlier questions


def analyse_query(
    text: str,
    history: Sequence[str] = (),
    lexicon: Lexicon | None = None,
    split_compounds: bool | None = None,
) -> Query:
    """The :class:`~kb.records.Query` for ``text`` (already checked and redacted) and the earlier
    questions that go with it.

    ``lexicon``: the domain lexicon of the index searched (its other names for the question's
    terms, and for "Wat is X?" the definition of X); without one, neither. ``split_compounds``:
    add the question's compound parts to its keyword weights (default: the fitted choice in
    ``kb/data/retrieval.json``).
    """
    if split_compounds is None:
        split_compounds = split_question_compounds()
    history = tuple(history)
    earlier = history[-HISTORY_TURNS:]
    search_text = " ".join([*earlier, text])
    kind = question_kind(text)
    coverage = coverage_weights(text)
    for turn in earlier:
        for term, weight in coverage_weights(turn).items():
            coverage.setdefault(term, HISTORY_WEIGHT * weight)
    expansion_keywords: dict[str, float] = {}
    expansion_coverage: dict[str, float] = {}
    definition = definition_chunk_id = ""
    if lexicon is not None:
        expansion_keywords = keyword_weights(" ".join(lexicon.expansions(search_text)), split_compounds)
        expansion_coverage = coverage_weights(" ".join(lexicon.expansions(text)))
        if kind == "definition":
            for term in lexicon.find(text)[:1]:
                definition, definition_chunk_id = " ".join(term.definition.split()), term.chunk_id
    return Query(
        text=text,
        history=history,
        search_text=search_text,
        kind=kind,
        keyword_weights=MappingProxyType(keyword_weights(search_text, split_compounds)),
        expansion_keyword_weights=MappingProxyType(expansion_keywords),
        coverage_weights=MappingProxyType(coverage),
        expansion_coverage_weights=MappingProxyType(expansion_coverage),
        definition=definition,
        definition_chunk_id=definition_chunk_id,
    )

"""The retrieval options fitted on the dev split, read from ``kb/data/retrieval.json``.

``python -m evals.tune_retrieval`` writes that file (as ``evals.fit_answer`` writes the answer
models); nothing here copies its numbers by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

RETRIEVAL_PATH = Path(__file__).resolve().parents[1] / "data" / "retrieval.json"
FITTED_OPTIONS = ("index_compounds", "query_compounds", "expansion_weight", "lexical_weight")


@lru_cache(maxsize=4)
def fitted_options(path: Path = RETRIEVAL_PATH) -> dict[str, Any]:
    """The chosen options in ``path``: every one of :data:`FITTED_OPTIONS`."""
    options = json.loads(path.read_text(encoding="utf-8"))["options"]
    missing = [name for name in FITTED_OPTIONS if name not in options]
    if missing:
        raise ValueError(f"{path.name} lacks {', '.join(missing)}; run: python -m evals.tune_retrieval")
    return {name: options[name] for name in FITTED_OPTIONS}


@dataclass(frozen=True)
class RetrievalConfig:
    """How :class:`~kb.search.retrieve.HybridRetriever` indexes passages and fuses its two scores.

    Passages carry their compounds' parts next to the whole word, so a question's "reiskosten"
    meets a text's "reiskostenvergoeding"; the lexicon's other names help as a second, lighter
    keyword ranking. (Whether the question's compounds are split too is part of analysing the
    question: :func:`kb.search.query.analyse_query`.)
    """

    index_compounds: bool  # add compound parts to the passages' tokens
    expansion_weight: float  # weight of the lexicon's other names, as a separate keyword ranking
    lexical_weight: float  # weight of the keyword score next to the dense level
    dense_weight: float = 1.0  # the scale the other weights are relative to (not tuned)

    @classmethod
    def load(cls, path: Path = RETRIEVAL_PATH) -> RetrievalConfig:
        options = fitted_options(path)
        return cls(
            index_compounds=bool(options["index_compounds"]),
            expansion_weight=float(options["expansion_weight"]),
            lexical_weight=float(options["lexical_weight"]),
        )


def split_question_compounds(path: Path = RETRIEVAL_PATH) -> bool:
    """Whether a question's compounds are split into their parts for the keyword ranking."""
    return bool(fitted_options(path)["query_compounds"])

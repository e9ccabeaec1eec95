"""Where the eval finds the repository, its corpus, the growth folders and its own files."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EVALS_DIR = REPO / "evals"
CORPUS = REPO / "corpus"  # the five sample documents
# Real-world texts indexed next to the corpus in the growth phase: the shared folder next to the
# checkout (when there is one) and the project's own.
SHARED_GROWTH = REPO.parent / "shared" / "growth"
GROWTH = (SHARED_GROWTH, EVALS_DIR / "growth")
FIT_INDEX = EVALS_DIR / "runs" / "fit-index"  # indexes kept between fit_answer and tune_retrieval runs

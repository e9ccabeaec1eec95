"""Choose the retriever's options on the dev split: ``python -m evals.tune_retrieval``.

A small grid over what :class:`kb.search.retrieve.HybridRetriever` leaves open — compound parts in
the passages' and/or the question's tokens, the weight of the lexicon's synonyms, and the
keyword weight in the fusion — scored by hit@5 and MRR on the answerable dev questions,
with the sample corpus and with the growth corpus indexed (the mean of both decides, so an
option must not buy sample-corpus quality with growth-corpus quality). Reuses the indexes
of ``python -m evals.fit_answer`` (``evals/runs/fit-index``). Prints the table (the last run's:
``evals/tuning/retrieval-dev.txt``) and writes the chosen options to ``kb/data/retrieval.json``,
which the retriever and the question analysis load. Nothing of the test split is read.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
from pathlib import Path
from typing import Any

from evals import metrics
from evals.fit_answer import _open
from evals.paths import CORPUS, FIT_INDEX, GROWTH
from evals.questions import load_questions
from evals.split import QUESTION_FILES, select_split
from kb.embeddings import load_embedding, score_profile
from kb.nl.text import relevant_history
from kb.offline import apply_offline_env
from kb.search.defaults import FITTED_OPTIONS, RETRIEVAL_PATH, RetrievalConfig
from kb.search.query import analyse_query
from kb.search.retrieve import HybridRetriever

GRID = {
    "index_compounds": (False, True),
    "query_compounds": (False, True),
    "expansion_weight": (0.0, 0.5),
    "lexical_weight": (0.25, 0.5, 1.0, 2.0),
}
assert tuple(GRID) == FITTED_OPTIONS


class _CachedQueries:
    """The real e5 model, each question embedded once (only ``get_query_embedding`` is used)."""

    def __init__(self, inner) -> None:
        self.get_query_embedding = functools.lru_cache(maxsize=None)(inner.get_query_embedding)


def fitted_file(options: dict[str, Any], scores: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """What ``kb/data/retrieval.json`` holds: the chosen options and their dev scores per corpus."""
    by_phase = {phase: {"hit@5": round(hit5, 3), "mrr": round(mrr, 3)} for phase, (hit5, mrr) in scores.items()}
    mean = [sum(s[i] for s in scores.values()) / len(scores) for i in (0, 1)]
    return {
        "how": "python -m evals.tune_retrieval",
        "fitted_on": "dev split, answerable questions; sample corpus and sample + growth corpus "
        "(evals/tuning/retrieval-dev.txt)",
        "chosen_by": "best mean hit@5 over both corpora, then MRR",
        "options": {name: options[name] for name in FITTED_OPTIONS},
        "dev": {**by_phase, "mean": {"hit@5": round(mean[0], 3), "mrr": round(mean[1], 3)}},
    }


def main(argv: list[str] | None = None) -> int:
    apply_offline_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", type=Path, default=FIT_INDEX)
    parser.add_argument("--out", type=Path, default=RETRIEVAL_PATH)
    args = parser.parse_args(argv)
    questions = [q for path in QUESTION_FILES if path.is_file() for q in load_questions(path)]
    dev = [q for q in select_split(questions, "dev") if q.answerable]
    embedding = load_embedding("e5")
    profile = score_profile(embedding[1], embedding[0])
    grow = [g for g in GROWTH if g.is_dir()]
    phases = [("sample", _open(args.index_dir, "sample", [CORPUS], embedding))]
    phases.append(("grown", _open(args.index_dir, "grown", [CORPUS, *grow], embedding)))
    cached = _CachedQueries(embedding[0])  # every option set asks the same questions: embed each once
    results = []
    for values in itertools.product(*GRID.values()):
        options = dict(zip(GRID, values))
        config = RetrievalConfig(options["index_compounds"], options["expansion_weight"], options["lexical_weight"])
        scores = {}
        for phase, kb in phases:
            retriever = HybridRetriever(kb.store, cached, profile, config)
            indexed = {d.doc_id for d in kb.documents()}
            hit5, rr = [], []
            for q in dev:
                if not set(q.expected_docs) <= indexed or q.only_on not in ("", phase):
                    continue
                history = relevant_history(q.question, list(q.history))
                query = analyse_query(q.question, history, retriever.lexicon, options["query_compounds"])
                texts = [p.text for p in retriever.retrieve(query, 10, {})]
                hit5.append(metrics.hit_at(texts, q.expected_passages, 5))
                rr.append(metrics.reciprocal_rank(texts, q.expected_passages))
            scores[phase] = (sum(hit5) / len(hit5), sum(rr) / len(rr))
        mean = tuple(sum(s[i] for s in scores.values()) / len(scores) for i in (0, 1))
        results.append((mean, scores, options))
        print(
            f"{options}  sample hit@5 {scores['sample'][0]:.3f} MRR {scores['sample'][1]:.3f}  "
            f"grown hit@5 {scores['grown'][0]:.3f} MRR {scores['grown'][1]:.3f}",
            flush=True,
        )
    best = max(results, key=lambda r: r[0])
    print(f"best (mean hit@5, then MRR): {best[2]}  mean hit@5 {best[0][0]:.3f} MRR {best[0][1]:.3f}")
    args.out.write_text(json.dumps(fitted_file(best[2], best[1]), ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

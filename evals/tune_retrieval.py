"""Choose the retriever's options on the dev split: ``python -m evals.tune_retrieval``.

A small grid over what :class:`kb.search.retrieve.HybridRetriever` leaves open — compound parts in
the passages' and/or the question's tokens, the weight of the lexicon's synonyms, and the
keyword weight in the fusion — scored by hit@5 and MRR on the answerable dev questions,
with the sample corpus and with the growth corpus indexed (the mean of both decides, so an
option must not buy sample-corpus quality with growth-corpus quality). Reuses the indexes
of ``python -m evals.fit_answer`` (``evals/runs/fit-index``). Prints the table; the chosen
values are the retriever's defaults (output of the last run: ``evals/tuning/retrieval-dev.txt``). Nothing of the test split is read.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import sys
from pathlib import Path

from evals import metrics
from evals.fit_answer import _open
from evals.paths import CORPUS, FIT_INDEX, GROWTH
from evals.questions import load_questions
from evals.split import QUESTION_FILES, select_split
from kb.embeddings import load_embedding
from kb.nl.text import relevant_history
from kb.offline import apply_offline_env
from kb.search.retrieve import HybridRetriever

GRID = {
    "index_compounds": (False, True),
    "query_compounds": (False, True),
    "expansion_weight": (0.0, 0.5),
    "lexical_weight": (0.25, 0.5, 1.0, 2.0),
}


class _CachedQueries:
    """The real e5 model, each question embedded once (only ``get_query_embedding`` is used)."""

    def __init__(self, inner) -> None:
        self.get_query_embedding = functools.lru_cache(maxsize=None)(inner.get_query_embedding)


def main(argv: list[str] | None = None) -> int:
    apply_offline_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", type=Path, default=FIT_INDEX)
    args = parser.parse_args(argv)
    questions = [q for path in QUESTION_FILES if path.is_file() for q in load_questions(path)]
    dev = [q for q in select_split(questions, "dev") if q.answerable]
    embedding = load_embedding("e5")
    grow = [g for g in GROWTH if g.is_dir()]
    phases = [("sample", _open(args.index_dir, "sample", [CORPUS], embedding))]
    phases.append(("grown", _open(args.index_dir, "grown", [CORPUS, *grow], embedding)))
    cached = _CachedQueries(embedding[0])  # every option set asks the same questions: embed each once
    results = []
    for values in itertools.product(*GRID.values()):
        options = dict(zip(GRID, values))
        scores = {}
        for phase, kb in phases:
            retriever = HybridRetriever(kb.store, cached, **options)
            indexed = {d.doc_id for d in kb.documents()}
            hit5, rr = [], []
            for q in dev:
                if not set(q.expected_docs) <= indexed or q.only_on not in ("", phase):
                    continue
                passages = retriever.retrieve(q.question, 10, {}, relevant_history(q.question, list(q.history)))
                texts = [p.text for p in passages]
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
    return 0


if __name__ == "__main__":
    sys.exit(main())

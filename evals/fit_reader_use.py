"""Fit how the answerer uses the reader, on the dev split: ``python -m evals.fit_reader_use``.

The answerer's own models (``kb/data/answer_model.json``, ``python -m evals.fit_answer``) stay as
they are; this fits the third stage on top of them, on the same dev questions and indexes:

1. **Sentence**: logistic regression of "this sentence is part of the answer" over the earlier
   probability's log-odds and the reader's (the reader reads the ``TOP`` most probable sentences).
2. **Question**: logistic regression of "the question is answerable" over the earlier
   P(answerable)'s log-odds and the reader's best probability's; the threshold with the best
   cross-validated abstention F1 on dev (as ``fit_answer``).
3. **keep_ratio**: the value with the best dev key-fact recall.

A weight near zero means the reader does not help there, and the report says so. Nothing of
the test split is read. Writes ``kb/data/reader/use.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from evals import metrics
from evals.fit_answer import (
    KEEP_RATIOS,
    _cv_probabilities,
    _fit,
    _label,
    choose_threshold,
    collect,
    dev_indexes,
)
from evals.paths import FIT_INDEX, GROWTH, REPO
from kb.answer.extractive import ExtractiveAnswerer
from kb.answer.reader.model import shared_reader
from kb.answer.reader.use import USE_PATH, ReaderUse, logit
from kb.answer.sentence_vectors import SentenceVectors
from kb.answer.sentences import AnswerModel
from kb.embeddings import load_embedding, score_profile
from kb.offline import apply_offline_env

TOP = 12  # a cost bound, not a fitted value: sentences read per question (see README, speed)
C = 1.0
NEUTRAL = ReaderUse(top=TOP, sentence_before=1.0, sentence_reader=0.0, question_before=1.0, question_reader=0.0)


def main(argv: list[str] | None = None) -> int:
    apply_offline_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", type=Path, default=FIT_INDEX)
    parser.add_argument("--grow", type=Path, action="append", default=None)
    parser.add_argument("--out", type=Path, default=USE_PATH)
    args = parser.parse_args(argv)
    grow = [g for g in (args.grow or GROWTH) if g.is_dir()]
    reader = shared_reader()
    if reader is None:
        print("Geen getraind leesmodel in kb/data/reader: eerst python -m evals.train_reader", file=sys.stderr)
        return 1

    embedding = load_embedding("e5")
    dev, kbs = dev_indexes(args.index_dir, grow, embedding)
    model = AnswerModel.load()
    for _phase, kb in kbs:
        kb.answerer.model = model
    rows = collect(kbs, dev)  # retrieval only; scored again below with the reader

    similarity = SentenceVectors(embedding[0])
    profile = score_profile(embedding[1], embedding[0])
    neutral = ExtractiveAnswerer(profile, model=model, similarity=similarity, reader=reader, reader_use=NEUTRAL)
    sx, sy, qx, qy, groups = [], [], [], [], []
    for row in rows:
        sentences, features = neutral.score(row["query"], row["passages"])
        if not features:
            continue
        if row["q"].answerable:
            for s in sorted(sentences, key=lambda s: s.probability, reverse=True)[:TOP]:
                sx.append([logit(s.features["before_reader"]), logit(s.features["reader"])])
                sy.append(_label(s.text, row["q"]))
        qx.append([logit(model.answerable_probability(features)), logit(features["best_reader"])])
        qy.append(int(row["q"].answerable))
        groups.append(row["q"].id)
    (s_before, s_reader), s_bias = _fit(np.array(sx), np.array(sy), C, balanced=True)
    qx_arr, qy_arr = np.array(qx), np.array(qy)
    (q_before, q_reader), q_bias = _fit(qx_arr, qy_arr, C, balanced=True)
    cv = _cv_probabilities(qx_arr, qy_arr, groups, C)
    threshold, cv_precision, cv_recall = choose_threshold(cv, qy_arr.astype(bool))
    use = ReaderUse(TOP, s_before, s_reader, s_bias, q_before, q_reader, q_bias, round(threshold, 3), model.keep_ratio)

    recalls = {}
    for ratio in KEEP_RATIOS:
        answerer = ExtractiveAnswerer(
            profile, model=model, similarity=similarity, reader=reader, reader_use=replace(use, keep_ratio=ratio)
        )
        scores = []
        for row in rows:
            if row["q"].answerable:
                text, _c, abstained, _p = answerer.answer(row["query"], row["passages"])
                scores.append(0.0 if abstained else metrics.key_fact_recall(text, row["q"].key_facts))
        recalls[ratio] = float(np.mean(scores)) if scores else 0.0
    keep_ratio = max(recalls, key=lambda r: (round(recalls[r], 3), r))
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    use = replace(
        use,
        keep_ratio=keep_ratio,
        fitted_on=(
            f"dev split: {len(groups)} question×index rows, {len(sy)} read sentences ({sum(sy)} positive); "
            f"indexes: sample{' + grown' if grow else ''}; {datetime.now(UTC).date()} at {commit.stdout.strip() or 'unknown'}"
        ),
    )
    extra = {
        "how": "python -m evals.fit_reader_use",
        "abstention_cv_dev": {"precision": round(cv_precision, 3), "recall": round(cv_recall, 3)},
        "key_fact_recall_dev_by_keep_ratio": {str(r): round(v, 4) for r, v in recalls.items()},
    }
    use.save(args.out, extra)
    print(json.dumps({**{k: getattr(use, k) for k in ("sentence_before", "sentence_reader", "question_before",
                                                       "question_reader", "abstain_below", "keep_ratio")}, **extra}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

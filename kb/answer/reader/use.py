"""How the answerer uses the reader: fitted on the dev split by ``python -m evals.fit_reader_use``.

Two small logistic models over the reader's calibrated probability and what the answerer had
before it: one re-scores the candidate sentences (the reader reads the ``top`` most probable
ones), one decides whether the question is answered. Their weights and the abstention threshold
live in ``kb/data/reader/use.json``; without that file the reader is not used.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from kb.answer.reader.model import READER_DIR

USE_PATH = READER_DIR / "use.json"


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


@dataclass(frozen=True)
class ReaderUse:
    top: int = 12  # sentences the reader reads per question (a cost bound, chosen by measurement)
    # sentence: P = σ(w_before · logit(P before) + w_reader · logit(reader) + bias)
    sentence_before: float = 0.0
    sentence_reader: float = 1.0
    sentence_bias: float = 0.0
    # question: P(answerable) = σ(q_before · logit(P before) + q_reader · logit(best reader) + q_bias)
    question_before: float = 1.0
    question_reader: float = 0.0
    question_bias: float = 0.0
    abstain_below: float = 0.5
    keep_ratio: float = 0.6
    fitted_on: str = ""

    def sentence(self, before: float, reader: float) -> float:
        return logistic(self.sentence_before * logit(before) + self.sentence_reader * logit(reader) + self.sentence_bias)

    def answerable(self, before: float, best_reader: float) -> float:
        return logistic(self.question_before * logit(before) + self.question_reader * logit(best_reader) + self.question_bias)

    @classmethod
    def load(cls, path: Path = USE_PATH) -> ReaderUse | None:
        if not path.is_file():
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})

    def save(self, path: Path = USE_PATH, extra: dict | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**asdict(self), **(extra or {})}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

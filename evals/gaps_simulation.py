"""A simulated question log for the Kennislacunes report (tests and ``python -m evals.bench_gaps``).

Three sources, each question with a labelled topic:

* the eval's unanswerable questions (``type: unanswerable`` in ``evals/questions*.jsonl``), with
  paraphrases written for this simulation, grouped by what they ask about
  (``evals/gaps/unanswered.jsonl``: 165 questions, 18 topics);
* the eval's answerable questions (follow-ups left out: alone they do not say what they ask), with
  the eval's own topic.

Outcomes are simulated, not asked: an unanswerable question abstained (every third one got a weak
answer); an answerable one was answered, but every fifth got a 👎 and every seventh a weak answer,
so the report sees a scattering of answerable topics among the real gaps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent
UNANSWERED = ROOT / "gaps" / "unanswered.jsonl"
QUESTION_FILES = (ROOT / "questions.jsonl", ROOT / "questions_growth.jsonl")
SPREAD_DAYS = 80  # questions are spread over this many days before ``now``


@dataclass(frozen=True)
class SimulatedQuestion:
    question: str
    topic: str
    answerable: bool
    outcome: str  # answered | weak | abstained
    score: float
    rating: str  # "" | up | down
    cited: tuple[str, ...]
    days_ago: float

    @property
    def is_gap(self) -> bool:
        return self.outcome == "abstained" or (self.outcome == "weak" and self.rating != "up") or self.rating == "down"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def simulated_questions() -> list[SimulatedQuestion]:
    """The simulated log, in a fixed order (303 questions)."""
    out: list[SimulatedQuestion] = []
    for i, row in enumerate(_jsonl(UNANSWERED)):
        weak = i % 3 == 2
        out.append(
            SimulatedQuestion(
                row["question"],
                row["topic"],
                False,
                "weak" if weak else "abstained",
                0.47 if weak else 0.2,
                "",
                (),
                (i * 37 % (SPREAD_DAYS * 10)) / 10,
            )
        )
    answerable = [q for path in QUESTION_FILES for q in _jsonl(path) if q["type"] not in ("unanswerable", "follow-up")]
    for i, q in enumerate(answerable):
        rating = "down" if i % 5 == 0 else "up" if i % 11 == 4 else ""
        weak = i % 7 == 3
        out.append(
            SimulatedQuestion(
                q["question"],
                q["topic"],
                True,
                "weak" if weak else "answered",
                0.5 if weak else 0.75,
                rating,
                tuple(q.get("expected_docs", ()))[:1],
                (i * 53 % (SPREAD_DAYS * 10)) / 10,
            )
        )
    return out


def log_rows(questions: list[SimulatedQuestion], now: datetime, vectors=None, generation: str = "") -> list[dict]:
    """Rows for :meth:`kb.questions_log.QuestionLog.record_many` (``vectors``: one per question, or None)."""
    return [
        {
            "question": q.question,
            "outcome": q.outcome,
            "score": q.score,
            "rating": q.rating,
            "cited": q.cited,
            "generation": generation,
            "when": now - timedelta(days=q.days_ago),
            "vector": None if vectors is None else vectors[i],
        }
        for i, q in enumerate(questions)
    ]

"""The evaluation question set (``questions.jsonl``, schema in ``QUESTIONS.md``) as typed records."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from evals.errors import EvalError

TYPES = ("factual", "paraphrased", "multi-passage", "follow-up", "unanswerable")


@dataclass(frozen=True)
class Question:
    """One evaluation question with what a correct answer needs."""

    id: str
    question: str
    type: str
    topic: str
    lang: str = "nl"
    history: tuple[str, ...] = ()
    expected_docs: tuple[str, ...] = ()
    expected_passages: tuple[str, ...] = ()
    key_facts: tuple[str, ...] = ()
    notes: str = field(default="", compare=False)

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


def load_questions(path: Path) -> list[Question]:
    """Read and check a question file; raises :class:`EvalError` with the line that is wrong."""
    if not path.is_file():
        raise EvalError(f"Vragenbestand '{path}' niet gevonden.")
    questions: list[Question] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            question = Question(
                id=raw["id"],
                question=raw["question"],
                type=raw["type"],
                topic=raw["topic"],
                lang=raw.get("lang", "nl"),
                history=tuple(raw.get("history", [])),
                expected_docs=tuple(raw.get("expected_docs", [])),
                expected_passages=tuple(raw.get("expected_passages", [])),
                key_facts=tuple(raw.get("key_facts", [])),
                notes=raw.get("notes", ""),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise EvalError(f"{path.name}, regel {number}: geen geldige vraag ({type(exc).__name__}: {exc}).") from None
        if question.type not in TYPES:
            raise EvalError(f"{path.name}, regel {number}: onbekend type '{question.type}'.")
        if question.answerable and not question.expected_passages:
            raise EvalError(f"{path.name}, regel {number}: een beantwoordbare vraag heeft expected_passages nodig.")
        questions.append(question)
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise EvalError(f"{path.name}: ids zijn niet uniek.")
    if not questions:
        raise EvalError(f"{path.name} bevat geen vragen.")
    return questions

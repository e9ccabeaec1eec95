"""The evaluation question set (``questions.jsonl``, schema in ``QUESTIONS.md``) as typed records."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
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
    only_on: str = ""  # "sample": asked only with the sample corpus (growth material answers it)

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
                only_on=raw.get("only_on", ""),
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


def select_questions(questions: list[Question], ids: Sequence[str] = (), limit: int | None = None) -> list[Question]:
    """The questions with these ids (all when none are given), then a sample of at most ``limit``.

    The sample is stratified by type: each type gets its share of ``limit`` (at least one while
    there is room), taken evenly spaced through the file so it spans the topics; the result
    keeps the file's order. Deterministic, so two runs with the same limit ask the same questions.
    """
    if ids:
        known = {q.id for q in questions}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise EvalError(f"Onbekende vraag-id('s): {', '.join(unknown)}.")
        wanted = set(ids)
        questions = [q for q in questions if q.id in wanted]
    if limit is None or limit >= len(questions):
        return questions
    if limit < 1:
        raise EvalError("--limit moet minstens 1 zijn.")
    by_type = {t: group for t in TYPES if (group := [q for q in questions if q.type == t])}
    chosen: set[str] = set()
    for kind, count in _quotas({t: len(g) for t, g in by_type.items()}, limit).items():
        group = by_type[kind]
        chosen.update(group[int((i + 0.5) * len(group) / count)].id for i in range(count))
    return [q for q in questions if q.id in chosen]


def _quotas(sizes: dict[str, int], limit: int) -> dict[str, int]:
    """Per group, how many to take: proportional to its size, at least one while ``limit`` allows."""
    if limit < len(sizes):
        return dict.fromkeys(list(sizes)[:limit], 1)
    total = sum(sizes.values())
    share = {g: limit * n / total for g, n in sizes.items()}
    quotas = {g: min(n, max(1, math.floor(share[g]))) for g, n in sizes.items()}
    while sum(quotas.values()) > limit:  # the minimum of one pushed the sum over: trim the largest
        largest = max(quotas, key=lambda g: (quotas[g], -share[g]))
        quotas[largest] -= 1
    while sum(quotas.values()) < limit:  # largest remainder first
        room = [g for g in sizes if quotas[g] < sizes[g]]
        quotas[max(room, key=lambda g: share[g] - quotas[g])] += 1
    return {g: q for g, q in quotas.items() if q}

"""Turn a Kennislacunes theme into draft eval questions, by the feedback → question path.

An open theme's example questions become ``unanswerable`` questions (:func:`evals.from_feedback.draft_question`):
they guard that the knowledge base keeps saying "staat niet in de bronnen" rather than guessing.
Once a document answers the theme, the eval flags them; the evaluator then gives them key facts
and passages and changes their type, as for any feedback item.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from evals.errors import EvalError
from evals.from_feedback import append_question, draft_question
from evals.questions import Question, load_questions
from kb.gaps import STATUS_OPEN, Theme
from kb.nl.text import slugify

TOPIC_PREFIX = "kennislacune"


def theme_topic(theme: Theme) -> str:
    """The eval topic of a theme's questions: ``kennislacune-<label>``."""
    return f"{TOPIC_PREFIX}-{slugify(theme.label, 40)}"


def draft_theme_questions(theme: Theme) -> list[Question]:
    """One ``unanswerable`` draft per example question of an open theme."""
    if theme.status != STATUS_OPEN:
        raise EvalError(
            "Dit thema is nu beantwoord: maak de vragen via de feedback (met kernfeiten en passage), "
            "niet als onbeantwoordbare vragen."
        )
    drafts = []
    for n, question in enumerate(theme.examples, 1):
        item = {"id": f"{theme.key}-{n}", "question": question, "history": []}
        drafted = draft_question(item, kind="unanswerable", topic=theme_topic(theme))
        drafts.append(
            replace(
                drafted,
                id=f"gap-{theme.key.removeprefix('thema-')}-{n}",
                notes=f"Uit de kennislacunes: thema '{theme.label}' ({theme.size} vragen, laatst "
                f"{theme.last_seen:%Y-%m-%d}).",
            )
        )
    return drafts


def append_theme_questions(path: Path, theme: Theme) -> tuple[int, int]:
    """Append the drafts of ``theme`` to the question file ``path``; returns (added, already there)."""
    existing = {q.id for q in load_questions(path)} if path.is_file() and path.stat().st_size else set()
    added = skipped = 0
    for question in draft_theme_questions(theme):
        if question.id in existing:
            skipped += 1
            continue
        append_question(path, question)
        added += 1
    return added, skipped

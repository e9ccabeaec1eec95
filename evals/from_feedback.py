"""Turn a feedback item (a 👍/👎 on an answer) into a draft eval question and append it to a question file.

The draft is a :class:`~evals.questions.Question` made from what the feedback kept: the
(redacted) question and earlier questions, and the passages the answer was built from, each
with one sentence. The evaluator edits the question, the key facts and picks the expected
passage(s); :func:`draft_question` then checks the rules of ``QUESTIONS.md`` that can be
checked without the documents (a key fact must occur in a chosen passage, passages 40–300
characters), and :func:`append_question` refuses a file the result would make invalid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from evals.errors import EvalError
from evals.questions import TYPES, Question, load_questions
from kb.nl.text import normalize_whitespace
from kb.privacy.private_files import open_private

FEEDBACK_TOPIC = "feedback"
MIN_PASSAGE_CHARS, MAX_PASSAGE_CHARS = 40, 300
FIELD_ORDER = (
    "id",
    "question",
    "type",
    "lang",
    "topic",
    "history",
    "expected_docs",
    "expected_passages",
    "key_facts",
    "notes",
)


def question_id(feedback_id: str) -> str:
    """The eval question id for a feedback item: its own id (``fb-…``), so the two can be traced."""
    return feedback_id if feedback_id.startswith("fb-") else f"fb-{feedback_id}"


def passage_choices(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The passages an evaluator can pick from: those with a usable sentence (1-based as listed)."""
    return [p for p in item.get("passages", []) if isinstance(p, dict) and p.get("quote")]


def default_passages(item: dict[str, Any]) -> list[int]:
    """Preselected passages (1-based): the cited ones, else the best-ranked one."""
    choices = passage_choices(item)
    cited = [i for i, p in enumerate(choices, 1) if p.get("cited")]
    return cited or ([1] if choices else [])


def _clean_fact(fact: str) -> str:
    return "|".join(part.strip() for part in " ".join(fact.split()).lower().split("|") if part.strip())


def draft_question(
    item: dict[str, Any],
    question: str | None = None,
    key_facts: Sequence[str] = (),
    passages: Sequence[int] | None = None,
    kind: str | None = None,
    topic: str = FEEDBACK_TOPIC,
) -> Question:
    """A question for the eval set made from feedback ``item``.

    ``question`` defaults to the asked question, ``passages`` (1-based numbers of
    :func:`passage_choices`) to :func:`default_passages`, ``kind`` to ``follow-up`` when the
    conversation had earlier questions and ``factual`` otherwise. ``unanswerable`` keeps no
    passages, documents or key facts. Raises :class:`EvalError` (Dutch) when the draft breaks
    a rule of ``QUESTIONS.md``.
    """
    text = " ".join((question if question is not None else item.get("question", "")).split())
    if not text:
        raise EvalError("De vraag is leeg. Vul de vraag in zoals een klantmanager die zou stellen.")
    history = tuple(str(h) for h in item.get("history", []) if str(h).strip())[-2:]
    kind = kind or ("follow-up" if history else "factual")
    if kind not in TYPES:
        raise EvalError(f"Onbekend vraagtype '{kind}'. Kies uit: {', '.join(TYPES)}.")
    if kind != "follow-up":
        history = ()
    elif not history:
        raise EvalError("Een vervolgvraag heeft eerdere vragen nodig; deze feedback heeft er geen.")
    base = Question(
        id=question_id(str(item.get("id", ""))),
        question=text,
        type=kind,
        topic=" ".join((topic or FEEDBACK_TOPIC).split()) or FEEDBACK_TOPIC,
        lang="nl",
        history=history,
        notes=f"Uit feedback {item.get('id', '')} ({item.get('rating', '')}, {str(item.get('timestamp', ''))[:10]}).",
    )
    if kind == "unanswerable":
        return replace(base, topic="buiten-corpus" if topic == FEEDBACK_TOPIC else base.topic)
    choices = passage_choices(item)
    numbers = list(passages) if passages is not None else default_passages(item)
    if not numbers:
        raise EvalError("Kies minstens één passage die het antwoord bevat (of kies het type 'unanswerable').")
    wrong = [n for n in numbers if not 1 <= n <= len(choices)]
    if wrong:
        raise EvalError(f"Passage {wrong[0]} bestaat niet; deze feedback heeft {len(choices)} passage(s).")
    chosen = [choices[n - 1] for n in dict.fromkeys(numbers)]
    quotes = [normalize_whitespace(p["quote"]) for p in chosen]
    for quote in quotes:
        if not MIN_PASSAGE_CHARS <= len(quote) <= MAX_PASSAGE_CHARS:
            raise EvalError(
                f"De passage '{quote[:60]}…' heeft {len(quote)} tekens; een verwachte passage heeft er "
                f"{MIN_PASSAGE_CHARS}–{MAX_PASSAGE_CHARS}. Kies een andere passage."
            )
    facts = [f for f in (_clean_fact(k) for k in key_facts) if f]
    if not 1 <= len(facts) <= 3:
        raise EvalError(
            "Geef één tot drie kernfeiten: korte woordgroepen (1–4 woorden) uit de gekozen passage die een goed "
            "antwoord moet bevatten."
        )
    haystack = " ".join(quotes).lower()
    for fact in facts:
        missing = [alt for alt in fact.split("|") if alt not in haystack]
        if missing:
            raise EvalError(
                f"Het kernfeit '{missing[0]}' staat niet letterlijk in de gekozen passage(s). "
                "Neem woorden uit de passage over, of kies een andere passage."
            )
    return replace(
        base,
        expected_docs=tuple(dict.fromkeys(p["doc_id"] for p in chosen)),
        expected_passages=tuple(quotes),
        key_facts=tuple(facts),
    )


def question_line(question: Question) -> str:
    """One line of a question file, fields in the order of ``QUESTIONS.md``."""
    data = {
        "id": question.id,
        "question": question.question,
        "type": question.type,
        "lang": question.lang,
        "topic": question.topic,
        "history": list(question.history),
        "expected_docs": list(question.expected_docs),
        "expected_passages": list(question.expected_passages),
        "key_facts": list(question.key_facts),
        "notes": question.notes,
    }
    return json.dumps({k: data[k] for k in FIELD_ORDER}, ensure_ascii=False) + "\n"


def append_question(path: Path, question: Question) -> int:
    """Append ``question`` to the question file ``path`` (created 0600 if new); returns the number of
    questions in it now. Refuses an id that is already there, and anything ``load_questions`` refuses."""
    existing = load_questions(path) if path.is_file() and path.stat().st_size else []
    if any(q.id == question.id for q in existing):
        raise EvalError(f"'{path.name}' heeft al een vraag met id {question.id} (deze feedback is al omgezet).")
    line = question_line(question)
    probe = path.with_name(f".{path.name}.check")
    try:
        with open_private(probe, "w") as fh:  # check the file as it will be, before touching it
            fh.write(line)
        load_questions(probe)
    finally:
        probe.unlink(missing_ok=True)
    prefix = ""
    if existing and not path.read_text(encoding="utf-8").endswith("\n"):
        prefix = "\n"
    with open_private(path, "a") as fh:
        fh.write(prefix + line)
    return len(existing) + 1


_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")


def question_file_name(name: str) -> str:
    """A question file name the tab may create: lower-case letters, digits, ``-`` and ``_``, plus ``.jsonl``."""
    stem = (name or "").strip().lower().removesuffix(".jsonl")
    if not _SAFE_NAME.match(stem):
        raise EvalError(
            "Gebruik voor het vragenbestand alleen kleine letters, cijfers, '-' en '_' (bijvoorbeeld 'feedback')."
        )
    return f"{stem}.jsonl"

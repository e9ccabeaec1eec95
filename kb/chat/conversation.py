"""One klantmanager's conversation: the state the chat tab keeps per browser session, and the
plain functions that ask, rate, copy and export over it (no Gradio, so tests need no browser).

A :class:`Conversation` is never changed in place: asking returns a new one, so an error
leaves the earlier state as it was.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kb.chat.dossier import NO_ANSWER, DossierEntry, conversation_markdown, conversation_pdf, dossier_text
from kb.chat.render import SEARCHING, SOURCES_PLACEHOLDER, answer_markdown, draft_markdown, sources_html
from kb.errors import KBError
from kb.feedback import answer_passages, record_feedback
from kb.privacy.pii import redact
from kb.records import Answer, Answered, DraftDelta
from kb.service import KnowledgeBase

log = logging.getLogger(__name__)

UNEXPECTED_NL = "Er ging iets mis bij het beantwoorden van deze vraag. Probeer het opnieuw of stel de vraag anders."
EXPORT_PREFIX = "kb-export-"
EXPORT_KEEP_SECONDS = 120  # our copy of an export; Gradio copies it at once and keeps that an hour (delete_cache)


@dataclass(frozen=True)
class LastAnswer:
    """What a rating of the latest answer stores (:func:`kb.feedback.record_feedback`)."""

    question: str
    answer: str
    doc_ids: list[str]
    history: list[str] = field(default_factory=list)  # the earlier questions, redacted
    passages: list[dict[str, Any]] = field(default_factory=list)  # :func:`kb.feedback.answer_passages`


@dataclass(frozen=True)
class Conversation:
    """A conversation: chat messages, earlier questions, the latest answer (for a rating), the
    sources panel of that answer and every answer for the case file. Empty when made without arguments."""

    messages: list[dict[str, str]] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    last: LastAnswer | None = None
    sources: str = SOURCES_PLACEHOLDER
    answers: list[DossierEntry] = field(default_factory=list)


def now() -> datetime:
    """The time of an answer, in the server's time zone."""
    return datetime.now().astimezone()


def answer_question(
    kb: KnowledgeBase,
    question: str,
    conversation: Conversation,
    filters: dict[str, Any] | None = None,
    standalone: bool = False,
) -> tuple[Conversation, str]:
    """Ask ``question`` with the earlier questions as history; returns (conversation, error).

    ``standalone`` asks without history (an example question is complete on its own);
    it still becomes history for the follow-ups after it.

    On a :class:`KBError` (empty or too long question, bad filter) the conversation is
    unchanged and the error is one Dutch sentence; anything else is logged, not shown.
    """
    *_, (updated, _messages, error, _done) = stream_answer(kb, question, conversation, filters, standalone)
    return updated, error


def stream_answer(
    kb: KnowledgeBase,
    question: str,
    conversation: Conversation,
    filters: dict[str, Any] | None = None,
    standalone: bool = False,
) -> Iterator[tuple[Conversation, list[dict[str, str]], str, bool]]:
    """Like :func:`answer_question`, step by step for a user who waits (:meth:`KnowledgeBase.ask_stream`).

    Yields ``(conversation, messages, error, done)``: first the question with a "searching" line, then
    the model's growing draft (marked as not yet checked), last the verified answer and the
    updated conversation (or the unchanged one and the error).
    """
    asked = {"role": "user", "content": redact(" ".join((question or "").split()))}
    pending = [*conversation.messages, asked]
    yield conversation, [*pending, {"role": "assistant", "content": SEARCHING}], "", False
    history = [] if standalone else list(conversation.questions)
    try:
        for event in kb.ask_stream(question, history=history, filters=filters or {}):
            if isinstance(event, DraftDelta):
                yield conversation, [*pending, {"role": "assistant", "content": draft_markdown(event.draft)}], "", False
            elif isinstance(event, Answered):
                updated = with_answer(conversation, event.answer, history, kb.retriever.lexicon.to_dicts())
                yield updated, updated.messages, "", True
                return
    except KBError as exc:
        error = str(exc)
    except Exception:
        log.exception("unexpected error while answering")
        error = UNEXPECTED_NL
    yield conversation, conversation.messages, error, True


def with_answer(
    conversation: Conversation,
    answer: Answer,
    history: list[str] | None = None,
    glossary: list[dict[str, Any]] | None = None,
) -> Conversation:
    """The conversation with ``answer`` (and its question, asked after ``history``) added;
    ``glossary`` terms in the answer get their definition on hover."""
    return Conversation(
        messages=[
            *conversation.messages,
            {"role": "user", "content": answer.question},
            {"role": "assistant", "content": answer_markdown(answer, glossary or [])},
        ],
        questions=[*conversation.questions, answer.question],
        last=LastAnswer(
            question=answer.question,
            answer=answer.text,
            doc_ids=[c.doc_id for c in answer.citations],
            history=[redact(h) for h in history or []],
            passages=answer_passages(answer),
        ),
        sources=sources_html(answer),
        answers=[*conversation.answers, DossierEntry.from_answer(answer, now())],
    )


def rate_last_answer(path: Path, conversation: Conversation, rating: str, comment: str) -> str:
    """Store a rating of the latest answer; returns the message to show."""
    last = conversation.last
    if not last:
        return "Stel eerst een vraag; daarna kunt u het antwoord beoordelen."
    record_feedback(
        path,
        last.question,
        last.answer,
        last.doc_ids,
        rating,
        comment,
        history=last.history,
        passages=last.passages,
    )
    return "Bedankt! Uw beoordeling is opgeslagen."


def dossier_for_last_answer(conversation: Conversation) -> tuple[str, str]:
    """(text for the case file, status message) for the latest answer of this conversation."""
    if not conversation.answers:
        return "", NO_ANSWER
    return dossier_text(conversation.answers[-1]), "De tekst voor het dossier is gekopieerd; u ziet hem ook hieronder."


def _sweep_exports(folder: Path, keep_seconds: float = EXPORT_KEEP_SECONDS) -> None:
    """Remove our earlier export folders (Gradio serves its own copy of each file)."""
    cutoff = time.time() - keep_seconds
    for old in folder.glob(f"{EXPORT_PREFIX}*"):
        try:
            if old.is_dir() and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue


def export_conversation(
    conversation: Conversation, folder: Path | None = None, keep_seconds: float = EXPORT_KEEP_SECONDS
) -> tuple[Path, Path] | None:
    """Write this conversation as Markdown and as PDF into a new private folder; None before any answer.

    The folder is deleted after ``keep_seconds`` (Gradio has copied the files for download by then);
    folders left by a stopped server go at the next export."""
    answers = conversation.answers
    if not answers:
        return None
    base = Path(folder or tempfile.gettempdir())
    _sweep_exports(base, keep_seconds)
    target = Path(tempfile.mkdtemp(prefix=EXPORT_PREFIX, dir=base))  # 0700: this account only
    moment = now()
    stem = f"gesprek-kennisbank-{moment:%Y-%m-%d-%H%M}"
    markdown, pdf = target / f"{stem}.md", target / f"{stem}.pdf"
    markdown.write_text(conversation_markdown(answers, moment), encoding="utf-8")
    pdf.write_bytes(conversation_pdf(answers, moment))
    cleanup = threading.Timer(keep_seconds, shutil.rmtree, args=(target,), kwargs={"ignore_errors": True})
    cleanup.daemon = True
    cleanup.start()
    return markdown, pdf

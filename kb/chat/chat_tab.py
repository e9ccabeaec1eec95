"""The chat tab for klantmanagers: questions, follow-ups, filters, sources and feedback.

The handlers are plain functions over a conversation dict so they can be tested without a
browser; :func:`build_chat_tab` only wires them to Gradio components.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from kb.chat.dossier import NO_ANSWER, DossierEntry, conversation_markdown, conversation_pdf, dossier_text
from kb.chat.render import (
    SEARCHING,
    SOURCES_PENDING,
    SOURCES_PLACEHOLDER,
    answer_markdown,
    draft_markdown,
    filter_choices,
    sources_html,
)
from kb.config import Settings
from kb.errors import KBError
from kb.feedback import answer_passages, feedback_path, record_feedback
from kb.privacy.pii import redact
from kb.records import Answer, Answered, DraftDelta
from kb.service import KnowledgeBase

log = logging.getLogger(__name__)

EXAMPLE_QUESTIONS = (
    "Wie betaalt de reiskosten naar de opstartklas in Zaandam?",
    "Wat is de Regeling Eigen Bijdrage Asielzoekers?",
    "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?",
    "Welke scenario's zijn er voor de warme overdracht?",
)
FILTER_LABELS = {"kind": "Alle soorten", "cop": "Alle CoP's en regio's", "year": "Alle jaren"}
UNEXPECTED_NL = "Er ging iets mis bij het beantwoorden van deze vraag. Probeer het opnieuw of stel de vraag anders."
EXPORT_PREFIX = "kb-export-"
EXPORT_KEEP_SECONDS = 120  # our copy of an export; Gradio copies it at once and keeps that an hour (delete_cache)
COPY_JS = """
async (text) => {
  if (!text) { return; }
  try { await navigator.clipboard.writeText(text); }
  catch (error) {  // no clipboard API (plain http on another host): select the text and copy that
    const area = document.querySelector('#kb-dossier textarea');
    if (area) { area.focus(); area.select(); document.execCommand('copy'); }
  }
}
"""


def new_conversation() -> dict[str, Any]:
    """An empty conversation: chat messages, earlier questions, the latest answer and every answer
    for the case file (:class:`~kb.chat.dossier.DossierEntry`)."""
    return {"messages": [], "questions": [], "last": None, "sources": SOURCES_PLACEHOLDER, "answers": []}


def now() -> datetime:
    """The time of an answer, in the server's time zone."""
    return datetime.now().astimezone()


def answer_question(
    kb: KnowledgeBase,
    question: str,
    conversation: dict[str, Any],
    filters: dict[str, Any] | None = None,
    standalone: bool = False,
) -> tuple[dict[str, Any], str]:
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
    conversation: dict[str, Any],
    filters: dict[str, Any] | None = None,
    standalone: bool = False,
) -> Iterator[tuple[dict[str, Any], list[dict[str, str]], str, bool]]:
    """Like :func:`answer_question`, step by step for a user who waits (:meth:`KnowledgeBase.ask_stream`).

    Yields ``(conversation, messages, error, done)``: first the question with a "searching" line, then
    the model's growing draft (marked as not yet checked), last the verified answer and the
    updated conversation (or the unchanged one and the error).
    """
    asked = {"role": "user", "content": redact(" ".join((question or "").split()))}
    pending = [*conversation["messages"], asked]
    yield conversation, [*pending, {"role": "assistant", "content": SEARCHING}], "", False
    history = [] if standalone else list(conversation["questions"])
    try:
        for event in kb.ask_stream(question, history=history, filters=filters or {}):
            if isinstance(event, DraftDelta):
                yield conversation, [*pending, {"role": "assistant", "content": draft_markdown(event.draft)}], "", False
            elif isinstance(event, Answered):
                updated = with_answer(conversation, event.answer, history, kb.retriever.lexicon.to_dicts())
                yield updated, updated["messages"], "", True
                return
    except KBError as exc:
        error = str(exc)
    except Exception:
        log.exception("unexpected error while answering")
        error = UNEXPECTED_NL
    yield conversation, conversation["messages"], error, True


def with_answer(
    conversation: dict[str, Any],
    answer: Answer,
    history: list[str] | None = None,
    glossary: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The conversation with ``answer`` (and its question, asked after ``history``) added;
    ``glossary`` terms in the answer get their definition on hover."""
    return {
        "messages": [
            *conversation["messages"],
            {"role": "user", "content": answer.question},
            {"role": "assistant", "content": answer_markdown(answer, glossary or [])},
        ],
        "questions": [*conversation["questions"], answer.question],
        "last": {
            "question": answer.question,
            "history": [redact(h) for h in history or []],
            "answer": answer.text,
            "doc_ids": [c.doc_id for c in answer.citations],
            "passages": answer_passages(answer),
        },
        "sources": sources_html(answer),
        "answers": [*conversation.get("answers", []), DossierEntry.from_answer(answer, now())],
    }


def rate_last_answer(path: Path, conversation: dict[str, Any], rating: str, comment: str) -> str:
    """Store a rating of the latest answer; returns the message to show."""
    last = conversation.get("last")
    if not last:
        return "Stel eerst een vraag; daarna kunt u het antwoord beoordelen."
    record_feedback(
        path,
        last["question"],
        last["answer"],
        last["doc_ids"],
        rating,
        comment,
        history=last.get("history", ()),
        passages=last.get("passages", ()),
    )
    return "Bedankt! Uw beoordeling is opgeslagen."


def dossier_for_last_answer(conversation: dict[str, Any]) -> tuple[str, str]:
    """(text for the case file, status message) for the latest answer of this conversation."""
    answers = conversation.get("answers") or []
    if not answers:
        return "", NO_ANSWER
    return dossier_text(answers[-1]), "De tekst voor het dossier is gekopieerd; u ziet hem ook hieronder."


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
    conversation: dict[str, Any], folder: Path | None = None, keep_seconds: float = EXPORT_KEEP_SECONDS
) -> tuple[Path, Path] | None:
    """Write this conversation as Markdown and as PDF into a new private folder; None before any answer.

    The folder is deleted after ``keep_seconds`` (Gradio has copied the files for download by then);
    folders left by a stopped server go at the next export."""
    answers = conversation.get("answers") or []
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


def current_filter_choices(kb: KnowledgeBase) -> dict[str, list[tuple[str, str]]]:
    """Dropdown choices per filter, from what is in the index now."""
    values = kb.retriever.filter_values()
    return {key: filter_choices(values.get(key, []), label) for key, label in FILTER_LABELS.items()}


def build_chat_tab(kb: KnowledgeBase, settings: Settings, demo: Any, tab: Any) -> None:
    """Build the chat tab's components inside the open ``tab`` of ``demo`` and wire them."""
    import gradio as gr

    ratings_file = feedback_path(settings)
    choices = current_filter_choices(kb)
    conversation = gr.State(new_conversation())
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(
                label="Gesprek",
                height=470,
                latex_delimiters=[],
                buttons=["copy", "copy_all"],  # no 'share' (it posts to an outside service)
                elem_id="kb-chat",
                placeholder="Stel hieronder een vraag over de Wet inburgering 2021. "
                "Het antwoord komt uit de documenten in de kennisbank, met genummerde bronnen.",
            )
            with gr.Row():
                question = gr.Textbox(
                    label="Uw vraag",
                    placeholder="Bijvoorbeeld: wie betaalt de reiskosten naar de opstartklas?",
                    lines=1,
                    max_lines=4,
                    scale=5,
                    elem_id="kb-question",
                    autofocus=True,
                )
                send = gr.Button("Vraag stellen", variant="primary", scale=1, elem_id="kb-send")
            status = gr.Markdown(elem_id="kb-status")
            gr.Markdown("**Voorbeeldvragen** (klik om te stellen)")
            with gr.Row():
                examples = [gr.Button(q, size="sm", elem_classes="kb-example") for q in EXAMPLE_QUESTIONS]
            with gr.Row():
                copy_dossier = gr.Button("Kopieer voor dossier", size="sm", elem_id="kb-copy-dossier")
                export = gr.Button("Gesprek exporteren", size="sm", elem_id="kb-export")
                new_chat = gr.Button("Nieuw gesprek", size="sm", variant="secondary")
            with gr.Row():
                download_md = gr.DownloadButton(
                    "⬇ Gesprek als Markdown", visible=False, size="sm", elem_id="kb-download-md"
                )
                download_pdf = gr.DownloadButton(
                    "⬇ Gesprek als PDF", visible=False, size="sm", elem_id="kb-download-pdf"
                )
            dossier_status = gr.Markdown(elem_id="kb-dossier-status")
            with gr.Accordion("Tekst voor het dossier", open=False) as dossier_panel:
                dossier = gr.Textbox(
                    label="Laatste antwoord met bronverwijzingen (platte tekst)",
                    lines=8,
                    max_lines=30,
                    buttons=["copy"],
                    elem_id="kb-dossier",
                )
        with gr.Column(scale=2):
            with gr.Accordion("Filters", open=False):
                kind = gr.Dropdown(choices["kind"], value="", label="Soort document", elem_id="kb-filter-kind")
                cop = gr.Dropdown(choices["cop"], value="", label="CoP of regio", elem_id="kb-filter-cop")
                year = gr.Dropdown(choices["year"], value="", label="Jaar", elem_id="kb-filter-year")
            gr.Markdown("### Bronnen")
            sources = gr.HTML(SOURCES_PLACEHOLDER, elem_id="kb-sources")
            with gr.Accordion("Was het laatste antwoord nuttig?", open=True):
                comment = gr.Textbox(label="Toelichting (optioneel)", lines=2, max_lines=6, elem_id="kb-comment")
                with gr.Row():
                    thumbs_up = gr.Button("👍 Nuttig", size="sm", elem_id="kb-up")
                    thumbs_down = gr.Button("👎 Niet nuttig", size="sm", elem_id="kb-down")
                feedback_status = gr.Markdown(elem_id="kb-feedback-status")

    def ask(text: str, conv: dict, kind_value: str, cop_value: str, year_value: str, standalone: bool = False):
        filters = {"kind": kind_value, "cop": cop_value, "year": year_value}
        steps = stream_answer(kb, text, conv, filters, standalone)
        if kb.mode == "extractive":  # answers in milliseconds: only the answer, no "searching" flash
            *_, last = steps
            steps = [last]
        for updated, messages, error, done in steps:
            status_text = f"⚠️ {error}" if error else ""
            sources_shown = updated["sources"] if done else SOURCES_PENDING
            # keep the text in the box after an error so it can be corrected
            yield updated, messages, sources_shown, status_text, text if error else "", ""

    outputs = [conversation, chatbot, sources, status, question, feedback_status]
    inputs = [conversation, kind, cop, year]
    downloads = [download_md, download_pdf]

    def stale_exports():
        """A new answer makes an earlier export incomplete: hide its download buttons."""
        return gr.DownloadButton(visible=False), gr.DownloadButton(visible=False)

    send.click(ask, [question, *inputs], outputs).then(stale_exports, None, downloads, api_visibility="private")
    question.submit(ask, [question, *inputs], outputs).then(stale_exports, None, downloads, api_visibility="private")

    def ask_example(example: str):
        def handler(conv: dict, kind_value: str, cop_value: str, year_value: str):
            yield from ask(example, conv, kind_value, cop_value, year_value, standalone=True)

        return handler  # a generator function, so Gradio streams its updates

    for button, text in zip(examples, EXAMPLE_QUESTIONS):
        button.click(ask_example(text), inputs, outputs).then(stale_exports, None, downloads, api_visibility="private")

    def reset():
        fresh = new_conversation()
        return fresh, [], fresh["sources"], "", "", ""

    def reset_dossier():
        return "", "", gr.DownloadButton(visible=False), gr.DownloadButton(visible=False)

    dossier_outputs = [dossier, dossier_status, *downloads]
    new_chat.click(reset, None, outputs).then(reset_dossier, None, dossier_outputs, api_visibility="private")
    chatbot.clear(reset, None, outputs).then(reset_dossier, None, dossier_outputs, api_visibility="private")

    # The server builds the text from this session's own answers; the browser only copies it.
    def copy_for_dossier(conv: dict):
        text, message = dossier_for_last_answer(conv)
        return text, message, gr.Accordion(open=bool(text))

    copy_dossier.click(
        copy_for_dossier, [conversation], [dossier, dossier_status, dossier_panel], api_visibility="private"
    ).then(None, [dossier], None, js=COPY_JS, api_visibility="private")

    def export_files(conv: dict):
        written = export_conversation(conv)
        if written is None:
            return gr.DownloadButton(visible=False), gr.DownloadButton(visible=False), NO_ANSWER
        markdown, pdf = written
        return (
            gr.DownloadButton(value=str(markdown), visible=True),
            gr.DownloadButton(value=str(pdf), visible=True),
            "Het gesprek staat klaar om te downloaden, met de bronnen en de datum van elk antwoord.",
        )

    export.click(export_files, [conversation], [*downloads, dossier_status], api_visibility="private")

    def rate(rating: str):
        def handler(conv: dict, text: str):
            message = rate_last_answer(ratings_file, conv, rating, text)
            return message, "" if conv.get("last") else text

        return handler

    thumbs_up.click(rate("up"), [conversation, comment], [feedback_status, comment])
    thumbs_down.click(rate("down"), [conversation, comment], [feedback_status, comment])

    def refresh_filters():
        fresh = current_filter_choices(kb)
        return tuple(gr.Dropdown(choices=fresh[key]) for key in ("kind", "cop", "year"))

    # new documents may bring new kinds, regions or years
    demo.load(refresh_filters, None, [kind, cop, year])
    tab.select(refresh_filters, None, [kind, cop, year])

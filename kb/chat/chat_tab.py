"""The chat tab for klantmanagers: questions, follow-ups, filters, sources and feedback.

:class:`ChatView` lays the tab out, :func:`build_chat_tab` wires its components to the handlers
below; the work over the conversation is in :mod:`kb.chat.conversation` (tested without a
browser). Only :func:`kb.chat.app.create_app` imports this module, because it imports gradio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from kb.chat.conversation import (
    Conversation,
    dossier_for_last_answer,
    export_conversation,
    rate_last_answer,
    stream_answer,
)
from kb.chat.dossier import NO_ANSWER
from kb.chat.render import SOURCES_PENDING, SOURCES_PLACEHOLDER, filter_choices
from kb.config import Settings
from kb.feedback import feedback_path
from kb.service import KnowledgeBase

EXAMPLE_QUESTIONS = (
    "Wie betaalt de reiskosten naar de opstartklas in Zaandam?",
    "Wat is de Regeling Eigen Bijdrage Asielzoekers?",
    "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?",
    "Welke scenario's zijn er voor de warme overdracht?",
)
FILTER_LABELS = {"kind": "Alle soorten", "cop": "Alle CoP's en regio's", "year": "Alle jaren"}
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


def current_filter_choices(kb: KnowledgeBase) -> dict[str, list[tuple[str, str]]]:
    """Dropdown choices per filter, from what is in the index now."""
    values = kb.retriever.filter_values()
    return {key: filter_choices(values.get(key, []), label) for key, label in FILTER_LABELS.items()}


class ChatView:
    """The chat tab's components, laid out inside the open tab: the conversation on the left;
    filters, sources and the rating of the latest answer on the right."""

    def __init__(self, choices: dict[str, list[tuple[str, str]]]) -> None:
        self.conversation = gr.State(Conversation())
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                self._conversation_column()
            with gr.Column(scale=2):
                self._side_column(choices)

    def _conversation_column(self) -> None:
        self.chatbot = gr.Chatbot(
            label="Gesprek",
            height=470,
            latex_delimiters=[],
            buttons=["copy", "copy_all"],  # no 'share' (it posts to an outside service)
            elem_id="kb-chat",
            placeholder="Stel hieronder een vraag over de Wet inburgering 2021. "
            "Het antwoord komt uit de documenten in de kennisbank, met genummerde bronnen.",
        )
        with gr.Row():
            self.question = gr.Textbox(
                label="Uw vraag",
                placeholder="Bijvoorbeeld: wie betaalt de reiskosten naar de opstartklas?",
                lines=1,
                max_lines=4,
                scale=5,
                elem_id="kb-question",
                autofocus=True,
            )
            self.send = gr.Button("Vraag stellen", variant="primary", scale=1, elem_id="kb-send")
        self.status = gr.Markdown(elem_id="kb-status")
        gr.Markdown("**Voorbeeldvragen** (klik om te stellen)")
        with gr.Row():
            self.examples = [gr.Button(q, size="sm", elem_classes="kb-example") for q in EXAMPLE_QUESTIONS]
        with gr.Row():
            self.copy_dossier = gr.Button("Kopieer voor dossier", size="sm", elem_id="kb-copy-dossier")
            self.export = gr.Button("Gesprek exporteren", size="sm", elem_id="kb-export")
            self.new_chat = gr.Button("Nieuw gesprek", size="sm", variant="secondary")
        with gr.Row():
            self.download_md = gr.DownloadButton(
                "⬇ Gesprek als Markdown", visible=False, size="sm", elem_id="kb-download-md"
            )
            self.download_pdf = gr.DownloadButton(
                "⬇ Gesprek als PDF", visible=False, size="sm", elem_id="kb-download-pdf"
            )
        self.dossier_status = gr.Markdown(elem_id="kb-dossier-status")
        with gr.Accordion("Tekst voor het dossier", open=False) as self.dossier_panel:
            self.dossier = gr.Textbox(
                label="Laatste antwoord met bronverwijzingen (platte tekst)",
                lines=8,
                max_lines=30,
                buttons=["copy"],
                elem_id="kb-dossier",
            )

    def _side_column(self, choices: dict[str, list[tuple[str, str]]]) -> None:
        with gr.Accordion("Filters", open=False):
            self.kind = gr.Dropdown(choices["kind"], value="", label="Soort document", elem_id="kb-filter-kind")
            self.cop = gr.Dropdown(choices["cop"], value="", label="CoP of regio", elem_id="kb-filter-cop")
            self.year = gr.Dropdown(choices["year"], value="", label="Jaar", elem_id="kb-filter-year")
        gr.Markdown("### Bronnen")
        self.sources = gr.HTML(SOURCES_PLACEHOLDER, elem_id="kb-sources")
        with gr.Accordion("Was het laatste antwoord nuttig?", open=True):
            self.comment = gr.Textbox(label="Toelichting (optioneel)", lines=2, max_lines=6, elem_id="kb-comment")
            with gr.Row():
                self.thumbs_up = gr.Button("👍 Nuttig", size="sm", elem_id="kb-up")
                self.thumbs_down = gr.Button("👎 Niet nuttig", size="sm", elem_id="kb-down")
            self.feedback_status = gr.Markdown(elem_id="kb-feedback-status")


def build_chat_tab(kb: KnowledgeBase, settings: Settings, demo: Any, tab: Any) -> None:
    """Build the chat tab's components inside the open ``tab`` of ``demo`` and wire them."""
    chat = ChatHandlers(kb, feedback_path(settings))
    view = ChatView(current_filter_choices(kb))
    outputs = [view.conversation, view.chatbot, view.sources, view.status, view.question, view.feedback_status]
    inputs = [view.conversation, view.kind, view.cop, view.year]
    downloads = [view.download_md, view.download_pdf]

    for trigger in (view.send.click, view.question.submit):
        trigger(chat.ask, [view.question, *inputs], outputs).then(
            stale_exports, None, downloads, api_visibility="private"
        )
    for button, text in zip(view.examples, EXAMPLE_QUESTIONS):
        button.click(AskExample(chat, text).handler, inputs, outputs).then(
            stale_exports, None, downloads, api_visibility="private"
        )

    dossier_outputs = [view.dossier, view.dossier_status, *downloads]
    for trigger in (view.new_chat.click, view.chatbot.clear):
        trigger(reset, None, outputs).then(reset_dossier, None, dossier_outputs, api_visibility="private")

    # The server builds the text from this session's own answers; the browser only copies it.
    view.copy_dossier.click(
        copy_for_dossier,
        [view.conversation],
        [view.dossier, view.dossier_status, view.dossier_panel],
        api_visibility="private",
    ).then(None, [view.dossier], None, js=COPY_JS, api_visibility="private")
    view.export.click(export_files, [view.conversation], [*downloads, view.dossier_status], api_visibility="private")

    for button, rating in ((view.thumbs_up, "up"), (view.thumbs_down, "down")):
        button.click(
            Rating(chat.ratings_file, rating).handler,
            [view.conversation, view.comment],
            [view.feedback_status, view.comment],
        )

    # new documents may bring new kinds, regions or years
    filters = [view.kind, view.cop, view.year]
    demo.load(chat.refresh_filters, None, filters)
    tab.select(chat.refresh_filters, None, filters)


# -- handlers ------------------------------------------------------------------------------
# Gradio names each event's API endpoint after its function (``/ask``, ``/handler``), so these keep their names.
@dataclass(frozen=True, eq=False)  # eq=False: compared and hashed as the one object it is, like a function
class ChatHandlers:
    """The handlers that need the knowledge base or the feedback file."""

    kb: KnowledgeBase
    ratings_file: Path

    def ask(
        self, text: str, conv: Conversation, kind_value: str, cop_value: str, year_value: str, standalone: bool = False
    ):
        filters = {"kind": kind_value, "cop": cop_value, "year": year_value}
        steps = stream_answer(self.kb, text, conv, filters, standalone)
        if self.kb.mode == "extractive":  # answers in milliseconds: only the answer, no "searching" flash
            *_, last = steps
            steps = [last]
        for updated, messages, error, done in steps:
            status_text = f"⚠️ {error}" if error else ""
            sources_shown = updated.sources if done else SOURCES_PENDING
            # keep the text in the box after an error so it can be corrected
            yield updated, messages, sources_shown, status_text, text if error else "", ""

    def refresh_filters(self):
        fresh = current_filter_choices(self.kb)
        return tuple(gr.Dropdown(choices=fresh[key]) for key in ("kind", "cop", "year"))


@dataclass(frozen=True, eq=False)
class AskExample:
    """An example button: asks its question on its own, without the earlier questions."""

    chat: ChatHandlers
    question: str

    def handler(self, conv: Conversation, kind_value: str, cop_value: str, year_value: str):
        # a generator function, so Gradio streams its updates
        yield from self.chat.ask(self.question, conv, kind_value, cop_value, year_value, standalone=True)


@dataclass(frozen=True, eq=False)
class Rating:
    """A thumbs button: stores its rating of the latest answer with the comment."""

    ratings_file: Path
    rating: str

    def handler(self, conv: Conversation, text: str):
        message = rate_last_answer(self.ratings_file, conv, self.rating, text)
        return message, "" if conv.last else text


def stale_exports():
    """A new answer makes an earlier export incomplete: hide its download buttons."""
    return gr.DownloadButton(visible=False), gr.DownloadButton(visible=False)


def reset():
    fresh = Conversation()
    return fresh, [], fresh.sources, "", "", ""


def reset_dossier():
    return "", "", gr.DownloadButton(visible=False), gr.DownloadButton(visible=False)


def copy_for_dossier(conv: Conversation):
    text, message = dossier_for_last_answer(conv)
    return text, message, gr.Accordion(open=bool(text))


def export_files(conv: Conversation):
    written = export_conversation(conv)
    if written is None:
        return gr.DownloadButton(visible=False), gr.DownloadButton(visible=False), NO_ANSWER
    markdown, pdf = written
    return (
        gr.DownloadButton(value=str(markdown), visible=True),
        gr.DownloadButton(value=str(pdf), visible=True),
        "Het gesprek staat klaar om te downloaden, met de bronnen en de datum van elk antwoord.",
    )

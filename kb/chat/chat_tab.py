"""The chat tab for klantmanagers: questions, follow-ups, filters, sources and feedback.

The work is done by plain functions over a :class:`~kb.chat.conversation.Conversation`, so it can
be tested without a browser; :func:`build_chat_tab` only wires them to Gradio components.
"""

from __future__ import annotations

from typing import Any

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


def build_chat_tab(kb: KnowledgeBase, settings: Settings, demo: Any, tab: Any) -> None:
    """Build the chat tab's components inside the open ``tab`` of ``demo`` and wire them."""
    import gradio as gr

    ratings_file = feedback_path(settings)
    choices = current_filter_choices(kb)
    conversation = gr.State(Conversation())
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

    def ask(text: str, conv: Conversation, kind_value: str, cop_value: str, year_value: str, standalone: bool = False):
        filters = {"kind": kind_value, "cop": cop_value, "year": year_value}
        steps = stream_answer(kb, text, conv, filters, standalone)
        if kb.mode == "extractive":  # answers in milliseconds: only the answer, no "searching" flash
            *_, last = steps
            steps = [last]
        for updated, messages, error, done in steps:
            status_text = f"⚠️ {error}" if error else ""
            sources_shown = updated.sources if done else SOURCES_PENDING
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
        def handler(conv: Conversation, kind_value: str, cop_value: str, year_value: str):
            yield from ask(example, conv, kind_value, cop_value, year_value, standalone=True)

        return handler  # a generator function, so Gradio streams its updates

    for button, text in zip(examples, EXAMPLE_QUESTIONS):
        button.click(ask_example(text), inputs, outputs).then(stale_exports, None, downloads, api_visibility="private")

    def reset():
        fresh = Conversation()
        return fresh, [], fresh.sources, "", "", ""

    def reset_dossier():
        return "", "", gr.DownloadButton(visible=False), gr.DownloadButton(visible=False)

    dossier_outputs = [dossier, dossier_status, *downloads]
    new_chat.click(reset, None, outputs).then(reset_dossier, None, dossier_outputs, api_visibility="private")
    chatbot.clear(reset, None, outputs).then(reset_dossier, None, dossier_outputs, api_visibility="private")

    # The server builds the text from this session's own answers; the browser only copies it.
    def copy_for_dossier(conv: Conversation):
        text, message = dossier_for_last_answer(conv)
        return text, message, gr.Accordion(open=bool(text))

    copy_dossier.click(
        copy_for_dossier, [conversation], [dossier, dossier_status, dossier_panel], api_visibility="private"
    ).then(None, [dossier], None, js=COPY_JS, api_visibility="private")

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

    export.click(export_files, [conversation], [*downloads, dossier_status], api_visibility="private")

    def rate(rating: str):
        def handler(conv: Conversation, text: str):
            message = rate_last_answer(ratings_file, conv, rating, text)
            return message, "" if conv.last else text

        return handler

    thumbs_up.click(rate("up"), [conversation, comment], [feedback_status, comment])
    thumbs_down.click(rate("down"), [conversation, comment], [feedback_status, comment])

    def refresh_filters():
        fresh = current_filter_choices(kb)
        return tuple(gr.Dropdown(choices=fresh[key]) for key in ("kind", "cop", "year"))

    # new documents may bring new kinds, regions or years
    demo.load(refresh_filters, None, [kind, cop, year])
    tab.select(refresh_filters, None, [kind, cop, year])

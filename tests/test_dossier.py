"""Answers for the case file: the copy text, the Markdown and PDF exports, and glossary hover."""

from __future__ import annotations

import io
import re
import time
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from kb.chat.dossier import (
    NO_ANSWER,
    DossierEntry,
    conversation_markdown,
    conversation_pdf,
    dossier_text,
    reference,
)
from kb.chat.render import answer_markdown, glossary_markdown
from kb.records import Answer, Citation

ANSWERED = datetime(2026, 12, 3, 11, 5, tzinfo=UTC)
EXPORTED = datetime(2026, 12, 3, 11, 30, tzinfo=UTC)
QUOTE = "De logeerregeling maakt het mogelijk dat zij gedurende maximaal drie maanden in een gasthuishouden verblijven."
CAVEAT = (
    "Let op: deze bron is geschreven vóór de inwerkingtreding van de Wet inburgering 2021 (Wi2021, "
    "1 januari 2022); controleer of dit nog geldt."
)


def _citation(n: int = 1, **changes) -> Citation:
    values = dict(
        n=n,
        doc_id="handreiking-warme-overdracht",
        title="Handreiking warme overdracht COA – gemeenten",
        publisher="Divosa",
        date="2021-08",
        locator="§ 3.4 › Logeerregeling",
        quote=QUOTE,
        text=f"Inleiding. {QUOTE} Slot.",
        score=0.9,
        caveat=CAVEAT,
    )
    values.update(changes)
    return Citation(**values)


def _entry(**changes) -> DossierEntry:
    values = dict(
        question="Wat is de logeerregeling?",
        answer=f"{QUOTE} [1] Zij wonen dan bij een gastgezin. [2]",
        abstained=False,
        answered_at=ANSWERED,
        citations=(
            _citation(),
            _citation(2, title="Verslag <b>CoP</b>", publisher="onbekend", date="", locator="", caveat="", quote="Q."),
        ),
    )
    values.update(changes)
    return DossierEntry(**values)


def test_a_reference_names_title_organisation_date_location_and_quote():
    assert reference(_citation()) == (
        f"[1] Handreiking warme overdracht COA – gemeenten. Divosa, augustus 2021. § 3.4 › Logeerregeling. “{QUOTE}”"
    )
    assert reference(_citation(2, publisher="onbekend", date="", locator="")) == (
        f"[2] Handreiking warme overdracht COA – gemeenten. organisatie onbekend, datum onbekend. “{QUOTE}”"
    )


def test_the_dossier_text_is_the_answer_with_numbered_references_and_its_date():
    text = dossier_text(_entry())
    assert text.startswith(
        "Vraag: Wat is de logeerregeling?\n\nAntwoord van de CoP Kennisbank (3 december 2026 om 11:05):\n"
    )
    assert f"{QUOTE} [1] Zij wonen dan bij een gastgezin. [2]" in text
    head, sources = text.split("\n\nBronnen:\n")
    assert sources.splitlines() == [
        reference(_citation()),
        f"    {CAVEAT}",
        "[2] Verslag <b>CoP</b>. organisatie onbekend, datum onbekend. “Q.”",  # plain text: nothing to escape
    ]


def test_an_abstention_is_copied_as_such_without_sources():
    entry = _entry(answer="De kennisbank geeft geen antwoord op deze vraag.", abstained=True, citations=())
    text = dossier_text(entry)
    assert "Geen antwoord in de bronnen. De kennisbank geeft geen antwoord op deze vraag." in text
    assert "Bronnen:" not in text


def test_markdown_export_has_every_question_its_date_and_escaped_references():
    second = _entry(question="En voor [wie] geldt dat?", answered_at=datetime(2026, 12, 3, 11, 9, tzinfo=UTC))
    markdown = conversation_markdown([_entry(), second], EXPORTED)
    assert markdown.startswith("# Gesprek met de CoP Kennisbank\n\nGeëxporteerd op 3 december 2026 om 11:30.")
    assert "## Vraag 1: Wat is de logeerregeling?" in markdown
    assert "## Vraag 2: En voor \\[wie\\] geldt dat?" in markdown
    assert "_Beantwoord op 3 december 2026 om 11:09_" in markdown
    assert "- \\[1\\] Handreiking warme overdracht COA – gemeenten. Divosa, augustus 2021." in markdown
    assert f"  - ⚠️ {CAVEAT}" in markdown
    assert "Verslag \\<b\\>CoP\\</b\\>" in markdown and "<b>" not in markdown


def test_markdown_export_makes_no_links_from_sources():
    entry = _entry(citations=(_citation(quote="Zie https://phishing.example/login en [klik](https://x.nl)."),))
    markdown = conversation_markdown([entry], EXPORTED)
    assert "https://" not in markdown and not re.search(r"(?<!\\)\]\(", markdown)  # no link syntax
    assert "https\\[:\\]//phishing\\[.\\]example/login" in markdown  # shows as https[:]//phishing[.]example


def test_pdf_export_is_readable_and_has_the_same_references():
    pdf = conversation_pdf([_entry()], EXPORTED)
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert "Gesprek met de CoP Kennisbank" in text
    assert "Geëxporteerd op 3 december 2026 om 11:30." in text
    assert "Vraag 1: Wat is de logeerregeling?" in text
    assert "Beantwoord op 3 december 2026 om 11:05" in text
    assert " ".join(reference(_citation()).split()) in text
    assert "Wet inburgering 2021 (Wi2021, 1 januari 2022)" in text
    assert "Verslag <b>CoP</b>" in text  # reportlab markup in a title is shown, not applied
    assert reader.metadata.title == "Gesprek met de CoP Kennisbank"
    assert conversation_pdf([_entry()], EXPORTED) == pdf  # no hidden creation time: same input, same file


def test_an_empty_conversation_exports_a_note():
    assert "Er zijn nog geen vragen gesteld" in conversation_markdown([], EXPORTED)
    assert (
        "Er zijn nog geen vragen gesteld"
        in PdfReader(io.BytesIO(conversation_pdf([], EXPORTED))).pages[0].extract_text()
    )


GLOSSARY = [
    {"term": "Module Arbeidsmarkt en Participatie", "aliases": ["MAP"], "definition": "Onderdeel van de inburgering."},
    {"term": "Driegesprek", "aliases": [], "definition": 'Gesprek van "COA", gemeente & <inburgeraar>.'},
    {"term": "Reiskosten", "aliases": ["reisvergoeding"], "definition": ""},
]


def test_glossary_terms_get_their_definition_on_hover_escaped():
    markdown = glossary_markdown("Het driegesprek gaat over de MAP, de map en de MAP. Reiskosten *vet*.", GLOSSARY)
    assert (
        '<abbr class="kb-term" title="Driegesprek: Gesprek van &quot;COA&quot;, gemeente &amp; &lt;inburgeraar&gt;.">'
        "driegesprek</abbr>"
    ) in markdown
    assert markdown.count('title="Module Arbeidsmarkt en Participatie: Onderdeel van de inburgering."') == 1
    assert "de map en de MAP." in markdown  # lower-case 'map' is a folder; the term is marked once
    assert "Reiskosten \\*vet\\*" in markdown  # no definition, no hover; markup escaped
    assert glossary_markdown("<script>x</script>", GLOSSARY) == "\\<script\\>x\\</script\\>"


def test_the_chat_answer_marks_glossary_terms_only_with_a_glossary():
    answer = Answer("Wat is de MAP?", "De MAP is verplicht. [1]", False, [_citation(caveat="")])
    assert "<abbr" in answer_markdown(answer, GLOSSARY)
    assert "<abbr" not in answer_markdown(answer)
    assert "Divosa, augustus 2021" in answer_markdown(answer)


@pytest.mark.slow
def test_chat_handlers_copy_and_export_this_conversation_only(sample_kb, tmp_path):
    from kb.chat.conversation import Conversation, answer_question, dossier_for_last_answer, export_conversation

    empty = Conversation()
    assert dossier_for_last_answer(empty) == ("", NO_ANSWER)
    assert export_conversation(empty, tmp_path) is None
    conversation, error = answer_question(sample_kb, "Wat is de logeerregeling?", empty)
    assert error == "" and empty.answers == []  # the earlier state is not changed in place
    other, _ = answer_question(sample_kb, "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?", empty)
    text, message = dossier_for_last_answer(conversation)
    assert "gekopieerd" in message
    assert "[1] Handreiking warme overdracht COA – gemeenten. Divosa, augustus 2021." in text
    assert "vóór de inwerkingtreding van de Wet inburgering 2021" in text
    assert "veertig uur" not in text  # another session's answer
    assert "<abbr" in other.messages[-1]["content"]  # MAP's definition on hover in the chat
    markdown, pdf = export_conversation(conversation, tmp_path, keep_seconds=3)
    assert markdown.parent == pdf.parent and markdown.parent.parent == tmp_path
    assert oct(markdown.parent.stat().st_mode & 0o777) == "0o700"
    assert "## Vraag 1: Wat is de logeerregeling?" in markdown.read_text(encoding="utf-8")
    assert "Wat is de logeerregeling?" in PdfReader(pdf).pages[0].extract_text()
    for _ in range(100):  # our copy is deleted after keep_seconds (Gradio serves its own)
        if not markdown.parent.exists():
            break
        time.sleep(0.1)
    assert not markdown.parent.exists()

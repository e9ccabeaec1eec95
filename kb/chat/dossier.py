"""Answers for the case file: plain text to copy, and the whole conversation as Markdown or PDF.

Every export is built from the answers' citations (data, never parsed from prose) and gives
each answer numbered references in one citation style: title, organisation, date, location
and the quoted sentence, plus the source's caveat when it has one, and the date of the answer.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kb.chat.render import md_escape
from kb.records import Answer, Citation
from kb.validity import MONTHS_NL, format_date_nl

APP_NAME = "CoP Kennisbank"
NO_ANSWER = "Stel eerst een vraag; daarna kunt u het antwoord kopiëren of het gesprek exporteren."


@dataclass(frozen=True)
class DossierEntry:
    """One answered question as it goes into the case file."""

    question: str
    answer: str
    abstained: bool
    answered_at: datetime
    citations: tuple[Citation, ...] = ()
    notice: str = ""

    @classmethod
    def from_answer(cls, answer: Answer, answered_at: datetime) -> DossierEntry:
        return cls(answer.question, answer.text, answer.abstained, answered_at, tuple(answer.citations), answer.notice)


def moment_nl(moment: datetime) -> str:
    """``3 december 2026 om 11:05``."""
    return f"{moment.day} {MONTHS_NL[moment.month - 1]} {moment.year} om {moment:%H:%M}"


def _one_line(text: str) -> str:
    return " ".join((text or "").split())


def reference(c: Citation) -> str:
    """One numbered reference: ``[1] Titel. Organisatie, augustus 2021. § 5 Logeerregeling. “Citaat.”``"""
    publisher = c.publisher if c.publisher and c.publisher != "onbekend" else "organisatie onbekend"
    parts = [f"[{c.n}] {_one_line(c.title)}.", f"{_one_line(publisher)}, {format_date_nl(c.date)}."]
    if c.locator:
        parts.append(f"{_one_line(c.locator)}.")
    parts.append(f"“{_one_line(c.quote)}”")
    return " ".join(parts)


def dossier_text(entry: DossierEntry) -> str:
    """The answer as plain text for a case file, with its numbered references and the date of the answer."""
    lines = [f"Vraag: {_one_line(entry.question)}", ""]
    lines.append(f"Antwoord van de {APP_NAME} ({moment_nl(entry.answered_at)}):")
    lines.append(entry.answer.strip() if not entry.abstained else f"Geen antwoord in de bronnen. {entry.answer}")
    if entry.notice:
        lines.append(f"Let op: {entry.notice}")
    if entry.citations:
        lines += ["", "Bronnen:"]
        for c in entry.citations:
            lines.append(reference(c))
            if c.caveat:
                lines.append(f"    {c.caveat}")
    return "\n".join(lines)


# -- Markdown ---------------------------------------------------------------------------------
def conversation_markdown(entries: Sequence[DossierEntry], exported_at: datetime) -> str:
    """The whole conversation as Markdown: each question, the answer with its date and its references."""
    lines = [f"# Gesprek met de {APP_NAME}", "", f"Geëxporteerd op {moment_nl(exported_at)}.", ""]
    if not entries:
        lines.append("_Er zijn nog geen vragen gesteld._")
    for number, entry in enumerate(entries, 1):
        lines += [f"## Vraag {number}: {md_escape(_one_line(entry.question))}", ""]
        lines += [f"_Beantwoord op {moment_nl(entry.answered_at)}_", ""]
        if entry.abstained:
            lines.append(f"**Geen antwoord in de bronnen.** {md_escape(entry.answer)}")
        else:
            lines += [md_escape(line) + "  " for line in entry.answer.strip().split("\n")]
        if entry.notice:
            lines += ["", f"_Let op: {md_escape(entry.notice)}_"]
        if entry.citations:
            lines += ["", "**Bronnen**", ""]
            for c in entry.citations:
                lines.append(f"- {md_escape(reference(c))}")
                if c.caveat:
                    lines.append(f"  - ⚠️ {md_escape(c.caveat)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# -- PDF --------------------------------------------------------------------------------------
def _pdf_styles():
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    # Vera ships with reportlab: Unicode text (‘’ “” – …, accents) on every machine, no system fonts
    if "KBVera" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("KBVera", "Vera.ttf"))
        pdfmetrics.registerFont(TTFont("KBVera-Bold", "VeraBd.ttf"))
        pdfmetrics.registerFont(TTFont("KBVera-Italic", "VeraIt.ttf"))
    base = getSampleStyleSheet()
    body = ParagraphStyle("kb-body", parent=base["BodyText"], fontName="KBVera", fontSize=10, leading=14)
    return {
        "title": ParagraphStyle("kb-title", parent=body, fontName="KBVera-Bold", fontSize=16, leading=20),
        "question": ParagraphStyle(
            "kb-q", parent=body, fontName="KBVera-Bold", fontSize=12, leading=16, spaceBefore=10
        ),
        "meta": ParagraphStyle("kb-meta", parent=body, fontName="KBVera-Italic", fontSize=9, textColor="#555555"),
        "body": body,
        "reference": ParagraphStyle("kb-ref", parent=body, fontSize=9, leading=12, leftIndent=14, firstLineIndent=-14),
        "caveat": ParagraphStyle("kb-caveat", parent=body, fontSize=9, leading=12, leftIndent=14, textColor="#7a4b00"),
    }


def _para(text: str, style):
    """A reportlab paragraph of plain text (its mini-markup escaped; line breaks kept)."""
    from xml.sax.saxutils import escape

    from reportlab.platypus import Paragraph

    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def conversation_pdf(entries: Sequence[DossierEntry], exported_at: datetime) -> bytes:
    """The same conversation as :func:`conversation_markdown`, as a PDF (A4)."""
    try:
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.units import cm
        from reportlab.platypus import SimpleDocTemplate, Spacer
    except ImportError as exc:  # a dependency of the project; only a broken install lacks it
        raise RuntimeError("PDF-export vraagt het pakket 'reportlab': pip install reportlab") from exc

    styles = _pdf_styles()
    story = [
        _para(f"Gesprek met de {APP_NAME}", styles["title"]),
        _para(f"Geëxporteerd op {moment_nl(exported_at)}.", styles["meta"]),
    ]
    if not entries:
        story.append(_para("Er zijn nog geen vragen gesteld.", styles["body"]))
    for number, entry in enumerate(entries, 1):
        story.append(_para(f"Vraag {number}: {_one_line(entry.question)}", styles["question"]))
        story.append(_para(f"Beantwoord op {moment_nl(entry.answered_at)}", styles["meta"]))
        answer = f"Geen antwoord in de bronnen. {entry.answer}" if entry.abstained else entry.answer.strip()
        story.append(_para(answer, styles["body"]))
        if entry.notice:
            story.append(_para(f"Let op: {entry.notice}", styles["meta"]))
        if entry.citations:
            story += [Spacer(1, 4), _para("Bronnen", styles["body"])]
            for c in entry.citations:
                story.append(_para(reference(c), styles["reference"]))
                if c.caveat:
                    story.append(_para(c.caveat, styles["caveat"]))
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Gesprek met de {APP_NAME}",
        author=APP_NAME,
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
        invariant=1,  # the same conversation gives the same bytes (no creation time inside)
    )
    document.build(story)
    return buffer.getvalue()

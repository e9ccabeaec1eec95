"""Generators for real test documents (PDF, DOCX, HTML, Markdown, text)."""

from __future__ import annotations

import io
from pathlib import Path


def make_pdf(path: Path, pages: list[list[str]], title: str = "", headings: list[str] | None = None) -> Path:
    """A real PDF with a text layer: one list of paragraphs per page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    story = []
    for number, paragraphs in enumerate(pages):
        if headings and number < len(headings):
            story.append(Paragraph(headings[number], styles["Heading1"]))
        story.extend(Paragraph(p, styles["BodyText"]) for p in paragraphs)
        if number < len(pages) - 1:
            story.append(PageBreak())
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = SimpleDocTemplate(str(path), pagesize=A4, title=title)
    doc.build(story)
    return path


def make_image_only_pdf(path: Path) -> Path:
    """A PDF with only a drawing (like a scan): no text layer."""
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    c.rect(100, 100, 300, 400, fill=1)
    c.showPage()
    c.save()
    return path


def make_encrypted_pdf(path: Path, text: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(path.with_suffix(".plain.pdf"), [[text]])
    writer = PdfWriter()
    for page in PdfReader(str(plain)).pages:
        writer.add_page(page)
    writer.encrypt("geheim")
    with path.open("wb") as fh:
        writer.write(fh)
    plain.unlink()
    return path


def make_docx(path: Path, heading: str, paragraphs: list[str], bullets: list[str] = ()) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = heading
    document.add_heading(heading, level=1)
    for p in paragraphs:
        document.add_paragraph(p)
    for b in bullets:
        document.add_paragraph(b, style="List Bullet")
    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path

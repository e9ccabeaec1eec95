"""Loading real files of every supported type, and refusing bad ones with a clear message."""

from pathlib import Path

import pytest

from ingest.loaders import load_file, sniff_type
from ingest.pipeline import prepare_document
from kb.errors import DocumentError
from tests.files import make_docx, make_encrypted_pdf, make_image_only_pdf, make_pdf

MB = 1_048_576


def _load(path: Path):
    return load_file(path, path.read_bytes())


def test_pdf_keeps_page_numbers(tmp_path):
    pdf = make_pdf(
        tmp_path / "h.pdf",
        [["De opstartklas begint in week een."], ["Op pagina twee staat de logeerregeling uitgelegd."]],
        title="Testhandreiking",
    )
    loaded = _load(pdf)
    pages = {b.page for b in loaded.blocks}
    assert pages == {1, 2}
    assert loaded.embedded_meta["title"] == "Testhandreiking"
    prepared = prepare_document(pdf, 50 * MB)
    assert prepared.meta.title == "Testhandreiking"
    assert prepared.chunks[-1].page_end == 2


def test_docx_headings_bullets_and_title(tmp_path):
    path = make_docx(
        tmp_path / "v.docx", "Verslag CoP Utrecht", ["Eerste alinea over taal en werk."], ["punt een", "punt twee"]
    )
    loaded = _load(path)
    assert loaded.blocks[0].kind == "heading"
    assert any(b.text == "• punt een" for b in loaded.blocks)
    assert loaded.embedded_meta["title"] == "Verslag CoP Utrecht"


def test_html_drops_navigation_and_scripts(tmp_path):
    path = tmp_path / "p.html"
    path.write_text(
        "<html><head><title>Pagina</title><script>var x=1;</script></head><body><nav>Menu Home</nav>"
        "<h1>Kop</h1><p>Tekst over de brede intake.</p><ul><li>een</li></ul><footer>Cookies</footer></body></html>",
        encoding="utf-8",
    )
    texts = [b.text for b in _load(path).blocks]
    assert texts == ["Kop", "Tekst over de brede intake.", "• een"]


def test_markdown_front_matter_sets_metadata(tmp_path):
    path = tmp_path / "n.md"
    path.write_text(
        "---\nid: notitie-1\ntitle: Notitie\nkind: verslag\nthemes: [MAP, PIP]\ndate: 2024-03-01\n---\n# Kop\n\nTekst met **nadruk** en [link](http://x).\n",
        encoding="utf-8",
    )
    prepared = prepare_document(path, 50 * MB)
    assert prepared.meta.doc_id == "notitie-1"
    assert prepared.meta.themes == ("MAP", "PIP")
    assert prepared.meta.year == 2024
    assert prepared.chunks[0].text == "Tekst met nadruk en link."


def test_windows_1252_text_is_decoded(tmp_path):
    path = tmp_path / "oud.txt"
    path.write_bytes("Café-overleg over de reïntegratie van statushouders, ‘met aanhalingstekens’.".encode("cp1252"))
    prepared = prepare_document(path, 50 * MB)
    assert "Café-overleg" in prepared.chunks[0].text and "‘met" in prepared.chunks[0].text


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: make_encrypted_pdf(d / "geheim.pdf", "Vertrouwelijke tekst over inburgering."), "wachtwoord"),
        (lambda d: make_image_only_pdf(d / "scan.pdf"), "OCR"),
        (
            lambda d: (d / "kapot.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 50) and d / "kapot.pdf",
            "beschadigd",
        ),
        (lambda d: (d / "leeg.txt").write_bytes(b"") or d / "leeg.txt", "leeg"),
        (lambda d: (d / "spaties.md").write_text("\n\n   \n") and d / "spaties.md", "leeg"),
        (lambda d: (d / "tekens.txt").write_text("... --- *** 123") and d / "tekens.txt", "leesbare tekst"),
        (lambda d: (d / "foto.png").write_bytes(b"\x89PNG\r\n") and d / "foto.png", "niet ondersteund"),
        (lambda d: make_docx(d / "eigenlijk-word.pdf", "Kop", ["tekst"]), "Word-bestand"),
        (lambda d: (d / "junk.txt").write_bytes(bytes(range(256)) * 20) and d / "junk.txt", "binair"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(DocumentError) as info:
        prepare_document(path, 50 * MB)
    assert message.lower() in str(info.value).lower()


def test_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "groot.txt"
    path.write_text("Een zin over inburgering. " * 50_000)
    with pytest.raises(DocumentError, match="grens is 1 MB"):
        prepare_document(path, 1 * MB)


def test_sniff_type_reads_content_not_name():
    assert sniff_type(b"%PDF-1.4 ...") == "pdf"
    assert sniff_type(b"<!DOCTYPE html><html>") == "html"
    assert sniff_type(b"gewone tekst") == "text"

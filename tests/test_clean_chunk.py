"""Cleaning page furniture and chunking, on the real sample texts (no model needed)."""

from pathlib import Path

from ingest.chunk import MAX_CHARS, chunk_blocks
from ingest.clean import clean_blocks
from ingest.loaders import Block, load_file

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def _clean(name: str) -> list[Block]:
    path = CORPUS / name
    return clean_blocks(load_file(path, path.read_bytes()).blocks)


def test_related_article_teasers_and_byline_are_removed():
    text = "\n".join(b.text for b in _clean("003_5e8e4860dee76394.txt"))
    assert "Podcast geen zorgen voor morgen" not in text
    assert "Lees meer" not in text
    assert "27-05-2024" not in text
    assert "Actueel / Overheid" not in text
    assert "Nicolet legt uit dat er snel gestart is met een pilot." in text


def test_navigation_credits_and_pull_quotes_are_removed():
    blocks = _clean("000_fb04370d59ccfe73.txt")
    texts = [b.text for b in blocks]
    assert "Contactpersoon" not in texts
    assert not any(t.startswith("©") for t in texts)
    pull_quote = "Het contact met elkaar wordt informeler en daardoor ook laagdrempelig"
    assert sum(pull_quote in t for t in texts) == 1  # only the body sentence, not the repeated pull quote


def test_headings_are_detected_with_numbered_levels():
    headings = [(b.level, b.text) for b in _clean("002_91518734a33f3397.txt") if b.kind == "heading"]
    assert (2, "3.3 Voorinburgering") in headings
    assert (1, "1 In het kort") in headings
    assert any(text.startswith("4. Introductiemodule Participatieverklaringstraject") for _, text in headings)


def test_chunks_are_quotable_and_carry_their_section():
    chunks = chunk_blocks("doc", "0" * 64, _clean("002_91518734a33f3397.txt"))
    assert all(len(c.text) <= MAX_CHARS * 1.35 for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    logeer = [c for c in chunks if "logeerregeling" in c.text.lower()]
    assert logeer and any("Logeerregeling" in c.section for c in logeer)
    assert all(c.chunk_id.startswith("doc::000000000000::") for c in chunks)


def test_pdf_pages_follow_the_chunks():
    blocks = [
        Block("Kop", "heading", 1, 1),
        Block("Eerste zin op pagina een. " * 10, "text", 0, 1),
        Block("Tweede pagina tekst. " * 10, "text", 0, 2),
    ]
    chunks = chunk_blocks("d", "f" * 64, blocks)
    assert chunks[0].page_start == 1
    assert chunks[-1].page_end == 2
    assert chunks[0].locator.startswith("p. 1")


def test_a_very_long_line_is_cut_into_passages():
    blocks = [Block("woord " * 2000, "text")]
    chunks = chunk_blocks("d", "a" * 64, blocks)
    assert len(chunks) > 5
    assert all(len(c.text) <= MAX_CHARS * 1.35 for c in chunks)

"""Remove page furniture and decide which bare lines are headings.

The sample texts were scraped from web pages: navigation lines ("Lees meer",
"Contactpersoon"), related-article teasers ("Podcast … 27-05-2024 2 minuten"), photo
credits, breadcrumbs, newsletter blocks and pull quotes that repeat a sentence from the
body. None of that should be retrieved or quoted.
"""

from __future__ import annotations

import re

from ingest.loaders import Block
from kb.nl.text import normalize_whitespace

FURNITURE = {
    "lees meer",
    "lees verder",
    "contactpersoon",
    "contactpersonen",
    "deel dit artikel",
    "delen",
    "print",
    "terug",
    "naar boven",
    "op de hoogte blijven?",
    "share",
    "read more",
    "tags",
    "gerelateerd",
    "gerelateerde artikelen",
    "bekijk ook",
    "meer nieuws",
}
TEASER_LABELS = {"podcast", "interview", "artikel", "nieuws", "blog", "video", "webinar", "publicatie", "nieuwsbericht"}
_TEASER_DATE = re.compile(r"^\d{1,2}-\d{1,2}-\d{4}\s+\d+\s+minuten?$", re.I)
_BYLINE = re.compile(r"^\d{1,2}-\d{1,2}-\d{4}\s+\d+\s+minuten?\S*", re.I)
_CREDIT = re.compile(r"^(©|\(c\)|foto'?s?:|foto’s:|beeld:|tekening\s)", re.I)
_PROMO = re.compile(r"^(meld je aan voor|schrijf je in voor|abonneer je op|volg ons op)", re.I)
_BULLET = re.compile(r"^\s*([•\-–*▪◦]|\d+[.)]|[a-z][.)])\s+")
BODY_MIN = 100  # blocks longer than this count as body text when looking for pull quotes
_NUMBERED_HEADING = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S")


def _is_name_line(text: str) -> bool:
    words = text.split()
    return (
        1 < len(words) <= 4
        and all(w[0].isupper() for w in words if w[0].isalpha())
        and not text.endswith((".", "?", "!"))
    )


def _is_pull_quote(text: str, next_text: str, body: str) -> bool:
    """A short line that repeats a sentence from a *different* paragraph (layout pull quote)."""
    first, _, rest = text.partition("\n")
    if rest and not (_is_name_line(rest) and "\n" not in rest):
        return False
    if not 20 < len(first) <= 250:
        return False
    if not rest and not (_is_name_line(next_text) or first.endswith((".", "!", "?", "’", "”"))):
        return False
    needle = normalize_whitespace(first)
    own = 1 if len(text) > BODY_MIN else 0  # a long block is part of ``body`` itself
    return body.count(needle) > own


def looks_like_heading(text: str) -> bool:
    """A bare one-line block that reads as a heading rather than a sentence."""
    if "\n" in text or len(text) > 120 or _BULLET.match(text) and not _NUMBERED_HEADING.match(text):
        return False
    if text.endswith((".", ",", ";", ":", "”", "’", "'", '"')) and not _NUMBERED_HEADING.match(text):
        return False
    words = text.split()
    return 0 < len(words) <= 16


def heading_level(text: str, given: int = 0) -> int:
    """Numbered headings nest by their number ('3.1' under '3'); others sit below the last numbered one."""
    match = re.match(r"^(\d+(?:\.\d+)+|\d+)\s+\S", text)
    if match:
        return match.group(1).count(".") + 1
    return given or 9


def drop_teasers(blocks: list[Block]) -> list[Block]:
    """Remove related-article teasers: label, title, 'dd-mm-yyyy N minuten', 'Lees meer'.

    Works on lines, because scraped teasers run across block boundaries.
    """
    lines = [(bi, line) for bi, block in enumerate(blocks) for line in block.text.split("\n")]
    keep = [True] * len(lines)
    for i, (_bi, line) in enumerate(lines):
        if _TEASER_DATE.match(line) and i + 1 < len(lines) and lines[i + 1][1].lower() == "lees meer":
            keep[i] = keep[i + 1] = False
            if i >= 1:
                keep[i - 1] = False
            if i >= 2 and lines[i - 2][1].lower() in TEASER_LABELS:
                keep[i - 2] = False
            if i + 2 < len(lines) and lines[i + 2][1].lower() in TEASER_LABELS:
                keep[i + 2] = False
    kept: dict[int, list[str]] = {}
    for (bi, line), k in zip(lines, keep):
        if k:
            kept.setdefault(bi, []).append(line)
    return [Block("\n".join(kept[bi]), b.kind, b.level, b.page) for bi, b in enumerate(blocks) if bi in kept]


def split_leading_heading(blocks: list[Block]) -> list[Block]:
    """'4. Introductiemodule PVT' glued to its paragraph (no blank line) becomes heading + text."""
    out: list[Block] = []
    for block in blocks:
        first, _, rest = block.text.partition("\n")
        if (
            block.kind == "auto"
            and rest
            and looks_like_heading(first)
            and not _BULLET.match(rest)
            and min(len(line) for line in rest.split("\n")) > 120
        ):
            out.append(Block(first, "auto", 0, block.page))
            out.append(Block(rest, "text", 0, block.page))
        else:
            out.append(block)
    return out


def clean_blocks(blocks: list[Block]) -> list[Block]:
    """Return the blocks without furniture, each marked 'heading' or 'text'."""
    blocks = [Block(normalize_lines(b.text), b.kind, b.level, b.page) for b in blocks]
    blocks = [b for b in blocks if b.text]
    blocks = split_leading_heading(drop_teasers(blocks))
    body = " ".join(normalize_whitespace(b.text) for b in blocks if len(b.text) > BODY_MIN)
    out: list[Block] = []
    skip_name = False
    for i, block in enumerate(blocks):
        text = block.text.strip()
        lowered = text.lower()
        if skip_name and _is_name_line(text):
            skip_name = False
            continue
        skip_name = False
        if lowered in FURNITURE or _CREDIT.match(text) or _PROMO.match(text) or _BYLINE.match(text):
            continue
        if i < 3 and re.fullmatch(r"[\w’' -]+( / [\w’' -]+)+", text) and len(text) < 60:
            continue  # breadcrumb such as "Actueel / Overheid"
        if _is_pull_quote(text, blocks[i + 1].text.strip() if i + 1 < len(blocks) else "", body):
            skip_name = True  # a quote repeating a body sentence; its speaker line follows
            continue
        if block.kind == "auto":
            is_heading = looks_like_heading(text) and i + 1 < len(blocks)
            kind = "heading" if is_heading else "text"
            level = heading_level(text) if is_heading else 0
        else:
            kind, level = block.kind, (heading_level(text, block.level) if block.kind == "heading" else 0)
        out.append(Block(text, kind, level, block.page))
    while out and out[-1].kind == "heading":
        out.pop()  # a trailing heading with nothing under it is furniture too
    return out


def normalize_lines(text: str) -> str:
    """Tidy white space per line, keep line breaks (they separate list items and table rows)."""
    lines = [re.sub(r"[ \t\u00a0\u2000-\u200b]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)

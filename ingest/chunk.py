"""Chunk cleaned blocks into passages sized for quoting, each with its section heading.

Why our own chunker rather than llama-index's ``SentenceSplitter``: passages must
(1) never cross a heading, so the heading can be shown as the locator, (2) keep the PDF
page of every sentence, (3) keep list items and table rows as whole lines with their
lead-in, and (4) split sentences exactly like the answerer quotes them (``kb.nl.text``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.loaders import Block
from kb.nl.text import normalize_whitespace, split_sentences
from kb.records import Chunk

CHUNKER_VERSION = "1"
MIN_CHARS = 220  # below this a passage is merged with its neighbour in the same section
TARGET_CHARS = 550  # start a new passage at a paragraph break after this
MAX_CHARS = 900  # never exceed (a longer single sentence is cut at word boundaries)
_LIST_LINE = re.compile(r"^\s*([•\-–*▪◦]|\d+[.)]|[a-z][.)])\s+")


@dataclass
class _Unit:
    text: str
    page: int
    para_start: bool
    is_line: bool  # list item / table row: joined with a line break


def _cut_long(text: str) -> list[str]:
    if len(text) <= MAX_CHARS:
        return [text]
    pieces, current = [], ""
    for word in text.split(" "):
        while len(word) > MAX_CHARS:  # a "word" longer than a passage (e.g. a base64 blob)
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:MAX_CHARS])
            word = word[MAX_CHARS:]
        if current and len(current) + 1 + len(word) > MAX_CHARS:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        pieces.append(current)
    return pieces


def _units(block: Block) -> list[_Unit]:
    lines = [line for line in block.text.split("\n") if line.strip()]
    listish = len(lines) > 1 and (
        sum(bool(_LIST_LINE.match(line)) for line in lines) >= len(lines) / 2 or max(len(line) for line in lines) < 160
    )
    units: list[_Unit] = []
    if listish:
        for line in lines:
            for piece in _cut_long(normalize_whitespace(line)):
                units.append(_Unit(piece, block.page, not units, True))
    else:
        for sentence in split_sentences(" ".join(lines)):
            for piece in _cut_long(sentence):
                units.append(_Unit(piece, block.page, not units, False))
    return units


def _join(units: list[_Unit]) -> str:
    text = ""
    for unit in units:
        if not text:
            text = unit.text
        elif unit.is_line or unit.para_start:
            text += "\n" + unit.text
        else:
            text += " " + unit.text
    return text


def _section_label(stack: list[tuple[int, str]]) -> str:
    return " › ".join(title for _level, title in stack[-2:])


def chunk_blocks(doc_id: str, doc_hash: str, blocks: list[Block]) -> list[Chunk]:
    """Turn cleaned blocks into :class:`Chunk` records with stable ids."""
    sections: list[tuple[str, list[_Unit]]] = []
    stack: list[tuple[int, str]] = []
    current: list[_Unit] = []
    label = ""
    for block in blocks:
        if block.kind == "heading":
            if current:
                sections.append((label, current))
                current = []
            level = block.level or 9
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, normalize_whitespace(block.text)))
            label = _section_label(stack)
        else:
            current.extend(_units(block))
    if current:
        sections.append((label, current))

    drafts: list[tuple[str, list[_Unit]]] = []
    for section, units in sections:
        packed: list[list[_Unit]] = [[]]
        size = 0
        for unit in units:
            if packed[-1] and (
                (size + len(unit.text) > MAX_CHARS and size >= MIN_CHARS)
                or (unit.para_start and size >= TARGET_CHARS)
                or (unit.page != packed[-1][-1].page and size >= MIN_CHARS)  # cite PDFs by page
            ):
                packed.append([])
                size = 0
            packed[-1].append(unit)
            size += len(unit.text) + 1
        if len(packed) > 1 and sum(len(u.text) for u in packed[-1]) < MIN_CHARS:
            tail = packed.pop()
            if sum(len(u.text) for u in packed[-1] + tail) <= MAX_CHARS * 1.3:
                packed[-1].extend(tail)
            else:
                packed.append(tail)
        drafts.extend((section, group) for group in packed if group)

    chunks = []
    for index, (section, units) in enumerate(drafts):
        pages = [u.page for u in units if u.page]
        chunks.append(
            Chunk(
                chunk_id=f"{doc_id}::{doc_hash[:12]}::{index:04d}",
                doc_id=doc_id,
                index=index,
                text=_join(units),
                section=section,
                page_start=min(pages) if pages else 0,
                page_end=max(pages) if pages else 0,
            )
        )
    return chunks

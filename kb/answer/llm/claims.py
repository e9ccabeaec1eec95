"""Split a generated answer into sentences and the source numbers each one cites.

Models write markers in many ways: "zin [1].", "zin. [1]", "[1][3]", "[1, 3]", "[1-2]",
"(bron 2)". Each sentence comes back as plain text plus the numbers it cites; the numbers
are data from here on, the prose is never parsed again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.nl.text import normalize_whitespace, split_sentences, tokenize

_NUMBERS = r"(\d+(?:\s*(?:[,;/&–-]+|en)\s*\d+)*)"
# [1], [1, 3], [1-2], [^1], [Bron: 2], [1: p. 3]; in round brackets only with "bron": "(bron 2)",
# so that "(2021)" or "(3)" in a sentence stay numbers of the text.
_MARKER = re.compile(
    r"\[\s*\^?\s*(?:bron(?:nen)?\s*:?\s*)?" + _NUMBERS + r"(?:\s*:[^\]]*)?\s*\]"
    r"|\(\s*bron(?:nen)?\s*:?\s*" + _NUMBERS + r"\s*\)",
    re.I,
)
_LEFTOVER = re.compile(r"\[[^\]]*\d[^\]]*\]")  # any other bracketed number: not shown as if it were a citation
_MARKERS_AFTER_STOP = re.compile(r"([.!?…])((?:\s*" + _MARKER.pattern + r")+)", re.I)
_NEGATION = re.compile(r"\b(niet|geen|nooit|not|no)\b", re.I)
_LIST_PREFIX = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_LEAD_IN = re.compile(r"^\s*(?:antwoord|answer)\s*:\s*", re.I)


@dataclass(frozen=True)
class DraftSentence:
    text: str  # without markers
    cited: tuple[int, ...]  # as written by the model, 1-based, in order, no duplicates

    @property
    def has_content(self) -> bool:
        """A connective ("Kortom:") carries no claim to check; a cited or negated sentence
        ("Dat is niet verplicht [1].") always does."""
        return len(tokenize(self.text)) >= 2 or bool(self.cited) or bool(_NEGATION.search(self.text))


def _numbers(group: str) -> list[int]:
    numbers: list[int] = []
    for a, sep, b in re.findall(r"(\d+)\s*(?:([–-])\s*(\d+))?", group):
        if sep and b and int(b) >= int(a) and int(b) - int(a) < 10:
            numbers.extend(range(int(a), int(b) + 1))
        else:
            numbers.append(int(a))
    return numbers


def split_draft(raw: str) -> list[DraftSentence]:
    """The sentences of a generated answer, each with the source numbers it cites."""
    raw = raw.replace("**", "").replace("__", "")
    sentences: list[DraftSentence] = []
    for line in raw.splitlines():
        line = _LEAD_IN.sub("", _LIST_PREFIX.sub("", line))
        # "zin. [1] Volgende" → "zin [1]. Volgende": the marker belongs to the sentence before it
        line = _MARKERS_AFTER_STOP.sub(lambda m: f"{m.group(2)}{m.group(1)}", line)
        for sentence in split_sentences(line):
            cited = [n for groups in _MARKER.findall(sentence) for group in groups if group for n in _numbers(group)]
            text = normalize_whitespace(_LEFTOVER.sub(" ", _MARKER.sub(" ", sentence)))
            text = re.sub(r"\s+([.,;:!?…])", r"\1", text).strip()
            if text:
                sentences.append(DraftSentence(text, tuple(dict.fromkeys(cited))))
    return sentences

"""Dutch text helpers shared by chunking, BM25 and the extractive answer.

Why our own sentence splitter: NLTK's punkt (via llama-index) splits Dutch text at
abbreviations such as "o.a.", "bijv." and "i.p.v.", and quotes must be whole sentences.
Chunk boundaries and answer quotes use this one splitter, so they always line up.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_DUTCH, STOPWORDS_EN

ABBREVIATIONS = {
    "o.a",
    "bijv",
    "bv",
    "i.p.v",
    "d.w.z",
    "enz",
    "etc",
    "nr",
    "mr",
    "dhr",
    "mevr",
    "e.d",
    "m.b.t",
    "t.a.v",
    "z.s.m",
    "vs",
    "ca",
    "incl",
    "excl",
    "evt",
    "max",
    "min",
    "blz",
    "p",
    "jl",
    "a.s",
    "z.o.z",
    "i.c.m",
    "m.u.v",
    "t.b.v",
    "t/m",
    "e.a",
    "resp",
    "dr",
    "prof",
    "ir",
    "ing",
    "drs",
    "mw",
    "st",
    "vgl",
    "zgn",
    "art",
    "lid",
    "hfst",
    "afd",
}

_BOUNDARY = re.compile(r"[.!?…]+[’'”\"»)]*\s+")
WORD = re.compile(r"\w+", re.UNICODE)  # a word: the one tokeniser for keyword and sentence scoring


# Question words and other words that carry no topic in a question.
QUESTION_STOPWORDS = {
    "wie",
    "wat",
    "waar",
    "wanneer",
    "waarom",
    "hoe",
    "hoeveel",
    "welke",
    "welk",
    "mag",
    "moet",
    "moeten",
    "kan",
    "kunnen",
    "kun",
    "je",
    "jij",
    "ik",
    "we",
    "wij",
    "u",
    "iemand",
    "er",
    "eigenlijk",
    "precies",
    "gebeurt",
    "gaat",
    "doen",
    "doet",
    "zit",
    "zitten",
    "staat",
    "volgens",
    "vind",
    "vinden",
    "weten",
    "wil",
    "willen",
    "graag",
    "even",
    "nou",
    "ook",
    "nog",
    "dan",
    "dus",
    "what",
    "who",
    "how",
    "when",
    "where",
    "which",
    "why",
    "does",
    "do",
    "is",
    "are",
    "the",
    "and",
    "or",
    "of",
    "for",
    "in",
    "to",
    "a",
    "an",
    "can",
    "should",
    "many",
    "much",
}
STOPWORDS = frozenset(STOPWORDS_DUTCH) | frozenset(STOPWORDS_EN) | QUESTION_STOPWORDS


def normalize_whitespace(text: str) -> str:
    """Collapse runs of white space (incl. no-break spaces) to one space."""
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip()


def fold(text: str) -> str:
    """Lower-case and strip accents, for matching (vóór → voor, creëren → creeren)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences, keeping Dutch abbreviations and initials intact."""
    text = normalize_whitespace(text)
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        before = text[start : match.start() + 1]
        last_word = before.rsplit(" ", 1)[-1].rstrip(".!?…").lower().lstrip("(‘“'\"")
        nxt = text[end : end + 1]
        if last_word in ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        if nxt and (nxt.islower() or nxt.isdigit() and match.group().startswith(".") and last_word.isdigit()):
            continue
        sentences.append(text[start:end].strip())
        start = end
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("dutch")


@lru_cache(maxsize=100_000)
def stem_word(word: str) -> str:
    """The Dutch Snowball stem of one folded word (cached: questions repeat their words)."""
    return _stemmer().stemWord(word)


def tokenize(text: str, keep_stopwords: bool = False) -> list[str]:
    """Words of ``text`` folded, stop words removed, stemmed with the Dutch Snowball stemmer."""
    words = WORD.findall(fold(text))
    if not keep_stopwords:
        words = [w for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    return _stemmer().stemWords(words)


def tokenize_compounds(text: str) -> list[str]:
    """Like :func:`tokenize`, plus the stemmed parts of every compound word (the whole word kept):
    "reiskostenvergoeding" → reiskostenvergoed, reiskost, reis, kost, vergoed."""
    from kb.nl.words import compound_parts

    words = [w for w in WORD.findall(fold(text)) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    expanded: list[str] = []
    for word in words:
        expanded.append(word)
        expanded.extend(p for p in compound_parts(word) if p not in STOPWORDS)
    return _stemmer().stemWords(expanded)


def term_match(term: str, stems: set[str]) -> float:
    """1 if the stem occurs, 0.6 if it is part of a compound there ("reiskosten" in
    "reiskostenvergoeding", or the other way round), else 0."""
    if term in stems:
        return 1.0
    if len(term) >= 5 and any(term in s or (len(s) >= 5 and s in term) for s in stems):
        return 0.6
    return 0.0


def slugify(value: str, max_len: int = 80) -> str:
    """A safe, readable id: lower-case ascii letters, digits and dashes."""
    ascii_text = fold(value)
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return slug[:max_len].strip("-") or "document"


_REFERRING = re.compile(
    r"\b(dat|die|dit|deze|daar\w*|hier\w+|hij|zij|ze|hun|hem|haar|zo'n|that|this|those|these|there|it|they|them|their)\b",
    re.I,
)
_CONNECTIVE = re.compile(r"^\s*(en|maar|ook|of|dus|and|but|also|what about|hoe zit het|wat als|en als|geldt)\b", re.I)


def is_follow_up(question: str) -> bool:
    """Does the question lean on the conversation ("En hoeveel uur is dat?") or stand alone?"""
    return bool(_CONNECTIVE.search(question) or _REFERRING.search(question) or len(tokenize(question)) <= 2)


def relevant_history(question: str, history: list[str] | tuple[str, ...]) -> list[str]:
    """The earlier questions that retrieval and answering should use: the last two, and only for a
    follow-up — an unrelated new question in the same conversation stands alone."""
    return list(history)[-2:] if history and is_follow_up(question) else []

"""The domain lexicon: terms, their abbreviations and synonyms, and definitions.

Two sources: a small curated file (``kb/data/lexicon.yaml``: what documents take for
granted, such as MAP = Module Arbeidsmarkt en Participatie) and the documents themselves,
read whenever the retriever rebuilds its index: glossary sections (a "Begrippenlijst"
followed by one short heading per term), "Lange naam (AFK)" abbreviations, and defining
sentences ("Een driegesprek is een ..."). Retrieval expands a question with the other names
of every term it mentions; the answerer uses definitions to answer "Wat is ...?" questions;
the UI can show :meth:`Lexicon.to_dicts`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from kb.nl.text import fold, split_sentences
from kb.nl.words import rarity

CURATED = Path(__file__).resolve().parents[1] / "data" / "lexicon.yaml"
GLOSSARY_HEADINGS = ("begrippen", "begrippenlijst", "afkortingen", "woordenlijst", "definities", "verklarende")
_ABBREVIATION = re.compile(r"\b((?:[A-ZÀ-Ý][\w’'-]+)(?:\s+(?:[\w’'&-]+)){0,5})\s+\(([A-Z][A-Za-z0-9-]{1,9})\)")
_DEFINING = re.compile(r"^(?:De|Het|Een)\s+(?P<term>[\w’'-]+(?:\s[\w’'-]+){0,2}?)\s+(?:is|betekent)\s+(?:een|de)\b")
_GENERIC = {"dit", "dat", "het", "er", "wat", "die", "deze", "hier", "daar", "zij", "hij", "het doel", "doel"}


@dataclass
class Term:
    """One concept: its main name, other names, and where a definition was found."""

    term: str
    aliases: list[str] = field(default_factory=list)
    definition: str = ""
    source: str = "curated"  # "curated" or the doc id the definition comes from
    chunk_id: str = ""  # the passage holding the definition, when it comes from a document

    def names(self) -> list[str]:
        return [self.term, *self.aliases]


def _key(name: str) -> str:
    return " ".join(re.findall(r"\w+", fold(name)))


@lru_cache(maxsize=1)
def load_curated(path: Path = CURATED) -> tuple[Term, ...]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return tuple(
        Term(str(e["term"]), [str(a) for a in e.get("aliases", [])], str(e.get("definition", ""))) for e in raw
    )


def _short_heading(section: str) -> str:
    last = section.split("›")[-1].strip()
    last = re.sub(r"^\d+(\.\d+)*\.?\s+", "", last)
    return last if 0 < len(last.split()) <= 5 and len(last) <= 60 else ""


def extract_terms(chunks: Iterable[tuple[str, str, str, str]]) -> list[Term]:
    """Terms from documents. ``chunks``: (chunk id, doc id, section, text) in document order."""
    found: list[Term] = []
    in_glossary: str | None = None
    for chunk_id, doc_id, section, text in chunks:
        heading = _short_heading(section)
        folded_heading = fold(section.split("›")[-1])
        if any(g in folded_heading for g in GLOSSARY_HEADINGS):
            in_glossary = doc_id
            continue
        sentences = split_sentences(text.split("\n")[0]) if text else []
        if in_glossary == doc_id and heading and sentences and "›" not in section:
            found.append(Term(heading, [], sentences[0], doc_id, chunk_id))
        elif in_glossary == doc_id:
            in_glossary = None
        for long, abbreviation in _ABBREVIATION.findall(text):
            if name := _expansion(long.split(), abbreviation):
                found.append(Term(name, [abbreviation], "", doc_id, chunk_id))
        for sentence in split_sentences(text.replace("\n", " ")):
            match = _DEFINING.match(sentence)
            term = match.group("term") if match else ""
            if (
                term
                and fold(term) not in _GENERIC
                and len(sentence) <= 400
                and max(map(rarity, fold(term).split())) > 0.45
            ):
                found.append(Term(match.group("term"), [], sentence, doc_id, chunk_id))
    return found


def _is_subsequence(short: str, long: str) -> bool:
    letters = iter(long)
    return all(ch in letters for ch in short)


def _expansion(words: list[str], abbreviation: str) -> str:
    """The shortest run of trailing ``words`` that starts with the abbreviation's first letter and
    contains its letters in order ("Module Arbeidsmarkt en Participatie" for MAP), or ""."""
    short = re.sub(r"[^a-z0-9]", "", fold(abbreviation))
    for n in range(1, len(words) + 1):
        candidate = words[-n:]
        folded = fold(" ".join(candidate))
        if folded[:1] == short[:1] and _is_subsequence(short, re.sub(r"[^a-z0-9]", "", folded)):
            return " ".join(candidate) if n > 1 or len(candidate[0]) > len(abbreviation) + 2 else ""
    return ""


class Lexicon:
    """Terms by every folded name; merges curated and extracted terms that share a name."""

    def __init__(self, terms: Iterable[Term]) -> None:
        self.terms: list[Term] = []
        self._by_name: dict[str, Term] = {}
        for term in terms:
            keys = [k for k in (_key(n) for n in term.names()) if k]
            existing = next((self._by_name[k] for k in keys if k in self._by_name), None)
            if existing is None:
                existing = Term(term.term, [], term.definition, term.source, term.chunk_id)
                self.terms.append(existing)
            elif term.definition and (not existing.definition or existing.source == "curated" and term.chunk_id):
                existing.definition, existing.source, existing.chunk_id = term.definition, term.source, term.chunk_id
            for name in term.names():
                if _key(name) and _key(name) not in {_key(n) for n in existing.names()}:
                    existing.aliases.append(name)
            for key in keys:
                self._by_name.setdefault(key, existing)
        self._pattern = self._compile()

    @classmethod
    def build(cls, chunks: Iterable[tuple[str, str, str, str]] = ()) -> Lexicon:
        return cls([*load_curated(), *extract_terms(chunks)])

    def _compile(self) -> re.Pattern | None:
        names = sorted(self._by_name, key=len, reverse=True)
        if not names:
            return None
        return re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b")

    def find(self, text: str) -> list[Term]:
        """The terms named in ``text`` (longest names first, each term once)."""
        if self._pattern is None:
            return []
        folded = " ".join(re.findall(r"\w+", fold(text)))
        terms = [self._by_name[m.group(1)] for m in self._pattern.finditer(folded)]
        return list({id(t): t for t in terms}.values())

    def expansions(self, text: str) -> list[str]:
        """The other names of every term in ``text`` (for keyword search)."""
        folded = " ".join(re.findall(r"\w+", fold(text)))
        extra: list[str] = []
        for term in self.find(text):
            extra.extend(n for n in term.names() if _key(n) not in folded)
        return extra

    def lookup(self, name: str) -> Term | None:
        return self._by_name.get(_key(name))

    def to_dicts(self) -> list[dict]:
        return [
            {"term": t.term, "aliases": t.aliases, "definition": t.definition, "source": t.source}
            for t in sorted(self.terms, key=lambda t: fold(t.term))
        ]

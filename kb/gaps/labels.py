"""A Dutch label for a theme from its characteristic terms, lexicon terms first where they fit."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from kb.nl.text import STOPWORDS, WORD, fold, stem_word
from kb.nl.words import split_compound
from kb.search.lexicon import Lexicon

LABEL_TERMS = 3
LEXICON_SHARE = 0.4  # a lexicon term named in at least this share of a theme's questions joins its label
# Words that ask rather than say what about ("Hoe lang duurt ...", "Hoe hoog is ..."): no label material.
_ASKING = "lang duurt duren hoog hoge hoogte krijgt krijgen krijg kost betaalt betalen vanaf per echt zolang net"
LABEL_STOPWORDS = frozenset(
    f"{_ASKING} zijn mijn klant cliënt client iemand vraag vragen recht regels geldt gelden".split()
)  # noqa: SIM905
LEXICON_BOOST = 1.5  # a lexicon term beats a plain word of the same weight
PART_WEIGHT = 0.5  # a part of compounds (naturalisatie in naturalisatieprocedure, -aanvraag) only wins when shared
PART, TERM = "\1", "\0"  # key prefixes: cannot clash with a word


def _words(text: str) -> dict[str, str]:
    """Content words of a question and the parts of its compounds (naturalisatieprocedure →
    naturalisatie, procedure): stem → the word as written (lower-case at the start of the sentence)."""
    out: dict[str, str] = {}
    for n, word in enumerate(WORD.findall(text)):
        folded = fold(word)
        if len(word) <= 2 or word.isdigit() or folded in STOPWORDS or folded in LABEL_STOPWORDS:
            continue
        out.setdefault(stem_word(folded), word.lower() if n == 0 and not word.isupper() else word)
        for part in split_compound(folded):
            if len(part) >= 5 and part not in STOPWORDS and part not in LABEL_STOPWORDS:
                out.setdefault(PART + stem_word(part), part)
    return out


def _stems(name: str) -> set[str]:
    """The stems of the words of ``name`` and of their compound parts."""
    words = [fold(w) for w in WORD.findall(name)]
    return {stem_word(p) for w in words for p in (w, *split_compound(w))}


def _as_written(name: str, text: str) -> str | None:
    """``name`` as ``text`` writes it (lower-case at the start of the sentence), or None."""
    found = re.search(rf"\b{re.escape(name)}\b", text, re.IGNORECASE)
    if found is None:
        return None
    written = found.group(0)
    return written[0].lower() + written[1:] if found.start() == 0 and not written.isupper() else written


def theme_terms(groups: Sequence[Sequence[str]], lexicon: Lexicon | None = None) -> list[tuple[str, ...]]:
    """Characteristic terms per group of questions: class-based tf-idf (the share of the group's
    questions that use a word, times how few groups use it), with the lexicon's terms as candidates
    next to plain words (a term named in at least :data:`LEXICON_SHARE` of the questions)."""
    shares: list[Counter] = []
    forms: dict[str, Counter] = defaultdict(Counter)
    terms: dict[str, Any] = {}
    read: dict[str, list[tuple[str, str]]] = {}  # text → (key, form): a question asked again is read once
    for texts in groups:
        seen: Counter = Counter()
        for text in texts:
            if text not in read:
                read[text] = list(_words(text).items())
                for term in lexicon.find(text) if lexicon is not None else ():
                    terms[TERM + term.term] = term
                    written = [w for w in (_as_written(n, text) for n in term.names()) if w]
                    read[text] += [(TERM + term.term, w) for w in written[:1]] or [(TERM + term.term, "")]
            for key, form in read[text]:
                seen[key] += 1
                if form:
                    forms[key][form] += 1
        shares.append(Counter({k: c / max(len(texts), 1) for k, c in seen.items()}))
    spread = Counter(k for share in shares for k, v in share.items() if v >= 0.2)
    out = []
    for share in shares:
        ranked = sorted(
            (
                (v * np.log(1 + len(groups) / (1 + spread[k])) * _weight(k), k)
                for k, v in share.items()
                if v >= (LEXICON_SHARE if k in terms else 0.25)
            ),
            reverse=True,
        )
        chosen: list[str] = []
        taken: set[str] = set()
        for _score, key in ranked:
            if key in terms:
                stems = set().union(*(_stems(n) for n in terms[key].names()))
                label = _lexicon_label(terms[key].term, forms[key])
            else:
                label = forms[key].most_common(1)[0][0]
                stems = _stems(label)
            if stems & taken:
                continue
            chosen.append(label)
            taken |= stems
            if len(chosen) == LABEL_TERMS:
                break
        out.append(tuple(chosen))
    return out


def _weight(key: str) -> float:
    return LEXICON_BOOST if key.startswith(TERM) else PART_WEIGHT if key.startswith(PART) else 1.0


def _lexicon_label(main: str, used: Counter) -> str:
    """A lexicon term as the questions name it, with the full name after an abbreviation
    (``DUO (Dienst Uitvoering Onderwijs)``)."""
    name = used.most_common(1)[0][0] if used else main
    return f"{name} ({main})" if name.isupper() and fold(name) != fold(main) else name


def theme_label(terms: Sequence[str]) -> str:
    """The terms as one Dutch label: ``Huurtoeslag, statushouder, eerste``."""
    text = ", ".join(terms) or "(zonder kenmerkende woorden)"
    return text[0].upper() + text[1:]

"""Dutch word knowledge that does not depend on what is indexed: word rarity and compounds.

Why a reference word list (wordfreq's Dutch frequencies) instead of the index's own IDF:
the answerer's evidence and abstention must not move when unrelated documents are added.
Corpus IDF does exactly that — one 2 MB file repeating a word, or a hundred pages about
bijstand, changes every term's weight. A frequency list of general Dutch gives each word a
fixed weight: "de" ≈ 0, "reiskosten" high, an unknown word (opstartklas) highest.

Why our own compound splitter: the stack has none for Dutch (NLTK and Snowball only stem,
and hyphenation patterns split syllables, not words). Dutch writes compounds as one word
(reiskostenvergoeding, taalschoolkosten, inburgeringsplicht), so a question about
"reiskosten" and a text about "reiskostenvergoeding" share no token. We split a long word
into two (then recursively) parts that are both common Dutch words, allowing the linking
morphemes -s-, -e- and -en-; the whole word is kept as well.
"""

from __future__ import annotations

from functools import lru_cache

import wordfreq

LANG = "nl"
MAX_ZIPF = 7.0  # "de", "het": zipf ≈ 7.7
MIN_PART_ZIPF = 2.5  # a compound part must be a reasonably common word on its own
SHORT_PART_ZIPF = 4.0  # ... and a three-letter first part a very common one (map, bed)
MAX_SPLIT_ZIPF = 3.5  # words at least this common are words in their own right: not split
MIN_HEAD = 4  # shortest last part ("kosten", "plicht"; not "en", "ter")
MIN_MODIFIER = 3  # shortest first part ("reis", "taal", "map")
LINKS = ("", "s", "e", "en")


@lru_cache(maxsize=200_000)
def zipf(word: str) -> float:
    """Zipf frequency of a (folded) word in general Dutch, 0 when unknown."""
    return wordfreq.zipf_frequency(word, LANG)


@lru_cache(maxsize=200_000)
def is_english(word: str) -> bool:
    """A word that is clearly English rather than Dutch ("allowance", "during"): an English question
    can only be matched by meaning, never by keywords, against Dutch sources."""
    english = wordfreq.zipf_frequency(word, "en")
    return english >= 3.0 and english >= zipf(word) + 1.0


def rarity(word: str) -> float:
    """A fixed, corpus-independent weight in [0, 1]: 0 for the commonest words, 1 for unseen ones."""
    return max(0.0, min(1.0, (MAX_ZIPF - zipf(word)) / MAX_ZIPF))


@lru_cache(maxsize=200_000)
def split_compound(word: str) -> tuple[str, ...]:
    """Modifier and head of a Dutch compound (``inburgeringsplicht`` → inburgering, plicht), or ().

    Only rare words are split (a common word such as "samenwerking" is a word in its own
    right), and only into parts that are common words by themselves; fewer parts win, then
    the split whose rarest part is most common. :func:`compound_parts` recurses into parts.
    """
    if len(word) < MIN_MODIFIER + MIN_HEAD or not word.isalpha() or zipf(word) >= MAX_SPLIT_ZIPF:
        return ()
    best: tuple[int, float, tuple[str, ...]] = (99, 0.0, ())
    for i in range(MIN_MODIFIER, len(word) - MIN_HEAD + 1):
        first = word[:i]
        if zipf(first) < (MIN_PART_ZIPF if i > MIN_MODIFIER else SHORT_PART_ZIPF):
            continue
        for link in LINKS:
            if not word.startswith(link, i):
                continue
            rest = word[i + len(link) :]
            if len(rest) < MIN_HEAD:
                continue
            rest_parts = (rest,) if zipf(rest) >= MIN_PART_ZIPF else split_compound(rest)
            if not rest_parts:
                continue
            candidate = (1 + len(rest_parts), -min(zipf(first), *(zipf(p) for p in rest_parts)), (first, *rest_parts))
            if candidate[:2] < best[:2]:
                best = candidate
    return best[2]


@lru_cache(maxsize=200_000)
def compound_parts(word: str) -> tuple[str, ...]:
    """Every part of a compound at every level: reiskostenvergoeding → reiskosten, reis, kosten, vergoeding."""
    parts: list[str] = []
    for part in split_compound(word):
        parts.append(part)
        parts.extend(compound_parts(part))
    return tuple(dict.fromkeys(parts))

"""A text's content words as stems with a weight: two weightings, one for each use.

Both take the same words (folded, stop words and one-letter non-numbers left out, stemmed) and
weigh each by how rare it is in general Dutch (:mod:`kb.nl.words`), never by what is indexed.
They differ in scale, and the fitted values downstream were chosen on each scale:

- :func:`keyword_weights` — for the keyword ranking (:mod:`kb.search.lexical`): ``8 − zipf``,
  so "de" weighs 0.3 and a word general Dutch never uses 8, like BM25's IDF. The retrieval
  options (``kb/data/retrieval.json``) were tuned with these weights in the fusion.
- :func:`coverage_weights` — for how much of the question a sentence covers (:mod:`kb.answer`):
  ``0.15 + rarity`` in 0.15–1.15, so common words still count a little in the share. The
  answer models (``kb/data/answer_model.json``) were fitted on coverages with these weights.

Merging them would change every keyword score or every coverage the fitted values were chosen
for, so answers would change: the two stay, and :class:`kb.records.Query` carries both.
"""

from __future__ import annotations

from kb.nl.text import STOPWORDS, WORD, fold, stem_word
from kb.nl.words import compound_parts, is_english, rarity, zipf

MAX_WEIGHT = 8.0  # keyword weight of a word general Dutch never uses ("opstartklas"); "de" weighs 0.3
ENGLISH_KEYWORD_WEIGHT = 0.3  # English cannot match Dutch text; keep it from dominating
PART_WEIGHT = 0.5  # a compound's part counts half as much as a word written on its own
ENGLISH_COVERAGE_WEIGHT = 0.1  # English words in a question cannot match Dutch text: they barely count


def _content_words(text: str) -> list[str]:
    return [w for w in WORD.findall(fold(text)) if w not in STOPWORDS and (len(w) >= 2 or w.isdigit())]


def term_weight(word: str) -> float:
    """Fixed keyword weight of a (folded) word: high for rare words, near zero for the commonest."""
    if is_english(word):
        return ENGLISH_KEYWORD_WEIGHT
    return max(0.1, MAX_WEIGHT - zipf(word))


def keyword_weights(text: str, compounds: bool = True) -> dict[str, float]:
    """The text's stems with their keyword weights; with ``compounds``, compound parts at half weight."""
    weights: dict[str, float] = {}
    for word in _content_words(text):
        stem = stem_word(word)
        weights[stem] = max(weights.get(stem, 0.0), term_weight(word))
        for part in compound_parts(word) if compounds else ():
            if part not in STOPWORDS:
                p = stem_word(part)
                weights[p] = max(weights.get(p, 0.0), PART_WEIGHT * term_weight(part))
    return weights


def coverage_weights(text: str) -> dict[str, float]:
    """The text's stems, each weighted by its rarity in general Dutch (for sentence coverage)."""
    weights: dict[str, float] = {}
    for word in _content_words(text):
        stem = stem_word(word)
        weight = ENGLISH_COVERAGE_WEIGHT if is_english(word) else 0.15 + rarity(word)
        weights[stem] = max(weights.get(stem, 0.0), weight)
    return weights

"""Candidate answer sentences and the evidence features the answerer's models read.

Every feature looks only at the question, the retrieved passages and a fixed reference of
Dutch word frequencies (:mod:`kb.nl.words`), never at statistics of the whole index, so a
sentence scores the same however many unrelated documents are added. The weights that turn
features into a probability are fitted on the dev split by ``python -m evals.fit_answer``
and stored in ``kb/data/answer_model.json``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kb.embeddings import ScoreProfile
from kb.nl.text import STOPWORDS, WORD, fold, split_sentences, stem_word, term_match
from kb.nl.words import compound_parts
from kb.privacy.injection import find_instructions
from kb.records import Passage

MODEL_PATH = Path(__file__).resolve().parents[1] / "data" / "answer_model.json"
NUMBER_WORDS = {"een", "twee", "drie", "vier", "vijf", "zes", "zeven", "acht", "negen", "tien", "twaalf", "twintig",
                "dertig", "veertig", "vijftig", "zestig", "honderd", "duizend", "helft", "procent"}  # fmt: skip
DEFINING = re.compile(r"\b(is|zijn|betekent|houdt in|wordt .{0,30}bedoeld|noemen we|heet|heten)\b", re.I)

SENTENCE_FEATURES = (
    "coverage",  # share of the question's weight the sentence covers (compounds count partly)
    "window_coverage",  # the same for the sentence with its neighbours
    "expansion_coverage",  # share of the lexicon's other names for the question's terms found
    "heading_coverage",  # share of the question's weight in the passage's title and section
    "dense",  # the passage's similarity as a level of the model's ScoreProfile (0 = unrelated text)
    "passage_rank",  # 1 / (1 + rank of the passage)
    "first_in_passage",  # the sentence opens its passage
    "number_match",  # a quantity question and a number in the sentence
    "list_match",  # a list question and a lead-in ending in ':' or a list item
    "definition_match",  # a definition question and a defining sentence about its subject
    "short",  # under 40 characters
    "long",  # over 350 characters (a run-on line, a flattened table)
)
RERANK_FEATURES = (
    "first_stage",  # log-odds of the sentence model above
    "sentence_dense",  # similarity of the question to the sentence itself, as a level
    "dense_rank",  # 1 / (1 + rank of that similarity among the question's embedded sentences)
    "first_stage_rank",  # 1 / (1 + rank of the sentence by the sentence model)
)
QUESTION_FEATURES = (
    "best_sentence",  # the best sentence's probability
    "best_coverage",  # the best coverage of the question by a window of up to three sentences
    "dense_top",  # the top passage's similarity, as a level
    "missing_mass",  # share of the question's weight in words found in none of the passages considered
    "max_missing",  # the weight of the most specific question word found nowhere ("kinderbijslag")
    "best_sentence_dense",  # the highest level of the question's similarity to a single candidate sentence
)


def stems_of(text: str) -> set[str]:
    """Stems of a sentence with its compound parts (reiskostenvergoeding → … reis, kost, vergoed)."""
    stems: set[str] = set()
    for word in WORD.findall(fold(text)):
        if word in STOPWORDS:
            continue
        stems.add(stem_word(word))
        stems.update(stem_word(p) for p in compound_parts(word))
    return stems


def coverage(weights: Mapping[str, float], stems: set[str]) -> float:
    total = sum(weights.values())
    return sum(w * term_match(t, stems) for t, w in weights.items()) / total if total else 0.0


@dataclass
class Candidate:
    """One sentence of a retrieved passage."""

    passage: int
    part: int
    position: int
    text: str
    stems: set[str]
    features: dict[str, float] = field(default_factory=dict)
    probability: float = 0.0


def candidates(passages: Sequence[Passage], considered: int) -> list[Candidate]:
    found: list[Candidate] = []
    for p_index, passage in enumerate(passages[:considered]):
        position = 0
        for part_index, (_locator, part_text) in enumerate(passage.parts or [(passage.locator, passage.text)]):
            for line in part_text.split("\n"):
                for sentence in split_sentences(line):
                    # A planted instruction ("geef uw DigiD-wachtwoord door", "negeer alle vorige
                    # instructies") is never quoted: the rules that guard generated answers, reused.
                    if not find_instructions(sentence):
                        found.append(Candidate(p_index, part_index, position, sentence, stems_of(sentence)))
                    position += 1
    return found


def sentence_features(
    kind: str,
    weights: Mapping[str, float],
    expansions: Mapping[str, float],
    sentences: list[Candidate],
    passages: Sequence[Passage],
    profile: ScoreProfile,
    subject: set[str] | None = None,
) -> None:
    """Fill ``features`` of every candidate; ``kind`` is the question's (kb.nl.question.question_kind)."""
    by_key = {(s.passage, s.position): s for s in sentences}
    headings = {i: stems_of(f"{p.title} {p.section}") for i, p in enumerate(passages)}
    for s in sentences:
        neighbours = [by_key.get((s.passage, s.position + d)) for d in (-1, 1)]
        window = s.stems.union(*(n.stems for n in neighbours if n is not None))
        has_number = bool(re.search(r"\d", s.text)) or bool(set(WORD.findall(fold(s.text))) & NUMBER_WORDS)
        stripped = s.text.rstrip()
        s.features = {
            "coverage": coverage(weights, s.stems),
            "window_coverage": coverage(weights, window),
            "expansion_coverage": coverage(expansions, s.stems) if expansions else 0.0,
            "heading_coverage": coverage(weights, headings[s.passage]),
            "dense": profile.level(passages[s.passage].dense_score) if passages[s.passage].dense_score else 0.5,
            "passage_rank": 1.0 / (1 + s.passage),
            "first_in_passage": float(s.position == 0),
            "number_match": float(kind == "quantity" and has_number),
            "list_match": float(kind == "list" and (stripped.endswith(":") or stripped[:1] in "•-–*")),
            "definition_match": float(
                kind == "definition"
                and bool(subject)
                and bool(subject & s.stems)
                and (bool(DEFINING.search(s.text)) or s.position == 0)
            ),
            "short": float(len(s.text) < 40),
            "long": float(len(s.text) > 350),
        }


@dataclass(frozen=True)
class AnswerModel:
    """Two logistic models: is this sentence part of the answer; is the question answered at all."""

    sentence_weights: tuple[float, ...]
    sentence_bias: float
    question_weights: tuple[float, ...]
    question_bias: float
    abstain_below: float  # answer when P(answerable) is at least this
    keep_ratio: float  # further sentences need at least this share of the best sentence's probability
    fitted_on: str = ""
    max_sentences: int = 3  # sentences chosen for their own evidence (context and list items come on top)
    # Second stage: the ``rerank_top`` most probable sentences are embedded and re-scored over
    # RERANK_FEATURES (0 = no second stage). The others are scored as if they were as far from
    # the question as the farthest embedded one, so all probabilities share one scale.
    rerank_weights: tuple[float, ...] = ()
    rerank_bias: float = 0.0
    rerank_top: int = 0

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> AnswerModel:
        raw = json.loads(path.read_text(encoding="utf-8"))
        sentence = raw["sentence"]
        question = raw["question"]
        rerank = raw.get("rerank") or {"features": list(RERANK_FEATURES), "weights": [], "bias": 0.0, "top": 0}
        if (
            list(sentence["features"]) != list(SENTENCE_FEATURES)
            or list(question["features"]) != list(QUESTION_FEATURES)
            or list(rerank["features"]) != list(RERANK_FEATURES)
        ):
            raise ValueError(f"{path.name} was fitted for other features; run: python -m evals.fit_answer")
        return cls(
            tuple(sentence["weights"]),
            sentence["bias"],
            tuple(question["weights"]),
            question["bias"],
            raw["abstain_below"],
            raw["keep_ratio"],
            raw.get("fitted_on", ""),
            int(raw.get("max_sentences", 3)),
            tuple(rerank["weights"]),
            float(rerank["bias"]),
            int(rerank["top"]),
        )

    def sentence_probability(self, features: dict[str, float]) -> float:
        return _logistic(
            self.sentence_bias + sum(w * features[f] for w, f in zip(self.sentence_weights, SENTENCE_FEATURES))
        )

    def rerank_probability(self, features: dict[str, float]) -> float:
        """``features`` holds RERANK_FEATURES, with ``first_stage`` as a probability."""
        features = {**features, "first_stage": log_odds(features["first_stage"])}
        return _logistic(self.rerank_bias + sum(w * features[f] for w, f in zip(self.rerank_weights, RERANK_FEATURES)))

    def answerable_probability(self, features: dict[str, float]) -> float:
        return _logistic(
            self.question_bias + sum(w * features[f] for w, f in zip(self.question_weights, QUESTION_FEATURES))
        )


def log_odds(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))

"""Does the cited passage back the sentence? Checked for every sentence of a generated answer.

A sentence is supported by its cited source(s) when

* every number in it (digits or Dutch number words: "veertig uur", "3 maanden") occurs in the
  cited text — a wrong figure is the most harmful mistake for a caseworker, and embeddings
  barely see it;
* every organisation or role it names (COA, DUO, gemeente, taalschool, werkgever, …) occurs
  in the cited text — "the COA pays" where the source says the gemeente does; and
* a small logistic model over three signals says so: the best embedding similarity between the
  sentence and a sentence of the cited passage, how much of the
  sentence's content words (stemmed, compounds counted partly) occur in the cited passage,
  and whether one of the sentence and its closest source sentence is negated and the other not.

The model's coefficients were fitted on ``evals/claims.jsonl`` (labelled supported and
unsupported claims, including false citations and changed facts) by
``python -m evals.calibrate_verify``, which writes them to ``kb/data/verify.json``; the
compressed e5 model gives high similarities to everything on-topic, so a fixed similarity
cut-off taken from elsewhere would not mean much. The file records the embedding model they
were fitted with: another model gets a warning, as its similarities lie elsewhere.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from kb.answer.sentence_vectors import SentenceVectors
from kb.nl.text import fold, normalize_whitespace, split_sentences, term_match, tokenize
from kb.records import Passage

log = logging.getLogger(__name__)
VERIFY_PATH = Path(__file__).resolve().parents[2] / "data" / "verify.json"
COEFFICIENTS = ("intercept", "w_dense", "w_lexical", "w_negation")

NUMBER_WORDS = {
    "twee": 2, "drie": 3, "vier": 4, "vijf": 5, "zes": 6, "zeven": 7, "acht": 8, "negen": 9,
    "tien": 10, "elf": 11, "twaalf": 12, "dertien": 13, "veertien": 14, "vijftien": 15,
    "zestien": 16, "zeventien": 17, "achttien": 18, "negentien": 19, "twintig": 20,
    "dertig": 30, "veertig": 40, "vijftig": 50, "zestig": 60, "zeventig": 70, "tachtig": 80,
    "negentig": 90, "honderd": 100, "duizend": 1000, "helft": 50, "half": 50, "kwart": 25,
}  # fmt: skip
# Who does, pays or decides: a claim naming one of these must find it in the cited text
# (swapping gemeente ↔ COA is the classic wrong answer; embeddings barely notice it).
# Groups are synonyms; person words (inburgeraar, statushouder, …) are left out because
# paraphrases swap them freely.
ACTORS = {
    "coa": "coa", "duo": "duo", "uwv": "uwv", "ind": "ind", "svb": "svb",
    "gemeente": "gemeente", "gemeenten": "gemeente", "gemeentelijk": "gemeente", "gemeentelijke": "gemeente",
    "taalschool": "taalschool", "taalscholen": "taalschool", "taalaanbieder": "taalschool", "taalaanbieders": "taalschool",
    "werkgever": "werkgever", "werkgevers": "werkgever",
    "vluchtelingenwerk": "vluchtelingenwerk",
    "rijk": "rijk", "ministerie": "rijk", "szw": "rijk", "overheid": "rijk",
    "klantmanager": "klantmanager", "klantmanagers": "klantmanager", "consulent": "klantmanager", "consulenten": "klantmanager",
    "regievoerder": "regievoerder", "regievoerders": "regievoerder",
}  # fmt: skip
NEGATIONS = {"niet", "geen", "nooit", "niemand", "niets", "nergens", "zonder", "not", "no", "never"}
_COMPOUND_BASES = ("tien", "tig", "honderd", "duizend", "miljoen")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z]+")


def numbers_in(text: str) -> set[float | str]:
    """The quantities a text states: digit groups ("1.200", "2,5") and Dutch number words."""
    found: set[float] = set()
    for raw in _DIGITS.findall(text):
        if re.fullmatch(r"\d{1,3}(\.\d{3})+(,\d+)?", raw):  # 1.200 = twelve hundred; € 1.250,50
            found.add(float(raw.replace(".", "").replace(",", ".")))
        elif raw.count(".") >= 2 or raw.count(",") >= 2:  # a date (12.5.2022) or a list: compare literally
            found.add(raw)  # type: ignore[arg-type]
        else:
            try:
                found.add(float(raw.replace(",", ".")))
            except ValueError:
                continue
    for word in _WORD.findall(fold(text)):
        if word in NUMBER_WORDS:
            found.add(float(NUMBER_WORDS[word]))
        elif len(word) > 7 and any(base in word for base in _COMPOUND_BASES):
            found.add(word)  # type: ignore[arg-type] - "vijfentwintig", "zeshonderd": compare literally
    return found


def actors_in(text: str) -> set[str]:
    """The organisations and roles a text names (COA, DUO, gemeente, taalschool, …), as groups."""
    found = set()
    for word in _WORD.findall(fold(text)):
        group = ACTORS.get(word)
        if group is None and len(word) > 8:  # compounds: "gemeentehuis", "taalschoolbegeleider"
            group = next((g for a, g in ACTORS.items() if len(a) >= 6 and word.startswith(a)), None)
        if group:
            found.add(group)
    return found


def negated(text: str) -> bool:
    return any(word in NEGATIONS for word in _WORD.findall(fold(text)))


@dataclass(frozen=True)
class VerifyConfig:
    """Logistic support model: p = σ(intercept + w_dense·dense + w_lexical·lexical + w_negation·mismatch).

    The four coefficients are fitted (:meth:`load` reads them from ``kb/data/verify.json``); the
    rest are choices."""

    intercept: float
    w_dense: float
    w_lexical: float
    w_negation: float
    threshold: float = 0.5  # p at or above → supported
    max_units: int = 8  # embed only the source sentences sharing most words with the claim
    attach_threshold: float = 0.8  # stricter for a sentence without a marker: we pick its source
    cache_size: int = 4096  # source-sentence embeddings kept between questions
    embedding: str = ""  # the model id the coefficients were fitted with

    @classmethod
    def load(cls, path: Path = VERIFY_PATH) -> VerifyConfig:
        raw = json.loads(path.read_text(encoding="utf-8"))
        coefficients = raw["coefficients"]
        return cls(**{name: float(coefficients[name]) for name in COEFFICIENTS}, embedding=raw.get("embedding", ""))

    def check_model(self, model_id: str) -> None:
        """Warn when the coefficients were fitted with another embedding model than ``model_id``."""
        if self.embedding and model_id != self.embedding:
            log.warning(
                "citation verifier fitted with %s, used with %s: its similarities lie elsewhere; "
                "refit with python -m evals.calibrate_verify",
                self.embedding,
                model_id,
            )


@dataclass(frozen=True)
class Support:
    """How well some source text backs one sentence."""

    probability: float
    dense: float
    lexical: float
    numbers_ok: bool  # every number in the claim is in the cited text
    actors_ok: bool  # every organisation/role the claim names is in the cited text
    negation_mismatch: bool  # one of claim and closest source sentence is negated, the other not
    quote: str  # the source sentence closest to the claim
    source: int  # index into the sources given
    part: int  # which merged chunk of that passage (for the locator)

    @property
    def rules_ok(self) -> bool:
        return self.numbers_ok and self.actors_ok

    def supported(self, threshold: float) -> bool:
        return self.rules_ok and self.probability >= threshold


@dataclass(frozen=True)
class _Unit:
    source: int
    part: int
    text: str


class CitationVerifier:
    """Scores claims against passages with the embedding model the index already uses."""

    def __init__(
        self,
        embed_model: BaseEmbedding,
        idf: Callable[[str], float] | None = None,
        config: VerifyConfig | None = None,
        vectors: SentenceVectors | None = None,
    ) -> None:
        self.embed_model = embed_model
        self.idf = idf or (lambda _term: 1.0)
        self.config = config or VerifyConfig.load()
        self.vectors = vectors or SentenceVectors(embed_model, self.config.cache_size)

    # -- embeddings ----------------------------------------------------------------
    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors for ``texts`` (cached); claim and source get the same prefix: symmetric."""
        return self.vectors.texts(texts)

    @staticmethod
    def units(sources: Sequence[Passage], which: Sequence[int]) -> list[_Unit]:
        """Sentences of the chosen sources. (Pairs of adjacent sentences, for summarising claims,
        changed nothing on the labelled claims and doubled the embedding work.)"""
        units: list[_Unit] = []
        for index in which:
            passage = sources[index]
            for part, (_locator, text) in enumerate(passage.parts or [(passage.locator, passage.text)]):
                sentences = [s for s in split_sentences(text) if len(s) > 12]
                units.extend(_Unit(index, part, s) for s in sentences)
        return units

    # -- scoring -------------------------------------------------------------------
    def lexical(self, claim: str, text: str) -> float:
        """IDF-weighted share of the claim's content words that occur in ``text``."""
        weights: dict[str, float] = {}
        for term in tokenize(claim):
            if not term.isdigit():
                weights[term] = max(weights.get(term, 0.0), self.idf(term))
        total = sum(weights.values())
        if not total:
            return 1.0
        stems = set(tokenize(text))
        return sum(w * term_match(t, stems) for t, w in weights.items()) / total

    def support(
        self, claim: str, sources: Sequence[Passage], which: Sequence[int], threshold: float | None = None
    ) -> Support:
        """How well the sources numbered ``which`` (indexes into ``sources``) back ``claim`` together.

        With a ``threshold``, the embedding step is skipped when the claim cannot reach it anyway
        (a rule fails, or even a perfect similarity would leave it below): ``probability`` is
        then that upper bound and ``quote`` is empty.
        """
        claim = normalize_whitespace(claim)
        units = self.units(sources, which)
        first = which[0] if which else -1
        if not units or not claim:
            return Support(0.0, 0.0, 0.0, False, False, False, "", first, 0)
        cited_text = " ".join(sources[i].text for i in which)
        lexical = self.lexical(claim, cited_text)
        numbers_ok = numbers_in(claim) <= numbers_in(cited_text)
        actors_ok = actors_in(claim) <= actors_in(cited_text)
        if threshold is not None:
            bound = self._probability(1.0, lexical, False)
            if not (numbers_ok and actors_ok) or bound < threshold:
                return Support(bound, 0.0, lexical, numbers_ok, actors_ok, False, "", first, 0)
        units = self._closest_units(claim, units)
        vectors = self._embed([claim, *(u.text for u in units)])
        sims = vectors[1:] @ vectors[0]
        best = int(np.argmax(sims))
        dense = float(sims[best])
        unit = units[best]
        mismatch = negated(claim) != negated(unit.text)
        probability = self._probability(dense, lexical, mismatch)
        return Support(probability, dense, lexical, numbers_ok, actors_ok, mismatch, unit.text, unit.source, unit.part)

    def _closest_units(self, claim: str, units: list[_Unit]) -> list[_Unit]:
        """The units sharing most (IDF-weighted) words with the claim: embedding every sentence of
        every cited passage costs seconds on a CPU, and the best match is almost always among these."""
        if len(units) <= self.config.max_units:
            return units
        ranked = sorted(units, key=lambda u: -self.lexical(claim, u.text))
        return ranked[: self.config.max_units]

    def _probability(self, dense: float, lexical: float, negation_mismatch: bool) -> float:
        c = self.config
        z = c.intercept + c.w_dense * dense + c.w_lexical * lexical + c.w_negation * negation_mismatch
        return 1.0 / (1.0 + math.exp(-z))

    def threshold(self, attaching: bool = False) -> float:
        return self.config.attach_threshold if attaching else self.config.threshold

    def supported(self, support: Support, attaching: bool = False) -> bool:
        return support.supported(self.threshold(attaching))

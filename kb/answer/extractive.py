"""Extractive, grounded answers: quote the sentences that answer the question, with [n].

No language model: every sentence of the answer is a verbatim sentence from a cited
passage. Each candidate sentence gets a probability of being (part of) the answer from a
small logistic model over evidence features (:mod:`kb.answer.sentences`: coverage of the
question with compounds and the domain lexicon, heading match, dense similarity, passage
rank, question type); the dozen most probable are then re-scored with their own embedding
similarity to the question (:mod:`kb.answer.sentence_vectors`), which finds the answer to a
question asked in other words; a further model over the evidence as a whole decides whether the
sources answer the question at all, else the answerer abstains and names the closest
documents. All three are fitted on the dev split by ``python -m evals.fit_answer``. No feature
reads statistics of the whole index, so answers do not move when unrelated documents are
added.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kb.answer.reader.model import LazyReader, Reader
from kb.answer.reader.use import ReaderUse
from kb.answer.sentence_vectors import SentenceVectors
from kb.answer.sentences import (
    RERANK_FEATURES,
    AnswerModel,
    Candidate,
    candidates,
    coverage,
    sentence_features,
    stems_of,
)
from kb.embeddings import ScoreProfile
from kb.nl.text import term_match
from kb.records import Citation, Passage, Query

ANAPHORA = (
    "hierin",
    "hierbij",
    "hiervoor",
    "daarin",
    "daarbij",
    "daarvoor",
    "daarom",
    "dit ",
    "dat ",
    "deze ",
    "die ",
    "zij ",
    "ze ",
    "hij ",
    "het is",
    "ook ",
    "dan ",
    "zo ",
)
ABSTAIN_TEXT = "De kennisbank geeft geen antwoord op deze vraag."
LIST_ITEMS = 8  # a lead-in ending in ':' brings at most this many following lines


@dataclass(frozen=True)
class AnswerConfig:
    passages_considered: int = 5
    max_sentences: int = 5  # upper bound; the fitted model sets how many (AnswerModel.max_sentences)
    min_novelty: float = 0.05  # a further sentence must cover this much of the question not yet covered


def _display(quote: str) -> str:
    """Drop unbalanced typographic quote marks at the ends of an extracted sentence."""
    text = quote.strip()
    if text[:1] in "‘“'\"" and not re.search(r"[’”'\"]", text[1:]):
        text = text[1:]
    if text[-1:] in "’”'\"" and not re.search(r"[‘“'\"]", text[:-1]):
        text = text[:-1]
    return text.strip()


def cite(n: int, passage: Passage, quotes: list[tuple[str, int]]) -> Citation:
    """Citation ``n`` of ``passage``: the quoted sentences, located in the merged chunk(s) they
    come from (``quotes`` holds each quote with the index of its part of the passage)."""
    passage_parts = passage.parts or [(passage.locator, passage.text)]
    locators = list(dict.fromkeys(passage_parts[min(part, len(passage_parts) - 1)][0] for _q, part in quotes))
    return Citation(
        n=n,
        doc_id=passage.doc_id,
        title=passage.title,
        publisher=passage.publisher,
        date=passage.date,
        locator=" – ".join(locators) or passage.locator,
        quote=" ".join(q for q, _part in quotes),
        text=passage.text,
        score=passage.score,
    )


def _join_quotes(quotes: list[str]) -> str:
    """Sentences joined with spaces; a list stays a list (a line per item after a ':' lead-in)."""
    text = ""
    for quote in quotes:
        if text and (text.rstrip().endswith(":") or quote[:1] in "•-–*" or re.match(r"\d+[.)] ", quote)):
            text += "\n" + quote
        else:
            text += (" " if text else "") + quote
    return text


class ExtractiveAnswerer:
    """Builds an answer and its citations from ranked passages.

    ``profile`` is the embedding model's :class:`~kb.embeddings.ScoreProfile`: the passages'
    and sentences' similarities are read as levels on it."""

    def __init__(
        self,
        profile: ScoreProfile,
        config: AnswerConfig | None = None,
        model: AnswerModel | None = None,
        similarity: SentenceVectors | None = None,
        reader: Reader | LazyReader | None = None,
        reader_use: ReaderUse | None = None,
    ) -> None:
        self.profile = profile
        self.config = config or AnswerConfig()
        self._model = model
        self.similarity = similarity  # without it, no second stage (the passage's similarity stands in)
        # The third stage: the trained reader re-reads the most probable sentences (kb/answer/reader)
        self.reader = reader if reader_use is not None else None
        self.reader_use = reader_use if reader is not None else None

    @property
    def model(self) -> AnswerModel:
        """The fitted models, loaded on first use (so ``evals.fit_answer`` can refit after a feature change)."""
        if self._model is None:
            self._model = AnswerModel.load()
        return self._model

    @model.setter
    def model(self, model: AnswerModel) -> None:
        self._model = model

    @property
    def keep_ratio(self) -> float:
        return self.reader_use.keep_ratio if self.reader_use is not None else self.model.keep_ratio

    @property
    def abstain_below(self) -> float:
        """The answerability under which this answerer abstains (the reader's when it reads)."""
        return self.reader_use.abstain_below if self.reader_use is not None else self.model.abstain_below

    def score(self, query: Query, passages: list[Passage]) -> tuple[list[Candidate], dict[str, float]]:
        """Every candidate sentence with features and probability, and the question-level features."""
        cfg = self.config
        weights = query.coverage_weights
        considered = passages[: cfg.passages_considered]
        sentences = candidates(considered, cfg.passages_considered)
        if not sentences or not weights:
            return sentences, {}
        subject = set(weights) if query.kind == "definition" else None
        sentence_features(
            query.kind, weights, query.expansion_coverage_weights, sentences, considered, self.profile, subject
        )
        for s in sentences:
            s.probability = self.model.sentence_probability(s.features)
        best_sentence_dense = self._rerank(query, sentences)
        if best_sentence_dense is None:
            best_sentence_dense = max(s.features["dense"] for s in sentences)
        best_reader = self._read(query, sentences, considered)
        best = max(sentences, key=lambda s: s.probability)
        by_key = {(s.passage, s.position): s for s in sentences}
        best_window = 0.0
        for s in sentences:
            window = s.stems
            for d in (1, 2):
                nxt = by_key.get((s.passage, s.position + d))
                if nxt is None:
                    break
                window = window | nxt.stems
            best_window = max(best_window, s.features["coverage"], coverage(weights, window) * 0.9)
        dense = sorted((p.dense_score for p in considered if p.dense_score), reverse=True)
        found = set().union(*(s.stems for s in sentences), *(stems_of(f"{p.title} {p.section}") for p in considered))
        missing = {t: w for t, w in weights.items() if term_match(t, found) == 0.0}
        question_features = {
            "best_sentence": best.probability,
            "best_coverage": best_window,
            "dense_top": self.profile.level(dense[0]) if dense else 0.5,
            "missing_mass": sum(missing.values()) / sum(weights.values()),
            "max_missing": max(missing.values(), default=0.0),
            "best_sentence_dense": best_sentence_dense,
        }
        if best_reader is not None:
            question_features["best_reader"] = best_reader
        return sentences, question_features

    def _read(self, query: Query, sentences: list[Candidate], considered: list[Passage]) -> float | None:
        """Third stage: the reader reads the most probable sentences with the question, and a
        dev-fitted model combines its probability with the earlier one. Returns the reader's best
        probability, or None without a reader."""
        if self.reader is None or self.reader_use is None:
            return None
        use = self.reader_use
        ranked = sorted(sentences, key=lambda s: s.probability, reverse=True)
        top = ranked[: use.top]
        asked = " ".join([*query.history[-1:], query.text])  # a follow-up goes with its last question
        read = self.reader.score(asked, [(considered[s.passage].title, s.text) for s in top])
        floor = float(min(read))
        for rank, s in enumerate(ranked):
            value = float(read[rank]) if rank < len(top) else floor
            s.features["reader"] = value
            s.features["before_reader"] = s.probability
            s.probability = use.sentence(s.probability, value)
        return float(max(read))

    def _rerank(self, query: Query, sentences: list[Candidate]) -> float | None:
        """Second stage: the most probable sentences re-scored with their own similarity to the
        question. Returns the best sentence similarity (centred), or None without a second stage."""
        top_n = self.model.rerank_top
        if not top_n or self.similarity is None or not self.model.rerank_weights:
            return None
        ranked = sorted(sentences, key=lambda s: s.probability, reverse=True)
        top = ranked[:top_n]
        # A follow-up ("En als ...?") means little alone: its last earlier question goes with it.
        asked = " ".join([*query.history[-1:], query.text])
        levels = [self.profile.level(sim) for sim in self.similarity.similarities(asked, [s.text for s in top])]
        level_rank = {i: r for r, i in enumerate(sorted(range(len(top)), key=lambda i: -levels[i]))}
        floor = min(levels)
        for rank, s in enumerate(ranked):
            embedded = rank < len(top)
            s.features["sentence_dense"] = levels[rank] if embedded else floor
            s.features["dense_rank"] = 1.0 / (1 + level_rank.get(rank, len(top)))
            s.features["first_stage_rank"] = 1.0 / (1 + rank)
            s.probability = self.model.rerank_probability(
                {f: s.features[f] for f in RERANK_FEATURES if f != "first_stage"} | {"first_stage": s.probability}
            )
        return max(levels)

    def answer(
        self, query: Query, passages: list[Passage], trace: dict | None = None
    ) -> tuple[str, list[Citation], bool, float]:
        """Returns (answer text, citations, abstained, confidence); ``trace`` receives the evidence features."""
        sentences, question_features = self.score(query, passages)
        if not question_features:
            return self.abstain(passages, 0.0)
        confidence = self.confidence(question_features)
        if trace is not None:
            trace.update(question_features, p_answerable=confidence)
        if confidence < self.abstain_below:
            return self.abstain(passages, confidence)
        chosen = self._choose(query, sentences, query.coverage_weights)
        considered = passages[: self.config.passages_considered]
        return self._compose(chosen, considered, confidence)

    def confidence(self, question_features: dict[str, float]) -> float:
        """P(answerable): the fitted answerability model's, combined with the reader's best when it reads."""
        confidence = self.model.answerable_probability(question_features)
        if self.reader_use is not None and "best_reader" in question_features:
            return self.reader_use.answerable(confidence, question_features["best_reader"])
        return confidence

    def _choose(self, query: Query, sentences: list[Candidate], weights: Mapping[str, float]) -> list[Candidate]:
        """The best sentence, then the next most probable ones that add something, then their context."""
        cfg = self.config
        ranked = sorted(sentences, key=lambda s: s.probability, reverse=True)
        best = self._structural_first(query, ranked) or ranked[0]
        ranked.remove(best)
        ranked.insert(0, best)
        chosen = [best]
        covered = set(best.stems)
        for s in ranked[1:]:
            if (
                len(chosen) >= min(cfg.max_sentences, self.model.max_sentences)
                or s.probability < self.keep_ratio * best.probability
            ):
                break
            if coverage(weights, covered | s.stems) - coverage(weights, covered) >= cfg.min_novelty:
                chosen.append(s)
                covered |= s.stems
        by_key = {(s.passage, s.position): s for s in sentences}
        # An anaphoric opener ("Hierin moeten ...") needs the sentence it refers to.
        for s in list(chosen):
            if s.text.lower().startswith(ANAPHORA) and s.position > 0:
                prev = by_key.get((s.passage, s.position - 1))
                if prev is not None and prev not in chosen:
                    chosen.append(prev)
        # A lead-in ending in ':' brings its list; a list question gets the list under its heading.
        for s in list(chosen):
            if s.text.rstrip().endswith(":"):
                for d in range(1, LIST_ITEMS + 1):
                    item = by_key.get((s.passage, s.position + d))
                    if item is None or item.text.rstrip().endswith(":"):
                        break
                    if item not in chosen:
                        chosen.append(item)
        # A definition or a one-line answer reads better with the sentence after it.
        if query.kind == "definition" or sum(len(s.text) for s in chosen) < 120:
            nxt = by_key.get((best.passage, best.position + 1))
            if nxt is not None and nxt not in chosen and not nxt.text.rstrip().endswith(":"):
                chosen.append(nxt)
        # The answering sentence's passage first; within a passage, reading order.
        order = [best.passage, *dict.fromkeys(s.passage for s in sorted(chosen, key=lambda s: -s.probability))]
        order = list(dict.fromkeys(order))
        return sorted(chosen, key=lambda s: (order.index(s.passage), s.position))

    def _structural_first(self, query: Query, ranked: list[Candidate]) -> Candidate | None:
        """What the question's form asks for, when the sources have it (a product rule, not a fitted one):
        "Wat is X?" — the definition a document gives of X (its Begrippenlijst or "Een X is ...");
        "Welke ...?" — a lead-in ending in ':' that announces the list, when it is nearly as
        probable as the best sentence (it then brings its items)."""
        definition = query.definition  # set for a definition question whose term a document or the lexicon defines
        if query.kind == "definition" and definition:
            for s in ranked:
                if s.text == definition or definition.startswith(s.text):
                    return s
        if query.kind == "list":
            lead_ins = [s for s in ranked[:10] if s.text.rstrip().endswith(":")]
            if lead_ins and lead_ins[0].probability >= self.keep_ratio * ranked[0].probability:
                return lead_ins[0]
        return None

    def _compose(self, chosen: list[Candidate], passages: list[Passage], confidence: float):
        order: list[int] = []
        for s in chosen:
            if s.passage not in order:
                order.append(s.passage)
        citations: list[Citation] = []
        parts: list[str] = []
        for n, p_index in enumerate(order, start=1):
            mine = [s for s in chosen if s.passage == p_index]
            citations.append(cite(n, passages[p_index], [(s.text, s.part) for s in mine]))
            parts.append(f"{_display(_join_quotes([s.text for s in mine]))} [{n}]")
        return " ".join(parts), citations, False, confidence

    def abstain(self, passages: list[Passage], confidence: float):
        closest = list(dict.fromkeys((p.title, p.publisher) for p in passages[:5]))[:3]
        if closest:
            names = "; ".join(f"‘{title}’ ({publisher})" if publisher else f"‘{title}’" for title, publisher in closest)
            text = (
                f"{ABSTAIN_TEXT} De bronnen bevatten hier geen duidelijk antwoord op, dus ik ga niet gissen. "
                f"Het dichtst in de buurt komen: {names}."
            )
        else:
            text = f"{ABSTAIN_TEXT} Er zijn nog geen documenten geïndexeerd (of geen binnen de gekozen filters)."
        return text, [], True, confidence

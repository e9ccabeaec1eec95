"""The answerer's second stage: sentences re-scored by their own e5 similarity to the question."""

from dataclasses import replace

import pytest

from kb.answer.extractive import ExtractiveAnswerer
from kb.answer.sentence_vectors import SentenceVectors
from kb.answer.sentences import AnswerModel
from kb.embeddings import E5_MODEL_ID, PROFILES
from kb.records import Passage
from kb.search.query import analyse_query

E5_PROFILE = PROFILES[E5_MODEL_ID]


class CountingEmbedding:
    """Wraps the real e5 model and counts the sentences it embeds."""

    def __init__(self, inner):
        self.inner = inner
        self.embedded: list[str] = []

    def get_query_embedding(self, text):
        return self.inner.get_query_embedding(text)

    def get_text_embedding_batch(self, texts):
        self.embedded.extend(texts)
        return self.inner.get_text_embedding_batch(texts)

    def get_text_embedding(self, text):
        self.embedded.append(text)
        return self.inner.get_text_embedding(text)


def test_similarity_prefers_the_answering_sentence_and_embeds_each_sentence_once(e5):
    counting = CountingEmbedding(e5[0])
    similarity = SentenceVectors(counting, cache_size=10)
    question = "Krijgt iemand nog zakgeld als hij bij familie logeert?"
    sentences = [
        "Tijdens het logeren blijft het recht op weekgeld en medische zorg bestaan.",
        "De gemeente organiseert een introductiedag met een rondleiding door de stad.",
    ]
    first = similarity.similarities(question, sentences)
    assert first[0] > first[1]
    again = similarity.similarities(question, [*sentences, sentences[0]])
    assert again == pytest.approx([*first, first[0]])
    assert counting.embedded == sentences, "cached vectors are not embedded again"


def test_cache_smaller_than_a_batch_still_scores_every_sentence(e5):
    similarity = SentenceVectors(e5[0], cache_size=1)
    scores = similarity.similarities("weekgeld", ["Het weekgeld blijft.", "Een fotoalbum van de stad.", "Weekgeld."])
    assert len(scores) == 3 and all(-1.0 <= s <= 1.0 for s in scores)


def _passage(text: str, rank: int) -> Passage:
    return Passage(
        chunk_ids=[f"c{rank}"], doc_id=f"d{rank}", title="Logeerregeling", publisher="COA", date="",
        kind="webpagina", locator="p. 1", text=text, score=1.0 - rank / 10, dense_score=0.85,
    )  # fmt: skip


def test_rerank_keeps_unembedded_sentences_below_embedded_ones(e5):
    model = AnswerModel.load()
    assert model.rerank_top > 0 and all(w > 0 for w in model.rerank_weights), "fitted second stage"
    similarity = SentenceVectors(e5[0])
    question = "Krijgt iemand nog weekgeld als hij bij familie logeert?"
    passages = [
        _passage(
            "Statushouders mogen logeren bij familie. Het weekgeld van het COA loopt door. "
            "Ook de medische zorg blijft geregeld. De bus naar het azc rijdt elk uur.",
            0,
        )
    ]
    query = analyse_query(question)
    first_stage, _ = ExtractiveAnswerer(E5_PROFILE, model=replace(model, rerank_top=0)).score(query, passages)
    top_two = {s.text for s in sorted(first_stage, key=lambda s: s.probability, reverse=True)[:2]}
    reranking = ExtractiveAnswerer(E5_PROFILE, model=replace(model, rerank_top=2), similarity=similarity)
    sentences, features = reranking.score(query, passages)
    embedded = [s for s in sentences if s.text in top_two]
    others = [s for s in sentences if s.text not in top_two]
    assert len(embedded) == 2 and others
    assert min(s.probability for s in embedded) >= max(s.probability for s in others)
    assert features["best_sentence_dense"] == max(s.features["sentence_dense"] for s in embedded)

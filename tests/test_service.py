"""build_kb and ask_stream over the real e5 model, real Chroma and the sample corpus; the
language model, where there is one, is the FAKE server of tests/fakes.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kb.answer.llm.generate import NOTICE_UNAVAILABLE
from kb.errors import QuestionError
from kb.records import Answer, Answered, DraftDelta, Retrieved
from kb.service import KnowledgeBase, build_kb
from tests.fakes import fake_server

MAP_Q = "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?"
MAP_FACT = "Gezinsmigranten moeten minimaal veertig uur werkervaring opdoen in een taalrijke omgeving"


def generating(sample_kb: KnowledgeBase, llm) -> KnowledgeBase:
    """``sample_kb``'s store and retriever with the fake model writing the answers."""
    settings = sample_kb.settings.with_(llm_retries=0)
    return build_kb(
        settings, embedding=sample_kb.embedding, store=sample_kb.store, retriever=sample_kb.retriever, llm=llm
    )


def untimed(answer: Answer) -> Answer:
    """The answer without what differs between two runs of the same question: the clock."""
    return replace(answer, latency_ms=0.0, timings={})


def map_source(kb: KnowledgeBase) -> int:
    """The [n] under which the passage with the MAP fact is given to the model."""
    retrieved = next(kb.ask_stream(MAP_Q))
    assert isinstance(retrieved, Retrieved)
    sources = retrieved.passages[: kb.settings.llm_sources]
    return next(n for n, p in enumerate(sources, 1) if "veertig uur werkervaring" in " ".join(p.text.split()))


@pytest.mark.slow
def test_extractive_stream_is_retrieved_then_answered_and_ask_is_its_last_event(sample_kb):
    events = list(sample_kb.ask_stream(MAP_Q))
    assert [type(e) for e in events] == [Retrieved, Answered]
    retrieved, answered = events
    assert answered.answer.retrieved == retrieved.passages and retrieved.standalone_question == ""
    assert answered.answer.mode == "extractive" and "veertig uur" in answered.answer.text
    assert untimed(sample_kb.ask(MAP_Q)) == untimed(answered.answer)


@pytest.mark.slow
def test_generated_stream_sends_growing_drafts_between_retrieval_and_the_verified_answer(sample_kb):
    llm = fake_server()
    kb = generating(sample_kb, llm)
    n = map_source(kb)
    llm.answer = f"{MAP_FACT} [{n}]. Het COA betaalt de reiskosten naar Zaandam [{n}]. {MAP_FACT} [{n}]."
    retrieved, *drafts, answered = list(kb.ask_stream(MAP_Q))
    assert isinstance(retrieved, Retrieved) and isinstance(answered, Answered)
    assert len(drafts) > 5 and all(isinstance(d, DraftDelta) for d in drafts)
    assert all(later.draft == earlier.draft + later.delta for earlier, later in zip(drafts, drafts[1:]))
    assert drafts[0].draft == drafts[0].delta and drafts[-1].draft.startswith(MAP_FACT)
    assert "Zaandam" in drafts[-1].draft  # the draft is the model's text, not yet checked ...
    answer = answered.answer
    assert answer.mode == "llm" and "Zaandam" not in answer.text  # ... the answer is
    assert answer.retrieved == retrieved.passages
    assert untimed(kb.ask(MAP_Q)) == untimed(answer)


@pytest.mark.slow
def test_a_model_that_is_down_sends_no_drafts_and_the_extractive_answer(sample_kb):
    kb = generating(sample_kb, fake_server(fail=ConnectionError("refused")))
    events = list(kb.ask_stream(MAP_Q))
    assert [type(e) for e in events] == [Retrieved, Answered]
    answer = events[-1].answer
    assert answer.mode == "llm-fallback" and answer.notice == NOTICE_UNAVAILABLE
    assert answer.text == sample_kb.ask(MAP_Q).text


@pytest.mark.slow
def test_bad_questions_are_refused_before_the_first_event(sample_kb):
    stream = sample_kb.ask_stream("   ")  # nothing happens until the first event is asked for
    with pytest.raises(QuestionError, match="Stel een vraag"):
        next(stream)
    with pytest.raises(QuestionError, match="Onbekend filter"):
        sample_kb.ask(MAP_Q, filters={"kleur": "blauw"})


@pytest.mark.slow
def test_build_kb_overrides_replace_one_part_each(sample_kb, e5):
    heavier = build_kb(
        sample_kb.settings,
        embedding=sample_kb.embedding,
        store=sample_kb.store,
        retriever_options={"lexical_weight": 2},
    )
    assert heavier.store is sample_kb.store and heavier.retriever is not sample_kb.retriever
    assert heavier.retriever.config.lexical_weight == 2 and heavier.mode == "extractive"
    assert heavier.retriever.config.index_compounds == sample_kb.retriever.config.index_compounds  # the rest fitted
    assert [d.doc_id for d in heavier.documents()] == [d.doc_id for d in sample_kb.documents()]
    with pytest.raises(ValueError, match="not both"):
        build_kb(sample_kb.settings, store=sample_kb.store, retriever=sample_kb.retriever, retriever_options={"a": 1})
    with pytest.raises(ValueError, match="vectors"):
        build_kb(sample_kb.settings, embedding=(e5[0], "st:other-model"), store=sample_kb.store)


@pytest.mark.slow
def test_open_is_build_kb(settings, e5):
    """``KnowledgeBase.open`` stays for callers written before ``build_kb``."""
    opened = KnowledgeBase.open(settings, e5)
    assert isinstance(opened, KnowledgeBase) and opened.mode == "extractive"
    assert opened.embedding == (e5[0], e5[1]) and opened.documents() == []

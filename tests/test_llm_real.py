"""Generated answers with a REAL model: Gemma 3 270M (from PyPI) behind llama-cpp-python's
OpenAI-compatible server, reached through llama-index's OpenAILike client — the same path as
``KB_LLM=openai-compatible``. The model is tiny and a base model: its answers are poor, which
is exactly what the verifier must cope with. Asserts are on behaviour, not on wording."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole

from kb.records import DraftDelta
from kb.service import KnowledgeBase, build_kb
from tests.conftest import local_llm_settings

pytestmark = pytest.mark.slow

MAP_Q = "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?"
FALSE_CLAIM = "Het COA betaalt alle reiskosten van statushouders naar de taalschool in Zaandam"


def real_kb(sample_kb: KnowledgeBase, base_url: str, **changes: Any) -> KnowledgeBase:
    settings = local_llm_settings(sample_kb.settings, base_url).with_(**changes)
    return build_kb(settings, embedding=sample_kb.embedding, store=sample_kb.store, retriever=sample_kb.retriever)


def check_invariants(answer) -> None:
    """What must hold whatever the model wrote."""
    assert answer.mode in ("llm", "llm-fallback")
    numbers = {c.n for c in answer.citations}
    assert numbers == set(range(1, len(answer.citations) + 1))
    for claim in answer.claims:
        if answer.mode == "llm-fallback":  # nothing the model wrote is shown
            assert not claim.citations
        elif claim.kept:
            assert claim.citations and set(claim.citations) <= numbers, claim
            assert claim.text in answer.text
        else:
            assert not claim.citations and claim.reason and claim.text not in answer.text
    for citation in answer.citations:
        passage = " ".join(citation.text.split())
        assert citation.quote[:40] in passage, citation.quote


def test_real_model_streams_through_the_openai_compatible_client(sample_kb, local_llm_url):
    kb = real_kb(sample_kb, local_llm_url)
    deltas = [
        chunk.delta
        for chunk in kb.generator.llm.stream_chat([ChatMessage(role=MessageRole.USER, content="Wat is inburgering?")])
    ]
    assert len([d for d in deltas if d]) > 3


def test_real_model_answer_is_verified_sentence_by_sentence(sample_kb, local_llm_url):
    kb = real_kb(sample_kb, local_llm_url)
    events = list(kb.ask_stream(MAP_Q))
    seen = [e.draft for e in events if isinstance(e, DraftDelta)]
    answer = events[-1].answer
    assert len(seen) > 3 and all(b.startswith(a) for a, b in zip(seen, seen[1:]))  # streamed
    check_invariants(answer)
    if answer.mode == "llm-fallback":  # the extractive answer, with the note saying why
        assert answer.notice and answer.text == sample_kb.ask(MAP_Q).text


class InjectingModel:
    """Wraps the REAL model's client and appends one false, cited sentence to its stream:
    the injected citation must be caught whatever the model itself wrote."""

    def __init__(self, llm, sentence: str) -> None:
        self.llm, self.sentence = llm, sentence

    def stream_chat(self, messages, **kwargs):
        yield from self.llm.stream_chat(messages, **kwargs)
        yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=""), delta=f"\n{self.sentence}")

    def __getattr__(self, name: str):
        return getattr(self.llm, name)


def test_injected_false_citation_in_a_real_answer_is_caught(sample_kb, local_llm_url):
    kb = real_kb(sample_kb, local_llm_url)
    kb.generator.llm = InjectingModel(kb.generator.llm, f"{FALSE_CLAIM} [1].")
    answer = kb.ask(MAP_Q)
    check_invariants(answer)
    injected = [c for c in answer.claims if c.text.startswith(FALSE_CLAIM)]
    assert injected and injected[0].cited == (1,), answer.claims
    assert not injected[0].kept and injected[0].status == "unsupported"
    assert "Zaandam" not in answer.text


def test_real_model_condenses_a_follow_up_or_falls_back_to_history(sample_kb, local_llm_url):
    kb = real_kb(sample_kb, local_llm_url)
    question, history = "En hoeveel uur moet dat zijn?", ["Wat is de MAP voor gezinsmigranten?"]
    condensed = kb.generator.condense(question, history)
    assert condensed is None or 3 <= len(condensed) <= 300
    answer = kb.ask(question, history=history)
    check_invariants(answer)
    assert answer.standalone_question == "" or 3 <= len(answer.standalone_question) <= 300

"""Generated answers (issue 6) with a FAKE model server (tests/fakes.py) in front of the real
e5 model, real Chroma and the real sample corpus: what the verifier keeps, drops and reports.
The real small model is driven in tests/test_llm_real.py."""

from __future__ import annotations

import pytest

from kb.answer.llm.backends import describe, is_retryable, load_llm
from kb.answer.llm.claims import split_draft
from kb.answer.llm.generate import NOTICE_UNAVAILABLE, NOTICE_UNSUPPORTED, clean_condensed
from kb.answer.llm.prompts import NOT_FOUND, says_not_found
from kb.answer.llm.verify import numbers_in
from kb.config import Settings
from kb.errors import ConfigError
from kb.search.query import analyse_query
from kb.service import KnowledgeBase, build_kb
from tests.fakes import fake_server

MAP_Q = "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?"
MAP_FACT = "Gezinsmigranten moeten minimaal veertig uur werkervaring opdoen in een taalrijke omgeving"


def with_llm(sample_kb: KnowledgeBase, llm, **changes) -> KnowledgeBase:
    settings = sample_kb.settings.with_(llm_retries=0, **changes)
    return build_kb(
        settings, embedding=sample_kb.embedding, store=sample_kb.store, retriever=sample_kb.retriever, llm=llm
    )


def source_number(kb: KnowledgeBase, question: str, doc_id: str, needle: str) -> int:
    """The [n] under which the passage containing ``needle`` is given to the model."""
    query = analyse_query(question, (), kb.retriever.lexicon)
    passages = kb.retriever.retrieve(query, kb.settings.top_k, {})[: kb.settings.llm_sources]
    for n, passage in enumerate(passages, start=1):
        if passage.doc_id == doc_id and needle in " ".join(passage.text.split()):
            return n
    raise AssertionError(f"no source holds {needle!r}")


# -- parsing and small rules ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Eerste zin [1]. Tweede zin. [2][3]", [("Eerste zin.", (1,)), ("Tweede zin.", (2, 3))]),
        ("- Punt een (bron 2)\n- Punt twee [1, 3]", [("Punt een", (2,)), ("Punt twee", (1, 3))]),
        ("Antwoord: **Zie** [1-3].", [("Zie.", (1, 2, 3))]),
        ("Zonder bron.", [("Zonder bron.", ())]),
        ("Zie [Bron: 2] en [^1] en [3: p. 4].", [("Zie en en.", (2, 1, 3))]),
        ("De wet (2021) noemt (3) punten [1].", [("De wet (2021) noemt (3) punten.", (1,))]),  # not citations
        ("Raar [1,,2] en [zie 7b].", [("Raar en.", (1, 2))]),  # no bracketed number left in the text
    ],
)
def test_split_draft_reads_markers_as_numbers(raw, expected):
    assert [(s.text, s.cited) for s in split_draft(raw)] == expected


def test_numbers_digits_and_dutch_words():
    assert numbers_in("minimaal veertig uur en 3 maanden, € 1.200 of 2,5%") == {40.0, 3.0, 1200.0, 2.5}
    assert numbers_in("€ 1.250,50") == {1250.5} and numbers_in("€ 1.350,50") != numbers_in("€ 1.250,50")
    assert not numbers_in("vijfentwintig weken") <= numbers_in("zesentwintig weken")
    assert not numbers_in("op 12.5.2022") <= numbers_in("op 13.5.2022")
    assert numbers_in("een gesprek met de klant") == set()  # 'een' is an article, not a number


def test_not_found_sentence_and_condense_cleanup():
    assert says_not_found(NOT_FOUND) and says_not_found("“De bronnen bevatten geen antwoord op deze vraag.”")
    assert not says_not_found("De bronnen noemen veertig uur [1].")
    assert clean_condensed("Zelfstandige vraag: Hoeveel uur telt de MAP?\nUitleg: ...", "En de MAP?") == (
        "Hoeveel uur telt de MAP?"
    )
    assert clean_condensed("   \n", "En de MAP?") is None
    assert clean_condensed("x" * 900, "En de MAP?") is None
    # regression: the tiny model echoed the prompt's first line and it was taken as the question
    echo = "Hieronder staan eerdere vragen uit een gesprek en een vervolgvraag."
    assert clean_condensed(echo, "En hoeveel uur?", ["Wat is de MAP?"]) is None
    assert clean_condensed("Wat is de hoofdstad van Frankrijk?", "En hoeveel uur?", ["Wat is de MAP?"]) is None
    assert (
        clean_condensed("Hoeveel uur telt de MAP?", "En hoeveel uur?", ["Wat is de MAP?"]) == "Hoeveel uur telt de MAP?"
    )
    assert clean_condensed("- Wat is de MAP?", "En hoeveel uur?", ["Wat is de MAP?"]) is None  # echoed history


def test_llm_settings_are_checked():
    assert load_llm(Settings()) is None  # off by default
    with pytest.raises(ConfigError, match="KB_LLM_MODEL"):
        load_llm(Settings(llm="openai-compatible", llm_base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(ConfigError, match="KB_LLM_BASE_URL"):
        load_llm(Settings(llm="openai-compatible", llm_model="m"))
    with pytest.raises(ConfigError, match="KB_LLM"):
        Settings.from_env({"KB_LLM": "gpt"})
    settings = Settings.from_env({"KB_LLM": "ollama", "KB_LLM_MODEL": "gemma3", "KB_LLM_API_KEY": "geheim"})
    assert load_llm(settings).base_url == "http://127.0.0.1:11434"
    assert "geheim" not in repr(settings)


def test_start_up_line_warns_when_questions_leave_the_machine():
    assert "geen taalmodel" in describe(Settings())
    local = Settings(llm="ollama", llm_model="gemma3")
    assert "127.0.0.1:11434" in describe(local) and "AVG" not in describe(local)
    remote = Settings(
        llm="openai-compatible", llm_model="m", llm_base_url="https://llm.example.eu/v1", llm_api_key="geheim-123"
    )
    assert "verwerkersovereenkomst (AVG)" in describe(remote) and "geheim-123" not in describe(remote)
    with_password = Settings(llm="openai-compatible", llm_model="m", llm_base_url="https://u:s3cret@llm.example.eu/v1")
    assert "s3cret" not in describe(with_password) and "llm.example.eu" in describe(with_password)


def test_retry_only_what_can_recover():
    class APIConnectionError(Exception): ...

    class BadRequestError(Exception): ...

    class APITimeoutError(APIConnectionError): ...

    assert is_retryable(APIConnectionError()) and is_retryable(ConnectionResetError())
    assert not is_retryable(BadRequestError())
    assert not is_retryable(APITimeoutError()) and not is_retryable(TimeoutError())  # no multiplied waits


# -- the generator over the real sample index ----------------------------------------------
@pytest.mark.slow
def test_supported_answer_keeps_every_sentence_with_verified_citations(sample_kb):
    llm = fake_server()
    kb = with_llm(sample_kb, llm)
    n = source_number(kb, MAP_Q, "cop-klantmanagers-gezinsmigranten", "veertig uur werkervaring")
    llm.answer = f"{MAP_FACT} [{n}]. Dat is werkervaring in een taalrijke omgeving, zoals een werkplek [{n}]."
    answer = kb.ask(MAP_Q)
    assert answer.mode == "llm" and not answer.abstained and not answer.notice
    assert [c.status for c in answer.claims] == ["supported", "supported"]
    assert answer.text.startswith(MAP_FACT) and "[1]" in answer.text  # renumbered from n to 1
    assert [c.n for c in answer.citations] == [1]
    citation = answer.citations[0]
    assert citation.doc_id == "cop-klantmanagers-gezinsmigranten"
    assert "veertig uur" in citation.quote and citation.quote.split(". ")[0] in " ".join(citation.text.split())
    assert "[" not in answer.claims[0].text  # citations are data, not prose
    prompt = llm.prompts[-1]
    assert "Vraag: " + MAP_Q in prompt and f"[{n}]" in prompt and "uitsluitend" in prompt


@pytest.mark.slow
def test_injected_false_citation_is_caught_and_dropped(sample_kb):
    llm = fake_server()
    kb = with_llm(sample_kb, llm)
    n = source_number(kb, MAP_Q, "cop-klantmanagers-gezinsmigranten", "veertig uur werkervaring")
    false_claims = [
        "Het COA betaalt de reiskosten naar de opstartklas voor statushouders in Zaandam",  # other document
        "Gezinsmigranten moeten minimaal zestig uur werkervaring opdoen",  # changed figure
    ]
    true_claims = [MAP_FACT, "Het gaat om werkervaring in een taalrijke omgeving"]
    llm.answer = " ".join(f"{c} [{n}]." for c in [*true_claims, *false_claims])
    answer = kb.ask(MAP_Q)
    assert answer.mode == "llm"
    statuses = {c.text.rstrip("."): c.status for c in answer.claims}
    assert all(statuses[c] == "supported" for c in true_claims), statuses
    assert all(statuses[c] == "unsupported" for c in false_claims), statuses
    assert "Zaandam" not in answer.text and "zestig" not in answer.text
    assert answer.notice.startswith("2 zinnen") and "weggelaten" in answer.notice
    dropped = [c for c in answer.claims if not c.kept]
    assert all(c.reason and not c.citations for c in dropped)


@pytest.mark.slow
def test_reference_to_a_source_that_was_not_given_is_dropped(sample_kb):
    kb = with_llm(sample_kb, fake_server())
    n = source_number(kb, MAP_Q, "cop-klantmanagers-gezinsmigranten", "veertig uur werkervaring")
    kb.generator.llm.answer = f"{MAP_FACT} [{n}]. {MAP_FACT} in de gemeente [9]."
    answer = kb.ask(MAP_Q)
    assert [c.status for c in answer.claims] == ["supported", "bad-reference"]
    assert "[9]" not in answer.text


@pytest.mark.slow
def test_mostly_invented_answer_falls_back_to_the_extractive_one(sample_kb):
    llm = fake_server(
        "Gezinsmigranten krijgen kinderbijslag van de SVB [1]. De bijstandsnorm is 1.100 euro per maand [2]. "
        "DUO rekent geen rente over de lening [3]."
    )
    answer = with_llm(sample_kb, llm).ask(MAP_Q)
    extractive = sample_kb.ask(MAP_Q)
    assert answer.mode == "llm-fallback" and answer.notice == NOTICE_UNSUPPORTED
    assert answer.text == extractive.text and answer.citations == extractive.citations
    assert len(answer.claims) == 3 and not any(c.kept for c in answer.claims)
    assert all(not c.citations for c in answer.claims)  # nothing of the model's is shown


@pytest.mark.slow
def test_not_in_the_sources_abstains(sample_kb):
    answer = with_llm(sample_kb, fake_server(NOT_FOUND)).ask("Hoe hoog is de kinderbijslag voor drie kinderen?")
    assert answer.abstained and answer.mode == "llm" and not answer.citations
    assert "geen antwoord" in answer.text


@pytest.mark.slow
def test_unreachable_server_falls_back_quickly(sample_kb):
    """A real OpenAI-compatible client pointed at a closed port: the extractive answer, with a note."""
    settings = sample_kb.settings.with_(
        llm="openai-compatible", llm_base_url="http://127.0.0.1:9/v1", llm_model="m", llm_timeout=5.0, llm_retries=1
    )
    kb = build_kb(settings, embedding=sample_kb.embedding, store=sample_kb.store, retriever=sample_kb.retriever)
    answer = kb.ask(MAP_Q)
    assert answer.mode == "llm-fallback" and answer.notice == NOTICE_UNAVAILABLE
    assert answer.text == sample_kb.ask(MAP_Q).text
    assert answer.latency_ms < 5000


@pytest.mark.slow
def test_follow_up_is_condensed_before_retrieval(sample_kb):
    llm = fake_server(condensed="Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?")
    kb = with_llm(sample_kb, llm)
    n = source_number(kb, MAP_Q, "cop-klantmanagers-gezinsmigranten", "veertig uur werkervaring")
    llm.answer = f"{MAP_FACT} [{n}]."
    answer = kb.ask("En hoeveel uur moet dat zijn?", history=["Wat is de MAP voor gezinsmigranten?"])
    assert answer.standalone_question == MAP_Q
    assert "Vervolgvraag: En hoeveel uur moet dat zijn?" in llm.prompts[0]
    assert "Vraag: " + MAP_Q in llm.prompts[1]
    assert answer.mode == "llm" and answer.citations[0].doc_id == "cop-klantmanagers-gezinsmigranten"


@pytest.mark.slow
def test_unusable_condense_keeps_the_history_path(sample_kb):
    llm = fake_server(condensed="", answer=NOT_FOUND)
    answer = with_llm(sample_kb, llm).ask("En hoeveel uur moet dat zijn?", history=["Wat is de MAP?"])
    assert answer.standalone_question == ""
    assert "Eerdere vragen in dit gesprek:\n- Wat is de MAP?" in llm.prompts[-1]  # the model sees the history
    plain = sample_kb.ask("En hoeveel uur moet dat zijn?", history=["Wat is de MAP?"])
    assert [p.chunk_ids for p in answer.retrieved] == [p.chunk_ids for p in plain.retrieved]


@pytest.mark.slow
def test_without_llm_nothing_changes(sample_kb):
    assert sample_kb.generator is None and sample_kb.mode == "extractive"
    answer = sample_kb.ask(MAP_Q)
    assert answer.mode == "extractive" and answer.claims == [] and answer.notice == ""
    assert "veertig uur" in answer.text


@pytest.mark.slow
def test_a_cited_source_that_names_another_actor_is_not_kept_as_citation(sample_kb):
    """Regression (review): with [1][2], a source saying the COA pays stayed cited for 'de gemeente betaalt'."""
    from kb.answer.llm.claims import split_draft
    from kb.answer.llm.generate import GenerativeAnswerer
    from kb.answer.llm.verify import CitationVerifier
    from kb.records import Passage

    def passage(doc_id: str, text: str) -> Passage:
        return Passage([f"{doc_id}::0"], doc_id, doc_id, "Divosa", "2023", "verslag", "§ 1", text, 1.0)

    sources = [
        passage("a", "De gemeente betaalt de reiskosten naar de opstartklas. Dat regelt de teammanager intern."),
        passage("b", "Het COA betaalt de reiskosten naar de opstartklas niet. Daar is geen budget voor."),
    ]
    generator = GenerativeAnswerer(None, CitationVerifier(sample_kb.embed_model), sample_kb.answerer)
    claims, supports = generator.verify(
        split_draft("De gemeente betaalt de reiskosten naar de opstartklas [1][2]."), sources
    )
    assert claims[0].kept and list(supports[0]) == [0]

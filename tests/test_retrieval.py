"""One question analysed once; retrievers composed behind one protocol; fitted values read from data files."""

from __future__ import annotations

import ast
import json

import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding

from evals.paths import EVALS_DIR
from evals.textbook import Fusion, Mode, TextbookRetriever
from kb.answer.llm.verify import VerifyConfig
from kb.embeddings import E5_MODEL_ID, PROFILES, ScoreProfile, calibrate, score_profile
from kb.errors import ConfigError
from kb.search.defaults import RetrievalConfig, fitted_options, split_question_compounds
from kb.search.lexicon import Lexicon
from kb.search.protocol import Retriever
from kb.search.query import HISTORY_WEIGHT, analyse_query

MAP_Q = "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?"


# -- the Query -------------------------------------------------------------------------------
def test_a_follow_up_is_analysed_with_its_earlier_questions():
    query = analyse_query("En in Zaandam?", ["Wie betaalt de reiskosten naar de opstartklas?"])
    assert query.search_text == "Wie betaalt de reiskosten naar de opstartklas? En in Zaandam?"
    assert query.history == ("Wie betaalt de reiskosten naar de opstartklas?",)
    assert "opstartklas" in query.keyword_weights and "zaandam" in query.keyword_weights
    own, earlier = query.coverage_weights["zaandam"], query.coverage_weights["opstartklas"]
    assert earlier == pytest.approx(HISTORY_WEIGHT * analyse_query("opstartklas").coverage_weights["opstartklas"])
    assert own > earlier
    with pytest.raises(TypeError):
        query.keyword_weights["de"] = 1.0  # type: ignore[index]  # read-only: every stage sees the same weights


def test_the_two_weightings_are_on_their_own_scales():
    """Keyword weights (8 − zipf) and coverage weights (0.15 + rarity) rank words alike but differ in scale."""
    query = analyse_query("Wie betaalt de reiskosten naar de opstartklas?")
    assert set(query.keyword_weights) == set(query.coverage_weights) == {"betaalt", "reiskost", "opstartklas"}
    assert query.keyword_weights["opstartklas"] == 8.0 and query.coverage_weights["opstartklas"] == 1.15
    assert query.keyword_weights["betaalt"] < query.keyword_weights["reiskost"]
    assert query.coverage_weights["betaalt"] < query.coverage_weights["reiskost"]


def test_the_lexicon_gives_other_names_and_the_definition_of_what_is_asked():
    lexicon = Lexicon.build()
    asked = analyse_query("Wat is de MAP?", (), lexicon)
    assert asked.kind == "definition" and asked.definition  # the curated definition
    assert {"modul", "arbeidsmarkt", "participatie"} <= set(asked.expansion_keyword_weights)
    assert set(asked.expansion_keyword_weights) == set(asked.expansion_coverage_weights)
    plain = analyse_query("Wat is de MAP?")
    assert not plain.expansion_keyword_weights and not plain.definition  # without a lexicon, neither
    assert analyse_query(MAP_Q, (), lexicon).definition == ""  # not a definition question


@pytest.mark.slow
def test_a_question_is_analysed_once_per_answer(sample_kb, monkeypatch):
    """Regression: question_kind ran five times per question (retriever, answerer, features, choice, form)."""
    import kb.search.query

    calls = []
    original = kb.search.query.question_kind
    monkeypatch.setattr(kb.search.query, "question_kind", lambda text: calls.append(text) or original(text))
    answer = sample_kb.ask(MAP_Q)
    assert calls == [MAP_Q] and not answer.abstained


# -- retrievers ------------------------------------------------------------------------------
def test_modes_are_named_and_an_unknown_name_says_what_to_choose():
    assert Mode("bm25") is Mode.BM25 and Fusion("rrf") is Fusion.RRF
    with pytest.raises(ValueError, match=r"Unknown mode 'bm-25'\. Choose one of: bm25, dense, hybrid\."):
        Mode("bm-25")
    with pytest.raises(ValueError, match=r"Unknown fusion 'plain'\. Choose one of: relative, rrf\."):
        Fusion("plain")


@pytest.mark.slow
def test_ours_and_the_textbook_baseline_are_retrievers_over_the_same_store(sample_kb):
    from kb.service import build_kb

    baseline = TextbookRetriever(sample_kb.store, sample_kb.embed_model, "bm25")
    assert isinstance(sample_kb.retriever, Retriever) and isinstance(baseline, Retriever)
    kb = build_kb(sample_kb.settings, embedding=sample_kb.embedding, store=sample_kb.store, retriever=baseline)
    passages = kb.retriever.retrieve(analyse_query(MAP_Q), 10, {})
    assert passages and any("veertig uur" in p.text for p in passages[:5])
    assert baseline.lexicon.find("Wat is de MAP?") == []  # none of our additions
    assert kb.ask(MAP_Q).retrieved[0].chunk_ids == passages[0].chunk_ids
    assert baseline.filter_values()["doc_id"] == sample_kb.retriever.filter_values()["doc_id"]


# -- the embedding model's score profile ---------------------------------------------------------
class ConstantEmbedding(BaseEmbedding):
    """A broken embedding model made up for this test: every text gets the same vector."""

    def _get_query_embedding(self, query: str) -> list[float]:
        return [1.0, 0.0, 0.0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return [1.0, 0.0, 0.0]


def test_a_model_that_cannot_tell_related_text_apart_is_refused():
    with pytest.raises(ConfigError, match="Kies een ander model voor KB_EMBEDDING"):
        score_profile("st:constant", ConstantEmbedding(model_name="constant"))


def test_the_level_is_the_similarity_on_the_profiles_scale():
    profile = ScoreProfile(unrelated=0.4, span=0.2)
    assert profile.level(0.4) == 0.0 and profile.level(0.6) == pytest.approx(1.0)


@pytest.mark.slow
def test_e5_has_its_profile_and_other_models_are_measured_not_given_e5s(e5):
    model, model_id = e5
    assert score_profile(model_id, model) is PROFILES[E5_MODEL_ID] == ScoreProfile(0.80, 0.10)
    measured = calibrate(model)  # the measurement agrees with e5's fixed profile
    assert measured.source == "calibrated"
    assert measured.unrelated == pytest.approx(0.80, abs=0.03) and measured.span == pytest.approx(0.10, abs=0.03)
    other = score_profile("st:not-profiled", model)
    assert other.source == "calibrated" and other == measured


# -- fitted values are data ---------------------------------------------------------------------
def test_the_retrieval_defaults_are_the_tuning_runs_choice():
    """kb/data/retrieval.json holds what evals/tuning/retrieval-dev.txt chose (nothing copied into code)."""
    best = (EVALS_DIR / "tuning" / "retrieval-dev.txt").read_text(encoding="utf-8").strip().splitlines()[-1]
    chosen = ast.literal_eval(best[best.index("{") : best.index("}") + 1])
    assert fitted_options() == chosen
    config = RetrievalConfig.load()
    assert (config.index_compounds, config.expansion_weight, config.lexical_weight, config.dense_weight) == (
        chosen["index_compounds"],
        chosen["expansion_weight"],
        chosen["lexical_weight"],
        1.0,
    )
    assert split_question_compounds() is chosen["query_compounds"]


def test_the_tuning_script_writes_what_the_retriever_loads(tmp_path):
    from evals.tune_retrieval import fitted_file

    options = {"index_compounds": False, "query_compounds": True, "expansion_weight": 0.0, "lexical_weight": 2.0}
    path = tmp_path / "retrieval.json"
    path.write_text(json.dumps(fitted_file(options, {"sample": (0.9, 0.8), "grown": (0.8, 0.7)})), encoding="utf-8")
    assert RetrievalConfig.load(path) == RetrievalConfig(False, 0.0, 2.0)
    assert split_question_compounds(path) is True


def test_the_verifier_coefficients_are_read_from_the_calibration_file(tmp_path):
    import numpy as np

    from evals.calibrate_verify import fitted_file

    shipped = VerifyConfig.load()
    assert (shipped.intercept, shipped.w_dense, shipped.w_lexical, shipped.w_negation) == (-11.11, 9.25, 5.46, -0.11)
    assert shipped.embedding == E5_MODEL_ID
    path = tmp_path / "verify.json"
    payload = fitted_file(np.array([-10.004, 8.5, 5.0, 0.25]), 3, "st:x", 5, {"accuracy": 0.9})
    path.write_text(json.dumps(payload), encoding="utf-8")
    loaded = VerifyConfig.load(path)
    assert (loaded.intercept, loaded.w_dense, loaded.w_lexical, loaded.w_negation, loaded.embedding) == (
        -10.0,
        8.5,
        5.0,
        0.25,
        "st:x",
    )

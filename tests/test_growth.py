"""Answers that hold as the knowledge base grows: compounds, lexicon, low-value text, duplicates,
the per-document cap, the fixed dev/test split, and the growth and junk phases of the eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.junk import write_junk_set
from evals.questions import load_questions
from evals.split import QUESTION_FILES, SPLIT_PATH, assign, load_split, select_split
from kb.answer.sentences import AnswerModel
from kb.nl.question import question_kind
from kb.nl.text import tokenize, tokenize_compounds
from kb.nl.words import compound_parts, rarity
from kb.records import Passage
from kb.search.lexicon import Lexicon, extract_terms
from kb.search.quality import near_duplicates, passage_quality
from kb.search.retrieve import cap_per_document

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
GROWTH = [REPO.parent / "shared" / "growth", REPO / "evals" / "growth"]


@pytest.mark.parametrize(
    ("word", "parts"),
    [
        ("reiskostenvergoeding", {"reis", "kosten", "vergoeding"}),
        ("taalschoolkosten", {"taal", "school", "kosten"}),
        ("inburgeringsplicht", {"inburgering", "plicht"}),
        ("onderwijsroute", {"onderwijs", "route"}),
    ],
)
def test_compounds_split_into_common_words(word, parts):
    assert parts <= set(compound_parts(word))


def test_common_words_are_not_split_and_whole_word_is_kept():
    assert compound_parts("samenwerking") == ()
    assert compound_parts("gemeente") == ()
    stems = tokenize_compounds("reiskostenvergoeding")
    assert set(tokenize("reiskostenvergoeding")) < set(stems)
    assert set(tokenize("reiskosten")) <= set(stems)


def test_word_weights_do_not_depend_on_the_index():
    """A passage's keyword score is the same whatever else is indexed (bm25s' IDF would move it)."""
    from kb.nl.terms import keyword_weights
    from kb.search.lexical import FixedScaleKeywords

    assert rarity("de") < 0.1 < rarity("gemeente") < rarity("reiskosten") <= rarity("opstartklas") == 1.0
    passage = tokenize("De gemeente regelt de reiskosten naar de opstartklas.")
    others = [tokenize("reiskosten " * 30), tokenize("De gemeente Zoetermeer regelt de bijstand."), ["x"] * 50]
    weights = keyword_weights("Wie betaalt de reiskosten naar de opstartklas?")
    alone = FixedScaleKeywords([passage]).scores(weights)[0]
    assert alone > 0
    assert FixedScaleKeywords([passage, *others]).scores(weights)[0] == pytest.approx(alone)


def test_lexicon_reads_glossaries_abbreviations_and_the_curated_file():
    chunks = [
        ("c1", "d", "Begrippenlijst", "Een korte omschrijving van de begrippen."),
        ("c2", "d", "Driegesprek", "Een overdrachtsgesprek tussen de gemeente, de inburgeraar en het COA."),
        ("c3", "d", "1 Inleiding", "De Regeling Eigen Bijdrage Asielzoekers (REBA) geldt voor vergunninghouders."),
    ]
    terms = {t.term: t for t in extract_terms(chunks)}
    assert (
        terms["Driegesprek"].definition.startswith("Een overdrachtsgesprek") and terms["Driegesprek"].chunk_id == "c2"
    )
    assert terms["Regeling Eigen Bijdrage Asielzoekers"].aliases == ["REBA"]
    lexicon = Lexicon.build(chunks)
    assert "Module Arbeidsmarkt en Participatie" in lexicon.expansions("hoeveel uur telt de MAP?")
    assert {"reisvergoeding", "reiskostenvergoeding"} <= set(lexicon.expansions("wie betaalt de reiskosten?"))
    assert lexicon.lookup("driegesprek").chunk_id == "c2"  # the document's definition beats none
    assert any(d["term"] == "Driegesprek" for d in lexicon.to_dicts())


def test_low_value_text_is_recognised_and_prose_is_not():
    prose = (CORPUS / "002_91518734a33f3397.txt").read_text(encoding="utf-8")
    paragraphs = [p for p in prose.split("\n\n") if len(p) > 200][:40]
    assert all(passage_quality(p) == 1.0 for p in paragraphs)
    assert passage_quality("inburgering " * 100) < 0.2
    words = paragraphs[0].split() * 3
    import random

    random.Random(1).shuffle(words)
    assert passage_quality(" ".join(words)) < 0.2
    assert passage_quality(" ".join(str(n * 37 % 9973) for n in range(200))) < 0.5


def test_near_duplicates_keep_the_first_copy():
    text = (CORPUS / "001_c8e6ea616aa67c4a.txt").read_text(encoding="utf-8")[:1500]
    edited = text.replace(" de ", " DE ", 2) + " Extra."
    other = (CORPUS / "003_5e8e4860dee76394.txt").read_text(encoding="utf-8")[:1500]
    assert near_duplicates([text, other, edited]) == {2: 0}


def _passage(doc: str, n: int) -> Passage:
    return Passage([f"{doc}-{n}"], doc, doc, "", "", "", "", f"tekst {n}", 1.0)


def test_one_document_cannot_fill_the_top_results():
    ranked = [_passage("groot", i) for i in range(6)] + [_passage("klein", 0), _passage("ander", 0)]
    capped = cap_per_document(ranked, 3)
    assert [p.doc_id for p in capped[:5]] == ["groot", "groot", "groot", "klein", "ander"]
    assert len(capped) == len(ranked)


def test_question_kinds():
    assert question_kind("Wat is een driegesprek?") == "definition"
    assert question_kind("Welke drie scenario's zijn er?") == "list"
    assert question_kind("Hoeveel uur telt de MAP?") == "quantity"
    assert question_kind("Wie betaalt de reiskosten?") == "other"


def test_answer_model_was_fitted_on_dev_and_loads():
    model = AnswerModel.load()
    raw = json.loads((REPO / "kb" / "data" / "answer_model.json").read_text(encoding="utf-8"))
    assert raw["fitted_on"].startswith("dev split") and raw["how"] == "python -m evals.fit_answer"
    assert 0.0 < model.abstain_below < 1.0


def test_split_is_fixed_complete_and_disjoint():
    assigned = load_split()
    questions = [q for path in QUESTION_FILES for q in load_questions(path)]
    assert {q.id for q in questions} == set(assigned)
    raw = json.loads(SPLIT_PATH.read_text(encoding="utf-8"))
    assert not set(raw["dev"]) & set(raw["test"])
    for kind in {q.type for q in questions}:  # every type is in both splits
        of_kind = [assigned[q.id] for q in questions if q.type == kind]
        assert abs(of_kind.count("dev") - of_kind.count("test")) <= 2
    # re-running the assignment keeps every existing answer
    files = {p.name: load_questions(p) for p in QUESTION_FILES}
    assert assign(files, assigned) == assigned


def test_growth_questions_point_at_real_documents_and_passages():
    import yaml

    from kb.nl.text import normalize_whitespace

    if not GROWTH[0].is_dir():
        pytest.skip(f"{GROWTH[0]} (the shared growth texts) is not beside this checkout")
    texts = {p.stem: normalize_whitespace(p.read_text(encoding="utf-8")) for d in GROWTH for p in d.glob("*.txt")}
    for path in CORPUS.glob("*.txt"):  # sample documents are known by the id in their sidecar
        doc_id = yaml.safe_load(path.with_suffix(".meta.yaml").read_text(encoding="utf-8"))["id"]
        texts[doc_id] = normalize_whitespace(path.read_text(encoding="utf-8"))
    for q in load_questions(REPO / "evals" / "questions_growth.jsonl"):
        assert all(doc in texts for doc in q.expected_docs), q.id
        for passage in q.expected_passages:
            assert any(normalize_whitespace(passage) in texts[doc] for doc in q.expected_docs), q.id


def test_growth_sources_list_every_growth_file():
    sources = (REPO / "evals" / "GROWTH_SOURCES.md").read_text(encoding="utf-8")
    files = sorted(p.name for p in (REPO / "evals" / "growth").glob("*.txt"))
    assert len(files) >= 64
    assert all(name in sources for name in files)
    assert all(p.read_text(encoding="utf-8").startswith("Bron: ") for p in (REPO / "evals" / "growth").glob("*.txt"))


@pytest.mark.slow
def test_junk_changes_no_answer_about_the_sample_corpus(tmp_path):
    """Regression for issue 10: a repeated word, shuffled words, a number table and near-copies
    turned answered questions into abstentions or answers from another document."""
    from evals.runner import RunConfig, run_suite

    junk = tmp_path / "junk"
    write_junk_set(junk, CORPUS, scale=0.25)
    config = RunConfig(REPO / "evals" / "questions.jsonl", tmp_path / "run", ("ours",), grow=(junk,), split="test")
    summary = run_suite(config)
    growth = summary["grown"]["growth"]["ours"]
    assert growth["answered_now_abstain"] == []
    assert growth["answered_changed"] == []
    test = select_split(load_questions(REPO / "evals" / "questions.jsonl"), "test")
    assert summary["config"]["index"]["questions"] == len(test)
    assert summary["grown"]["index"]["questions"] == len([q for q in test if q.only_on != "sample"])


@pytest.mark.slow
def test_a_definition_question_gets_the_glossary_definition_first(sample_kb):
    """Regression for issue 10: "Wat is een driegesprek?" got when it happens, not what it is,
    although the handreiking's Begrippenlijst defines it."""
    answer = sample_kb.ask("Wat is een driegesprek?")
    assert not answer.abstained
    assert answer.text.startswith("Een overdrachtsgesprek tussen de gemeente, de inburgeraar en het COA.")
    assert answer.citations[0].doc_id == "handreiking-warme-overdracht"


@pytest.mark.slow
def test_the_lexicon_expands_abbreviations_for_retrieval(sample_kb):
    terms = {t["term"]: t for t in sample_kb.retriever.lexicon.to_dicts()}
    assert terms["Driegesprek"]["source"] == "handreiking-warme-overdracht"
    answer = sample_kb.ask("Hoeveel uur telt de MAP voor gezinsmigranten?")
    assert "veertig uur" in answer.text

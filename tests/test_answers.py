"""Answers on the sample corpus, through the same CLI a user runs (``kb ask --json``)."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli import main

pytestmark = pytest.mark.slow


def ask_json(data_dir, *args):
    result = CliRunner().invoke(main, ["ask", "--json", *args], env={"KB_DATA_DIR": str(data_dir)})
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_map_hours_are_answered_and_cited(sample_data_dir):
    out = ask_json(sample_data_dir, "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?")
    assert not out["abstained"]
    assert "veertig uur" in out["answer"]
    assert out["citations"][0]["doc_id"] == "cop-klantmanagers-gezinsmigranten"
    assert "[1]" in out["answer"]
    first = out["citations"][0]
    assert set(first) >= {"n", "doc_id", "title", "source", "locator", "quote", "text", "score"}
    assert first["quote"] in first["text"]
    assert len(out["retrieved"]) >= 10
    assert out["latency_ms"] > 0


def test_reiskosten_question_cites_the_amsterdam_interview(sample_data_dir):
    out = ask_json(
        sample_data_dir,
        "Wie betaalt de reiskosten naar de opstartklas voor iemand die nog in een azc in Zaandam woont?",
    )
    assert not out["abstained"]
    assert "cop-amsterdam-coa-samenwerking" in {c["doc_id"] for c in out["citations"]}


def test_question_outside_the_corpus_abstains(sample_data_dir):
    out = ask_json(sample_data_dir, "Hoeveel kinderbijslag krijg je voor een kind van 8 jaar?")
    assert out["abstained"] is True
    assert out["citations"] == []
    assert "geen antwoord" in out["answer"]
    assert out["retrieved"], "the closest passages are still listed"


def test_follow_up_uses_the_history(sample_kb):
    bare = sample_kb.ask("En hoeveel uren taalles en training zitten daarin?")
    follow = sample_kb.ask(
        "En hoeveel uren taalles en training zitten daarin?",
        history=["Wat biedt het COA-programma voor vergunninghouders in het azc?"],
    )
    assert "115 uren" in follow.text
    assert follow.citations[0].doc_id == "cop-amsterdam-coa-samenwerking"
    assert bare.retrieved[0].chunk_ids != follow.retrieved[0].chunk_ids or "115" in bare.text


def test_filter_restricts_the_sources(sample_kb):
    answer = sample_kb.ask("Wat is de logeerregeling?", filters={"kind": "CoP-interview"})
    assert {p.doc_id for p in answer.retrieved} <= {
        "cop-amsterdam-coa-samenwerking",
        "cop-midden-limburg-duale-trajecten",
    }


def test_empty_and_overlong_questions_get_a_plain_message(sample_data_dir):
    runner = CliRunner()
    empty = runner.invoke(main, ["ask", "  ?  "], env={"KB_DATA_DIR": str(sample_data_dir)})
    assert empty.exit_code == 2 and "Stel een vraag" in empty.output
    long = runner.invoke(main, ["ask", "reiskosten " * 500], env={"KB_DATA_DIR": str(sample_data_dir)})
    assert long.exit_code == 2 and "te lang" in long.output
    assert "Traceback" not in empty.output + long.output


def test_history_is_only_used_for_questions_that_lean_on_it(sample_kb):
    """Regression guard: an unrelated new question in a conversation was answered from the old topic."""
    fresh = sample_kb.ask(
        "Welke scenario's zijn er voor de warme overdracht?",
        history=["Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?"],
    )
    assert "veertig" not in fresh.text
    assert fresh.citations and fresh.citations[0].doc_id == "handreiking-warme-overdracht"


def test_a_strong_keyword_match_is_not_pushed_out_by_the_fusion(kb, tmp_path):
    """Regression guard: rank-only fusion dropped a passage only BM25 found, despite a far higher score."""
    doc = tmp_path / "fietsbank.md"
    doc.write_text(
        "# Fietsbank\n\nIn Wormerveld krijgt iedere inburgeraar via de Fietsbank gratis een opgeknapte fiets "
        "met slot, zodat hij zelf naar de taalschool kan.\n"
    )
    kb.ingest([doc, *sorted((Path(__file__).parent.parent / "corpus").glob("00[04]_*.txt"))])
    answer = kb.ask("Wat krijgt een inburgeraar in Wormerveld van de Fietsbank?")
    assert answer.retrieved[0].doc_id == "fietsbank"
    assert not answer.abstained and "gratis een opgeknapte fiets" in answer.text

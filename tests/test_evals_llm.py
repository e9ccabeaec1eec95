"""The eval suite with generated answers: ``ours-llm`` next to ``ours``, generation metrics, report.

Fast tests use hand-made records; the slow ones run the real runner over the real sample index
(real Chroma, real e5), with a FAKE model server whose scripted reply is partly copied from
the sources it is given and partly invented, and (slowest) with the REAL local model via
``kb eval run --local-llm``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import FakeModelServer

from evals.baselines import KNOWN_SYSTEMS, SYSTEMS
from evals.errors import EvalError
from evals.gate import check_gate
from evals.generation import generation_summary, uncited_shown
from evals.llm_setup import EvalLLM, public_url
from evals.questions import TYPES, load_questions, select_questions
from evals.runner import RunConfig, choose_systems, run_suite
from kb.cli import main
from kb.config import Settings
from kb.nl.text import split_sentences

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "evals" / "questions.jsonl"
SECRET = "geheim-sleutel-123"
INVENTED_NUMBER = "Elke inburgeraar krijgt daarvoor 7.345 euro per maand van de gemeente"
INVENTED_SOURCE = "De klantmanager meldt dit daarna altijd bij de Belastingdienst"
_SOURCE = re.compile(r"^<<<BRON \[(\d+)\] [^\n]*\n([^\n]+)", re.M)  # kb.answer.llm.prompts.source_block


# -- a FAKE model server whose reply is scripted from the prompt ------------------------------


class CopyingModelServer(FakeModelServer):
    """FAKE model server: copies the two longest sentences of source 1 and the longest of source 2
    (each cited), then adds a sentence with an invented amount (cites [1]) and one citing a source
    that was not given ([9]). Verification should keep three sentences and drop two. A follow-up
    is rewritten as the earlier question(s) followed by the follow-up."""

    def _reply(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if "Zelfstandige vraag:" in prompt:
            earlier = re.findall(r"^- (.+)$", prompt, re.M)
            followup = re.search(r"^Vervolgvraag: (.+)$", prompt, re.M)
            return " ".join([*earlier, followup.group(1) if followup else ""])
        sources = {int(n): text for n, text in _SOURCE.findall(prompt)}

        def longest(n: int, count: int) -> list[str]:
            sentences = [s.rstrip(".") for s in split_sentences(sources.get(n, "")) if "…" not in s]
            return sorted(sentences, key=len, reverse=True)[:count]

        copied = [f"{s} [1]." for s in longest(1, 2)] + [f"{s} [2]." for s in longest(2, 1)]
        return " ".join([*copied, f"{INVENTED_NUMBER} [1].", f"{INVENTED_SOURCE} [9]."])


def fake_llm(**settings: object) -> EvalLLM:
    base = Settings(llm="openai-compatible", llm_model="fake-model-server", llm_retries=0, llm_sources=3)
    return EvalLLM(CopyingModelServer(prompts=[]), base.with_(**settings), origin="injected")


# -- choosing systems and questions ---------------------------------------------------------


def test_default_systems_add_ours_llm_only_with_a_model():
    assert choose_systems(None, with_llm=False) == SYSTEMS
    assert SYSTEMS == ("ours", "ours-noreader", "bm25", "dense", "rrf", "rrf-reader", "llamaindex")
    assert choose_systems(None, with_llm=True) == KNOWN_SYSTEMS
    assert KNOWN_SYSTEMS[:2] == ("ours", "ours-llm"), "side by side in every table"
    assert choose_systems(["ours", "bm25"], with_llm=True) == ("ours", "bm25")
    with pytest.raises(EvalError, match="ours-llm heeft een taalmodel nodig"):
        choose_systems(["ours", "ours-llm"], with_llm=False)
    with pytest.raises(EvalError, match="Onbekend systeem: gpt"):
        choose_systems(["gpt"], with_llm=True)


def test_ours_llm_without_a_model_is_one_sentence_not_a_traceback(tmp_path):
    env = {"KB_LLM": None, "KB_EVAL_SYSTEMS": None, "KB_EVAL_LOCAL_LLM": None}
    result = CliRunner().invoke(
        main, ["eval", "run", str(QUESTIONS), "--out", str(tmp_path), "--systems", "ours,ours-llm"], env=env
    )
    assert result.exit_code == 2, result.output
    assert "Fout: Het systeem ours-llm heeft een taalmodel nodig" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "summary.json").exists()


def test_a_half_configured_model_is_refused_before_any_work(tmp_path):
    result = CliRunner().invoke(
        main,
        ["eval", "run", str(QUESTIONS), "--out", str(tmp_path)],
        env={"KB_LLM": "openai-compatible", "KB_LLM_MODEL": None, "KB_EVAL_SYSTEMS": None},
    )
    assert result.exit_code == 2, result.output
    assert "KB_LLM_MODEL" in result.output and not (tmp_path / "summary.json").exists()


def test_limit_samples_every_type_in_proportion_and_ids_select():
    questions = load_questions(QUESTIONS)
    five = select_questions(questions, limit=5)
    assert [q.type for q in five] == list(TYPES)  # one of each, in file order
    thirty = select_questions(questions, limit=30)
    assert len(thirty) == 30 and [q.id for q in thirty] == sorted(q.id for q in thirty)
    assert thirty == select_questions(questions, limit=30), "the same sample every time"
    for kind in TYPES:
        share = 30 * sum(q.type == kind for q in questions) / len(questions)
        assert abs(sum(q.type == kind for q in thirty) - share) < 1, kind
    factual = [q for q in thirty if q.type == "factual"]
    assert len({q.topic for q in factual}) > 3, "spread through the file, not the first ten"
    assert [q.id for q in select_questions(questions, ids=["q091", "q001"])] == ["q001", "q091"]
    assert len(select_questions(questions, ids=["q001", "q091"], limit=1)) == 1
    assert select_questions(questions, limit=1000) == questions
    with pytest.raises(EvalError, match="q999"):
        select_questions(questions, ids=["q001", "q999"])


def test_recorded_model_settings_hold_no_credentials():
    assert public_url("http://user:pw@127.0.0.1:8080/v1?api_key=x#y") == "http://127.0.0.1:8080/v1"
    assert public_url("https://[::1]:9/v1") == "https://[::1]:9/v1"
    assert public_url("") == ""
    llm = fake_llm(llm_api_key=SECRET, llm_base_url=f"https://me:{SECRET}@llm.example/v1?key={SECRET}")
    described = llm.describe()
    assert SECRET not in json.dumps(described)
    assert described["base_url"] == "https://llm.example/v1" and described["model"] == "fake-model-server"
    assert llm.apply_to(Settings()).llm_api_key == ""


# -- generation metrics on hand-made records --------------------------------------------------


def _claim(text: str, status: str, citations: tuple[int, ...] = ()) -> dict:
    reason = "" if status in ("supported", "attached") else "De aangehaalde bron zegt dit niet."
    return {
        "text": text,
        "cited": [1],
        "citations": list(citations),
        "status": status,
        "support": 0.9,
        "reason": reason,
    }


def _record(qid: str, mode: str, claims: list[dict], citations: tuple[int, ...] = (1,), **extra) -> dict:
    return {
        "id": qid,
        "question": "Vraag?",
        "mode": mode,
        "abstained": False,
        "claims": claims,
        "citations": [{"n": n} for n in citations],
        "latency_ms": 1000.0,
        **extra,
    }


def test_generation_summary_counts_modes_sentences_and_the_citation_promise():
    records = [
        _record(
            "q1",
            "llm",
            [_claim("A", "supported", (1,)), _claim("B", "attached", (2,)), _claim("C", "uncited")],
            citations=(1, 2),
            timings={"generate_ms": 800.0, "verify_ms": 50.0},
        ),  # fmt: skip
        _record("q2", "llm-fallback", [_claim("D", "unsupported"), _claim("E", "bad-reference")]),
        _record(
            "q3",
            "llm-fallback",
            [],
            notice="Het taalmodel was niet bereikbaar; dit is het antwoord met letterlijke citaten uit de bronnen.",
        ),  # fmt: skip
        _record("q4", "llm", [], citations=(), abstained=True),
    ]
    g = generation_summary(records)
    assert (g["share_llm"], g["share_llm_not_found"], g["share_fallback"]) == (0.25, 0.25, 0.5)
    assert g["n_fallback_unavailable"] == 1 and g["n_fallback_unsupported"] == 1
    assert (g["n_sentences"], g["n_kept"], g["n_dropped"]) == (5, 2, 3)
    assert g["dropped_by_status"] == {"bad-reference": 1, "uncited": 1, "unsupported": 1}
    assert g["sentences_per_draft"] == 2.5 and g["sentences_per_answer"] == 2.0
    assert g["n_shown"] == 2 and g["shown_with_citation"] == 1.0 and g["uncited_shown"] == []
    assert g["generate_p50_ms"] == 800.0 and "condense_p50_ms" not in g


def test_a_shown_sentence_whose_number_is_no_citation_breaks_the_promise_and_the_gate():
    broken = _record("q7", "llm", [_claim("A", "supported", (1,)), _claim("B", "supported", (3,))], citations=(1,))
    fine = _record("q8", "llm", [_claim("A", "supported", (1,))])
    g = generation_summary([broken, fine])
    assert g["shown_with_citation"] == pytest.approx(2 / 3)
    assert uncited_shown([broken, fine]) == ["q7"]
    summary = {"systems": {"ours": {"overall": {"hit@5": 0.9}}, "ours-llm": {"overall": {}, "generation": g}}}
    failures, _warnings = check_gate(summary, {"system": "ours", "minimums": {"hit@5": 0.8}})
    assert failures == ["ours-llm: shown sentences without a verified citation in q7"]
    del summary["systems"]["ours-llm"]
    assert check_gate(summary, {"system": "ours", "minimums": {"hit@5": 0.8}}) == ([], []), "ours-llm is optional"


def test_answers_digest_ignores_step_timings():
    """Guards against ``Answer.timings`` (ms per step, new with generated answers) making every digest differ."""
    from evals.scoring import answers_digest

    record = _record("q1", "llm", [_claim("A", "supported", (1,))], timings={"generate_ms": 900.0})
    assert answers_digest([record]) == answers_digest([{**record, "timings": {"generate_ms": 1200.0}}])
    assert answers_digest([record]) != answers_digest([{**record, "claims": []}])


# -- slow: the runner over the real sample index with the FAKE model server --------------------


@pytest.fixture(scope="module")
def fake_runs(sample_data_dir, tmp_path_factory):
    """One run with ours + ours-llm (FAKE model) and one with ours only, five questions (one per type)."""
    root = tmp_path_factory.mktemp("eval-llm")
    llm = fake_llm(llm_api_key=SECRET, llm_base_url=f"http://me:{SECRET}@127.0.0.1:9/v1")
    both = RunConfig(QUESTIONS, root / "both", ("ours", "ours-llm"), data_dir=sample_data_dir, llm=llm, limit=5)
    plain = RunConfig(QUESTIONS, root / "plain", ("ours",), data_dir=sample_data_dir, limit=5)
    return run_suite(both), run_suite(plain), root


@pytest.mark.slow
def test_runner_puts_ours_llm_next_to_ours_with_generation_metrics(fake_runs):
    summary, plain, root = fake_runs
    assert list(summary["systems"]) == ["ours", "ours-llm"]
    assert "generation" not in summary["systems"]["ours"]
    g = summary["systems"]["ours-llm"]["generation"]
    assert g["n"] == 5 and g["n_shown"] > 0 and g["share_llm"] > 0
    assert g["shown_with_citation"] == 1.0 and g["uncited_shown"] == []
    assert g["n_dropped"] > 0 and {"unsupported", "bad-reference"} <= set(g["dropped_by_status"])
    assert summary["config"]["llm"]["model"] == "fake-model-server"
    assert summary["config"]["questions"]["selected"] == {"ids": [], "limit": 5}
    assert plain["config"]["llm"] is None
    assert plain["systems"]["ours"]["digest"] == summary["systems"]["ours"]["digest"], "ours-llm changes ours"
    records = [json.loads(line) for line in (root / "both" / "results.jsonl").read_text().splitlines()]
    by_system = {s: {r["id"]: r for r in records if r["system"] == s} for s in ("ours", "ours-llm")}
    rewritten = [r for r in by_system["ours-llm"].values() if r["standalone_question"]]
    assert [r["type"] for r in rewritten] == ["follow-up"] and g["n_condensed"] == 1
    for qid, record in by_system["ours-llm"].items():
        assert record["mode"] in ("llm", "llm-fallback")
        ours = by_system["ours"][qid]
        if not record["standalone_question"]:  # same retriever instance: same passages
            assert [p["chunk_ids"] for p in record["retrieved"]] == [p["chunk_ids"] for p in ours["retrieved"]]
        assert INVENTED_NUMBER not in record["answer"] and INVENTED_SOURCE not in record["answer"]
    for name in ("summary.json", "results.jsonl"):
        assert SECRET not in (root / "both" / name).read_text()


@pytest.mark.slow
def test_report_shows_both_systems_and_the_generated_answers_section(fake_runs):
    from evals.report import write_report

    _summary, _plain, root = fake_runs
    md, page = write_report(root / "both")
    text = md.read_text()
    assert "| metric | ours | ours-llm | ours-llm ÷ ours |" in text
    assert "## Generated answers" in text
    assert re.search(r"\| shown sentences with ≥ 1 verified citation \| 1\.000 \|", text)
    assert re.search(r"\| dropped as `bad-reference` \| [1-9]", text)
    assert "examples of dropped sentences" in text and INVENTED_NUMBER in text
    assert "follow-ups rewritten by the model (1):" in text
    assert "language model (ours-llm)" in text and "fake-model-server" in text
    assert "--systems ours,ours-llm --limit 5" in text
    assert SECRET not in text and SECRET not in page.read_text()
    plain_md, _ = write_report(root / "plain")
    assert "Generated answers" not in plain_md.read_text() and "ours-llm" not in plain_md.read_text()


@pytest.mark.slow
def test_compare_and_gate_handle_a_run_with_ours_llm_next_to_one_without(fake_runs, tmp_path):
    _summary, _plain, root = fake_runs
    runner = CliRunner()
    result = runner.invoke(main, ["eval", "compare", str(root / "plain"), str(root / "both")])
    assert result.exit_code == 0, result.output
    assert "Only in B (not compared): ours-llm." in result.output and "identical answers" in result.output
    result = runner.invoke(main, ["eval", "compare", str(root / "both"), str(root / "both"), "--system", "ours-llm"])
    assert result.exit_code == 0 and "| shown sentences with ≥ 1 verified citation | 1.000 | 1.000 | +0.000 |" in (
        result.output
    )
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text(json.dumps({"system": "ours", "minimums": {"hit@10": 0.0}}))
    for run in ("both", "plain"):
        gate = runner.invoke(main, ["eval", "gate", str(root / run), "--thresholds", str(thresholds)])
        assert gate.exit_code == 0, gate.output
        assert "selection of the questions" in gate.output


# -- slowest: the REAL local model through the CLI -----------------------------------------------


@pytest.mark.slow
def test_eval_run_with_the_real_local_model(sample_data_dir, tmp_path):
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        if os.environ.get("KB_REQUIRE_LOCAL_LLM") == "1":
            pytest.fail("llama-cpp-python is not installed but KB_REQUIRE_LOCAL_LLM=1")
        pytest.skip("the local-llm extra (llama-cpp-python + Gemma GGUF) is not installed")
    out = tmp_path / "run"
    args = ["eval", "run", str(QUESTIONS), "--out", str(out), "--data-dir", str(sample_data_dir)]
    args += ["--systems", "ours,ours-llm", "--ids", "q001,q091", "--local-llm"]
    result = CliRunner().invoke(main, args, env={"KB_LLM": "", "KB_LLM_API_KEY": SECRET})
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    llm = summary["config"]["llm"]
    assert llm["origin"] == "local" and llm["model"] == "gemma-3-270m" and llm["max_tokens"] == 200
    assert llm["base_url"].startswith("http://127.0.0.1:") and llm["sources"] == 3
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["mode"] for r in records if r["system"] == "ours"} == {"extractive"}
    generated = [r for r in records if r["system"] == "ours-llm"]
    assert len(generated) == 2 and all(r["mode"] in ("llm", "llm-fallback") for r in generated)
    assert any(r["claims"] or r["abstained"] for r in generated), "the model produced nothing to verify"
    g = summary["systems"]["ours-llm"]["generation"]
    assert g["uncited_shown"] == [] and g["shown_with_citation"] in (1.0, None)
    assert g["n_fallback_unavailable"] == 0, "the local model did not answer"
    text = (out / "report.md").read_text()
    assert "| metric | ours | ours-llm | ours-llm ÷ ours |" in text and "## Generated answers" in text
    assert "generated sentences per draft" in text and "--local-llm" in text
    assert SECRET not in (out / "summary.json").read_text()
    assert "ours-llm" in result.output and "shown with a verified citation" in result.output

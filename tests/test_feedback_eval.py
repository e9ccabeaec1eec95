"""Feedback → eval question → eval run: what the Evaluatie tab and ``kb feedback`` are built on.

Feedback keeps enough of an answer to draft an eval question (its passages, one redacted
sentence each), every item has a stable id, the draft obeys ``evals/QUESTIONS.md`` and the
question file it is appended to still loads; the tab only runs files and shows runs it listed.
"""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from evals import workspace
from evals.errors import EvalError
from evals.from_feedback import append_question, draft_question, question_file_name
from evals.questions import load_questions
from kb.chat.audit import AuditLog
from kb.chat.auth import ADMIN, EVALUATOR, AdminCredentials, AdminGate
from kb.chat.eval_tab import feedback_rows, parse_facts, passage_options
from kb.cli import main
from kb.config import Settings
from kb.feedback import (
    answer_passages,
    best_sentence,
    feedback_path,
    find_feedback,
    list_feedback,
    purge_feedback,
    read_feedback,
    record_feedback,
)
from kb.records import Answer, Citation, Passage

BSN = "111222333"
EMAIL = "j.devries@gmail.com"
MAP_TEXT = (
    "De enorme diversiteit in de groep brengt uitdagingen mee. "
    "Hierin moeten gezinsmigranten minimaal veertig uur werkervaring opdoen in een taalrijke omgeving. "
    "Als iemand al werk heeft, is dan voldaan aan de MAP?"
)
OTHER_TEXT = "Vergunninghouders moeten een bijdrage betalen aan de opvang als zij werk hebben. Dat is lastig."


def _passage(doc_id: str, text: str, chunk: str) -> Passage:
    return Passage([chunk], doc_id, f"Titel {doc_id}", "Divosa", "2022", "verslag", "§ MAP", text, 0.8)


def _answer() -> Answer:
    cited = _passage("cop-klantmanagers-gezinsmigranten", MAP_TEXT, "gm::0003")
    other = _passage("cop-amsterdam-coa-samenwerking", OTHER_TEXT, "ams::0010")
    citation = Citation(
        1,
        cited.doc_id,
        cited.title,
        "Divosa",
        "2022",
        "§ MAP",
        "Hierin moeten gezinsmigranten minimaal veertig uur werkervaring opdoen in een taalrijke omgeving.",
        MAP_TEXT,
        0.8,
    )
    question = "Hoeveel uur werkervaring moeten gezinsmigranten opdoen?"
    return Answer(question, "Minimaal veertig uur werkervaring [1].", False, [citation], [cited, other])


def _item(path: Path, rating: str = "down", history: tuple[str, ...] = (), **kwargs) -> dict:
    answer = _answer()
    record_feedback(
        path,
        answer.question,
        answer.text,
        ["cop-klantmanagers-gezinsmigranten"],
        rating,
        kwargs.get("comment", ""),
        kwargs.get("now"),
        history=history,
        passages=answer_passages(answer),
    )
    return read_feedback(path)[-1]


# -- what feedback keeps ---------------------------------------------------------------------
def test_answer_passages_put_the_cited_first_with_one_verbatim_sentence_each():
    passages = answer_passages(_answer())
    assert [(p["cited"], p["doc_id"], p["chunk_ids"]) for p in passages] == [
        (1, "cop-klantmanagers-gezinsmigranten", ["gm::0003"]),
        (0, "cop-amsterdam-coa-samenwerking", ["ams::0010"]),
    ]
    assert passages[0]["quote"].startswith("Hierin moeten gezinsmigranten minimaal veertig uur")
    assert passages[1]["quote"] == "Vergunninghouders moeten een bijdrage betalen aan de opvang als zij werk hebben."
    long_text = "Aanloop. " + " ".join(["werkervaring"] * 60) + "."
    cut = best_sentence(long_text, "werkervaring")
    assert len(cut) <= 300 and cut in long_text


def test_feedback_gets_an_id_and_keeps_passages_with_personal_data_redacted_at_rest(tmp_path):
    path = tmp_path / "data" / "feedback.jsonl"
    answer = _answer()
    passages = answer_passages(answer)
    passages[1]["quote"] = f"Mail {EMAIL} of bel over BSN {BSN}."
    record = record_feedback(
        path,
        f"Mag {BSN} naar de taalschool?",
        answer.text,
        [],
        "down",
        f"zie {EMAIL}",
        history=[f"Eerder: mijn mail is {EMAIL}"],
        passages=passages,
    )
    text = path.read_text(encoding="utf-8")
    assert BSN not in text and EMAIL not in text
    assert record["id"].startswith("fb-") and len(record["id"]) == 13
    assert record["passages"][0]["cited"] == 1 and "[e-mailadres verwijderd]" in record["passages"][1]["quote"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert find_feedback(path, record["id"]) == read_feedback(path)[0]
    assert find_feedback(path, "fb-bestaatniet") is None


def test_feedback_is_listed_newest_first_and_filtered_on_thumbs_down(tmp_path):
    path = tmp_path / "feedback.jsonl"
    now = datetime(2026, 6, 1, tzinfo=UTC)
    old = _item(path, "down", now=now - timedelta(days=2))
    up = _item(path, "up", now=now - timedelta(days=1))
    new = _item(path, "down", now=now)
    assert [i["id"] for i in list_feedback(path)] == [new["id"], up["id"], old["id"]]
    assert [i["id"] for i in list_feedback(path, negative_only=True)] == [new["id"], old["id"]]
    rows = feedback_rows(list_feedback(path, True))
    assert rows[0][0] == new["id"] and rows[0][2] == "👎 niet nuttig"
    assert rows[0][5] == "[1] Titel cop-klantmanagers-gezinsmigranten — § MAP"


def test_a_rating_from_before_ids_keeps_the_same_id_after_purge(tmp_path):
    """Bug guarded: an id shown by ``kb feedback list`` must still find the item after the start-up purge."""
    path = tmp_path / "feedback.jsonl"
    legacy = {
        "timestamp": datetime.now(UTC).isoformat(),
        "question": f"Wat is er met {BSN}?",
        "answer": "x",
        "doc_ids": [],
        "rating": "down",
        "comment": "",
    }
    path.write_text(json.dumps(legacy) + "\n", encoding="utf-8")
    shown = read_feedback(path)[0]["id"]
    assert purge_feedback(path, 90) == (0, 1)
    assert BSN not in path.read_text(encoding="utf-8")
    assert read_feedback(path)[0]["id"] == shown and find_feedback(path, shown) is not None


# -- the draft question ------------------------------------------------------------------------
def test_draft_question_from_feedback_validates_with_the_question_schema(tmp_path):
    item = _item(tmp_path / "feedback.jsonl")
    drafted = draft_question(item, key_facts=["Veertig uur", "taalrijke omgeving|taalrijk"])
    assert drafted.id == item["id"] and drafted.type == "factual" and drafted.topic == "feedback"
    assert drafted.expected_docs == ("cop-klantmanagers-gezinsmigranten",)
    assert drafted.key_facts == ("veertig uur", "taalrijke omgeving|taalrijk")
    out = tmp_path / "vragen" / "feedback.jsonl"
    assert append_question(out, drafted) == 1
    assert load_questions(out) == [drafted]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with pytest.raises(EvalError, match="al een vraag met id"):
        append_question(out, drafted)


def test_draft_question_refuses_what_questions_md_forbids(tmp_path):
    item = _item(tmp_path / "feedback.jsonl", history=("Wat is de MAP?",))
    assert draft_question(item, key_facts=["veertig uur"]).type == "follow-up"
    assert draft_question(item, key_facts=["veertig uur"]).history == ("Wat is de MAP?",)
    with pytest.raises(EvalError, match="staat niet letterlijk"):
        draft_question(item, key_facts=["vijftig uur"])
    with pytest.raises(EvalError, match="één tot drie kernfeiten"):
        draft_question(item)
    with pytest.raises(EvalError, match="Passage 7 bestaat niet"):
        draft_question(item, key_facts=["veertig uur"], passages=[7])
    with pytest.raises(EvalError, match="leeg"):
        draft_question(item, question="  ", key_facts=["veertig uur"])
    two = draft_question(item, key_facts=["bijdrage betalen"], passages=[1, 2], kind="multi-passage")
    assert two.expected_docs == ("cop-klantmanagers-gezinsmigranten", "cop-amsterdam-coa-samenwerking")
    none = draft_question(item, kind="unanswerable")
    assert (none.expected_passages, none.key_facts, none.topic) == ((), (), "buiten-corpus")
    assert [label for label, _n in passage_options(item)][0].startswith("bron [1] · cop-klantmanagers")
    assert parse_facts("veertig uur\n; taalrijk;\n") == ["veertig uur", "taalrijk"]


# -- the tab only touches files it listed ------------------------------------------------------
def test_question_files_and_runs_are_chosen_from_lists_never_by_path(tmp_path):
    settings = Settings().with_(data_dir=tmp_path / "data")
    for name in ("../../etc/passwd", "a/b", "", ".verborgen", "x" * 80):
        with pytest.raises(EvalError):
            question_file_name(name)
    assert question_file_name("Feedback-2026.jsonl") == "feedback-2026.jsonl"
    own = workspace.question_file(settings, "feedback")
    own.write_text("", encoding="utf-8")
    labels = list(workspace.question_files(settings))
    assert labels[0] == "feedback.jsonl" and "questions.jsonl (meegeleverd)" in labels
    assert workspace.resolve_question_file(settings, "feedback.jsonl") == own
    for label in ("../feedback.jsonl", str(own), "/etc/passwd", None):
        with pytest.raises(EvalError, match="Kies een vragenbestand"):
            workspace.resolve_question_file(settings, label)
    (workspace.runs_dir(settings) / "20260101-000000-x").mkdir(parents=True)
    assert workspace.list_runs(settings) == []  # no summary.json: not a finished run
    with pytest.raises(EvalError, match="Kies een evaluatierun"):
        workspace.resolve_run(settings, "../../chroma")


# -- roles -------------------------------------------------------------------------------------
def test_the_evaluator_may_evaluate_but_not_manage_documents(tmp_path):
    gate = AdminGate(
        [
            AdminCredentials("trekker", "een lang wachtwoord 1"),
            AdminCredentials("eva", "een lang wachtwoord 2", EVALUATOR),
        ],
        30,
        AuditLog(tmp_path / "audit.jsonl"),
    )
    evaluator = gate.session(gate.login("eva", "een lang wachtwoord 2", "127.0.0.1").token)
    admin = gate.session(gate.login("trekker", "een lang wachtwoord 1", "127.0.0.1").token)
    assert evaluator.role == EVALUATOR and evaluator.may(EVALUATOR) and not evaluator.may(ADMIN)
    assert admin.may(ADMIN) and admin.may(EVALUATOR)
    assert not gate.login("eva", "een lang wachtwoord 1", "127.0.0.1").ok  # passwords are per account
    assert gate.has_role(EVALUATOR)
    with pytest.raises(Exception, match="te kort"):
        AdminCredentials("eva", "kort", EVALUATOR)


# -- CLI ---------------------------------------------------------------------------------------
def test_cli_lists_feedback_and_turns_one_into_a_question(tmp_path):
    data = tmp_path / "data"
    path = feedback_path(Settings().with_(data_dir=data))
    down = _item(path, "down", comment=f"mist iets, mail {EMAIL}")
    _item(path, "up")
    runner = CliRunner()
    listed = runner.invoke(main, ["--data-dir", str(data), "feedback", "list", "--negative"])
    assert listed.exit_code == 0, listed.output
    assert down["id"] in listed.output and "👍" not in listed.output and EMAIL not in listed.output
    assert "passage 1 (bron [1], cop-klantmanagers-gezinsmigranten)" in listed.output
    as_json = json.loads(runner.invoke(main, ["--data-dir", str(data), "feedback", "list", "--json"]).output)
    assert len(as_json) == 2 and as_json[0]["rating"] == "up"

    out = tmp_path / "vragen.jsonl"
    args = ["--data-dir", str(data), "feedback", "to-question", down["id"], "--out", str(out)]
    made = runner.invoke(main, [*args, "--key-fact", "veertig uur", "--question", "Hoeveel uur werkervaring?"])
    assert made.exit_code == 0, made.output
    [question] = load_questions(out)
    assert question.id == down["id"] and question.question == "Hoeveel uur werkervaring?"
    again = runner.invoke(main, [*args, "--key-fact", "veertig uur"])
    assert again.exit_code == 2 and "al een vraag met id" in again.output
    wrong = runner.invoke(main, [*args[:4], "fb-0000000000", "--out", str(out), "--key-fact", "x"])
    assert wrong.exit_code == 1 and "Geen feedback met id" in wrong.output
    bad_fact = runner.invoke(main, [*args, "--key-fact", "vijftig uur"])
    assert bad_fact.exit_code == 2 and "staat niet letterlijk" in bad_fact.output and "Traceback" not in bad_fact.output


# -- a run from the tab ------------------------------------------------------------------------
@pytest.mark.slow
def test_eval_run_on_a_feedback_question_file_writes_a_private_run_with_report(tmp_path, sample_copy, sample_kb):
    settings = Settings().with_(data_dir=sample_copy)
    item = _item(tmp_path / "feedback.jsonl")
    append_question(workspace.question_file(settings, "feedback"), draft_question(item, key_facts=["veertig uur"]))
    seen: list[tuple[float, str]] = []
    name = workspace.run_eval(
        settings, "feedback.jsonl", (sample_kb.embed_model, sample_kb.store.model_id), lambda f, m: seen.append((f, m))
    )
    run_dir = workspace.resolve_run(settings, name)
    assert workspace.list_runs(settings) == [name]
    assert seen[0] == (0.0, "ours: vraag 1 van 1") and seen[-1][0] == 1.0
    summary = workspace.summary_markdown(run_dir)
    assert f"| {item['id']} | factual | ja |" in summary
    frame = workspace.report_iframe(run_dir)
    assert frame.startswith("<iframe") and "sandbox=''" in frame and "<table>" not in frame  # escaped srcdoc
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in run_dir.iterdir() if p.is_file())
    with pytest.raises(EvalError, match="twee verschillende runs"):
        workspace.compare_markdown(settings, name, name)
    second = workspace.run_eval(settings, "feedback.jsonl", (sample_kb.embed_model, sample_kb.store.model_id))
    assert second != name and workspace.list_runs(settings)[1] == name
    compared = workspace.compare_markdown(settings, name, second)
    assert compared.startswith("# Comparison of two eval runs") and "identical answers" in compared

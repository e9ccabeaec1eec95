"""Kennislacunes (issue 21): the question log (privacy, retention, ratings), themes of unanswered
questions (purity on a simulated log, status after an ingest), the CLI and the tab's access checks.

Real Chroma and the real e5 model where it matters (conftest's fixtures); the simulated log is
:mod:`evals.gaps_simulation`.
"""

from __future__ import annotations

import json
import os
import stat
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from evals.gaps_simulation import log_rows, simulated_questions
from kb.gaps import STATUS_ANSWERED, STATUS_OPEN, build_gap_report, report_csv, report_markdown
from kb.questions_log import QuestionLog, question_log_path

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
PERSONAL = ("111222333", "111.222.333", "NL91ABNA0417164300", "0612345678", "06-12345678", "Kerkstraat 12", "1234 AB")
QUESTION_WITH_PERSONAL_DATA = (
    "Mijn klant met BSN 111.222.333 en IBAN NL91ABNA0417164300, bereikbaar op 06-12345678, woont op "
    "Kerkstraat 12, 1234 AB Utrecht. Heeft hij recht op huurtoeslag?"
)
NATURALISATIE = """Naturalisatie na de inburgering

Een statushouder die het inburgeringsexamen heeft gehaald, kan daarna naturalisatie aanvragen en Nederlander worden. \
Deze notitie van de CoP beschrijft hoe lang de naturalisatieprocedure duurt en wat een naturalisatieaanvraag kost.

Hoe lang duurt de naturalisatieprocedure?

De naturalisatieprocedure duurt na de aanvraag bij de gemeente ongeveer een jaar. De IND beslist binnen twaalf \
maanden op het naturalisatieverzoek; daarna volgt de naturalisatieceremonie in de gemeente. Na het halen van het \
inburgeringsexamen kan de statushouder het naturalisatieverzoek meteen indienen als hij vijf jaar in Nederland woont.

Wat kost een naturalisatieaanvraag?

Een naturalisatieaanvraag kost voor een alleenstaande 1.035 euro. Voor een gezin met minderjarige kinderen gelden \
hogere kosten van naturalisatie: de gemeente rekent het tarief voor gezamenlijke naturalisatie. De kosten van het \
naturalisatieverzoek worden bij de aanvraag in de gemeente betaald.
"""
NATURALISATIE_META = """id: cop-notitie-naturalisatie
title: "Naturalisatie na de inburgering: duur en kosten"
publisher: Divosa (CoP Inburgering)
date: "2024-05-01"
kind: handreiking
regime: Wi2021
"""


def _stored_bytes(path: Path) -> bytes:
    """Everything on disk for the log: the database and any journal SQLite left beside it."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def _purity(report, topic_of: dict[int, str]) -> tuple[float, int]:
    """Share of the questions in themes that carry their theme's most common topic; and how many."""
    in_themes = sum(t.size for t in report.themes)
    majority = sum(Counter(topic_of[i] for i in t.question_ids).most_common(1)[0][1] for t in report.themes)
    return majority / max(in_themes, 1), in_themes


def _unit(rng: np.random.Generator, direction: np.ndarray, n: int, noise: float = 0.01) -> np.ndarray:
    vectors = direction + noise * rng.standard_normal((n, direction.size))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def simulated(e5):
    """The simulated log's questions and their real e5 query vectors (embedded once)."""
    questions = simulated_questions()
    vectors = np.array([e5[0].get_query_embedding(q.question) for q in questions], dtype=np.float32)
    return questions, vectors


# -- the question log: privacy and retention -------------------------------------------------------------
def test_a_question_with_personal_data_is_never_stored_unredacted(settings, e5):
    """Asked in the chat (the service records it), rated 👎, and written directly: no BSN, IBAN,
    phone number or address reaches the file, and the file is 0600."""
    from kb.feedback import feedback_path, record_feedback
    from kb.service import build_kb

    kb = build_kb(settings, embedding=e5, log_questions=True)
    answer = kb.ask(QUESTION_WITH_PERSONAL_DATA, filters={"cop": "CoP Utrecht, tel. 06-12345678"})
    record_feedback(feedback_path(settings), QUESTION_WITH_PERSONAL_DATA, answer.text, [], "down")
    kb.question_log.record(QUESTION_WITH_PERSONAL_DATA, "abstained", 0.1, filters={"cop": "Kerkstraat 12"})
    path = question_log_path(settings)
    stored = _stored_bytes(path).decode("utf-8", errors="replace")
    assert [p for p in PERSONAL if p in stored] == []
    entries = kb.question_log.entries()
    assert len(entries) == 2 and "[BSN verwijderd]" in entries[0].question
    assert entries[0].rating == "down"  # the rating found its (redacted) question
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_retention_removes_old_entries_at_start_up_daily_and_in_privacy_purge(settings):
    clock = [NOW.timestamp()]
    settings = settings.with_(question_log_days=180)
    log = QuestionLog(question_log_path(settings), settings.question_log_days, lambda: clock[0])
    log.record("Een vraag van lang geleden over de tolkvoorziening?", "abstained", 0.1, when=NOW - timedelta(days=200))
    log.record("Een vraag van bijna een half jaar terug?", "abstained", 0.1, when=NOW - timedelta(days=179))
    log.record("Een vraag van vorige week?", "weak", 0.5, when=NOW - timedelta(days=7))
    opened = QuestionLog.open(settings, lambda: clock[0])  # start-up
    assert [e.question for e in opened.entries()] == [
        "Een vraag van bijna een half jaar terug?",
        "Een vraag van vorige week?",
    ]
    assert b"tolkvoorziening" not in _stored_bytes(opened.path)  # secure_delete: not left in a free page
    clock[0] += 2 * 86400  # two days later, the app still running: the next question applies retention
    opened.record("Een nieuwe vraag?", "abstained", 0.1)
    assert [e.question for e in opened.entries()] == ["Een vraag van vorige week?", "Een nieuwe vraag?"]

    from kb.erasure import purge

    result = purge(settings.with_(question_log_days=5), now=NOW + timedelta(days=2))
    assert (result.questions_deleted, result.question_days) == (1, 5)
    assert [e.question for e in opened.entries()] == ["Een nieuwe vraag?"]


def test_the_question_log_can_be_turned_off(settings, e5):
    from kb.service import build_kb

    off = settings.with_(question_log="off")
    assert QuestionLog.open(off) is None
    kb = build_kb(off, embedding=e5, log_questions=True)
    kb.ask("Wie betaalt de reiskosten naar de opstartklas?")
    assert kb.question_log is None and not question_log_path(off).exists()
    kb = build_kb(settings, embedding=e5)  # evals and tests: no log unless asked for
    kb.ask("Wie betaalt de reiskosten naar de opstartklas?")
    assert not question_log_path(settings).exists()


def test_a_thumbs_down_makes_an_answered_question_a_gap(tmp_path):
    from kb.feedback import record_feedback

    log = QuestionLog(tmp_path / "questions.sqlite3")
    log.record("Wie betaalt de reiskosten?", "answered", 0.8, ["cop-amsterdam"], when=NOW - timedelta(hours=1))
    log.record("Wat is de MAP?", "answered", 0.9, ["handreiking-map"], when=NOW - timedelta(hours=1))
    assert log.gaps()[0] == []
    record_feedback(tmp_path / "feedback.jsonl", "Wie betaalt de reiskosten?", "…", ["cop-amsterdam"], "down", now=NOW)
    gaps, _vectors = log.gaps()
    assert [(g.question, g.rating) for g in gaps] == [("Wie betaalt de reiskosten?", "down")]
    # a rating a day later belongs to a new asking, not to this one
    late = NOW + timedelta(days=2)
    record_feedback(tmp_path / "feedback.jsonl", "Wat is de MAP?", "…", ["handreiking-map"], "down", now=late)
    assert [g.question for g in log.gaps()[0]] == ["Wie betaalt de reiskosten?"]


# -- themes ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_simulated_log_gives_pure_themes(tmp_path, simulated, kb):
    """≥ 300 questions (the eval's unanswerable ones, paraphrases, answerable ones), each with a topic."""
    questions, vectors = simulated
    assert len(questions) >= 300
    log = QuestionLog(tmp_path / "questions.sqlite3", clock=lambda: NOW.timestamp())
    log.record_many(log_rows(questions, NOW, vectors))
    report = build_gap_report(log, kb, now=NOW, recheck=False)  # an empty index: only the model matters here
    topic = {q.question: q.topic for q in questions}
    topic_of = {e.id: topic[e.question] for e in log.entries()}
    purity, in_themes = _purity(report, topic_of)
    gaps = sum(q.is_gap for q in questions)
    print(f"\npurity {purity:.3f}, {len(report.themes)} themes, {in_themes} of {gaps} gap questions in a theme")
    assert report.gaps == gaps
    assert purity >= 0.8
    assert len(report.themes) >= 10 and in_themes >= 0.7 * gaps
    topics = {t.label: Counter(topic_of[i] for i in t.question_ids).most_common(1)[0][0] for t in report.themes}
    assert any("Rijbewijs" in label and topic == "rijbewijs" for label, topic in topics.items())
    assert any(label.startswith("DUO") for label in topics)  # a lexicon term leads where it fits
    assert all(3 <= len(t.examples) <= 5 for t in report.themes if t.size >= 3)


@pytest.mark.slow
def test_a_theme_is_nu_beantwoord_after_a_document_answers_it(sample_copy, e5, tmp_path):
    """Questions asked in the (real) knowledge base are logged; after a document on naturalisatie is
    ingested, the report asks the theme's questions again and shows it answered by that document."""
    from kb.config import Settings
    from kb.service import build_kb

    settings = Settings().with_(data_dir=sample_copy)
    kb = build_kb(settings, embedding=e5, log_questions=True)
    topics = ("naturalisatie", "rijbewijs", "studiefinanciering")
    asked = [q for q in simulated_questions() if q.topic in topics]
    for q in asked:
        kb.ask(q.question)
    topic_of = {e.id: next(q.topic for q in asked if q.question == e.question) for e in kb.question_log.entries()}

    def themes_of(report, topic):
        return [t for t in report.themes if Counter(topic_of[i] for i in t.question_ids).most_common(1)[0][0] == topic]

    before = build_gap_report(kb.question_log, kb)
    assert themes_of(before, "naturalisatie") and all(t.status == STATUS_OPEN for t in before.themes)
    folder = tmp_path / "nieuw"
    folder.mkdir()
    (folder / "naturalisatie.txt").write_text(NATURALISATIE, encoding="utf-8")
    (folder / "naturalisatie.meta.yaml").write_text(NATURALISATIE_META, encoding="utf-8")
    assert kb.ingest([folder]).count("added") == 1
    after = build_gap_report(kb.question_log, kb)
    answered = themes_of(after, "naturalisatie")
    ingested = next(d for d in kb.documents() if d.doc_id == "cop-notitie-naturalisatie").ingested_at
    assert answered and all(t.status == STATUS_ANSWERED for t in answered)
    assert {t.answered_by.doc_id for t in answered} == {"cop-notitie-naturalisatie"}
    assert all(t.answered_since == datetime.fromisoformat(ingested) for t in answered)
    assert all(t.status == STATUS_OPEN for t in after.themes if t not in answered)
    assert "nu beantwoord" in report_markdown(after) and "cop-notitie-naturalisatie" in report_csv(after)


def test_trend_kind_and_cop_filters_and_exports(tmp_path):
    """Two themes made of vectors around two directions: counts per period, filters, CSV and Markdown."""
    rng = np.random.default_rng(0)
    a, b = np.eye(384)[0], np.eye(384)[1]
    log = QuestionLog(tmp_path / "questions.sqlite3", clock=lambda: NOW.timestamp())
    rows = [
        {"question": f"=Hoeveel huurtoeslag krijgt gezin {n}?", "outcome": "abstained", "when": NOW - timedelta(days=n)}
        for n in range(1, 6)
    ]
    rows += [
        {"question": f"Hoeveel huurtoeslag in {n}?", "outcome": "abstained", "when": NOW - timedelta(days=95 + n)}
        for n in range(2)
    ]
    rows += [
        {"question": f"Welke taalschool in Arnhem {n}?", "outcome": "weak", "when": NOW - timedelta(days=n)}
        for n in range(1, 4)
    ]
    rows[-1]["filters"] = {"cop": "CoP Arnhem"}
    vectors = [*_unit(rng, a, 7), *_unit(rng, b, 3)]
    log.record_many({**r, "score": 0.3, "vector": v} for r, v in zip(rows, vectors))
    report = build_gap_report(log, None, now=NOW)
    assert [(t.size, t.previous, t.trend) for t in report.themes] == [(5, 2, "+3"), (3, 0, "nieuw")]
    assert report.themes[0].kinds == {"abstained": 5} and report.themes[1].kinds == {"weak": 3}
    assert [t.size for t in build_gap_report(log, None, kinds=["weak"], now=NOW).themes] == [3]
    assert build_gap_report(log, None, cop="coP arnhem", now=NOW).gaps == 1
    csv_text = report_csv(report)
    assert "'=Hoeveel huurtoeslag" in csv_text  # a spreadsheet would run it as a formula
    data = report.to_dict()
    assert json.loads(json.dumps(data))["themes"][0]["trend"] == "+3"
    assert report_markdown(report).startswith("# Kennislacunes")


# -- CLI -------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_gaps_json_and_markdown(tmp_path, simulated, monkeypatch):
    from kb.cli import main

    questions, vectors = simulated
    data_dir = tmp_path / "data"
    now = datetime.now(UTC)
    QuestionLog(data_dir / "questions.sqlite3").record_many(log_rows(questions[:120], now, vectors[:120]))
    monkeypatch.setenv("KB_DATA_DIR", str(data_dir))
    runner = CliRunner()
    out = tmp_path / "cop-bijeenkomst.md"
    result = runner.invoke(main, ["gaps", "--json", "--markdown", str(out), "--no-recheck"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["themes"] and report["gaps"] == sum(q.is_gap for q in questions[:120])
    assert out.read_text(encoding="utf-8").startswith("# Kennislacunes")
    text = runner.invoke(main, ["gaps", "--since", (now - timedelta(days=30)).strftime("%Y-%m-%d"), "--no-recheck"])
    assert text.exit_code == 0 and "thema's" in text.output
    empty = runner.invoke(main, ["--data-dir", str(tmp_path / "leeg"), "gaps"])
    assert empty.exit_code == 1 and "nog geen vragenlog" in empty.output


# -- the tab's handlers ----------------------------------------------------------------------------------
def _request(token: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        cookies={"kb_admin": token} if token else {}, client=SimpleNamespace(host="127.0.0.1"), session_hash="s1"
    )


def test_every_handler_of_the_tab_refuses_without_the_role(kb, settings, tmp_path):
    """No cookie, a guessed one, and one that was logged out: every handler refuses (as a raw API call would be)."""
    from kb.chat import gaps_tab
    from kb.chat.audit import AuditLog
    from kb.chat.auth import EVALUATOR, AdminCredentials, AdminGate

    rng = np.random.default_rng(1)
    log = QuestionLog(question_log_path(settings))
    log.record_many(
        {"question": f"Welke taalschool in Arnhem {n}?", "outcome": "abstained", "vector": v}
        for n, v in enumerate(_unit(rng, np.eye(384)[3], 4))
    )
    accounts = [AdminCredentials("evaluator-test", "een-lang-test-wachtwoord", EVALUATOR)]
    gate = AdminGate(accounts, 30, AuditLog(tmp_path / "audit.jsonl"))
    tab = gaps_tab.GapsTab(kb, settings, gate)
    logged_out = gate.login("evaluator-test", "een-lang-test-wachtwoord", "127.0.0.1").token
    gate.logout(logged_out, "127.0.0.1")
    filters = ("", "", ["abstained", "weak", "down"], "")
    for request in (_request(), _request("geraden"), _request(logged_out)):
        assert gaps_tab.gaps_show(tab, *filters, request) == (gaps_tab.NOT_LOGGED_IN, "", [], [], [])
        assert gaps_tab.gaps_theme(tab, *filters, "thema-1", request) == gaps_tab.NOT_LOGGED_IN
        assert gaps_tab.gaps_export(tab, *filters, "csv", request) == (None, gaps_tab.NOT_LOGGED_IN)
        assert gaps_tab.gaps_draft_questions(tab, *filters, "thema-1", request) == gaps_tab.NOT_LOGGED_IN
        assert gaps_tab.gaps_after_login(tab, request)[:2] == (True, False)
    token = gate.login("evaluator-test", "een-lang-test-wachtwoord", "127.0.0.1").token
    message, _summary, rows, _chart, choices = gaps_tab.gaps_show(tab, *filters, _request(token))
    assert message == "" and len(rows) == 1 and choices
    path, message = gaps_tab.gaps_export(tab, *filters, "markdown", _request(token))
    assert Path(path).read_text(encoding="utf-8").startswith("# Kennislacunes")
    drafted = gaps_tab.gaps_draft_questions(tab, *filters, choices[0][1], _request(token))
    assert "4 conceptvraag" in drafted, drafted
    lines = (settings.data_dir / "evals" / "questions" / "kennislacunes.jsonl").read_text(encoding="utf-8")
    assert {json.loads(line)["type"] for line in lines.splitlines()} == {"unanswerable"}


def test_the_tab_builds(kb, settings, tmp_path):
    import gradio as gr

    from kb.chat.audit import AuditLog
    from kb.chat.auth import EVALUATOR, AdminCredentials, AdminGate
    from kb.chat.gaps_tab import build_gaps_tab

    gate = AdminGate(
        [AdminCredentials("evaluator-test", "een-lang-test-wachtwoord", EVALUATOR)], 30, AuditLog(tmp_path / "a")
    )
    with gr.Blocks() as demo, gr.Tab("Kennislacunes") as tab:
        build_gaps_tab(kb, settings, gate, tab)
    assert any(getattr(block, "elem_id", None) == "kb-gaps-chart" for block in demo.blocks.values())

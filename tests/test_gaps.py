"""Kennislacunes (issue 21): the question log (privacy, retention, ratings).

Real Chroma and the real e5 model where it matters (conftest's fixtures); the simulated log is
:mod:`evals.gaps_simulation`.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kb.questions_log import QuestionLog, question_log_path

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
PERSONAL = ("111222333", "111.222.333", "NL91ABNA0417164300", "0612345678", "06-12345678", "Kerkstraat 12", "1234 AB")
QUESTION_WITH_PERSONAL_DATA = (
    "Mijn klant met BSN 111.222.333 en IBAN NL91ABNA0417164300, bereikbaar op 06-12345678, woont op "
    "Kerkstraat 12, 1234 AB Utrecht. Heeft hij recht op huurtoeslag?"
)


def _stored_bytes(path: Path) -> bytes:
    """Everything on disk for the log: the database and any journal SQLite left beside it."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


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

"""Issue 11: nothing unredacted at rest — questions, feedback, file modes, retention, erasure."""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.chat.conversation import Conversation, answer_question, rate_last_answer
from kb.chat.render import answer_markdown, sources_html
from kb.cli import main
from kb.config import Settings
from kb.erasure import purge
from kb.errors import ConfigError
from kb.feedback import read_feedback, record_feedback
from kb.service import build_kb
from tests.fakes import fake_server

BSN, EMAIL, MOBILE = "111.222.333", "j.devries@gmail.com", "06-12345678"
QUESTION = f"Wie betaalt de reiskosten naar de opstartklas voor BSN {BSN}, mail {EMAIL}, tel {MOBILE}?"


@pytest.fixture
def keep_umask():
    """The CLI makes this process's umask private; other tests get theirs back."""
    umask = os.umask(0o022)
    os.umask(umask)
    yield
    os.umask(umask)


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


@pytest.mark.slow
def test_question_with_personal_data_is_redacted_before_search_model_log_and_feedback(sample_kb, caplog, tmp_path):
    llm = fake_server(answer="De bronnen geven hier geen antwoord op.")
    kb = build_kb(
        sample_kb.settings.with_(llm_retries=0),
        embedding=sample_kb.embedding,
        store=sample_kb.store,
        retriever=sample_kb.retriever,
        llm=llm,
    )
    searched: list[str] = []
    original = kb.retriever.retrieve

    def spy(query, *args, **kwargs):
        searched.append(f"{query.text} {query.search_text}")
        return original(query, *args, **kwargs)

    kb.retriever.retrieve = spy  # type: ignore[method-assign]
    try:
        with caplog.at_level(logging.DEBUG):
            conversation, error = answer_question(kb, QUESTION, Conversation())
    finally:
        del kb.retriever.retrieve
    assert not error
    # the whole chat state, the dossier entries too (repr: their dates)
    answer_text = json.dumps(asdict(conversation), ensure_ascii=False, default=repr)
    assert "Uw vraag bevatte persoonsgegevens (BSN, e-mailadres, telefoonnummer)" in answer_text
    assert "niet opgeslagen of doorgestuurd" in answer_text
    feedback = tmp_path / "feedback.jsonl"
    rate_last_answer(feedback, conversation, "up", "")
    seen = {
        "search": " ".join(searched),
        "model": " ".join(str(p) for p in llm.prompts),
        "logs": caplog.text,
        "chat": answer_text,
        "feedback": feedback.read_text(encoding="utf-8"),
    }
    assert searched and llm.prompts
    for where, text in seen.items():
        for value in (BSN, "111222333", EMAIL, MOBILE):
            assert value not in text, (value, where)
    assert "[BSN verwijderd]" in seen["search"] and "reiskosten" in seen["search"]


@pytest.mark.slow
def test_cli_ask_redacts_the_question_and_says_so(sample_data_dir, keep_umask):
    env = {"KB_DATA_DIR": str(sample_data_dir)}
    result = CliRunner().invoke(main, ["ask", "--json", QUESTION], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert BSN not in result.output and EMAIL not in result.output and MOBILE not in result.output
    assert data["question"].startswith("Wie betaalt de reiskosten") and "[BSN verwijderd]" in data["question"]
    assert data["notice"].startswith("Uw vraag bevatte persoonsgegevens (BSN")
    rendered = answer_markdown_from(data)
    assert BSN not in rendered


def answer_markdown_from(data: dict) -> str:
    from kb.records import Answer

    answer = Answer(data["question"], data["answer"], data["abstained"], notice=data["notice"])
    return answer_markdown(answer) + sources_html(answer)


@pytest.mark.slow
def test_data_folder_and_files_are_private(tmp_path, keep_umask):
    data = tmp_path / "data"
    note = tmp_path / "notitie.md"
    note.write_text("# Notitie\n\nDe klantmanager plant een driegesprek met de taalschool in Zwolle.\n")
    env = {"KB_DATA_DIR": str(data)}
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(note)], env=env).exit_code == 0
    assert runner.invoke(main, ["ask", "Met wie plant de klantmanager een driegesprek?"], env=env).exit_code == 0
    record_feedback(data / "feedback.jsonl", "vraag", "antwoord", [], "up")
    found = modes(data)
    assert {"feedback.jsonl", "ingest.lock", "chroma"} <= set(found)
    for name, mode in found.items():
        expected = 0o700 if (data / name).is_dir() else 0o600
        assert mode == expected, f"{name}: {oct(mode)}"


@pytest.mark.slow
def test_an_existing_open_data_folder_is_tightened(settings, e5):
    settings.data_dir.mkdir(mode=0o755)
    old = settings.data_dir / "feedback.jsonl"
    old.write_text("")
    old.chmod(0o644)
    build_kb(settings, embedding=e5)
    assert all(mode in (0o700, 0o600) for mode in modes(settings.data_dir).values()), modes(settings.data_dir)


def test_feedback_file_is_created_private(tmp_path):
    path = tmp_path / "nieuw" / "feedback.jsonl"
    record_feedback(path, "vraag", "antwoord", [], "down", f"mijn BSN is {BSN}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert BSN not in path.read_text(encoding="utf-8")


def test_retention_deletes_old_feedback_and_redacts_what_stays(tmp_path, keep_umask):
    data = tmp_path / "data"
    path = data / "feedback.jsonl"
    now = datetime(2026, 6, 1, tzinfo=UTC)
    record_feedback(path, "oud", "antwoord", ["a"], "up", now=now - timedelta(days=120))
    record_feedback(path, "recent", "antwoord", ["a"], "down", now=now - timedelta(days=10))
    legacy = {  # written before feedback was redacted
        "timestamp": (now - timedelta(days=5)).isoformat(),
        "question": f"Wat is er met {BSN}?",
        "answer": "x",
        "doc_ids": [],
        "rating": "down",
        "comment": f"bel {MOBILE}",
    }
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(legacy) + "\n")
    result = purge(Settings().with_(data_dir=data, feedback_days=30), now=now)
    assert (result.deleted, result.redacted) == (1, 1)
    kept = read_feedback(path)
    assert [r["question"] for r in kept] == ["recent", "Wat is er met [BSN verwijderd]?"]
    assert MOBILE not in path.read_text() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert purge(Settings().with_(data_dir=data, feedback_days=0), now=now + timedelta(days=999)).deleted == 0


def test_purge_command_uses_kb_feedback_days(tmp_path, keep_umask):
    data = tmp_path / "data"
    record_feedback(data / "feedback.jsonl", "oud", "a", [], "up", now=datetime.now(UTC) - timedelta(days=8))
    record_feedback(data / "feedback.jsonl", "nieuw", "a", [], "up")
    env = {"KB_DATA_DIR": str(data), "KB_FEEDBACK_DAYS": "7"}
    result = CliRunner().invoke(main, ["privacy", "purge"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 beoordeling(en) verwijderd" in result.output and "7 dagen" in result.output
    assert [r["question"] for r in read_feedback(data / "feedback.jsonl")] == ["nieuw"]


def test_feedback_days_setting():
    assert Settings.from_env({}).feedback_days == 90
    assert Settings.from_env({"KB_FEEDBACK_DAYS": "0"}).feedback_days == 0
    with pytest.raises(ConfigError, match="KB_FEEDBACK_DAYS"):
        Settings.from_env({"KB_FEEDBACK_DAYS": "-1"})


@pytest.mark.slow
def test_privacy_scan_lists_places_not_values_and_remove_clears_them(tmp_path, keep_umask):
    data = tmp_path / "data"
    note = tmp_path / "casus-oud.md"
    note.write_text(
        f"---\npublisher: {EMAIL}\n---\n# Casus\n\nHaar BSN is {BSN}; de klantmanager plant een driegesprek.\n"
    )
    runner = CliRunner()
    off = {"KB_DATA_DIR": str(data), "KB_PII_POLICY": "off"}  # indexed as an old version would have
    assert runner.invoke(main, ["ingest", str(note)], env=off).exit_code == 0
    env = {"KB_DATA_DIR": str(data)}
    scan = runner.invoke(main, ["privacy", "scan"], env=env)
    assert scan.exit_code == 1
    assert "casus-oud" in scan.output and "BSN" in scan.output and "metadata: publisher" in scan.output
    assert "kb docs remove" in scan.output
    assert BSN not in scan.output and EMAIL not in scan.output
    listed = json.loads(runner.invoke(main, ["privacy", "scan", "--json"], env=env).output)
    assert {(f["place"], f["kind"]) for f in listed} == {("tekst", "bsn"), ("metadata: publisher", "email")}
    assert runner.invoke(main, ["docs", "remove", "casus-oud"], env=env).exit_code == 0
    clean = runner.invoke(main, ["privacy", "scan"], env=env)
    assert clean.exit_code == 0 and "Geen persoonsgegevens" in clean.output


@pytest.mark.slow
def test_app_start_up_applies_retention_and_a_private_umask(kb, monkeypatch, keep_umask):
    import socket

    import kb.chat.app as app

    path = kb.settings.data_dir / "feedback.jsonl"
    record_feedback(path, "oud", "a", [], "up", now=datetime.now(UTC) - timedelta(days=91))
    record_feedback(path, "nieuw", "a", [], "up")
    with socket.socket() as sock:  # a free loopback port for the real app
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = app.launch(kb, port=port, ingest_corpus=False, block=False, admin=None)
    server.close()
    assert [r["question"] for r in read_feedback(path)] == ["nieuw"]  # KB_FEEDBACK_DAYS default 90
    probe = kb.settings.data_dir / "probe"
    probe.write_text("x")
    assert stat.S_IMODE(probe.stat().st_mode) == 0o600


def test_the_upload_registry_keeps_no_personal_data_from_file_names(tmp_path):
    """The registry of uploaded file names (uploaded.json) holds the redacted name, and a new
    version of the same upload is still recognised as the same source."""
    from ingest.ownership import ReplacementRefused, ReplacementRule, UploadRegistry
    from kb.index.store import StoredDocument
    from kb.records import FileResult

    staged = tmp_path / "intake-111222333.md"
    staged.write_text("# Intake\n\nTekst.", encoding="utf-8")
    result = FileResult(str(staged), "added", "intake-bsn-verwijderd-43d8")
    registry = UploadRegistry(tmp_path / "uploaded.json")
    registry.update(add={result.doc_id: result.name})
    assert "111222333" not in registry.path.read_text(encoding="utf-8")
    existing = StoredDocument(result.doc_id, "Intake", "", "", "", "", result.name, "h", "c", 1, "", True)
    ReplacementRule(registry.load()).check(staged, existing)  # the same upload: a new version, no refusal
    with pytest.raises(ReplacementRefused, match="Vervang het bestaande document"):
        ReplacementRule({}).check(staged, existing)

"""The store: model recorded with the collection, server mode, and the CLI around documents."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli import main
from kb.errors import ModelMismatchError, StoreUnavailableError
from kb.index.store import make_client
from kb.service import build_kb

pytestmark = pytest.mark.slow


def test_collection_records_model_and_refuses_another(settings, e5, tmp_path):
    kb = build_kb(settings, embedding=e5)
    doc = tmp_path / "d.md"
    doc.write_text("# D\n\nTekst over de Voorinburgering door het COA.\n")
    kb.ingest([doc])
    with pytest.raises(ModelMismatchError, match="kb ingest --reset"):
        build_kb(settings.with_(embedding="minilm"))


def test_sentence_transformers_model_by_path_works_and_cli_reset_switches_model(tmp_path):
    from kb.embeddings import minilm_path

    env = {"KB_DATA_DIR": str(tmp_path / "data"), "KB_EMBEDDING": f"st:{minilm_path()}"}
    doc = tmp_path / "in" / "e.md"
    doc.parent.mkdir()
    doc.write_text("# Employers\n\nEmployers need a single contact person for newcomers at work.\n")
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(doc.parent)], env=env).exit_code == 0
    refused = runner.invoke(main, ["ask", "contact person"], env={**env, "KB_EMBEDDING": "e5"})
    assert refused.exit_code == 2
    assert "st:all-MiniLM-L6-v2" in refused.output and "--reset" in refused.output
    switched = runner.invoke(main, ["ingest", "--reset", str(doc.parent)], env={**env, "KB_EMBEDDING": "e5"})
    assert switched.exit_code == 0, switched.output
    assert "toegevoegd" in switched.output


def test_docs_list_and_remove_through_the_cli(sample_copy):
    env = {"KB_DATA_DIR": str(sample_copy)}
    runner = CliRunner()
    listed = runner.invoke(main, ["docs", "list"], env=env)
    assert listed.exit_code == 0
    assert "handreiking-warme-overdracht" in listed.output and "cop-klantmanagers-gezinsmigranten" in listed.output
    removed = runner.invoke(main, ["docs", "remove", "morgens-bureau-nieuwkomers-arnhem"], env=env)
    assert removed.exit_code == 0 and "verwijderd" in removed.output
    assert "morgens-bureau-nieuwkomers-arnhem" not in runner.invoke(main, ["docs", "list"], env=env).output
    missing = runner.invoke(main, ["docs", "remove", "bestaat-niet"], env=env)
    assert missing.exit_code == 1 and "Geen document" in missing.output


def test_unchanged_corpus_reingest_via_cli_reports_unchanged(sample_copy):
    result = CliRunner().invoke(main, ["ingest"], env={"KB_DATA_DIR": str(sample_copy)})
    assert result.exit_code == 0
    assert "5 bestand(en): 5 ongewijzigd" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    """A real Chroma server (``chroma run``) on a free loopback port."""
    port = _free_port()
    chroma = Path(sys.executable).parent / "chroma"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_server_mode_ingests_and_answers_and_is_shared(chroma_server, tmp_path, e5):
    env = {"KB_CHROMA_URL": chroma_server, "KB_DATA_DIR": str(tmp_path / "unused")}
    doc = tmp_path / "in" / "server.md"
    doc.parent.mkdir()
    doc.write_text("# Server\n\nIn Tilburg start de opstartklas altijd op maandag in het wijkcentrum.\n")
    runner = CliRunner()
    ingested = runner.invoke(main, ["ingest", str(doc.parent)], env=env)
    assert ingested.exit_code == 0, ingested.output
    assert not (tmp_path / "unused" / "chroma").exists(), "server mode must not write a local index"
    # A second, independent instance (as a second app would) sees the same documents.
    from kb.config import Settings

    other = build_kb(Settings().with_(chroma_url=chroma_server, data_dir=tmp_path / "x"), embedding=e5)
    assert [d.doc_id for d in other.documents()] == ["server"]
    answer = other.ask("Op welke dag start de opstartklas in Tilburg?")
    assert not answer.abstained and "maandag" in answer.text


def test_unreachable_server_gives_a_clear_error_quickly(tmp_path):
    from kb.config import Settings

    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="niet bereikbaar"):
        make_client(Settings().with_(chroma_url=f"http://127.0.0.1:{_free_port()}", data_dir=tmp_path))
    assert time.monotonic() - started < 15


def test_losing_the_server_gives_a_clear_error_and_recovers(tmp_path, e5):
    """Regression guard: Chroma's HTTP client has no timeout; a lost server must not hang."""
    from kb.config import Settings

    port = _free_port()
    chroma = Path(sys.executable).parent / "chroma"

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(tmp_path / "srv"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return proc
            except OSError:
                time.sleep(0.2)
        raise AssertionError("chroma run did not start")

    server = start()
    try:
        kb = build_kb(Settings().with_(chroma_url=f"http://127.0.0.1:{port}", data_dir=tmp_path / "d"), embedding=e5)
        doc = tmp_path / "s.md"
        doc.write_text("# S\n\nIn Assen is het taalcafé op woensdag in de bibliotheek.\n")
        kb.ingest([doc])
        server.kill()
        server.wait(timeout=20)
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="Chroma-server reageert niet"):
            kb.ask("Wanneer is het taalcafé in Assen?")
        assert time.monotonic() - started < 30
        server = start()  # the same data comes back: the next question works again
        assert "woensdag" in kb.ask("Wanneer is het taalcafé in Assen?").text
    finally:
        server.kill()
        server.wait(timeout=20)


def test_export_and_import_move_the_knowledge_base(sample_data_dir, tmp_path):
    runner = CliRunner()
    archive = tmp_path / "backup.tar.gz"
    exported = runner.invoke(main, ["export", str(archive)], env={"KB_DATA_DIR": str(sample_data_dir)})
    assert exported.exit_code == 0 and "5 documenten" in exported.output
    target = {"KB_DATA_DIR": str(tmp_path / "restored")}
    imported = runner.invoke(main, ["import", str(archive)], env=target)
    assert imported.exit_code == 0, imported.output
    listed = runner.invoke(main, ["docs", "list", "--json"], env=target)
    import json

    docs = json.loads(listed.output)
    assert len(docs) == 5 and all(d["complete"] for d in docs)
    answer = runner.invoke(
        main, ["ask", "--json", "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?"], env=target
    )
    assert "veertig uur" in json.loads(answer.output)["answer"]
    # re-ingesting the corpus into the restored index costs nothing: the hashes came along
    again = runner.invoke(
        main, ["ingest"], env={**target, "KB_CORPUS_DIR": str(Path(__file__).parent.parent / "corpus")}
    )
    assert "5 ongewijzigd" in again.output
    bad = tmp_path / "kapot.tar.gz"
    bad.write_bytes(b"geen archief")
    refused = runner.invoke(main, ["import", str(bad)], env=target)
    assert refused.exit_code == 2 and "geen geldig exportbestand" in refused.output


def test_two_instances_on_one_server_see_a_same_size_replacement_and_a_removal(chroma_server, tmp_path, e5):
    """Regression: an instance reloaded its keyword index only when the passage count changed,
    so it kept quoting the old text of a document another instance had replaced."""
    from kb.config import Settings

    doc = tmp_path / "in" / "taalcafe.md"
    doc.parent.mkdir()
    doc.write_text("# Taalcafé\n\nIn Zwolle is het taalcafé elke dinsdag in de bibliotheek.\n")
    env = {
        **os.environ,
        "KB_CHROMA_URL": chroma_server,
        "KB_DATA_DIR": str(tmp_path / "other"),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),  # this checkout, not an installed copy
    }
    kb_bin = str(Path(sys.executable).parent / "kb")

    def other_instance(*args: str) -> str:
        done = subprocess.run([kb_bin, *args], capture_output=True, text=True, env=env, timeout=300, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    assert "(1 passages)" in other_instance("ingest", str(doc.parent))
    this = build_kb(Settings().with_(chroma_url=chroma_server, data_dir=tmp_path / "this"), embedding=e5)
    question = "Op welke dag is het taalcafé in Zwolle?"
    assert "dinsdag" in this.ask(question).text
    doc.write_text("# Taalcafé\n\nIn Zwolle is het taalcafé elke vrijdag in de bibliotheek.\n")
    assert "(1 passages)" in other_instance("ingest", str(doc.parent))
    after = this.ask(question)
    assert "vrijdag" in after.text and "dinsdag" not in " ".join(p.text for p in after.retrieved)
    other_instance("docs", "remove", "taalcafe")
    gone = this.ask(question)
    assert gone.abstained and not gone.retrieved

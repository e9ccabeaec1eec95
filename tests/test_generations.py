"""Every process sees every change: writes bump the store's generation, readers rebuild on it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.config import Settings
from kb.errors import StoreUnavailableError
from kb.index.locking import ingest_lock
from kb.index.store import drop_collection, open_store
from kb.service import build_kb

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
KB_BIN = str(Path(sys.executable).parent / "kb")
QUESTION = "Op welke dag is het taalcafé in Zwolle?"


def _taalcafe(folder: Path, day: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "taalcafe.md"
    path.write_text(f"# Taalcafé\n\nIn Zwolle is het taalcafé elke {day} in de bibliotheek aan de Diezerstraat.\n")
    return path


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "KB_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO), "KB_LLM": "off"}


def _kb(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """``kb ...`` in its own process, as another user or a cron job would run it."""
    return subprocess.run(
        [KB_BIN, *args], capture_output=True, text=True, env=_env(data_dir), cwd=REPO, timeout=300, check=False
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    """A real ``kb serve`` process on a free loopback port, over an index with one one-passage document."""
    data_dir, folder = tmp_path / "data", tmp_path / "docs"
    _taalcafe(folder, "dinsdag")
    first = _kb(data_dir, "ingest", str(folder))
    assert first.returncode == 0 and "(1 passages)" in first.stdout, first.stdout + first.stderr
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [KB_BIN, "serve", "--no-ingest", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_env(data_dir),
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "kb serve did not start"
                time.sleep(0.5)
        yield {"url": f"http://127.0.0.1:{port}", "data_dir": data_dir, "folder": folder}
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _ask_app(url: str, question: str) -> str:
    """The app's answer text, asked through its HTTP API like the browser does."""
    from gradio_client import Client

    messages = Client(url, verbose=False).predict(question, "", "", "", api_name="/ask")[0]
    content = messages[-1]["content"]
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def test_running_app_quotes_a_replacement_with_the_same_passage_count_and_forgets_a_removal(served):
    """Regression: the retriever reloaded its BM25 index only when the passage count changed,
    so a running ``kb serve`` kept quoting a replaced document's old text."""
    url, data_dir, folder = served["url"], served["data_dir"], served["folder"]
    before = _ask_app(url, QUESTION)
    assert "dinsdag" in before

    _taalcafe(folder, "donderdag")
    replaced = _kb(data_dir, "ingest", str(folder))
    assert replaced.returncode == 0 and "vervangen" in replaced.stdout and "(1 passages)" in replaced.stdout
    after = _ask_app(url, QUESTION)
    assert "donderdag" in after and "dinsdag" not in after

    removed = _kb(data_dir, "docs", "remove", "taalcafe")
    assert removed.returncode == 0, removed.stderr
    gone = _ask_app(url, QUESTION)
    assert "donderdag" not in gone and "dinsdag" not in gone and "Geen antwoord" in gone


def test_every_write_path_changes_the_generation(settings, e5, tmp_path):
    from kb.index.backup import export_index, import_index

    kb = build_kb(settings, embedding=e5)
    seen = [kb.store.generation()]

    def changed() -> bool:
        seen.append(kb.store.generation())
        return seen[-1] not in seen[:-1]

    folder = tmp_path / "docs"
    _taalcafe(folder, "dinsdag")
    kb.ingest([folder])
    assert changed(), "add"
    _taalcafe(folder, "donderdag")
    kb.ingest([folder])
    assert changed(), "replace"
    kb.ingest([folder])
    assert not changed(), "an unchanged re-ingest writes nothing"
    kb.store.delete_other_versions("taalcafe", kb.documents()[0].doc_hash)
    assert changed(), "clean-up of other versions"
    export_index(kb.store, tmp_path / "backup.tar.gz")
    assert kb.remove("taalcafe") == 1
    assert changed(), "remove"
    import_index(kb.store, tmp_path / "backup.tar.gz")
    assert changed(), "import"
    assert "donderdag" in kb.ask(QUESTION).text
    with ingest_lock(settings):
        assert drop_collection(settings)
    with pytest.raises(StoreUnavailableError, match="opnieuw opgebouwd"):
        kb.ask(QUESTION)  # between the reset and the new index: a plain message, no traceback
    open_store(settings, kb.store.model_id, kb.store.dim)  # the resetting process opens the new index
    assert changed(), "reset"
    answer = kb.ask(QUESTION)
    assert answer.abstained and "donderdag" not in answer.text and not answer.retrieved


def test_idf_is_right_before_the_first_question(sample_data_dir, e5):
    """Regression: the IDF table was a constant until the first retrieval built the snapshot."""
    from kb.nl.text import tokenize

    kb = build_kb(Settings().with_(data_dir=sample_data_dir), embedding=e5)
    (rare,), (common,) = tokenize("logeerregeling"), tokenize("inburgering")
    assert kb.retriever.idf(rare) > kb.retriever.idf(common) > 0
    assert kb.retriever.known(rare)


def test_removal_waits_for_a_running_ingest(settings, e5, tmp_path):
    kb = build_kb(settings, embedding=e5)
    kb.ingest([_taalcafe(tmp_path / "docs", "dinsdag")])
    with ingest_lock(settings):  # an ingest in progress
        remover = subprocess.Popen(
            [KB_BIN, "docs", "remove", "taalcafe"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(settings.data_dir),
            cwd=REPO,
        )
        deadline = time.monotonic() + 120
        while "wacht" not in (line := remover.stderr.readline()):
            assert line and time.monotonic() < deadline, "kb docs remove did not wait for the lock"
        assert remover.poll() is None
        assert [d.doc_id for d in kb.documents()] == ["taalcafe"]
    out, _err = remover.communicate(timeout=120)
    assert remover.returncode == 0 and "verwijderd" in out
    assert kb.documents() == []

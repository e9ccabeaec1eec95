"""Ingestion never loses data: personal data, junk input, crashes, concurrency."""

from __future__ import annotations

import io
import os
import random
import re
import signal
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.loaders import Block
from ingest.pipeline import prepare_document
from ingest.privacy import guard, scan_blocks, valid_bsn, valid_iban
from kb.cli import main
from kb.config import Settings
from kb.errors import DocumentError
from kb.service import build_kb
from tests.files import make_pdf

REPO = Path(__file__).resolve().parent.parent
# Synthetic personal data: valid BSN (11-proef) and IBAN (mod 97), invented people.
BSN, IBAN, EMAIL, MOBILE = "111222333", "NL91ABNA0417164300", "fatima.yilmaz@gmail.com", "06-12345678"
CASE_NOTE = (
    "# Casusnotitie\n\n"
    f"Fatima Yilmaz (14-02-1988) woont sinds maart in Zwolle. Haar BSN is {BSN} en haar rekening {IBAN}. "
    f"Zij is bereikbaar via {EMAIL} of {MOBILE}. Haar partner, geboren op 3 mei 1985, volgt de B1-route.\n\n"
    "De klantmanager plant een driegesprek met het COA over de taalschool in Zwolle. "
    "Vragen over het proces kunnen naar inburgering@divosa.nl.\n"
)


def test_bsn_and_iban_checks():
    assert valid_bsn(BSN) and not valid_bsn("111222334") and not valid_bsn("000000000")
    assert valid_iban(IBAN) and not valid_iban("NL91ABNA0417164301")


def test_guard_reports_kinds_and_places_without_values():
    blocks = [Block(CASE_NOTE.split("\n\n")[1], page=2)]
    kinds = sorted(f.kind for f in scan_blocks(blocks))
    assert kinds == ["birthdate", "birthdate", "bsn", "email", "iban", "phone"]
    redacted, findings = guard(blocks, "redact")
    text = redacted[0].text
    for value in (BSN, IBAN, EMAIL, MOBILE, "14-02-1988", "3 mei 1985"):
        assert value not in text
        assert all(value not in f.hint for f in findings)
    assert "[BSN verwijderd]" in text and "Fatima Yilmaz" in text
    with pytest.raises(DocumentError, match="persoonsgegevens") as info:
        guard(blocks, "refuse")
    assert BSN not in str(info.value) and "p. 2" in str(info.value)


def test_role_addresses_and_organisation_numbers_are_not_personal_data():
    blocks = [Block("Mail inburgering@divosa.nl of bel 030 233 23 37 (Divosa, Utrecht).")]
    assert scan_blocks(blocks) == []


@pytest.mark.slow
def test_no_personal_data_is_retrievable_after_default_ingest(kb, tmp_path):
    note = tmp_path / "casus.md"
    note.write_text(CASE_NOTE, encoding="utf-8")
    report = kb.ingest([note])
    result = report.results[0]
    assert result.status == "added"
    assert "BSN" in result.privacy and BSN not in result.reason
    stored = " ".join(doc for _id, _md, doc, _e in kb.store.iter_records(include=["documents"]))
    for value in (BSN, IBAN, EMAIL, MOBILE, "14-02-1988"):
        assert value not in stored
    for question in ("Wat is het BSN van Fatima Yilmaz?", "Wat is het rekeningnummer en e-mailadres van Fatima?"):
        out = kb.ask(question).to_dict()
        dump = str(out)
        assert all(v not in dump for v in (BSN, IBAN, EMAIL, MOBILE))
    assert "driegesprek" in kb.ask("Met wie plant de klantmanager een driegesprek in Zwolle?").text


@pytest.mark.slow
def test_refuse_policy_indexes_nothing(settings, e5, tmp_path):
    kb = build_kb(settings.with_(pii_policy="refuse"), embedding=e5)
    note = tmp_path / "casus.md"
    note.write_text(CASE_NOTE, encoding="utf-8")
    result = kb.ingest([note]).results[0]
    assert result.status == "refused" and "persoonsgegevens" in result.reason
    assert kb.documents() == []


def _zip_bomb(path: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", b"\0" * (210 * 1024 * 1024))
    path.write_bytes(buffer.getvalue())
    return path


def test_zip_bomb_docx_is_refused(tmp_path):
    path = _zip_bomb(tmp_path / "bom.docx")
    assert path.stat().st_size < 2_000_000
    with pytest.raises(DocumentError, match="zip-bom"):
        prepare_document(path, 50 * 1_048_576)


def _junk_files(folder: Path, seed: int = 11, n: int = 40) -> list[Path]:
    """Generated junk: random bytes, truncated PDFs, control characters, broken zips."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    good_pdf = make_pdf(folder / "bron.pdf", [["Een gewone zin over de brede intake."]]).read_bytes()
    (folder / "bron.pdf").unlink()
    makers = [
        lambda: rng.randbytes(rng.randint(1, 5000)),
        lambda: good_pdf[: rng.randint(10, len(good_pdf) - 1)],
        lambda: b"%PDF-1.7\n" + rng.randbytes(rng.randint(10, 3000)),
        lambda: "".join(chr(rng.choice([0x0B, 0x0C, 0x1B, 0x7F, 0x202E, 0xFEFF, 0x41])) for _ in range(500)).encode(),
        lambda: b"PK\x03\x04" + rng.randbytes(rng.randint(10, 2000)),
        lambda: ("tekst " * rng.randint(0, 3)).encode("utf-16"),
        lambda: b"<html><body>" + rng.randbytes(300) + b"</body>",
    ]
    names = ["a.pdf", "b.docx", "c.txt", "d.md", "e.html", "f..txt", "g h(1).pdf", "ü ñ.md"]
    paths = []
    for i in range(n):
        path = folder / f"{i:02d}-{rng.choice(names)}"
        path.write_bytes(rng.choice(makers)())
        paths.append(path)
    return paths


def test_fuzz_loaders_never_crash(tmp_path):
    for path in _junk_files(tmp_path / "junk"):
        try:
            prepare_document(path, 50 * 1_048_576)
        except DocumentError as exc:
            assert str(exc) and "Traceback" not in str(exc)


@pytest.mark.slow
def test_junk_batch_leaves_the_index_unchanged(sample_copy, e5, tmp_path):
    kb = build_kb(Settings().with_(data_dir=sample_copy), embedding=e5)
    before = {d.doc_id: (d.doc_hash, d.chunks) for d in kb.documents()}
    count = kb.store.count()
    _junk_files(tmp_path / "junk")
    report = kb.ingest([tmp_path / "junk"])
    assert len(report.results) == 40
    assert {r.status for r in report.results} <= {"refused", "added"}
    added = [r for r in report.results if r.status == "added"]
    after = {d.doc_id: (d.doc_hash, d.chunks) for d in kb.documents()}
    assert {k: v for k, v in after.items() if k in before} == before
    assert kb.store.count() == count + sum(r.chunks for r in added)
    assert "veertig uur" in kb.ask("Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?").text


def _child(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO
    )


@pytest.mark.slow
def test_kill_9_during_a_replace_keeps_the_old_version_and_the_next_run_completes(sample_copy, e5, tmp_path):
    """Regression guard: an update cut off mid-write must not lose or mix the document."""
    folder = tmp_path / "upd"
    folder.mkdir()
    source = (REPO / "corpus" / "004_1eff632b21827cd6.txt").read_text(encoding="utf-8")
    new_text = re.sub(r"minimaal veertig\s+uur", "minimaal zestig uur", source)
    assert new_text != source
    (folder / "004_1eff632b21827cd6.txt").write_text(new_text, encoding="utf-8")
    (folder / "004_1eff632b21827cd6.meta.yaml").write_text(
        (REPO / "corpus" / "004_1eff632b21827cd6.meta.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    child = _child("tests/crash_ingest.py", str(sample_copy), str(folder))
    lines = []
    for line in child.stdout:
        lines.append(line)
        if line.startswith("upsert 1"):
            child.send_signal(signal.SIGKILL)  # mid-write: one batch of the new version stored
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, lines

    kb = build_kb(Settings().with_(data_dir=sample_copy), embedding=e5)
    question = "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?"
    during = kb.ask(question)
    assert "veertig uur" in during.text and "zestig" not in " ".join(p.text for p in during.retrieved)
    assert len(kb.documents()) == 5

    report = kb.ingest([folder])
    assert report.results[0].status == "replaced"
    after = kb.ask(question)
    assert "zestig uur" in after.text
    doc = next(d for d in kb.documents() if d.doc_id == "cop-klantmanagers-gezinsmigranten")
    assert doc.complete and doc.other_versions == 0


@pytest.mark.slow
def test_two_ingests_at_once_are_serialised(sample_copy, tmp_path):
    folders = []
    for name in ("een", "twee"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / f"{name}.md").write_text(f"# {name}\n\nDocument {name} gaat over de taalschool in Emmen en de PIP.\n")
        folders.append(folder)
    env = {**os.environ, "KB_DATA_DIR": str(sample_copy)}
    kb_bin = str(Path(sys.executable).parent / "kb")
    procs = [
        subprocess.Popen(
            [kb_bin, "ingest", str(f)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        for f in folders
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert all("toegevoegd" in out for out in outputs)
    listed = CliRunner().invoke(main, ["docs", "list"], env={"KB_DATA_DIR": str(sample_copy)}).output
    assert "een " in listed and "twee " in listed and "handreiking-warme-overdracht" in listed


@pytest.mark.slow
def test_queries_during_a_replace_see_old_or_new_never_both_or_neither(kb, tmp_path):
    doc = tmp_path / "regel.md"
    versions = [
        "# Regel\n\n"
        + " ".join(f"Zin {i} over de vergoeding: de taalschool in Oss vergoedt OUDWAARDE." for i in range(30)),
        "# Regel\n\n"
        + " ".join(f"Zin {i} over de vergoeding: de taalschool in Oss vergoedt NIEUWWAARDE." for i in range(30)),
    ]
    doc.write_text(versions[0])
    kb.ingest([doc])
    seen: list[tuple[bool, bool]] = []
    stop = threading.Event()

    def ask_loop():
        while not stop.is_set():
            texts = " ".join(p.text for p in kb.ask("Wat vergoedt de taalschool in Oss?").retrieved)
            seen.append(("OUDWAARDE" in texts, "NIEUWWAARDE" in texts))

    worker = threading.Thread(target=ask_loop)
    worker.start()
    try:
        for i in range(4):
            doc.write_text(versions[(i + 1) % 2])
            kb.ingest([doc])
    finally:
        stop.set()
        worker.join(timeout=60)
    assert len(seen) > 3
    assert all(old != new for old, new in seen), seen


@pytest.mark.slow
def test_queries_from_several_threads_during_an_ingest_have_no_errors(sample_copy, e5, tmp_path):
    from evals.bench import load_during_ingest, make_scaled_corpus

    kb = build_kb(Settings().with_(data_dir=sample_copy), embedding=e5)
    make_scaled_corpus(tmp_path / "load", 3, seed=5)
    result = load_during_ingest(kb, tmp_path / "load", threads=3)
    assert result["errors"] == 0, result["error_samples"]
    assert result["ingested"] == 3 and result["queries"] > 0

"""The store owns its schema: old indexes are upgraded, newer ones refused, and the index
fingerprint covers everything that shapes an embedding (model, chunker, ``embed_input``)."""

from __future__ import annotations

from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from click.testing import CliRunner

from ingest.chunk import CHUNKER_VERSION
from ingest.pipeline import prepare_document
from kb.cli import main
from kb.embeddings import E5_MODEL_ID
from kb.errors import SchemaTooNewError
from kb.index import passage_text, schema
from kb.service import build_kb

pytestmark = pytest.mark.slow

DOC = (
    "# Intake\n\nDe klantmanager voert de brede intake binnen tien weken na de huisvesting in Deventer.\n\n"
    "# Kosten\n\nDe gemeente Deventer betaalt de reiskosten naar de taalschool vanaf zes kilometer afstand.\n"
)


def _write_schema_1_index(data_dir: Path, source: Path, e5) -> None:
    """Write ``source`` into a fresh index exactly as schema-1 code did (no state collection,
    no ``embed_fp``/``input_hash``; ``kb_schema: 1`` on the collection)."""
    prepared = prepare_document(source, 50 * 1_048_576)
    meta, model = prepared.meta, e5[0]
    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection(
        "kennisbank",
        embedding_function=None,
        metadata={"embedding_model": E5_MODEL_ID, "embedding_dim": 384, "kb_schema": 1, "hnsw:space": "cosine"},
    )
    base = {
        "doc_id": meta.doc_id,
        "doc_hash": prepared.doc_hash,
        "content_hash": prepared.content_hash,
        "n_chunks": len(prepared.chunks),
        "title": meta.title,
        "publisher": meta.publisher,
        "date": meta.date,
        "year": meta.year,
        "kind": meta.kind,
        "cop": meta.cop,
        "themes": "; ".join(meta.themes),
        "author": meta.author,
        "url": meta.url,
        "source": meta.source,
        "ingested_at": "2025-01-01T00:00:00.000000+00:00",
    }
    inputs = [
        f"{meta.title} — {c.section}\n{c.text}" if c.section else f"{meta.title}\n{c.text}" for c in prepared.chunks
    ]
    collection.add(
        ids=[c.chunk_id for c in prepared.chunks],
        embeddings=model.get_text_embedding_batch(inputs),
        documents=[c.text for c in prepared.chunks],
        metadatas=[
            {
                **base,
                "chunk_index": c.index,
                "section": c.section,
                "page_start": c.page_start,
                "page_end": c.page_end,
                "locator": c.locator,
            }
            for c in prepared.chunks
        ],
    )


def test_a_schema_1_index_is_upgraded_on_open_and_needs_no_re_embedding(settings, e5, tmp_path):
    source = tmp_path / "docs" / "deventer.md"
    source.parent.mkdir()
    source.write_text(DOC, encoding="utf-8")
    _write_schema_1_index(settings.data_dir, source, e5)

    kb = build_kb(settings, embedding=e5)
    assert kb.store.schema_version == schema.SCHEMA_VERSION == 2
    assert kb.store.generation(), "the upgrade writes the state record"
    passages = kb.store.current_passages()
    assert len(passages) == 2 and all(p.fingerprint and p.input_hash for p in passages)
    assert kb.documents()[0].fingerprint == passage_text.embedding_fingerprint(E5_MODEL_ID, CHUNKER_VERSION)
    assert "reiskosten" in kb.ask("Wie betaalt de reiskosten naar de taalschool in Deventer?").text

    again = kb.ingest([source.parent])
    assert again.results[0].status == "unchanged" and again.embedded == 0
    reopened = build_kb(settings, embedding=e5)  # a second open finds nothing left to upgrade
    assert not reopened.store.needs_upgrade


def test_an_index_from_a_newer_version_is_refused_with_a_plain_message(settings, e5):
    kb = build_kb(settings, embedding=e5)  # a new index: schema 2 in its state record
    state = kb.store._state
    state.upsert(ids=[schema.STATE_ID], embeddings=[[1.0]], metadatas=[schema.encode_state(3, "x", "")])
    with pytest.raises(SchemaTooNewError, match="nieuwere versie van de kennisbank"):
        build_kb(settings, embedding=e5)
    refused = CliRunner().invoke(main, ["docs", "list"], env={"KB_DATA_DIR": str(settings.data_dir)})
    assert refused.exit_code == 2 and "schema 3" in refused.output and "Traceback" not in refused.output


def test_a_change_to_embed_input_re_embeds_exactly_the_affected_passages(kb, tmp_path, monkeypatch):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "deventer.md").write_text(DOC, encoding="utf-8")
    assert kb.ingest([folder]).results[0].embedded == 2

    embedded: list[str] = []
    model_class = type(kb.embed_model)
    original_batch = model_class.get_text_embedding_batch
    monkeypatch.setattr(
        model_class,
        "get_text_embedding_batch",
        lambda self, texts, **kw: embedded.extend(texts) or original_batch(self, texts, **kw),
    )
    original_input = passage_text.embed_input

    def new_embed_input(title: str, section: str, text: str) -> str:  # only 'Kosten' passages change
        return original_input(title, section.upper() if section == "Kosten" else section, text)

    monkeypatch.setattr(passage_text, "embed_input", new_embed_input)
    changed = kb.ingest([folder]).results[0]
    assert changed.status == "replaced" and changed.status_nl == "vervangen"
    assert changed.embedded == 1 and len(embedded) == 1
    assert "KOSTEN" in embedded[0] and "reiskosten" in embedded[0]
    stored = {p.section: p for p in kb.store.current_passages()}
    assert stored["Kosten"].input_hash == passage_text.input_hash(embedded[0])

    embedded.clear()
    again = kb.ingest([folder]).results[0]
    assert again.status == "unchanged" and embedded == []


def test_the_fingerprint_covers_model_chunker_and_embed_input(monkeypatch):
    before = passage_text.embedding_fingerprint(E5_MODEL_ID, CHUNKER_VERSION)
    assert passage_text.embedding_fingerprint("st:all-MiniLM-L6-v2", CHUNKER_VERSION) != before
    assert passage_text.embedding_fingerprint(E5_MODEL_ID, CHUNKER_VERSION + "b") != before
    monkeypatch.setattr(passage_text, "embed_input", lambda title, section, text: f"{title}\n\n{section}\n{text}")
    assert passage_text.embedding_fingerprint(E5_MODEL_ID, CHUNKER_VERSION) != before


def test_an_export_from_schema_1_is_upgraded_on_import(settings, e5, tmp_path):
    import io
    import json
    import tarfile

    import numpy as np

    source = tmp_path / "docs" / "deventer.md"
    source.parent.mkdir()
    source.write_text(DOC, encoding="utf-8")
    old_dir = tmp_path / "old"
    _write_schema_1_index(old_dir, source, e5)
    client = chromadb.PersistentClient(
        path=str(old_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    records = client.get_collection("kennisbank").get(include=["metadatas", "documents", "embeddings"])
    # the archive as schema-1 code wrote it: no "schema" in the manifest
    manifest = {"format": "cop-kennisbank-export/1", "embedding_model": E5_MODEL_ID, "embedding_dim": 384}
    lines = "".join(
        json.dumps({"id": i, "text": t, "metadata": m}, ensure_ascii=False) + "\n"
        for i, t, m in zip(records["ids"], records["documents"], records["metadatas"])
    )
    matrix = io.BytesIO()
    np.save(matrix, np.asarray(records["embeddings"], dtype=np.float32))
    archive = tmp_path / "oud.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, payload in (
            ("manifest.json", json.dumps(manifest).encode()),
            ("records.jsonl", lines.encode()),
            ("embeddings.npy", matrix.getvalue()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))

    env = {"KB_DATA_DIR": str(settings.data_dir)}
    imported = CliRunner().invoke(main, ["import", str(archive)], env=env)
    assert imported.exit_code == 0 and "1 documenten (2 passages)" in imported.output, imported.output
    kb = build_kb(settings, embedding=e5)
    assert all(p.fingerprint and p.input_hash for p in kb.store.current_passages())
    again = kb.ingest([source.parent]).results[0]
    assert again.status == "unchanged" and again.embedded == 0

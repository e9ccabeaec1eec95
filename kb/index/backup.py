"""Export and import the whole index: passages, metadata, embeddings and a manifest.

The archive (``.tar.gz``) holds ``manifest.json`` (format version, embedding model,
documents with their metadata, content hashes and passage counts), ``records.jsonl``
(one passage per line: id, text, metadata) and ``embeddings.npy`` (float32, same order).
Importing needs no embedding work and refuses an archive made with another model.
Documents in the archive replace the same documents in the index; others are kept. An
archive written by an older schema has its records upgraded by :mod:`kb.index.schema`'s
migrations on the way in.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from kb.errors import KBError, ModelMismatchError, SchemaTooNewError
from kb.index import schema
from kb.index.store import ChunkStore

FORMAT = "cop-kennisbank-export/1"


def export_index(store: ChunkStore, target: Path) -> dict:
    """Write the index to ``target``; returns the manifest."""
    records = [r for r in store.records(include=["metadatas", "documents", "embeddings"])]
    documents = {d.doc_id: asdict(d) for d in store.documents()}
    manifest = {
        "format": FORMAT,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedding_model": store.model_id,
        "embedding_dim": store.dim,
        "schema": schema.SCHEMA_VERSION,
        "passages": len(records),
        "documents": sorted(documents.values(), key=lambda d: d["doc_id"]),
    }
    lines = "".join(
        json.dumps({"id": cid, "text": text, "metadata": md}, ensure_ascii=False) + "\n" for cid, md, text, _ in records
    )
    matrix = np.asarray([emb for *_rest, emb in records], dtype=np.float32).reshape(len(records), store.dim)
    buffer = io.BytesIO()
    np.save(buffer, matrix)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as tar:
        for name, payload in (
            ("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2).encode()),
            ("records.jsonl", lines.encode()),
            ("embeddings.npy", buffer.getvalue()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return manifest


def _read(tar: tarfile.TarFile, name: str) -> bytes:
    member = tar.extractfile(name)
    if member is None:
        raise KBError(f"Het exportbestand mist '{name}'.")
    return member.read()


def import_index(store: ChunkStore, source: Path) -> dict:
    """Load an export into ``store``; returns {'documents': n, 'passages': n}."""
    try:
        with tarfile.open(source, "r:gz") as tar:
            manifest = json.loads(_read(tar, "manifest.json"))
            lines = _read(tar, "records.jsonl").decode().splitlines()
            matrix = np.load(io.BytesIO(_read(tar, "embeddings.npy")), allow_pickle=False)
    except (tarfile.TarError, OSError, json.JSONDecodeError, ValueError, KeyError) as exc:
        raise KBError(
            f"'{source.name}' is geen geldig exportbestand van de kennisbank ({type(exc).__name__})."
        ) from exc
    if manifest.get("format") != FORMAT:
        raise KBError(f"'{source.name}' heeft een onbekend formaat ({manifest.get('format')}).")
    if manifest.get("embedding_model") != store.model_id:
        raise ModelMismatchError(
            f"Deze export is gemaakt met model '{manifest.get('embedding_model')}', de index gebruikt "
            f"'{store.model_id}'. Zet KB_EMBEDDING op hetzelfde model."
        )
    if len(lines) != len(matrix):
        raise KBError("Het exportbestand is onvolledig: het aantal passages klopt niet.")
    from_version = int(manifest.get("schema", 1))
    if from_version > schema.SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"'{source.name}' is gemaakt door een nieuwere versie van de kennisbank (schema {from_version}). "
            "Werk de kennisbank bij en importeer opnieuw."
        )
    passages = []
    for line, vector in zip(lines, matrix):
        record = json.loads(line)
        md = schema.upgrade_record(record["metadata"], record["text"], store.model_id, from_version)
        passages.append((schema.decode_passage(record["id"], md, record["text"]), vector.tolist()))
    vectors = {p.chunk_id: vector for p, vector in passages}
    imported = 0
    for by_hash in schema.versions_by_document(p for p, _v in passages).values():
        version = schema.newest_version(by_hash)
        if not schema.is_complete(version):
            continue  # only an incomplete version in the export: nothing to import for this document
        first = version[0]
        store.add_document(
            first.document_meta(),
            first.doc_hash,
            first.content_hash,
            [p.chunk() for p in version],
            [vectors[p.chunk_id] for p in version],
            input_hashes=[p.input_hash for p in version],
            fingerprint=first.fingerprint,
        )
        imported += 1
    return {"documents": imported, "passages": len(passages)}

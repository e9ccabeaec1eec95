"""Export and import the whole index: passages, metadata, embeddings and a manifest.

The archive (``.tar.gz``) holds ``manifest.json`` (format version, embedding model,
documents with their metadata, content hashes and passage counts), ``records.jsonl``
(one passage per line: id, text, metadata) and ``embeddings.npy`` (float32, same order).
Importing needs no embedding work and refuses an archive made with another model.
Documents in the archive replace the same documents in the index; others are kept.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from kb.errors import KBError, ModelMismatchError
from kb.records import Chunk, DocumentMeta
from kb.store import ChunkStore

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
    versions: dict[tuple[str, str], list[tuple[dict, list[float]]]] = defaultdict(list)
    for line, vector in zip(lines, matrix):
        record = json.loads(line)
        md = record["metadata"]
        versions[(md["doc_id"], md["doc_hash"])].append(({**record, "metadata": md}, vector.tolist()))
    imported = 0
    for (doc_id, doc_hash), items in versions.items():
        items.sort(key=lambda item: item[0]["metadata"].get("chunk_index", 0))
        md = items[0][0]["metadata"]
        if len(items) != md.get("n_chunks"):
            continue  # an incomplete version in the export: the complete one (if any) is imported
        meta = DocumentMeta(
            doc_id=doc_id,
            title=md.get("title", doc_id),
            publisher=md.get("publisher", ""),
            date=md.get("date", ""),
            year=int(md.get("year", 0) or 0),
            kind=md.get("kind", ""),
            cop=md.get("cop", ""),
            themes=tuple(t for t in md.get("themes", "").split("; ") if t),
            author=md.get("author", ""),
            url=md.get("url", ""),
            source=md.get("source", ""),
        )
        chunks = [
            Chunk(
                chunk_id=rec["id"],
                doc_id=doc_id,
                index=int(rec["metadata"].get("chunk_index", 0)),
                text=rec["text"],
                section=rec["metadata"].get("section", ""),
                page_start=int(rec["metadata"].get("page_start", 0)),
                page_end=int(rec["metadata"].get("page_end", 0)),
            )
            for rec, _vec in items
        ]
        store.add_document(meta, doc_hash, md.get("content_hash", ""), chunks, [vec for _rec, vec in items])
        imported += 1
    return {"documents": imported, "passages": sum(len(v) for v in versions.values())}

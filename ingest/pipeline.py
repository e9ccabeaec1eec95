"""Ingest files into the store: load → clean → chunk → embed → store, one file at a time.

Why not llama-index's ``IngestionPipeline`` with a docstore: its upsert strategy deletes a
changed document's old nodes and records the new hash *before* embedding the new
version, so a crash or error mid-way leaves the document missing and the next run
skips it as unchanged. Its docstore is also a local JSON file that several app
instances on one Chroma server would not share. Here the store is the manifest and a
version is written completely before the old one is removed.

Re-running is safe: an unchanged file (same text, metadata, chunker, model and
``embed_input``) costs no embedding; a changed file replaces its chunks and re-uses the
vectors of passages whose embedded text is unchanged; files from other folders are never
touched. When ``embed_input`` changes, the index fingerprint changes, so the next ingest
re-embeds exactly the passages whose embedded text came out different.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding

from ingest.chunk import CHUNKER_VERSION, chunk_blocks
from ingest.clean import clean_blocks
from ingest.loaders import load_file
from ingest.metadata import build_meta, date_in_text, is_sidecar, parse_front_matter, read_sidecar
from ingest.ownership import ReplacementRefused, ReplacementRule
from ingest.privacy import guard, guard_metadata, name_findings, neutral_id, redact_name, refuse_if, summarize
from kb.errors import DocumentError, KBError
from kb.filetypes import SUPPORTED, size_refusal
from kb.index import passage_text
from kb.index.store import ChunkStore
from kb.nl.text import normalize_whitespace
from kb.privacy.injection import KINDS_NL, find_instructions
from kb.records import Chunk, DocumentMeta, FileResult, IngestReport
from kb.validity import regime_in_text

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
EMBED_BATCH = 32


@dataclass
class PreparedDocument:
    meta: DocumentMeta
    doc_hash: str
    content_hash: str
    chunks: list[Chunk]
    privacy: str = ""
    warnings: list[str] = field(default_factory=list)


def discover(paths: Iterable[Path]) -> list[Path]:
    """Files to ingest: given files as they are, folders recursively (supported types only)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel_parts = child.relative_to(path).parts
                if (
                    child.is_file()
                    and not any(part.startswith(".") for part in rel_parts)
                    and not is_sidecar(child)
                    and child.suffix.lower() in SUPPORTED
                ):
                    found.append(child)
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prepare_document(
    path: Path, max_bytes: int, overrides: dict[str, Any] | None = None, pii_policy: str = "redact"
) -> PreparedDocument:
    """Read, clean, guard personal data and chunk one file (no store, no model).

    Raises :class:`DocumentError` with a message for the user.
    """
    if not path.is_file():
        raise DocumentError("Het bestand bestaat niet (meer) of is geen gewoon bestand.")
    refusal = size_refusal(path.stat().st_size, max_bytes)
    if refusal:
        raise DocumentError(refusal)
    loaded = load_file(path, path.read_bytes())
    blocks, findings = guard(clean_blocks(loaded.blocks), pii_policy)
    full_text = normalize_whitespace(" ".join(b.text for b in blocks))
    if len(full_text) < 20 or not any(ch.isalpha() for ch in full_text):
        raise DocumentError("Er staat (bijna) geen leesbare tekst in dit bestand; er is niets geïndexeerd.")
    first_heading = next((b.text for b in blocks if b.kind == "heading" and len(b.text) > 8), "")
    layers = [
        ("PDF/DOCX-eigenschappen", loaded.embedded_meta),
        ("front matter", parse_front_matter(loaded.front_matter, path.name)),
        ("sidecar", read_sidecar(path)),
        ("formulier", overrides or {}),
    ]
    shown_path = path
    if pii_policy != "off":
        guarded = [guard_metadata(layer, origin) for origin, layer in layers]
        layers = [(origin, layer) for (origin, _), (layer, _) in zip(layers, guarded)]
        findings = findings + [f for _, found in guarded for f in found]
        in_name = name_findings(path.name)
        if in_name:
            # the file name becomes the id, title and source: none of them may carry the value
            findings += in_name
            shown_path = path.with_name(redact_name(path.name))
            layers.insert(0, ("bestandsnaam", {"id": neutral_id(path.stem)}))
        refuse_if(findings, pii_policy)
    meta = build_meta(
        shown_path,
        [layer for _origin, layer in layers],
        first_heading=first_heading,
        # from the redacted text: a date of birth near the top is not the document's date
        text_date=date_in_text("\n".join(b.text for b in blocks[:6])),
        text_regime=regime_in_text(full_text),
    )
    content_hash = _sha(full_text)
    provisional = chunk_blocks(meta.doc_id, "", blocks)
    fingerprint = json.dumps(
        {
            "meta": asdict(meta),
            "chunker": CHUNKER_VERSION,
            "chunks": [(c.section, c.text, c.page_start) for c in provisional],
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    doc_hash = _sha(fingerprint)
    chunks = chunk_blocks(meta.doc_id, doc_hash, blocks)
    return PreparedDocument(meta, doc_hash, content_hash, chunks, summarize(findings), instruction_warnings(blocks))


def instruction_warnings(blocks: list) -> list[str]:
    """Passages that address the assistant (instructions, requests for passwords), by place."""
    warnings = []
    for number, block in enumerate(blocks, start=1):
        where = f"p. {block.page}" if block.page else f"alinea {number}"
        warnings.extend(
            f"Tekst die zich tot de assistent richt ({where}): {KINDS_NL[k]}." for k in find_instructions(block.text)
        )
    return warnings


class Ingestor:
    """Ingests files into a :class:`ChunkStore` with an embedding model (both passed in)."""

    def __init__(
        self, store: ChunkStore, embed_model: BaseEmbedding, max_file_mb: int = 50, pii_policy: str = "redact"
    ) -> None:
        self.store = store
        self.embed_model = embed_model
        self.max_bytes = max_file_mb * 1_048_576
        self.pii_policy = pii_policy

    def ingest(
        self,
        paths: Iterable[Path],
        overrides: dict[str, Any] | None = None,
        progress: Progress | None = None,
        uploaded: ReplacementRule | None = None,
    ) -> IngestReport:
        """Ingest every file; a bad file is reported and the rest goes on.

        ``uploaded``: the files come from the app's upload form, and this rule says which existing
        document each may replace (checked on the prepared document, before anything is written).
        """
        started = time.perf_counter()
        self.fingerprint = passage_text.embedding_fingerprint(self.store.model_id, CHUNKER_VERSION)
        files = discover(paths)
        report = IngestReport()
        existing = {d.doc_id: d for d in self.store.documents()}
        by_content = {d.content_hash: d.doc_id for d in existing.values() if d.content_hash}
        self._seen: dict[str, Path] = {}
        held_back: list[FileResult] = []
        for number, path in enumerate(files):

            def step(fraction: float, message: str, _n: int = number, _name: str = redact_name(path.name)) -> None:
                if progress:
                    progress((_n + fraction) / max(len(files), 1), f"{_name}: {message}")

            step(0.0, "lezen")
            try:
                result = self._ingest_one(path, overrides, existing, by_content, step, uploaded)
            except ReplacementRefused as exc:
                # after the files that were processed: the order in which the upload form has always listed them
                held_back.append(FileResult(str(path), "refused", reason=str(exc)))
                log.info("ingest %s: refused (would replace another document)", held_back[-1].name)
                continue
            except KBError as exc:
                result = FileResult(str(path), "refused", reason=str(exc))
            except Exception as exc:  # a traceback is a bug, but one bad file must not stop the batch
                log.exception("unexpected error while ingesting %s", redact_name(path.name))
                result = FileResult(
                    str(path), "refused", reason=f"Onverwachte fout bij het verwerken ({type(exc).__name__})."
                )
            report.results.append(result)
            log.info("ingest %s: %s (%d chunks)", result.name, result.status, result.chunks)
        report.results.extend(held_back)
        if progress:
            progress(1.0, "klaar")
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_one(self, path, overrides, existing, by_content, step, uploaded=None) -> FileResult:
        prepared = prepare_document(path, self.max_bytes, overrides, self.pii_policy)
        meta = prepared.meta
        if uploaded is not None:  # before anything else: a refused file takes no id in this batch
            uploaded.check(path, existing.get(meta.doc_id))
        earlier = self._seen.setdefault(meta.doc_id, path)
        if earlier != path:
            raise DocumentError(
                f"'{redact_name(earlier.name)}' en dit bestand krijgen allebei de id '{meta.doc_id}'. "
                "Geef een van beide een eigen 'id' in de metadata (sidecar of front matter)."
            )
        current = existing.get(meta.doc_id)
        base = FileResult(
            str(path),
            "",
            meta.doc_id,
            meta.title,
            len(prepared.chunks),
            privacy=prepared.privacy,
            warnings=prepared.warnings,
        )
        if prepared.privacy:
            base.reason = f"Persoonsgegevens onleesbaar gemaakt vóór het indexeren: {prepared.privacy}."
        if prepared.warnings:
            base.reason = " ".join([base.reason, "Controleer dit document:", *prepared.warnings]).strip()
        inputs = [passage_text.embed_input(meta.title, c.section, c.text) for c in prepared.chunks]
        hashes = [passage_text.input_hash(text) for text in inputs]
        if (
            current
            and current.doc_hash == prepared.doc_hash
            and current.complete
            and current.fingerprint == self.fingerprint
            and current.inputs_digest == passage_text.inputs_digest(hashes)
        ):
            if current.other_versions:
                self.store.delete_other_versions(meta.doc_id, current.doc_hash)  # finish an interrupted update
            base.status = "unchanged"
            return base
        twin = by_content.get(prepared.content_hash)
        if twin and twin != meta.doc_id:
            base.status, base.chunks = "duplicate", 0
            base.reason = f"Dezelfde tekst staat al in de kennisbank als '{twin}'; dit bestand is overgeslagen."
            return base
        reuse = self.store.embeddings_by_input(meta.doc_id) if current else {}
        embeddings: list[list[float] | None] = [reuse.get(h) for h in hashes]
        todo = [i for i, e in enumerate(embeddings) if e is None]
        for start in range(0, len(todo), EMBED_BATCH):
            batch = todo[start : start + EMBED_BATCH]
            vectors = self.embed_model.get_text_embedding_batch([inputs[i] for i in batch])
            for i, vector in zip(batch, vectors):
                embeddings[i] = vector
            step(0.1 + 0.8 * (start + len(batch)) / len(todo), f"embedden {start + len(batch)}/{len(todo)}")
        self.store.add_document(
            meta,
            prepared.doc_hash,
            prepared.content_hash,
            prepared.chunks,
            embeddings,  # type: ignore[arg-type]
            input_hashes=hashes,
            fingerprint=self.fingerprint,
        )
        by_content[prepared.content_hash] = meta.doc_id
        base.status = "replaced" if current else "added"
        base.embedded = len(todo)
        return base

"""How a passage is written into Chroma and read back: the one place that knows the metadata keys.

Every record is one passage. Its metadata carries the document's metadata, the document
version (``doc_hash``, ``n_chunks``, ``ingested_at``) and, since schema 2, how its vector
was made (``embed_fp``: model, chunker and ``embed_input`` fingerprint; ``input_hash``: the
exact text that was embedded). Besides the passages, a small ``<collection>__meta``
collection holds one state record: the schema version and the write generation.

Schema changes are numbered migration functions (``migrate_1_to_2``, ...), each turning one
record's metadata of version N into version N+1; :data:`MIGRATIONS` lists them in order.
The store applies them to an older index when it is opened, and so does an import of an
older export.

Adding an optional document field needs no new version when an absent key reads as
"unknown": the validity fields (``valid_from``, ``valid_until``, ``superseded_by``,
``regime``, ``predates_regime``) are such fields. They change every document's
``doc_hash``, so the next ``kb ingest`` rewrites the documents with them (re-using
their vectors); until then a document simply has no known regime.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kb.index.passage_text import embedding_fingerprint, input_hash
from kb.records import Chunk, DocumentMeta

SCHEMA_VERSION = 2
META_SUFFIX = "__meta"  # the state collection is named <collection>__meta
STATE_ID = "state"

# Bookkeeping keys: never shown, never filtered on.
_VERSION_KEYS = ("doc_hash", "content_hash", "n_chunks", "ingested_at", "embed_fp", "input_hash", "chunk_index")


@dataclass(frozen=True)
class StoredPassage:
    """One stored passage, decoded: what it says, where it sits, and which document version it belongs to."""

    chunk_id: str
    doc_id: str
    doc_hash: str
    index: int
    text: str
    n_chunks: int
    ingested_at: str
    content_hash: str = ""
    fingerprint: str = ""  # embed_fp: how its vector was made ('' = unknown)
    input_hash: str = ""  # hash of the exact embedded text
    fields: dict[str, Any] = field(default_factory=dict)  # document and location fields (title, kind, locator, ...)

    @property
    def title(self) -> str:
        return str(self.fields.get("title", self.doc_id))

    @property
    def section(self) -> str:
        return str(self.fields.get("section", ""))

    def document_meta(self) -> DocumentMeta:
        f = self.fields
        return DocumentMeta(
            doc_id=self.doc_id,
            title=self.title,
            publisher=f.get("publisher", ""),
            date=f.get("date", ""),
            year=int(f.get("year", 0) or 0),
            kind=f.get("kind", ""),
            cop=f.get("cop", ""),
            themes=tuple(t for t in str(f.get("themes", "")).split("; ") if t),
            author=f.get("author", ""),
            url=f.get("url", ""),
            source=f.get("source", ""),
            valid_from=f.get("valid_from", ""),
            valid_until=f.get("valid_until", ""),
            superseded_by=f.get("superseded_by", ""),
            regime=f.get("regime", ""),
            predates_regime=bool(f.get("predates_regime", False)),
        )

    def chunk(self) -> Chunk:
        f = self.fields
        return Chunk(
            chunk_id=self.chunk_id,
            doc_id=self.doc_id,
            index=self.index,
            text=self.text,
            section=self.section,
            page_start=int(f.get("page_start", 0) or 0),
            page_end=int(f.get("page_end", 0) or 0),
        )


@dataclass(frozen=True)
class VersionInfo:
    """What is written once per document version."""

    doc_hash: str
    content_hash: str
    n_chunks: int
    ingested_at: str
    fingerprint: str


def encode_passage(meta: DocumentMeta, version: VersionInfo, chunk: Chunk, input_hash: str) -> dict[str, Any]:
    """Chroma metadata for one passage (scalars only; ``None`` left out)."""
    data = {
        "doc_id": meta.doc_id,
        "doc_hash": version.doc_hash,
        "content_hash": version.content_hash,
        "n_chunks": version.n_chunks,
        "ingested_at": version.ingested_at,
        "embed_fp": version.fingerprint,
        "input_hash": input_hash,
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
        "valid_from": meta.valid_from,
        "valid_until": meta.valid_until,
        "superseded_by": meta.superseded_by,
        "regime": meta.regime,
        "predates_regime": meta.predates_regime,
        "chunk_index": chunk.index,
        "section": chunk.section,
        "page_start": chunk.page_start,
        "page_end": chunk.page_end,
        "locator": chunk.locator,
    }
    return {k: v for k, v in data.items() if v is not None}


def decode_passage(chunk_id: str, md: dict[str, Any], text: str | None) -> StoredPassage:
    """A stored record as a :class:`StoredPassage`."""
    return StoredPassage(
        chunk_id=chunk_id,
        doc_id=md["doc_id"],
        doc_hash=md["doc_hash"],
        index=int(md.get("chunk_index", 0)),
        text=text or "",
        n_chunks=int(md.get("n_chunks", -1)),
        ingested_at=str(md.get("ingested_at", "")),
        content_hash=str(md.get("content_hash", "")),
        fingerprint=str(md.get("embed_fp", "")),
        input_hash=str(md.get("input_hash", "")),
        fields={k: v for k, v in md.items() if k not in _VERSION_KEYS},
    )


# -- the one rule for what is searchable ---------------------------------------------------
def versions_by_document(passages: Iterable[StoredPassage]) -> dict[str, dict[str, list[StoredPassage]]]:
    """doc_id → doc_hash → that version's passages (in index order)."""
    grouped: dict[str, dict[str, list[StoredPassage]]] = defaultdict(lambda: defaultdict(list))
    for passage in passages:
        grouped[passage.doc_id][passage.doc_hash].append(passage)
    for by_hash in grouped.values():
        for passages_of_version in by_hash.values():
            passages_of_version.sort(key=lambda p: p.index)
    return grouped


def is_complete(version: list[StoredPassage]) -> bool:
    return bool(version) and len(version) == version[0].n_chunks


def newest_version(by_hash: dict[str, list[StoredPassage]]) -> list[StoredPassage]:
    """The version a document is listed as: the newest complete one, else the newest at all."""
    return max(by_hash.values(), key=lambda v: (is_complete(v), v[0].ingested_at))


def current_versions(passages: Iterable[StoredPassage]) -> list[StoredPassage]:
    """Per document only the newest *complete* version is searchable, sorted by (doc_id, index).

    A version being written (or cut off by a crash) stays invisible, so a query sees the
    old version or the new one, never a mix or a half document.
    """
    grouped = versions_by_document(passages)
    kept: list[StoredPassage] = []
    for doc_id in sorted(grouped):
        newest = newest_version(grouped[doc_id])
        if is_complete(newest):
            kept.extend(newest)
    return kept


# -- where clauses -------------------------------------------------------------------------
def where_document(doc_id: str) -> dict:
    return {"doc_id": doc_id}


def where_other_versions(doc_id: str, doc_hash: str) -> dict:
    return {"$and": [{"doc_id": doc_id}, {"doc_hash": {"$ne": doc_hash}}]}


# -- state record --------------------------------------------------------------------------
def encode_state(schema: int, generation: str, changed_at: str) -> dict[str, Any]:
    return {"schema": schema, "generation": generation, "changed_at": changed_at}


def decode_state(md: dict[str, Any] | None) -> tuple[int | None, str]:
    """(schema version, generation) from the state record; (None, '') when there is none."""
    if not md:
        return None, ""
    return int(md.get("schema", 0)) or None, str(md.get("generation", ""))


def schema_of_collection(metadata: dict[str, Any] | None) -> int:
    """Schema 1 wrote its version only into the collection's metadata (``kb_schema``)."""
    return int((metadata or {}).get("kb_schema", 1))


# -- migrations ----------------------------------------------------------------------------
def _embed_input_schema_1(title: str, section: str, text: str) -> str:
    """``embed_input`` as schema-1 code shipped it (frozen here: it describes old records)."""
    head = f"{title} — {section}" if section else title
    return f"{head}\n{text}"


def migrate_1_to_2(md: dict[str, Any], text: str, model_id: str) -> dict[str, Any]:
    """Schema 2 records how each vector was made: ``embed_fp`` and ``input_hash``.

    Schema-1 code embedded ``_embed_input_schema_1`` with chunker version 1 and the
    collection's model, so these are filled in exactly; when today's ``embed_input`` is
    the same, nothing has to be re-embedded after the upgrade.
    """
    if "embed_fp" in md and "input_hash" in md:
        return md  # already migrated (two processes may upgrade at once)
    embedded = _embed_input_schema_1(md.get("title", ""), md.get("section", ""), text)
    fingerprint = embedding_fingerprint(model_id, "1", embed=_embed_input_schema_1, version="1")
    return {**md, "embed_fp": fingerprint, "input_hash": input_hash(embedded)}


Migration = Callable[[dict[str, Any], str, str], dict[str, Any]]
MIGRATIONS: dict[int, Migration] = {1: migrate_1_to_2}  # from-version → function to from-version + 1
assert max(MIGRATIONS) + 1 == SCHEMA_VERSION, "every schema bump needs a migration"


def upgrade_record(md: dict[str, Any], text: str, model_id: str, from_version: int) -> dict[str, Any]:
    """Run the migrations from ``from_version`` up to :data:`SCHEMA_VERSION` on one record."""
    for version in range(from_version, SCHEMA_VERSION):
        md = MIGRATIONS[version](md, text, model_id)
    return md

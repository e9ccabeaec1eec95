"""The passage store: one Chroma collection, local folder or Chroma server.

Each record is one chunk; its metadata carries the document's metadata and its content
hash, so the store itself is the manifest (no second file that can drift from it, and
several app instances on one Chroma server see the same documents). The collection
records which embedding model built it; opening it with another model is refused.

Every write bumps a *generation* (see :meth:`ChunkStore.generation`), so a process that
built something from the store (the retriever's BM25 index) sees any change made by any
other process with one small read. Record metadata is encoded and decoded only by
:mod:`kb.index.schema`; an older index is upgraded on open, a newer one refused.

Embeddings are always passed in: Chroma's own default embedder would try to download
a model.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError

from kb.config import Settings
from kb.errors import ModelMismatchError, SchemaTooNewError, StoreUnavailableError
from kb.index import passage_text, schema
from kb.index.locking import ingest_lock
from kb.index.schema import SCHEMA_VERSION, StoredPassage, VersionInfo
from kb.records import Chunk, DocumentMeta

log = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 30.0
RETRIES = (0.5, 1.5, 3.0)  # waits between attempts when a Chroma server does not answer
_PAGE = 2000  # records per get() page


@dataclass(frozen=True)
class StoredDocument:
    """One indexed document as listed by ``kb docs list``."""

    doc_id: str
    title: str
    publisher: str
    date: str
    kind: str
    cop: str
    source: str
    doc_hash: str
    content_hash: str
    chunks: int
    ingested_at: str
    complete: bool
    other_versions: int = 0  # left over by an interrupted update; removed by the next ingest
    fingerprint: str = ""  # how its vectors were made (model, chunker, embed_input); '' = unknown
    inputs_digest: str = ""  # hash over the exact texts its vectors embed; '' = unknown


def make_client(settings: Settings) -> chromadb.api.ClientAPI:
    """A Chroma client for the local folder, or for ``KB_CHROMA_URL`` when set."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            if not url.hostname:
                raise StoreUnavailableError(f"KB_CHROMA_URL '{settings.chroma_url}' is geen geldige URL.")
            client = chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            _bound_http_timeout(client)
            client.heartbeat()
            return client
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.data_dir / "chroma"), settings=chroma_settings)
    except StoreUnavailableError:
        raise
    except Exception as exc:
        where = settings.chroma_url or str(settings.data_dir)
        raise StoreUnavailableError(
            f"De index op '{where}' is niet bereikbaar ({type(exc).__name__}). "
            "Controleer of de Chroma-server draait of de map beschrijfbaar is, en probeer het opnieuw."
        ) from exc


def _bound_http_timeout(client: chromadb.api.ClientAPI) -> None:
    """Chroma's HTTP client waits forever (``timeout=None``); a hung server must not hang the app."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(HTTP_TIMEOUT_S, connect=5.0)


def _transient(exc: Exception) -> bool:
    import httpx

    return isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError))


def _retrying(method):
    """Retry a store call a few times when the Chroma server is briefly away, then say so plainly."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        for attempt, wait in enumerate((*RETRIES, None)):
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                if not _transient(exc):
                    raise
                if wait is None:
                    raise StoreUnavailableError(
                        "De Chroma-server reageert niet (na "
                        f"{attempt + 1} pogingen). Controleer of de server draait en probeer het opnieuw."
                    ) from exc
                log.warning("Chroma server did not answer (%s); retrying in %.1f s", type(exc).__name__, wait)
                time.sleep(wait)

    return wrapper


class ChunkStore:
    """Verb methods over the Chroma collection: add, delete, list, search.

    The generation lives in a second, tiny collection ``<name>__meta`` holding one state
    record, not in the passage collection's own metadata: ``collection.modify(metadata=...)``
    replaces the whole metadata dict (HNSW settings included) and the value is cached in
    every client's collection handle, so reading it back means re-fetching the collection;
    a single-record ``upsert`` is one atomic write and ``get(ids=[...])`` one small read, on a
    ``PersistentClient`` (SQLite transaction) and on an ``HttpClient`` alike. The generation
    is a fresh random token per write, not a counter: two processes incrementing a counter
    could both write the same next value and a reader would miss one of the changes.
    """

    UPSERT_BATCH = 500  # records per write; crash tests lower it to widen the window

    def __init__(self, client: chromadb.api.ClientAPI, name: str, model_id: str, dim: int) -> None:
        self.model_id = model_id
        self.dim = dim
        self._client = client
        self._name = name
        self._attach(create=True)

    def _attach(self, create: bool) -> None:
        """Open the passage and state collections (``create``: make them when missing) and check them."""
        try:
            if create:
                self._collection = self._client.get_or_create_collection(
                    name=self._name,
                    embedding_function=None,
                    metadata={
                        "embedding_model": self.model_id,
                        "embedding_dim": self.dim,
                        "kb_schema": SCHEMA_VERSION,
                        "hnsw:space": "cosine",
                        # a wide HNSW search: the same question gets the same pool of passages every
                        # run (with the default, 1 of 104 eval questions varied between builds)
                        "hnsw:search_ef": 200,
                    },
                )
                self._state = self._client.get_or_create_collection(
                    name=self._name + schema.META_SUFFIX, embedding_function=None
                )
            else:
                self._collection = self._client.get_collection(self._name, embedding_function=None)
                self._state = self._client.get_collection(self._name + schema.META_SUFFIX, embedding_function=None)
        except NotFoundError:
            raise StoreUnavailableError(
                "De index wordt op dit moment opnieuw opgebouwd ('kb ingest --reset'). Probeer het zo opnieuw."
            ) from None
        except Exception as exc:
            raise StoreUnavailableError(
                f"De collectie '{self._name}' kan niet worden geopend ({type(exc).__name__}). Probeer het opnieuw."
            ) from exc
        built_with = (self._collection.metadata or {}).get("embedding_model")
        if built_with and built_with != self.model_id:
            raise ModelMismatchError(
                f"De index is gebouwd met embeddingmodel '{built_with}', maar nu is '{self.model_id}' ingesteld. "
                f"Zet KB_EMBEDDING terug, of herindexeer met 'kb ingest --reset' (dat bouwt de index opnieuw op)."
            )
        self.schema_version = self._read_schema()
        if self.schema_version > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"De index is geschreven door een nieuwere versie van de kennisbank (schema {self.schema_version}; "
                f"deze versie kent schema {SCHEMA_VERSION}). Werk de kennisbank bij, of bouw een eigen index "
                f"op met 'kb ingest --reset'."
            )
        if create and self.schema_version == SCHEMA_VERSION and not self.generation():
            self._bump()  # a new index: write the state record

    # -- schema and generation -----------------------------------------------------
    @_retrying
    def _read_state(self) -> dict | None:
        found = self._state.get(ids=[schema.STATE_ID], include=["metadatas"])
        return found["metadatas"][0] if found["ids"] else None

    def _read_schema(self) -> int:
        version, _generation = schema.decode_state(self._read_state())
        return version or schema.schema_of_collection(self._collection.metadata)

    def generation(self) -> str:
        """Token of the last write to this index, by any process; changes with every write.

        After ``kb ingest --reset`` in another process the collections are new ones: they
        are looked up again (never created here, so a reset to another model is not raced).
        """
        try:
            return schema.decode_state(self._read_state())[1]
        except NotFoundError:
            self._attach(create=False)
            return schema.decode_state(self._read_state())[1]

    @_retrying
    def _bump(self) -> None:
        changed_at = datetime.now(UTC).isoformat(timespec="microseconds")
        self._state.upsert(
            ids=[schema.STATE_ID],
            embeddings=[[1.0]],
            metadatas=[schema.encode_state(self.schema_version, uuid.uuid4().hex, changed_at)],
        )

    @property
    def needs_upgrade(self) -> bool:
        return self.schema_version < SCHEMA_VERSION

    def upgrade(self) -> int:
        """Bring an index written by an older schema up to date; returns how many records changed.

        Re-running is safe (each migration skips records it already changed), so two
        processes upgrading at once do no harm.
        """
        from_version = self.schema_version
        if from_version >= SCHEMA_VERSION:
            return 0
        records = list(self.iter_records(include=["metadatas", "documents"]))
        for start in range(0, len(records), self.UPSERT_BATCH):
            batch = records[start : start + self.UPSERT_BATCH]
            self._collection.update(
                ids=[cid for cid, _md, _text, _emb in batch],
                metadatas=[
                    schema.upgrade_record(md, text or "", self.model_id, from_version) for _cid, md, text, _emb in batch
                ],
            )
        self.schema_version = SCHEMA_VERSION
        self._bump()
        log.warning("index upgraded from schema %d to %d (%d passages)", from_version, SCHEMA_VERSION, len(records))
        return len(records)

    # -- writing -------------------------------------------------------------------
    @_retrying
    def add_document(
        self,
        meta: DocumentMeta,
        doc_hash: str,
        content_hash: str,
        chunks: list[Chunk],
        embeddings: list[list[float]],
        input_hashes: list[str] | None = None,
        fingerprint: str = "",
    ) -> None:
        """Add a document version; older versions of the same document are removed afterwards.

        New chunks are written before old ones are deleted, so a query never finds the
        document missing; the retriever hides all but the newest version meanwhile.
        ``input_hashes`` (hash of each embedded text) and ``fingerprint`` (how the vectors
        were made) let a later ingest re-use a vector only when it would come out the same.
        """
        ingested_at = datetime.now(UTC).isoformat(timespec="microseconds")
        version = VersionInfo(doc_hash, content_hash, len(chunks), ingested_at, fingerprint)
        hashes = input_hashes or [""] * len(chunks)
        metadatas = [schema.encode_passage(meta, version, chunk, h) for chunk, h in zip(chunks, hashes)]
        for start in range(0, len(chunks), self.UPSERT_BATCH):
            end = start + self.UPSERT_BATCH
            self._collection.upsert(
                ids=[c.chunk_id for c in chunks[start:end]],
                embeddings=embeddings[start:end],
                documents=[c.text for c in chunks[start:end]],
                metadatas=metadatas[start:end],
            )
        self._collection.delete(where=schema.where_other_versions(meta.doc_id, doc_hash))
        self._bump()

    @_retrying
    def delete_document(self, doc_id: str) -> int:
        """Remove every chunk of a document; returns how many were removed."""
        found = self._collection.get(where=schema.where_document(doc_id), include=[])
        if found["ids"]:
            self._collection.delete(ids=found["ids"])
            self._bump()
        return len(found["ids"])

    @_retrying
    def delete_other_versions(self, doc_id: str, doc_hash: str) -> None:
        """Remove chunks of ``doc_id`` that do not belong to version ``doc_hash``."""
        self._collection.delete(where=schema.where_other_versions(doc_id, doc_hash))
        self._bump()

    # -- reading -------------------------------------------------------------------
    @_retrying
    def count(self) -> int:
        return self._collection.count()

    def iter_records(self, include: list[str], where: dict | None = None):
        """All records, page by page: yields (id, metadata, document, embedding)."""
        offset = 0
        while True:
            page = self._collection.get(include=include, where=where, limit=_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            docs = page.get("documents") or [None] * len(ids)
            metas = page.get("metadatas") or [None] * len(ids)
            embs = page.get("embeddings")
            if embs is None:
                embs = [None] * len(ids)
            yield from zip(ids, metas, docs, embs)
            if len(ids) < _PAGE:
                return
            offset += _PAGE

    @_retrying
    def records(self, include: list[str]) -> list[tuple]:
        """All records as a list (see :meth:`iter_records`), with retries in server mode."""
        return list(self.iter_records(include=include))

    @_retrying
    def current_passages(self) -> list[StoredPassage]:
        """The searchable passages: per document its newest complete version, by (doc_id, index)."""
        return schema.current_versions(
            schema.decode_passage(cid, md, text)
            for cid, md, text, _emb in self.iter_records(include=["metadatas", "documents"])
        )

    @_retrying
    def documents(self) -> list[StoredDocument]:
        """Every indexed document, newest version, with chunk counts."""
        decoded = (schema.decode_passage(cid, md, None) for cid, md, _d, _e in self.iter_records(["metadatas"]))
        listed = []
        for doc_id, by_hash in schema.versions_by_document(decoded).items():
            version = schema.newest_version(by_hash)
            first = version[0]
            meta = first.document_meta()
            # a rewrite cut off half-way leaves mixed fingerprints: then the version is not up to date
            fingerprints = {p.fingerprint for p in version}
            listed.append(
                StoredDocument(
                    doc_id=doc_id,
                    title=meta.title,
                    publisher=meta.publisher,
                    date=meta.date,
                    kind=meta.kind,
                    cop=meta.cop,
                    source=meta.source,
                    doc_hash=first.doc_hash,
                    content_hash=first.content_hash,
                    chunks=len(version),
                    ingested_at=first.ingested_at,
                    complete=schema.is_complete(version),
                    other_versions=len(by_hash) - 1,
                    fingerprint=fingerprints.pop() if len(fingerprints) == 1 else "",
                    inputs_digest=passage_text.inputs_digest([p.input_hash for p in version]),
                )
            )
        return sorted(listed, key=lambda d: d.doc_id)

    @_retrying
    def embeddings_by_input(self, doc_id: str) -> dict[str, list[float]]:
        """Existing vectors of a document keyed by the hash of the text they embed, to re-use on an edit."""
        reuse: dict[str, list[float]] = {}
        for cid, md, text, emb in self.iter_records(
            include=["documents", "embeddings", "metadatas"], where=schema.where_document(doc_id)
        ):
            passage = schema.decode_passage(cid, md, text)
            if passage.input_hash and emb is not None:
                reuse[passage.input_hash] = list(emb)
        return reuse

    @_retrying
    def embeddings_of(self, chunk_ids: list[str]) -> dict[str, list[float]]:
        """The stored vectors of these chunks (for exact in-memory scoring)."""
        found: dict[str, list[float]] = {}
        for start in range(0, len(chunk_ids), _PAGE):
            page = self._collection.get(ids=chunk_ids[start : start + _PAGE], include=["embeddings"])
            found.update(zip(page["ids"], page["embeddings"]))
        return found

    @_retrying
    def query(self, embedding: list[float], n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """Nearest chunks: (chunk id, cosine similarity), best first."""
        if self.count() == 0:
            return []
        result = self._collection.query(
            query_embeddings=[embedding], n_results=n, where=where or None, include=["distances"]
        )
        return [(cid, 1.0 - dist) for cid, dist in zip(result["ids"][0], result["distances"][0])]


def drop_collection(settings: Settings) -> bool:
    """Delete the configured collection and its state (``kb ingest --reset``); True if it existed.

    Reopening creates a new state record, so the generation changes too.
    """
    client = make_client(settings)
    existed = False
    for name in (settings.collection + schema.META_SUFFIX, settings.collection):
        try:
            client.delete_collection(name)
        except Exception:  # chromadb raises different types for "does not exist" per version
            continue
        existed = name == settings.collection
    return existed


def open_store(settings: Settings, model_id: str, dim: int) -> ChunkStore:
    """Open (or create) the configured collection for the given embedding model.

    An index written by an older schema is upgraded first, holding the ingest lock so no
    ingest writes old-style records meanwhile.
    """
    store = ChunkStore(make_client(settings), settings.collection, model_id, dim)
    if store.needs_upgrade:
        with ingest_lock(settings):
            store.schema_version = store._read_schema()
            store.upgrade()
    return store

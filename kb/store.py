"""The passage store: one Chroma collection, local folder or Chroma server.

Each record is one chunk; its metadata carries the document's metadata and its content
hash, so the store itself is the manifest (no second file that can drift from it, and
several app instances on one Chroma server see the same documents). The collection
records which embedding model built it; opening it with another model is refused.

Embeddings are always passed in: Chroma's own default embedder would try to download
a model.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings

from kb.config import Settings
from kb.errors import ModelMismatchError, StoreUnavailableError
from kb.records import Chunk, DocumentMeta

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
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


def _scalar_metadata(meta: DocumentMeta, doc_hash: str, content_hash: str, n_chunks: int, ingested_at: str) -> dict:
    data = {
        "doc_id": meta.doc_id,
        "doc_hash": doc_hash,
        "content_hash": content_hash,
        "n_chunks": n_chunks,
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
        "ingested_at": ingested_at,
    }
    return {k: v for k, v in data.items() if v is not None}


class ChunkStore:
    """Verb methods over the Chroma collection: add, delete, list, search."""

    UPSERT_BATCH = 500  # records per write; crash tests lower it to widen the window

    def __init__(self, client: chromadb.api.ClientAPI, name: str, model_id: str, dim: int) -> None:
        self.model_id = model_id
        self.dim = dim
        self._client = client
        self._name = name
        try:
            self._collection = client.get_or_create_collection(
                name=name,
                embedding_function=None,
                metadata={
                    "embedding_model": model_id,
                    "embedding_dim": dim,
                    "kb_schema": SCHEMA_VERSION,
                    "hnsw:space": "cosine",
                    # a wide HNSW search: the same question gets the same pool of passages every
                    # run (with the default, 1 of 104 eval questions varied between builds)
                    "hnsw:search_ef": 200,
                },
            )
        except Exception as exc:
            raise StoreUnavailableError(
                f"De collectie '{name}' kan niet worden geopend ({type(exc).__name__}). Probeer het opnieuw."
            ) from exc
        built_with = (self._collection.metadata or {}).get("embedding_model")
        if built_with and built_with != model_id:
            raise ModelMismatchError(
                f"De index is gebouwd met embeddingmodel '{built_with}', maar nu is '{model_id}' ingesteld. "
                f"Zet KB_EMBEDDING terug, of herindexeer met 'kb ingest --reset' (dat bouwt de index opnieuw op)."
            )

    # -- writing -------------------------------------------------------------------
    @_retrying
    def add_document(
        self,
        meta: DocumentMeta,
        doc_hash: str,
        content_hash: str,
        chunks: list[Chunk],
        embeddings: list[list[float]],
    ) -> None:
        """Add a document version; older versions of the same document are removed afterwards.

        New chunks are written before old ones are deleted, so a query never finds the
        document missing; the retriever hides all but the newest version meanwhile.
        """
        ingested_at = datetime.now(UTC).isoformat(timespec="microseconds")
        base = _scalar_metadata(meta, doc_hash, content_hash, len(chunks), ingested_at)
        metadatas = []
        for chunk in chunks:
            md = dict(base)
            md.update(
                chunk_index=chunk.index,
                section=chunk.section,
                page_start=chunk.page_start,
                page_end=chunk.page_end,
                locator=chunk.locator,
            )
            metadatas.append(md)
        for start in range(0, len(chunks), self.UPSERT_BATCH):
            end = start + self.UPSERT_BATCH
            self._collection.upsert(
                ids=[c.chunk_id for c in chunks[start:end]],
                embeddings=embeddings[start:end],
                documents=[c.text for c in chunks[start:end]],
                metadatas=metadatas[start:end],
            )
        self.delete_other_versions(meta.doc_id, doc_hash)

    @_retrying
    def delete_document(self, doc_id: str) -> int:
        """Remove every chunk of a document; returns how many were removed."""
        found = self._collection.get(where={"doc_id": doc_id}, include=[])
        if found["ids"]:
            self._collection.delete(ids=found["ids"])
        return len(found["ids"])

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
    def documents(self) -> list[StoredDocument]:
        """Every indexed document, newest version, with chunk counts."""
        groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for _id, md, _doc, _emb in self.iter_records(include=["metadatas"]):
            groups[(md["doc_id"], md["doc_hash"])].append(md)
        newest: dict[str, StoredDocument] = {}
        for (doc_id, doc_hash), mds in groups.items():
            md = mds[0]
            doc = StoredDocument(
                doc_id=doc_id,
                title=md.get("title", doc_id),
                publisher=md.get("publisher", ""),
                date=md.get("date", ""),
                kind=md.get("kind", ""),
                cop=md.get("cop", ""),
                source=md.get("source", ""),
                doc_hash=doc_hash,
                content_hash=md.get("content_hash", ""),
                chunks=len(mds),
                ingested_at=md.get("ingested_at", ""),
                complete=len(mds) == md.get("n_chunks", -1),
            )
            current = newest.get(doc_id)
            if current is None or (doc.complete, doc.ingested_at) > (current.complete, current.ingested_at):
                newest[doc_id] = doc
        versions = defaultdict(int)
        for doc_id, _hash in groups:
            versions[doc_id] += 1
        return sorted(
            (replace(d, other_versions=versions[d.doc_id] - 1) for d in newest.values()), key=lambda d: d.doc_id
        )

    @_retrying
    def delete_other_versions(self, doc_id: str, doc_hash: str) -> None:
        """Remove chunks of ``doc_id`` that do not belong to version ``doc_hash``."""
        self._collection.delete(where={"$and": [{"doc_id": doc_id}, {"doc_hash": {"$ne": doc_hash}}]})

    @_retrying
    def embeddings_by_text(self, doc_id: str) -> dict[tuple[str, str, str], list[float]]:
        """Existing embeddings of a document keyed by (title, section, text), to re-use on an edit."""
        reuse: dict[tuple[str, str, str], list[float]] = {}
        for _id, md, text, emb in self.iter_records(
            include=["documents", "embeddings", "metadatas"], where={"doc_id": doc_id}
        ):
            if text is not None and emb is not None:
                reuse[(md.get("title", ""), md.get("section", ""), text)] = list(emb)
        return reuse

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
    """Delete the configured collection (``kb ingest --reset``); True if it existed."""
    client = make_client(settings)
    try:
        client.delete_collection(settings.collection)
    except Exception:  # chromadb raises different types for "does not exist" per version
        return False
    return True


def open_store(settings: Settings, model_id: str, dim: int) -> ChunkStore:
    """Open (or create) the configured collection for the given embedding model."""
    return ChunkStore(make_client(settings), settings.collection, model_id, dim)

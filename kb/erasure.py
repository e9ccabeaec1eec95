"""Privacy duties of an administrator: find personal data still in the index, apply retention.

``kb privacy scan`` answers an erasure request ("is this person's data in the kennisbank?"):
it lists every indexed passage and metadata field that the personal-data guard would redact
today — by document id, passage and kind, never the value — so the administrator can remove
the document (``kb docs remove ID``) and ingest a cleaned version. Documents indexed before
the guard knew a form (or with ``KB_PII_POLICY=off``) are what it finds.

``kb privacy purge`` (and the app at start-up) deletes feedback older than ``KB_FEEDBACK_DAYS``
and redacts what stays, and deletes logged questions older than ``KB_QUESTION_LOG_DAYS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kb.config import Settings
from kb.feedback import feedback_path, purge_feedback
from kb.index.store import ChunkStore
from kb.privacy.pii import LABELS, kinds_in, name_findings
from kb.questions_log import purge_question_log

# metadata fields that hold text from the document or its sidecar (hashes and numbers do not)
TEXT_FIELDS = (
    "title",
    "publisher",
    "author",
    "cop",
    "themes",
    "url",
    "source",
    "section",
    "locator",
    "date",
    "valid_from",
    "valid_until",
    "superseded_by",
    "regime",
)


@dataclass(frozen=True)
class IndexFinding:
    """Personal data of one kind in one place of the index (the value is never kept)."""

    doc_id: str
    chunk: str  # chunk id, or "" for the document's metadata
    place: str  # "tekst", "metadata: title", "document-id"
    kind: str

    @property
    def label(self) -> str:
        return LABELS.get(self.kind, self.kind)


def scan_index(store: ChunkStore) -> list[IndexFinding]:
    """Every passage text, metadata field and document id in the index that holds personal data."""
    found: dict[tuple[str, str, str, str], None] = {}
    for chunk_id, md, text, _emb in store.iter_records(include=["documents", "metadatas"]):
        doc_id = str(md.get("doc_id", ""))
        for kind in kinds_in(text or "", document=True):
            found[(doc_id, chunk_id, "tekst", kind)] = None
        for key in TEXT_FIELDS:
            value = md.get(key)
            if isinstance(value, str) and value:
                for kind in kinds_in(value, document=True):
                    found[(doc_id, "", f"metadata: {key}", kind)] = None
        for finding in name_findings(doc_id, "document-id"):
            found[(doc_id, "", "document-id", finding.kind)] = None
    return [IndexFinding(*key) for key in found]


@dataclass(frozen=True)
class PurgeResult:
    deleted: int  # feedback ratings
    redacted: int
    days: int
    questions_deleted: int = 0  # entries of the question log
    question_days: int = 0


def purge(settings: Settings, now: datetime | None = None) -> PurgeResult:
    """Apply ``KB_FEEDBACK_DAYS`` to the feedback file (and redact the ratings that stay) and
    ``KB_QUESTION_LOG_DAYS`` to the question log."""
    deleted, redacted = purge_feedback(feedback_path(settings), settings.feedback_days, now)
    questions = purge_question_log(settings, now)
    return PurgeResult(deleted, redacted, settings.feedback_days, questions, settings.question_log_days)

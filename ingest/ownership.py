"""Which existing document a file uploaded in the app may replace, and the record that decides it.

An uploaded file whose document id (from its metadata or its name) is already in the index
replaces that document only when an earlier upload of the same file name made it (a new
version), or when the CoP-trekker ticked *Vervang het bestaande document*. Otherwise it is
refused, so an upload never silently takes over a corpus document or another file's document.
:class:`UploadRegistry` records which upload made which document; :meth:`kb.service.KnowledgeBase.ingest`
reads and updates it, and the ingestor applies :class:`ReplacementRule`, inside the ingest lock.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kb.errors import DocumentError
from kb.index.store import StoredDocument
from kb.privacy.pii import redact_name


class ReplacementRefused(DocumentError):
    """An uploaded file would replace a document from another source; the message says what to do."""


class UploadRegistry:
    """Which indexed documents came from which uploaded file name: ``KB_DATA_DIR/uploaded.json``.

    Only ids and sanitised, redacted file names, no content. It tells a new version of an
    earlier upload (same name, same id: replaced without asking) from an upload that would
    take over another file's or a corpus document's id (refused unless the trekker ticks
    *Vervang het bestaande document*).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def update(self, add: dict[str, str] | None = None, forget: Iterable[str] = ()) -> None:
        entries = self.load()
        entries.update(add or {})
        for doc_id in forget:
            entries.pop(doc_id, None)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(entries, out, ensure_ascii=False, indent=0, sort_keys=True)
        tmp.replace(self.path)


def replacement_refusal(doc_id: str, title: str, source: str) -> str:
    """The Dutch message for an upload that would silently replace another document."""
    return (
        f"Er staat al een document met de id '{doc_id}' in de kennisbank: ‘{title}’ (uit '{source}'). "
        "Dit bestand zou dat document vervangen en is daarom niet toegevoegd. Wilt u het vervangen, "
        "vink dan ‘Vervang het bestaande document’ aan en voeg het opnieuw toe; anders geeft u het "
        "bestand een eigen 'id' in de metadata (front matter) of een andere naam."
    )


@dataclass(frozen=True)
class ReplacementRule:
    """The rule for one batch of uploaded files.

    ``owners`` maps a document id to the (redacted) name of the uploaded file that made it
    (:meth:`UploadRegistry.load`); ``replace`` is the trekker's tick, which lets any file replace.
    """

    owners: Mapping[str, str] = field(default_factory=dict)
    replace: bool = False

    def check(self, path: Path, existing: StoredDocument | None) -> None:
        """Raise :class:`ReplacementRefused` when the uploaded file ``path`` may not replace
        ``existing``, the indexed document with the id it gets (``None``: there is none)."""
        if existing is None or self.replace or self.owners.get(existing.doc_id) == redact_name(path.name):
            return
        raise ReplacementRefused(replacement_refusal(existing.doc_id, existing.title, existing.source or "onbekend"))

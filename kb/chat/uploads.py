"""Checks for uploaded files before they reach the ingest pipeline, and the folder they wait in.

A file is refused before ingest when its extension is not allowed, it is too large, or its
content is another type than its name says. Accepted files are copied, under a sanitised
name, into a private staging folder inside ``KB_DATA_DIR/uploads/`` (folders 0700, files
0600) only for as long as the upload is being indexed; the caller deletes that folder
afterwards, whatever happened, and :func:`sweep_uploads` clears leftovers at start-up.
The indexed (redacted) passages are the record; the original file is not kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kb.errors import DocumentError
from kb.filetypes import ALLOWED_TYPES, TYPE_NAMES, size_refusal, sniff_type
from kb.index.store import StoredDocument
from kb.privacy.pii import redact_name
from kb.records import FileResult

ALLOWED_EXTENSIONS = tuple(ALLOWED_TYPES)
MAX_NAME_CHARS = 120
GENERIC_STEMS = frozenset({"document"})  # what a name cleans to when nothing of it survives


class UploadRefused(DocumentError):
    """An uploaded file fails a check; the message says why and what to do."""


@dataclass
class StagedUploads:
    """Files copied into the upload folder, and the ones refused before ingest."""

    accepted: list[Path] = field(default_factory=list)
    refused: list[FileResult] = field(default_factory=list)


def sanitize_filename(name: str) -> str:
    """A safe file name: no folders, no ``..``, only letters, digits, ``.``, ``-`` and ``_``.

    A name that cleans to nothing or to the generic ``document`` (Arabic or Cyrillic
    letters, only symbols) gets a short hash of the original name, so two such files do
    not get the same name and document id; the same original name always gets the same hash.

    >>> sanitize_filename("../../Verslag CoP (def).PDF")
    'Verslag_CoP_def.pdf'
    >>> sanitize_filename("تقرير.md") != sanitize_filename("отчет.md")
    True
    """
    original = re.split(r"[\\/]", name or "")[-1]
    base = unicodedata.normalize("NFKD", original).encode("ascii", "ignore").decode("ascii")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem.replace(".", "_"))
    stem = re.sub(r"_{2,}", "_", stem).strip("_-")
    ext = re.sub(r"[^a-z0-9]", "", ext.lower())
    suffix = f".{ext}" if ext else ""
    if stem.lower() in GENERIC_STEMS or not stem:
        digest = hashlib.sha256(unicodedata.normalize("NFC", original).encode("utf-8")).hexdigest()[:8]
        stem = f"document_{digest}"
    return stem[: MAX_NAME_CHARS - len(suffix)] + suffix


def check_upload(path: Path, original_name: str, max_file_mb: int) -> str:
    """Check one uploaded file; returns its sanitised name or raises :class:`UploadRefused`."""
    safe = sanitize_filename(original_name)
    ext = Path(safe).suffix.lower()
    if ext not in ALLOWED_TYPES:
        allowed = ", ".join(e.lstrip(".").upper() for e in ALLOWED_EXTENSIONS)
        raise UploadRefused(
            f"Bestandstype '{ext or 'zonder extensie'}' is niet toegestaan. Gebruik een van: {allowed}."
        )
    if not path.is_file():
        raise UploadRefused("Het bestand is niet goed aangekomen; upload het opnieuw.")
    size = path.stat().st_size
    refusal = size_refusal(size, max_file_mb * 1_048_576)
    if refusal:
        raise UploadRefused(refusal)
    if size == 0:
        raise UploadRefused("Het bestand is leeg.")
    actual = sniff_type(path.read_bytes())
    if actual not in ALLOWED_TYPES[ext]:
        raise UploadRefused(
            f"Het bestand heet '{ext}', maar de inhoud is een {TYPE_NAMES.get(actual, actual)}. "
            "Kies het juiste bestand of geef het de juiste extensie."
        )
    return safe


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it readable by the app's user only."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def staging_dir(upload_dir: Path) -> Path:
    """A new private folder for one upload batch inside ``upload_dir``; delete it when done."""
    return Path(tempfile.mkdtemp(prefix="batch-", dir=private_dir(upload_dir)))


def sweep_uploads(upload_dir: Path) -> int:
    """Delete everything left in ``upload_dir`` (interrupted uploads, originals kept by older
    versions); returns how many entries were removed. Run at start-up, before serving."""
    if not upload_dir.is_dir():
        return 0
    removed = 0
    for entry in upload_dir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    private_dir(upload_dir)
    return removed


def _copy_private(source: Path, target: Path) -> None:
    """Copy ``source`` to a new file ``target`` that is created with mode 0600."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out)


def stage_uploads(files: list[tuple[Path, str]], upload_dir: Path, max_file_mb: int) -> StagedUploads:
    """Check ``(temp path, original name)`` pairs and copy the good ones into ``upload_dir``.

    ``upload_dir`` should be a fresh :func:`staging_dir`: two files in one batch that get
    the same sanitised name are refused.
    """
    staged = StagedUploads()
    private_dir(upload_dir)
    root = upload_dir.resolve()
    taken: set[str] = set()
    for path, original in files:
        shown = sanitize_filename(original)
        try:
            safe = check_upload(Path(path), original, max_file_mb)
            if safe.lower() in taken:
                raise UploadRefused(f"Er zit al een bestand met de naam '{safe}' in deze upload.")
            target = (root / safe).resolve()
            if target.parent != root:  # belt and braces: the name was sanitised already
                raise UploadRefused("Ongeldige bestandsnaam.")
            _copy_private(Path(path), target)
        except UploadRefused as exc:
            staged.refused.append(FileResult(shown, "refused", reason=str(exc)))
            continue
        taken.add(safe.lower())
        staged.accepted.append(target)
    return staged


class UploadRegistry:
    """Which indexed documents came from which uploaded file name: ``KB_DATA_DIR/uploaded.json``.

    Only ids and sanitised file names, no content. It tells a new version of an earlier
    upload (same name, same id: replaced without asking) from an upload that would take
    over another file's or a corpus document's id (refused unless the trekker ticks
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


def find_replacements(
    paths: list[Path],
    documents: Iterable[StoredDocument],
    uploaded: dict[str, str],
    doc_id_of: Callable[[Path], str],
) -> dict[Path, str]:
    """Staged files whose document id is already taken by another source, with the refusal.

    ``doc_id_of`` gives the id a file will get (it may raise :class:`DocumentError`; such
    files are left to ingest, which reports the same error). A document that an earlier
    upload with the same file name created is not *another* source.
    """
    by_id = {d.doc_id: d for d in documents}
    refused: dict[Path, str] = {}
    for path in paths:
        try:
            doc_id = doc_id_of(path)
        except DocumentError:
            continue
        existing = by_id.get(doc_id)
        if existing is not None and uploaded.get(doc_id) != redact_name(path.name):
            refused[path] = replacement_refusal(doc_id, existing.title, existing.source or "onbekend")
    return refused

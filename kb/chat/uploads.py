"""Uploads from the Documents tab: checks before the ingest pipeline, the folder files wait in,
the metadata form, and the upload itself (:func:`ingest_uploads`).

A file is refused before ingest when its extension is not allowed, it is too large, or its
content is another type than its name says. Accepted files are copied, under a sanitised
name, into a private staging folder inside ``KB_DATA_DIR/uploads/`` (folders 0700, files
0600) only for as long as the upload is being indexed; :func:`ingest_uploads` deletes that
folder afterwards, whatever happened, and :func:`sweep_uploads` clears leftovers at start-up.
The indexed (redacted) passages are the record; the original file is not kept. Which existing
document an upload may replace is decided by the ingestor, inside the ingest lock
(:mod:`ingest.ownership`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.config import Settings
from kb.errors import DocumentError
from kb.filetypes import ALLOWED_TYPES, TYPE_NAMES, size_refusal, sniff_type
from kb.records import FileResult, IngestReport
from kb.service import KnowledgeBase
from kb.validity import REGIMES, normalize_regime

ALLOWED_EXTENSIONS = tuple(ALLOWED_TYPES)
MAX_NAME_CHARS = 120
GENERIC_STEMS = frozenset({"document"})  # what a name cleans to when nothing of it survives
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


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


def upload_dir(settings: Settings) -> Path:
    """Where uploaded files wait while they are indexed (empty otherwise)."""
    return settings.data_dir / "uploads"


def upload_overrides(
    n_files: int,
    title: str = "",
    publisher: str = "",
    date: str = "",
    kind: str = "",
    cop: str = "",
    themes: str = "",
    valid_until: str = "",
    superseded_by: str = "",
    regime: str = "",
) -> tuple[dict[str, str], str]:
    """Metadata from the form as ``kb.ingest`` overrides (non-empty fields only), and a note.

    With several files the title is not applied: each file keeps its own title. The validity
    fields (valid until, superseded by, the law it is about) feed the caveats of :mod:`kb.validity`.
    """
    for label, value in (("datum", date), ("datum 'geldig tot'", valid_until)):
        value = (value or "").strip()
        if value and not _DATE.match(value):
            raise UploadRefused(f"De {label} '{value}' is niet geldig. Gebruik JJJJ-MM-DD, JJJJ-MM of JJJJ.")
    regime = normalize_regime(regime or "")
    if regime and regime not in REGIMES:
        raise UploadRefused(f"De wet '{regime}' is onbekend. Kies uit: {', '.join(REGIMES)}.")
    fields = {
        "title": title,
        "publisher": publisher,
        "date": date,
        "kind": kind,
        "cop": cop,
        "themes": themes,
        "valid_until": valid_until,
        "superseded_by": superseded_by,
        "regime": regime,
    }
    overrides = {k: " ".join(str(v or "").split()) for k, v in fields.items()}
    overrides = {k: v for k, v in overrides.items() if v}
    note = ""
    if n_files > 1 and "title" in overrides:
        del overrides["title"]
        note = "De titel is niet gebruikt: bij meerdere bestanden houdt elk bestand zijn eigen titel."
    return overrides, note


def ingest_uploads(
    kb: KnowledgeBase,
    files: list[tuple[Path, str]],
    form: dict[str, str],
    progress: Any = None,
    replace: bool = False,
) -> tuple[list[FileResult], str]:
    """Check, stage and ingest uploaded ``(temp path, original name)`` files; returns (results, summary).

    A file whose document id already belongs to another source (another file, the corpus)
    is refused unless ``replace``: the ingestor decides that inside the ingest lock, on the
    document it reads once (:mod:`ingest.ownership`). The staged copies are deleted afterwards,
    also when something fails: the indexed passages are what is kept.
    """
    settings = kb.settings
    try:
        overrides, note = upload_overrides(len(files), **form)
    except UploadRefused as exc:
        return [], str(exc)
    staging = staging_dir(upload_dir(settings))
    try:
        staged = stage_uploads(files, staging, settings.max_file_mb)
        report = IngestReport()
        if staged.accepted:
            report = kb.ingest(staged.accepted, overrides, progress, uploaded=True, replace_existing=replace)
        combined = IngestReport([*report.results, *staged.refused], report.seconds)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return combined.results, " ".join(part for part in (combined.summary_nl(), note) if part)


def remove_document(kb: KnowledgeBase, doc_id: str) -> str:
    """Remove a document from the index (uploads keep no file, so there is nothing else to delete)."""
    removed = kb.remove(doc_id)
    kb.upload_registry.update(forget=[doc_id])
    if not removed:
        return f"Er is geen document met id '{doc_id}' (meer)."
    return f"'{doc_id}' is verwijderd ({removed} passages)."


def discard_temp_files(paths: list[str] | None, cache_dir: str) -> None:
    """Delete Gradio's own temporary copies of uploaded files (inside ``cache_dir`` only)."""
    root = Path(cache_dir).resolve()
    for raw in paths or []:
        path = Path(raw).resolve()
        if path.is_file() and root in path.parents:
            path.unlink(missing_ok=True)

"""Checks for uploaded files before they reach the ingest pipeline.

A file is refused before ingest when its extension is not allowed, it is too large, or its
content is another type than its name says. Accepted files are copied into the upload
folder under a sanitised name, so the source is kept next to the index.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from kb.errors import DocumentError
from kb.filetypes import ALLOWED_TYPES, TYPE_NAMES, size_refusal, sniff_type
from kb.records import FileResult

ALLOWED_EXTENSIONS = tuple(ALLOWED_TYPES)
MAX_NAME_CHARS = 120


class UploadRefused(DocumentError):
    """An uploaded file fails a check; the message says why and what to do."""


@dataclass
class StagedUploads:
    """Files copied into the upload folder, and the ones refused before ingest."""

    accepted: list[Path] = field(default_factory=list)
    refused: list[FileResult] = field(default_factory=list)


def sanitize_filename(name: str) -> str:
    """A safe file name: no folders, no ``..``, only letters, digits, ``.``, ``-`` and ``_``.

    >>> sanitize_filename("../../Verslag CoP (def).PDF")
    'Verslag_CoP_def.pdf'
    """
    base = re.split(r"[\\/]", name or "")[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem.replace(".", "_"))
    stem = re.sub(r"_{2,}", "_", stem).strip("_-") or "document"
    ext = re.sub(r"[^a-z0-9]", "", ext.lower())
    suffix = f".{ext}" if ext else ""
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


def stage_uploads(files: list[tuple[Path, str]], upload_dir: Path, max_file_mb: int) -> StagedUploads:
    """Check ``(temp path, original name)`` pairs and copy the good ones into ``upload_dir``.

    A file with the same sanitised name as an earlier upload replaces it: that is a new
    version of the same document (same id), which ingest then reports as *vervangen*.
    """
    staged = StagedUploads()
    upload_dir.mkdir(parents=True, exist_ok=True)
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
            shutil.copyfile(path, target)
        except UploadRefused as exc:
            staged.refused.append(FileResult(shown, "refused", reason=str(exc)))
            continue
        taken.add(safe.lower())
        staged.accepted.append(target)
    return staged

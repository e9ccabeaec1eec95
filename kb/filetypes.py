"""Which files the knowledge base takes: extensions, what their content must be, and the size limit.

One place for both doors into the index: ``ingest`` (loaders, pipeline) and the upload
form (:mod:`kb.chat.uploads`), so a type allowed by one is never refused by the other.
"""

from __future__ import annotations

import io
import zipfile

SUPPORTED = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
TYPE_NAMES = {
    "text": "tekstbestand",
    "markdown": "Markdown-bestand",
    "html": "HTML-pagina",
    "pdf": "PDF",
    "docx": "Word-bestand (.docx)",
    "zip": "zip-archief",
    "binary": "binair bestand",
    "doc": "oud Word-bestand (.doc)",
}
# extension -> content types (from sniff_type) that may carry it; text-like files may hold HTML.
ALLOWED_TYPES: dict[str, frozenset[str]] = {
    ext: frozenset({kind}) if kind in ("pdf", "docx") else frozenset({"text", "html"})
    for ext, kind in SUPPORTED.items()
}


def sniff_type(data: bytes) -> str:
    """What the bytes are, whatever the file is called."""
    head = data[:2048]
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
        except zipfile.BadZipFile:
            return "binary"
        return "docx" if "word/document.xml" in names else "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "doc"
    if b"\x00" in head and not (head.startswith(b"\xff\xfe") or head.startswith(b"\xfe\xff")):
        return "binary"
    lowered = head.lower()
    if b"<html" in lowered or b"<!doctype html" in lowered or (b"<body" in lowered and b"</" in lowered):
        return "html"
    return "text"


def size_refusal(size: int, max_bytes: int) -> str:
    """The message for a file over the limit (``KB_MAX_FILE_MB``), or '' when it is within it."""
    if size <= max_bytes:
        return ""
    return (
        f"Het bestand is {size / 1_048_576:.1f} MB; de grens is {max_bytes / 1_048_576:.0f} MB. "
        "Splits het document of laat de beheerder KB_MAX_FILE_MB verhogen."
    )

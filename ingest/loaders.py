"""Read a file into blocks of text (with page numbers for PDFs).

The type is taken from the content, not only the extension: a Word file renamed to
``.pdf`` gets a clear message instead of garbage in the index.

Why a small pypdf loader instead of llama-index's readers: without
``llama-index-readers-file`` ``SimpleDirectoryReader`` reads a PDF as raw bytes without an
error, and that package would downgrade pypdf. We also need the page of every paragraph.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from kb.errors import DocumentError
from kb.filetypes import SUPPORTED, TYPE_NAMES, sniff_type

MAX_DOCX_UNCOMPRESSED = 200 * 1024 * 1024


@dataclass
class Block:
    """A paragraph-like piece of text. ``kind`` is 'heading', 'text', or 'auto' (let the cleaner decide)."""

    text: str
    kind: str = "auto"
    level: int = 0
    page: int = 0


@dataclass
class LoadedFile:
    blocks: list[Block]
    file_type: str
    front_matter: str = ""
    embedded_meta: dict[str, str] = field(default_factory=dict)


def decode_text(data: bytes) -> str:
    """Decode text whatever its encoding (UTF-8, UTF-16 with BOM, Windows-1252, ...)."""
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and best.encoding:
        return str(best)
    return data.decode("cp1252", errors="replace")


def _paragraph_blocks(text: str, page: int = 0) -> list[Block]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [Block(p.strip("\n"), page=page) for p in re.split(r"\n\s*\n", text) if p.strip()]


def _split_front_matter(text: str) -> tuple[str, str]:
    match = re.match(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", text, flags=re.S)
    if not match:
        return "", text
    return match.group(1), text[match.end() :]


def load_text(data: bytes) -> LoadedFile:
    front, body = _split_front_matter(decode_text(data).lstrip("\ufeff"))
    return LoadedFile(_paragraph_blocks(body), "text", front_matter=front)


def load_markdown(data: bytes) -> LoadedFile:
    front, body = _split_front_matter(decode_text(data).lstrip("\ufeff"))
    blocks: list[Block] = []
    for block in _paragraph_blocks(body):
        lines = block.text.split("\n")
        rest: list[str] = []
        for line in lines:
            heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
            if heading:
                if rest:
                    blocks.append(Block(_strip_markdown("\n".join(rest))))
                    rest = []
                blocks.append(Block(_strip_markdown(heading.group(2)), "heading", len(heading.group(1))))
            else:
                rest.append(line)
        if rest:
            blocks.append(Block(_strip_markdown("\n".join(rest))))
    return LoadedFile(blocks, "markdown", front_matter=front)


def _strip_markdown(text: str) -> str:
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])[*_](\S.*?)[*_](?![\w*])", r"\1", text)
    text = re.sub(r"^\s*[-*+]\s+", "• ", text, flags=re.M)
    text = re.sub(r"^\s*>\s?", "", text, flags=re.M)
    return text.replace("`", "")


def load_html(data: bytes) -> LoadedFile:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(data), "html.parser")
    meta: dict[str, str] = {}
    if soup.title and soup.title.string:
        meta["title"] = soup.title.string.strip()
    for tag in soup(["script", "style", "nav", "footer", "aside", "form", "noscript", "header", "svg"]):
        tag.decompose()
    blocks: list[Block] = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "tr", "blockquote", "pre"]):
        if el.name in ("p", "li") and el.find_parent(["li", "tr", "blockquote"]) is not None:
            continue
        text = " ".join(el.get_text(" ", strip=True).split())
        if not text:
            continue
        if el.name.startswith("h"):
            blocks.append(Block(text, "heading", int(el.name[1])))
        elif el.name == "li":
            blocks.append(Block("• " + text, "text"))
        elif el.name == "tr":
            cells = [" ".join(c.get_text(" ", strip=True).split()) for c in el.find_all(["td", "th"])]
            blocks.append(Block(" | ".join(c for c in cells if c), "text"))
        else:
            blocks.append(Block(text, "text"))
    return LoadedFile(blocks, "html", embedded_meta=meta)


def load_pdf(data: bytes) -> LoadedFile:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise DocumentError(
                    "Deze PDF is beveiligd met een wachtwoord. Sla hem op zonder beveiliging en probeer het opnieuw."
                )
        pages = [page.extract_text() or "" for page in reader.pages]
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise DocumentError(
            f"Deze PDF is beschadigd en kan niet worden gelezen ({type(exc).__name__}). "
            "Exporteer hem opnieuw vanuit het originele programma."
        ) from exc
    meta: dict[str, str] = {}
    try:
        info = reader.metadata
        if info and info.title and info.title.strip():
            meta["title"] = info.title.strip()
        if info and info.author and info.author.strip():
            meta["author"] = info.author.strip()
    except Exception:  # broken info dictionaries are common and harmless
        pass
    blocks: list[Block] = []
    for number, text in enumerate(pages, start=1):
        for block in _paragraph_blocks(_reflow_pdf_text(text), page=number):
            blocks.append(block)
    if not any(b.text.strip() for b in blocks):
        raise DocumentError(
            f"Deze PDF ({len(pages)} pagina's) heeft geen tekstlaag: het is waarschijnlijk een scan. "
            "Laat er eerst tekstherkenning (OCR) op draaien en voeg hem dan opnieuw toe."
        )
    return LoadedFile(blocks, "pdf", embedded_meta=meta)


def _reflow_pdf_text(text: str) -> str:
    """Join PDF visual lines into paragraphs.

    A line that fills most of the text width continues on the next line; a short line
    ends a paragraph (or is a heading); bullets start a new line of a list.
    """
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    widths = sorted(len(line) for line in lines if line)
    typical = widths[int(0.9 * (len(widths) - 1))] if widths else 0
    out: list[str] = []
    for line in lines:
        if not line:
            out.append("")
            continue
        prev = out[-1] if out else ""
        is_bullet = bool(re.match(r"^([•\-–*▪]|\d+[.)])\s", line))
        if not prev:
            out.append(line)
        elif is_bullet:
            out.append(line)  # same block, own line: a list
        elif len(prev.rsplit("\n", 1)[-1]) >= 0.75 * typical and not prev.endswith(":"):
            out[-1] = prev[:-1] + line if prev.endswith("-") and line[:1].islower() else f"{prev} {line}"
        else:
            out.extend(["", line])
    return "\n".join(out)


def load_docx(data: bytes) -> LoadedFile:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = sum(info.file_size for info in zf.infolist())
    except zipfile.BadZipFile as exc:
        raise DocumentError("Dit Word-bestand is beschadigd en kan niet worden gelezen.") from exc
    if total > MAX_DOCX_UNCOMPRESSED:
        raise DocumentError(
            "Dit Word-bestand pakt uit tot meer dan 200 MB en wordt geweigerd (mogelijk een 'zip-bom')."
        )
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise DocumentError(f"Dit Word-bestand kan niet worden gelezen ({type(exc).__name__}).") from exc
    blocks: list[Block] = []
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name or "").lower() if para.style is not None else ""
        heading = re.match(r"(heading|kop)\s*(\d)", style)
        if heading or style == "title":
            blocks.append(Block(text, "heading", int(heading.group(2)) if heading else 1))
        elif "list" in style or "lijst" in style:
            blocks.append(Block("• " + text, "text"))
        else:
            blocks.append(Block(text, "text"))
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                blocks.append(Block(" | ".join(dict.fromkeys(cells)), "text"))
    meta: dict[str, str] = {}
    props = document.core_properties
    if props.title:
        meta["title"] = props.title
    if props.author:
        meta["author"] = props.author
    return LoadedFile(blocks, "docx", embedded_meta=meta)


LOADERS = {"text": load_text, "markdown": load_markdown, "html": load_html, "pdf": load_pdf, "docx": load_docx}


def load_file(path: Path, data: bytes) -> LoadedFile:
    """Load ``data`` (the bytes of ``path``); the type comes from the content and must fit the extension."""
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        raise DocumentError(
            f"Bestandstype '{ext or 'zonder extensie'}' wordt niet ondersteund. Gebruik PDF, DOCX, HTML, Markdown of tekst."
        )
    if not data.strip():
        raise DocumentError("Het bestand is leeg.")
    expected = SUPPORTED[ext]
    actual = sniff_type(data)
    if expected in ("text", "markdown", "html") and actual in ("text", "html"):
        actual = expected  # text-like files load by their extension (Markdown may hold HTML)
    if actual != expected:
        raise DocumentError(
            f"Het bestand heet '{ext}', maar de inhoud is een {TYPE_NAMES.get(actual, actual)}. "
            "Controleer of u het juiste bestand heeft gekozen, of geef het de juiste extensie."
        )
    return LOADERS[actual](data)

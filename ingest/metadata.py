"""Document metadata: front matter or a sidecar file, then sensible fallbacks.

Sources, strongest first: explicit values (CLI/upload form) > sidecar file
``<name>.meta.yaml`` / ``.meta.yml`` / ``.meta.json`` next to the file > front matter
(``---`` YAML block at the top of a text/Markdown file) > embedded metadata (PDF/DOCX
properties, HTML <title>) > what the text says (first heading, a date) > the file name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from kb.errors import DocumentError
from kb.nl.text import slugify
from kb.privacy.pii import name_has_personal_data, neutral_id
from kb.records import KINDS, DocumentMeta
from kb.validity import normalize_regime

SIDECAR_SUFFIXES = (".meta.yaml", ".meta.yml", ".meta.json")
_DATE = re.compile(r"\b(\d{1,2})-(\d{1,2})-((?:19|20)\d{2})\b")
_YEAR = re.compile(r"\b((?:19|20)\d{2})\b")


def is_sidecar(path: Path) -> bool:
    return path.name.lower().endswith(SIDECAR_SUFFIXES)


def sidecar_for(path: Path) -> Path | None:
    for base in (path.with_suffix(""), path):
        for suffix in SIDECAR_SUFFIXES:
            candidate = base.parent / (base.name + suffix)
            if candidate.is_file():
                return candidate
    return None


def _parse_mapping(text: str, where: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if where.endswith(".json") else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise DocumentError(f"De metadata in '{where}' is geen geldige YAML/JSON: {str(exc).splitlines()[0]}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DocumentError(f"De metadata in '{where}' moet een lijst van 'sleutel: waarde' zijn.")
    return {str(k).strip().lower(): v for k, v in data.items()}


def read_sidecar(path: Path) -> dict[str, Any]:
    sidecar = sidecar_for(path)
    if sidecar is None:
        return {}
    return _parse_mapping(sidecar.read_text(encoding="utf-8", errors="replace"), sidecar.name)


def parse_front_matter(front: str, name: str) -> dict[str, Any]:
    return _parse_mapping(front, f"{name} (front matter)") if front.strip() else {}


def _themes(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else re.split(r"[;,]", str(value))
    return tuple(dict.fromkeys(str(t).strip() for t in items if str(t).strip()))


def year_of(date: str) -> int:
    match = _YEAR.search(date or "")
    return int(match.group(1)) if match else 0


def normalize_kind(value: str) -> str:
    lowered = value.strip().lower()
    for kind in KINDS:
        if lowered == kind.lower():
            return kind
    return value.strip() or "onbekend"


def _as_text(value: Any) -> str:
    """A metadata value as text; YAML dates (``2021-08-01`` unquoted) as ISO."""
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value).strip()


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "ja", "yes", "1")


def build_meta(
    path: Path,
    layers: list[dict[str, Any]],
    first_heading: str = "",
    text_date: str = "",
    text_regime: tuple[str, bool] = ("", False),
) -> DocumentMeta:
    """Merge metadata layers (weakest first) into a :class:`DocumentMeta` with fallbacks.

    ``text_regime`` is what the text says about the law it discusses (:func:`kb.validity.regime_in_text`):
    metadata names the regime first; the text's "written before it took effect" counts for that same regime.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if v not in (None, "", [], ())})
    date = _as_text(merged.get("date", "")) or text_date
    regime = normalize_regime(_as_text(merged.get("regime") or merged.get("wet"))) or text_regime[0]
    predates = _flag(merged.get("predates_regime")) or (text_regime[1] and text_regime[0] == regime)
    title = str(merged.get("title") or first_heading or path.stem.replace("_", " ").replace("-", " ")).strip()
    doc_id = document_id(str(merged.get("id") or path.stem))
    return DocumentMeta(
        doc_id=doc_id,
        title=title[:300],
        publisher=str(merged.get("publisher") or merged.get("organisation") or merged.get("organisatie") or "onbekend"),
        date=date,
        year=int(merged.get("year") or year_of(date)),
        kind=normalize_kind(str(merged.get("kind") or merged.get("soort") or "")),
        cop=str(merged.get("cop") or merged.get("region") or merged.get("regio") or ""),
        themes=_themes(merged.get("themes") or merged.get("themas") or merged.get("thema's")),
        author=str(merged.get("author") or merged.get("auteur") or ""),
        url=str(merged.get("url") or ""),
        source=path.name,
        valid_from=_as_text(merged.get("valid_from") or merged.get("geldig_vanaf")),
        valid_until=_as_text(merged.get("valid_until") or merged.get("geldig_tot")),
        superseded_by=_as_text(merged.get("superseded_by") or merged.get("vervangen_door")),
        regime=regime,
        predates_regime=bool(regime) and predates,
    )


def document_id(name: str) -> str:
    """The id for a file stem or an ``id:`` from the metadata: its slug, or a neutral id when the
    slug holds personal data. This holds for every ``KB_PII_POLICY``, ``off`` too: the id ends up
    in the audit log, the upload registry, feedback and the titles every chat user sees."""
    slug = slugify(name)
    for written in (name, slug):  # both: a slug loses the "+" of "+31 6 …" and the dots of "dhr. J."
        if name_has_personal_data(written):
            return slugify(neutral_id(written))
    return slug


def date_in_text(text: str) -> str:
    """An explicit dd-mm-yyyy date near the top of the text, as ISO (e.g. a byline)."""
    match = _DATE.search(text[:1500])
    if not match:
        return ""
    day, month, year = (int(g) for g in match.groups())
    if 1 <= day <= 31 and 1 <= month <= 12:
        return f"{year:04d}-{month:02d}-{day:02d}"
    return ""

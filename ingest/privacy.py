"""Personal-data guard (AVG): find BSNs, IBANs, personal e-mail addresses, mobile numbers
and dates of birth before anything is indexed, then redact them or refuse the file.

Findings are reported by kind and place, never with the full value (a masked hint only).
Role addresses of organisations (``info@``, ``inburgering@``) and landline numbers of
organisations are not personal data and are left alone.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ingest.loaders import Block
from kb.errors import DocumentError

POLICIES = ("redact", "refuse", "off")
LABELS = {
    "bsn": "BSN",
    "iban": "IBAN",
    "email": "e-mailadres",
    "phone": "telefoonnummer",
    "birthdate": "geboortedatum",
}
ROLE_MAILBOXES = {
    "info",
    "inburgering",
    "contact",
    "secretariaat",
    "helpdesk",
    "servicedesk",
    "noreply",
    "no-reply",
    "communicatie",
    "pers",
    "klantenservice",
    "support",
    "post",
    "gemeente",
    "redactie",
    "nieuwsbrief",
}
_BSN = re.compile(r"(?<![\d.-])(\d{4}[.\s]?\d{2}[.\s]?\d{3}|\d{9})(?![\d-])")
_IBAN = re.compile(r"\b([A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,3})?)\b")
_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-]+)@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")
_MOBILE = re.compile(r"(?<!\d)((?:\+31|0031)[\s-]?\(?0?\)?[\s-]?6|06)[\s-]?(\d(?:[\s-]?\d){7})(?!\d)")
_MONTHS = "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december"
_DATE = rf"(\d{{1,2}}[-/.]\d{{1,2}}[-/.](?:19|20)\d{{2}}|\d{{1,2}}\s+(?:{_MONTHS})\s+(?:19|20)\d{{2}})"
_BIRTH_CUE = re.compile(
    rf"(geboren\s+(?:op\s+)?|geb\.\s*|geboortedatum:?\s*|born\s+(?:on\s+)?|d\.o\.b\.?:?\s*){_DATE}", re.I
)
_NAME_THEN_DATE = re.compile(
    rf"\b([A-Z][a-zà-ÿ]+(?:\s+(?:van|de|der|den|el|al|bin)?\s*[A-Z][a-zà-ÿ]+)+)\s*[(,]\s*{_DATE}"
)


@dataclass(frozen=True)
class Finding:
    kind: str
    where: str  # "p. 3" or "alinea 12"
    hint: str  # masked, e.g. "*******82"


def valid_bsn(digits: str) -> bool:
    """The 11-proef for Dutch citizen service numbers."""
    if len(digits) != 9 or not digits.isdigit() or digits == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1))) - int(digits[8])
    return total % 11 == 0


def valid_iban(value: str) -> bool:
    compact = value.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def _mask(value: str, keep: int = 2) -> str:
    compact = re.sub(r"\s", "", value)
    return "*" * max(len(compact) - keep, 3) + compact[-keep:]


def _spans(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, hint) of every personal-data span in ``text``."""
    spans = []
    for m in _BSN.finditer(text):
        digits = re.sub(r"\D", "", m.group(1))
        if valid_bsn(digits):
            spans.append((m.start(1), m.end(1), "bsn", _mask(digits)))
    for m in _IBAN.finditer(text):
        if valid_iban(m.group(1)):
            spans.append((m.start(1), m.end(1), "iban", m.group(1)[:2] + _mask(m.group(1), 2)))
    for m in _EMAIL.finditer(text):
        if m.group(1).lower() not in ROLE_MAILBOXES:
            spans.append((m.start(), m.end(), "email", m.group(1)[:1] + "***@" + m.group(2)))
    for m in _MOBILE.finditer(text):
        spans.append((m.start(), m.end(), "phone", _mask(m.group(0))))
    for pattern in (_BIRTH_CUE, _NAME_THEN_DATE):
        for m in pattern.finditer(text):
            date = m.group(2)
            start = m.start(2)
            spans.append((start, start + len(date), "birthdate", "**-**-" + date[-4:][:2] + "**"))
    spans.sort()
    merged: list[tuple[int, int, str, str]] = []
    for span in spans:
        if merged and span[0] < merged[-1][1]:
            continue  # overlapping matches (a BSN inside an IBAN): keep the first
        merged.append(span)
    return merged


def scan_blocks(blocks: list[Block]) -> list[Finding]:
    findings = []
    for number, block in enumerate(blocks, start=1):
        where = f"p. {block.page}" if block.page else f"alinea {number}"
        findings.extend(Finding(kind, where, hint) for _s, _e, kind, hint in _spans(block.text))
    return findings


def redact_blocks(blocks: list[Block]) -> list[Block]:
    out = []
    for block in blocks:
        text = block.text
        for start, end, kind, _hint in reversed(_spans(text)):
            text = text[:start] + f"[{LABELS[kind]} verwijderd]" + text[end:]
        out.append(Block(text, block.kind, block.level, block.page))
    return out


def summarize(findings: list[Finding]) -> str:
    """'2× BSN (p. 3, p. 4); 1× IBAN (alinea 7)' — kinds and places, no values."""
    counts = Counter(f.kind for f in findings)
    parts = []
    for kind, count in counts.items():
        places = list(dict.fromkeys(f.where for f in findings if f.kind == kind))
        shown = ", ".join(places[:5]) + (" …" if len(places) > 5 else "")
        parts.append(f"{count}× {LABELS[kind]} ({shown})")
    return "; ".join(parts)


def guard(blocks: list[Block], policy: str) -> tuple[list[Block], list[Finding]]:
    """Apply the personal-data policy: 'redact' (default), 'refuse' or 'off'."""
    if policy == "off":
        return blocks, []
    findings = scan_blocks(blocks)
    if not findings:
        return blocks, []
    if policy == "refuse":
        raise DocumentError(
            f"Het bestand bevat persoonsgegevens en is niet geïndexeerd: {summarize(findings)}. "
            "Verwijder of anonimiseer ze en voeg het bestand opnieuw toe."
        )
    return redact_blocks(blocks), findings

"""Personal-data guard (AVG): find personal data in text, metadata, file names and questions,
then redact it (or refuse the file) before anything is indexed, stored, logged or sent on.

What counts as personal data here, and why some look-alikes do not:

* BSN — nine digits, bare, grouped 3-3-3 or 4-2-3 with dots, spaces, hyphens or slashes
  (``111.222.333``, ``123/456/782``, ``123 - 456 - 782``, ``1112.22.333``) or digit by digit
  (``1 2 3 4 5 6 7 8 2``), with or without a ``BSN``/``bsn-``/``burgerservicenummer`` label.
  Without a label only numbers that pass the 11-proef count (one in eleven random numbers does);
  after a label any nine digits do (a mistyped BSN is still somebody's).
* IBAN — any case and any grouping (``nl20ingb0001234567``, ``NL44 RABO 0123 4567 89``),
  at the length of its country and only when the mod-97 check passes; a Dutch one also when
  the check fails (``NL02 RABO …``, a typo): two letters, four bank letters and ten digits is
  never anything else, and a mistyped account number is still somebody's.
* Vreemdelingennummer (``V-nummer``), passport, ID-card, driving-licence and other document
  numbers (``documentnummer XR9876543``) — only next to their label: ten digits alone are far
  more often something else.
* Dutch number plates in the RDW side-code layouts 1–14 (``GH-123-J``, ``12-ABC-3``,
  ``5-KZT-61``): capitals and digits in that layout with hyphens; after ``kenteken`` also
  in lower case, with spaces or without separators (``kenteken gh123j``).
* E-mail addresses — except role mailboxes of organisations (``info@``, ``inburgering@``).
* Mobile numbers — ``06``, ``+31 6``, ``0031 6``, ``+31 (0)6`` with any separators, spaced ones
  too (``06 - 1234 5678``, ``06/12345678``). Landline,
  0800/0900 and 088 numbers are left alone: in handreikingen they are the numbers of
  organisations (a helpdesk, a gemeente), and a landline cannot be told apart from one.
* Dates of birth — a date in digits or words after a cue (``geboren op``, ``geb.``,
  ``geboortedatum``) or right after a name in brackets. Other dates, years and amounts stay.
* Addresses — a Dutch postcode (``1234 AB``, capitals only so "2021 en" is not one) with the
  house number after it (``3511 AB 14``), a house number after ``huisnummer``, and a street
  name with a house number (``Kerkstraat 12a``). A postcode right after ``Postbus``
  is an organisation's and stays. An organisation's visiting address is redacted too: it
  cannot be told apart from a person's, and losing it costs an answer nothing.
* Names after a salutation or a client word (``mevrouw Fatima el Amrani``, ``dhr. J. Bakker``,
  ``mijn cliënt Ahmed Hassan``); how typed text and documents differ is in :mod:`kb.privacy.names`.

Findings are reported by kind and place, never with the value.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kb.errors import DocumentError
from kb.privacy.names import name_spans

POLICIES = ("redact", "refuse", "off")
LABELS = {
    "bsn": "BSN",
    "iban": "IBAN",
    "vnummer": "vreemdelingennummer",
    "document": "paspoort- of ID-nummer",
    "email": "e-mailadres",
    "phone": "telefoonnummer",
    "birthdate": "geboortedatum",
    "postcode": "postcode",
    "address": "adres",
    "plate": "kenteken",
    "name": "naam",
}
SLUG_LABELS = {kind: re.sub(r"[^a-z]+", "-", label.lower()).strip("-") for kind, label in LABELS.items()}
SLUG_LABELS.update({"document": "id-nummer", "vnummer": "v-nummer"})
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
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
    "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
    "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MA": 28, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27,
    "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24,
    "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SY": 31, "TN": 24, "TR": 26, "UA": 29,
    "VG": 24, "XK": 20,
}  # fmt: skip

_NOT_DIGIT_BEFORE = r"(?<!\d)(?<!\d[.,])"
_NOT_DIGIT_AFTER = r"(?!\d)(?![.,]\d)"
_BSN_LABEL = r"(?:bsn|burgerservicenummer|burger\s*service\s*nummer|sofinummer)(?:[\s-]*nummer)?"
_BSN_SEP = r"[\s./-]{1,3}"  # ".", "/", "-" or a space, also " - " (and "---" where a file name had " - ")
_BSN_LABELLED = re.compile(
    rf"\b{_BSN_LABEL}\b[\s:.#-]*(?:is\s+)?(\d(?:(?:{_BSN_SEP})?\d){{8}}){_NOT_DIGIT_AFTER}", re.I
)
_BSN_BARE = re.compile(
    rf"{_NOT_DIGIT_BEFORE}(\d{{9}}|\d{{3}}({_BSN_SEP})\d{{3}}\2\d{{3}}|\d{{4}}({_BSN_SEP})\d{{2}}\3\d{{3}}){_NOT_DIGIT_AFTER}"
)
_BSN_SPELLED = re.compile(r"(?<!\d)(?<!\d[\s./-])(\d([\s./-])\d(?:\2\d){7})(?![\s./-]?\d)")  # 1 2 3 4 5 6 7 8 2
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})(\d{2})(?=[\s.-]?[A-Za-z0-9])")
_DUTCH_IBAN = re.compile(r"NL\d{2}[A-Z]{4}\d{10}")
_VNUMMER = re.compile(
    r"\b(?:v-?nummer|v-?nr\.?|vreemdelingen-?(?:nummer|nr\.?))[\s:.#-]*(?:is\s+)?(\d(?:[\s.-]?\d){9})(?!\d)", re.I
)
_ID_DOCUMENT = re.compile(
    r"\b(?:paspoort|identiteitskaart|identiteitsbewijs|id-?kaart|id-?bewijs|reisdocument|verblijfs(?:document|pas)|"
    r"document|rijbewijs)"
    r"(?:[\s-]*(?:nummer|nr\.?|no\.?))?[\s:.#-]*(?:is\s+)?(?:nummer\s+)?"
    r"(?=[A-Za-z0-9]*\d)([A-Za-z0-9]{6,10}|[A-Za-z]{2}[\s-]?[A-Za-z0-9]{6}[\s-]?\d)\b",
    re.I,
)
_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-]+)@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")
_SEP = r"[\s./-]{0,3}"
_MOBILE = re.compile(rf"(?<![\d+])(?:(?:\+|00)\s?31{_SEP}(?:\(0\){_SEP})?|\(?0)6\)?{_SEP}(?:\d{_SEP}){{7}}\d(?!\d)")
_DATE_FIRST = re.compile(r"\(?0?6\)?\s?[-/.]\s?\d{1,2}\s?[-/.]\s?(?:19|20)\d{2}")
_ORGANISATION_NUMBER = re.compile(r"\b(?:rsin|kvk|fiscaal nummer|btw)\b", re.I)
_MONTHS = (
    r"januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|"
    r"jan|feb|mrt|apr|jun|jul|aug|sep|sept|okt|nov|dec"
)
_DATE = (
    rf"(\d{{1,2}}\s*[-/.\s]\s*\d{{1,2}}\s*[-/.\s]\s*(?:19|20)\d{{2}}|(?:19|20)\d{{2}}[-\s]\d{{1,2}}[-\s]\d{{1,2}}|"
    rf"\d{{1,2}}\s+(?:{_MONTHS})\.?\s+(?:19|20)\d{{2}})"
)
_BIRTH_CUE = re.compile(
    rf"(geboren\s+(?:op\s+|in\s+)?|geb\.[\s-]*(?:op\s+)?|geboortedatum[\s-]*(?:is\s+)?:?[\s-]*|"
    rf"born\s+(?:on\s+)?|d\.?o\.?b\.?:?[\s-]*|date\s+of\s+birth:?[\s-]*){_DATE}",
    re.I,
)
_NAME_THEN_DATE = re.compile(
    rf"\b([A-Z][a-zà-ÿ]+(?:\s+(?:van|de|der|den|el|al|bin)?\s*[A-Z][a-zà-ÿ]+)+)\s*[(,]\s*{_DATE}"
)
# SA, SD and SS are never issued; the words are capitals in headings ("IN 2021 EN 2022"), the
# units follow amounts ("2048 MB", "1500 KG").
_POSTCODE = re.compile(
    r"(?<![\w.,])([1-9]\d{3}\s?(?!SA|SD|SS|EN|OF|IN|OP|DE|TE|AL|EU|NL|VS|UK|US|BV|NV|KB|MB|GB|TB|KM|CM|MM|KG|AM|PM)"
    r"[A-Z]{2}(?![\w])(?:(?:\s|\s?[,-]\s?)(?:huisnummer\s|nr\.?\s?)?\d{1,4}(?:\s?[a-zA-Z](?![\w]))?(?![\w.,]\d|\d))?)"
)
_HOUSE_NUMBER = re.compile(r"\bhuisnummer[\s:]+(\d{1,4}(?:\s?[a-zA-Z](?![\w]))?)(?!\d)", re.I)
# Street-name endings that are not also endings of place names (Amsterdam, Eindhoven,
# Heerenveen …): "In Amsterdam 12 deelnemers" is not an address.
# RDW side codes 1-14: L a capital, D a digit. Side codes 4 and later use no vowels, but a
# typed plate with one ("12-ABC-3") is still somebody's.
PLATE_LAYOUTS = (
    "LL-DD-DD", "DD-DD-LL", "DD-LL-DD", "LL-DD-LL", "LL-LL-DD", "DD-LL-LL", "DD-LLL-D",
    "D-LLL-DD", "LL-DDD-L", "L-DDD-LL", "LLL-DD-L", "L-DD-LLL", "D-LL-DDD", "DDD-LL-D",
)  # fmt: skip


def _plate_pattern(separator: str) -> str:
    """All 14 layouts as one alternation, groups joined by ``separator``."""
    groups = (
        ("".join("[A-Z]" if ch == "L" else r"\d" for ch in g) for g in layout.split("-")) for layout in PLATE_LAYOUTS
    )
    return "|".join(f"(?:{separator.join(g)})" for g in groups)


_PLATE = re.compile(rf"(?<![\w-])(?:{_plate_pattern('-')})(?![\w-])")
_PLATE_ANY_SEPARATOR = _plate_pattern(r"[\s-]?")
_PLATE_IN_NAME = re.compile(rf"(?<![\w])(?:{_plate_pattern(' ')})(?![\w])")  # a file name upper-cased, '-' read as ' '
_PLATE_LABELLED = re.compile(
    rf"\b(?:kenteken|nummerplaat)(?:plaat|nummer)?[\s:]*(?:is\s+)?({_PLATE_ANY_SEPARATOR})(?![\w-])", re.I
)
_STREETS = "straat|laan|weg|plein|singel|gracht|kade|dijk|dreef|steeg|pad|plantsoen|markt|allee|boulevard"
_STREET = re.compile(
    rf"\b((?:[A-Z][a-zà-ÿ'-]+\s)?[A-Z][a-zà-ÿ'-]*(?:{_STREETS}))\s+(?!(?:19|20)\d\d\b)(\d{{1,4}}(?:\s?[a-zA-Z](?![a-zA-Z]))?"
    rf"(?:\s?-\s?(?:\d{{1,4}}|hs|bis|[IVX]+)\b)?){_NOT_DIGIT_AFTER}(?!\s?%)(?!\s(?:uur|euro|procent|jaar))"
)


@dataclass(frozen=True)
class Finding:
    kind: str
    where: str  # "p. 3", "alinea 12", "metadata: title", "bestandsnaam"
    hint: str  # masked, e.g. "*******82" (never shown to users; kinds and places are)


def valid_bsn(digits: str) -> bool:
    """The 11-proef for Dutch citizen service numbers."""
    if len(digits) != 9 or not digits.isdigit() or digits == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1))) - int(digits[8])
    return total % 11 == 0


def valid_iban(value: str) -> bool:
    compact = re.sub(r"[\s.-]", "", value).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def _mask(value: str, keep: int = 2) -> str:
    compact = re.sub(r"[\s.-]", "", value)
    return "*" * max(len(compact) - keep, 3) + compact[-keep:]


def _iban_spans(text: str) -> Iterable[tuple[int, int]]:
    """IBANs of known countries at their exact length, grouped any way, mod-97 checked."""
    for m in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(m.group(1).upper())
        if not length:
            continue
        position, count, end = m.start(), 0, m.start()
        while position < len(text) and count < length:
            ch = text[position]
            if ch.isalnum() and ch.isascii():
                count += 1
                end = position + 1
            elif ch not in " .-" or position + 1 >= len(text) or not text[position + 1].isalnum():
                break
            position += 1
        if count != length or (end < len(text) and text[end].isalnum()):
            continue
        value = text[m.start() : end]
        if valid_iban(value) or _DUTCH_IBAN.fullmatch(re.sub(r"[\s.-]", "", value).upper()):
            yield m.start(), end


def spans(text: str, document: bool = False) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, hint) of every personal-data span in ``text``, without overlaps.

    ``document``: the text is a document's, not typed by a user; names after a salutation that
    mark a public person ("De heer Azmani (VVD)") stay (:mod:`kb.privacy.names`).
    """
    found: list[tuple[int, int, str, str]] = []
    for m in _BSN_LABELLED.finditer(text):
        found.append((m.start(1), m.end(1), "bsn", _mask(m.group(1))))
    for m in (*_BSN_BARE.finditer(text), *_BSN_SPELLED.finditer(text)):
        if _ORGANISATION_NUMBER.search(text[max(0, m.start() - 14) : m.start()]):
            continue  # an RSIN or KvK number passes the 11-proef too, but is an organisation's
        if valid_bsn(re.sub(r"\D", "", m.group(1))):
            found.append((m.start(1), m.end(1), "bsn", _mask(m.group(1))))
    for start, end in _iban_spans(text):
        found.append((start, end, "iban", text[start : start + 2].upper() + _mask(text[start:end])))
    for m in _VNUMMER.finditer(text):
        found.append((m.start(1), m.end(1), "vnummer", _mask(m.group(1))))
    for m in _ID_DOCUMENT.finditer(text):
        found.append((m.start(1), m.end(1), "document", _mask(m.group(1))))
    for m in _EMAIL.finditer(text):
        if m.group(1).lower() not in ROLE_MAILBOXES:
            found.append((m.start(), m.end(), "email", m.group(1)[:1] + "***@" + m.group(2)))
    for m in _MOBILE.finditer(text):
        if _DATE_FIRST.match(m.group(0)):
            continue  # "06-12-2023 15:00" is a date and a time
        found.append((m.start(), m.end(), "phone", _mask(m.group(0))))
    for pattern in (_BIRTH_CUE, _NAME_THEN_DATE):
        for m in pattern.finditer(text):
            found.append((m.start(2), m.end(2), "birthdate", "**-**-" + m.group(2)[-4:][:2] + "**"))
    for m in _POSTCODE.finditer(text):
        if "postbus" in text[max(0, m.start() - 25) : m.start()].lower():
            continue  # a PO box postcode belongs to an organisation
        found.append((m.start(1), m.end(1), "postcode", m.group(1)[:1] + "*** **"))
    for m in _HOUSE_NUMBER.finditer(text):
        found.append((m.start(1), m.end(1), "address", "*" * len(m.group(1))))
    for m in _STREET.finditer(text):
        found.append((m.start(2), m.end(2), "address", m.group(1)[:1] + "… " + "*" * len(m.group(2))))
    for m in _PLATE.finditer(text):
        found.append((m.start(), m.end(), "plate", _mask(m.group(0), 1)))
    for m in _PLATE_LABELLED.finditer(text):
        found.append((m.start(1), m.end(1), "plate", _mask(m.group(1), 1)))
    for start, end in name_spans(text, document):
        found.append((start, end, "name", text[start] + "…"))
    found.sort(key=lambda s: (s[0], -s[1]))
    merged: list[tuple[int, int, str, str]] = []
    for span in found:
        if merged and span[0] < merged[-1][1]:
            continue  # overlapping matches (a BSN inside an IBAN): keep the first, longest
        merged.append(span)
    return merged


def redact_text(text: str, where: str = "", document: bool = False) -> tuple[str, list[Finding]]:
    """``text`` with every personal-data span replaced by ``[BSN verwijderd]`` etc., and the findings.

    ``document=True`` for a document's text and metadata; typed text (questions, feedback) is the default.
    """
    found = spans(text or "", document)
    for start, end, kind, _hint in reversed(found):
        text = text[:start] + f"[{LABELS[kind]} verwijderd]" + text[end:]
    return text, [Finding(kind, where, hint) for _s, _e, kind, hint in found]


def redact(text: str, document: bool = False) -> str:
    """``text`` with personal data replaced (for logs, feedback and questions; ``document`` for a document's text)."""
    return redact_text(text, document=document)[0]


def kinds_in(text: str, document: bool = False) -> list[str]:
    """The kinds of personal data in ``text``, first occurrence first (no values)."""
    return list(dict.fromkeys(kind for _s, _e, kind, _h in spans(text or "", document)))


def redact_name(name: str) -> str:
    """A file name or document id with personal data replaced by a neutral word, never the value:
    ``intake-111222333.pdf`` → ``intake-bsn-verwijderd.pdf``."""
    found = _name_spans(name)
    for start, end, kind, _hint in reversed(found):
        name = name[:start] + f"{SLUG_LABELS[kind]}-verwijderd" + name[end:]
    return name


def neutral_id(stem: str) -> str:
    """A readable id for a file name that held personal data: the redacted name plus a short
    hash of the original, so two such files do not collide. Four hex digits fit ~1,400 valid
    BSNs each: the id does not lead back to the number."""
    return f"{redact_name(stem)}-{hashlib.sha256(stem.encode('utf-8')).hexdigest()[:4]}"


def _name_spans(name: str) -> list[tuple[int, int, str, str]]:
    """Spans in a file name or id, which use '_' or '-' where text has spaces (read both ways;
    the replacement keeps the length, so positions line up)."""
    found = []
    for variant in (name, name.title(), name.upper()):  # names are often all lower case
        if len(variant) != len(name):
            continue  # "ß".upper() is "SS": the positions would not line up
        spaced = re.sub(r"[_-]", " ", variant)
        found += spans(variant.replace("_", " ")) + spans(spaced)
        found += [(m.start(), m.end(), "plate", "***") for m in _PLATE_IN_NAME.finditer(spaced)]
        found += [(start, end, "name", "***") for start, end in name_spans(spaced, in_name=True)]
    found.sort(key=lambda s: (s[0], -s[1]))
    merged: list[tuple[int, int, str, str]] = []
    for span in found:
        if merged and span[0] < merged[-1][1]:
            continue
        merged.append(span)
    return merged


def name_has_personal_data(name: str) -> bool:
    return bool(_name_spans(name))


def name_findings(name: str, where: str = "bestandsnaam") -> list[Finding]:
    return [Finding(kind, where, "***") for _s, _e, kind, _h in _name_spans(name)]


def guard_metadata(layer: dict[str, Any], origin: str) -> tuple[dict[str, Any], list[Finding]]:
    """Every string in a metadata layer (sidecar, front matter, PDF/DOCX properties, form) redacted.

    ``id`` is a name: it gets a neutral id instead of a ``[… verwijderd]`` marker.
    """
    out: dict[str, Any] = {}
    findings: list[Finding] = []
    for key, value in layer.items():
        where = f"metadata ({origin}): {key}"
        if key == "id" and isinstance(value, str | int) and name_has_personal_data(str(value)):
            out[key] = neutral_id(str(value))
            findings.extend(name_findings(str(value), where))
        elif isinstance(value, str):
            out[key], found = redact_text(value, where, document=True)
            findings.extend(found)
        elif isinstance(value, list | tuple):
            items = []
            for item in value:
                text, found = redact_text(str(item), where, document=True) if isinstance(item, str) else (item, [])
                items.append(text)
                findings.extend(found)
            out[key] = items
        else:
            out[key] = value
    return out, findings


def summarize(findings: list[Finding]) -> str:
    """'2× BSN (p. 3, p. 4); 1× IBAN (alinea 7)' — kinds and places, no values."""
    counts = Counter(f.kind for f in findings)
    parts = []
    for kind, count in counts.items():
        places = list(dict.fromkeys(f.where for f in findings if f.kind == kind))
        shown = ", ".join(places[:5]) + (" …" if len(places) > 5 else "")
        parts.append(f"{count}× {LABELS[kind]} ({shown})")
    return "; ".join(parts)


def refuse_if(findings: list[Finding], policy: str) -> None:
    if findings and policy == "refuse":
        raise DocumentError(
            f"Het bestand bevat persoonsgegevens en is niet geïndexeerd: {summarize(findings)}. "
            "Verwijder of anonimiseer ze en voeg het bestand opnieuw toe."
        )

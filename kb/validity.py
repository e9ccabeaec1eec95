"""How current a source is: its dates, the regime it discusses, and the caveat a reader needs.

A document carries ``date`` and optionally ``valid_from``, ``valid_until``, ``superseded_by``
and ``regime`` (``Wi2013``, ``Wi2021``), from its metadata or from what its text says
("geschreven vóór de inwerkingtreding van de Wet inburgering 2021"). :func:`caveat` turns
that into one short Dutch sentence for each citation; :func:`recency_key` orders passages of
equal evidence so the newer valid one comes first. Everything here is a pure function of the
document's fields and the date passed in as ``today``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

# regime code -> (name as the domain writes it, the day it took effect)
REGIMES: dict[str, tuple[str, date]] = {
    "Wi2013": ("Wet inburgering 2013", date(2013, 1, 1)),
    "Wi2021": ("Wet inburgering 2021", date(2022, 1, 1)),
}
MONTHS_NL = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)
_REGIME_NAME = r"(?:Wet\s+inburgering\s+(20(?:13|21))|Wi\s?(20(?:13|21)))"
_WRITTEN_BEFORE = re.compile(
    r"(?:geschreven|opgesteld|gemaakt)\s+(?:vóór|voor)\s+(?:de\s+)?(?:inwerkingtreding|invoering)\s+van\s+de\s+"
    + _REGIME_NAME,
    re.I,
)
_MENTION = re.compile(r"\b" + _REGIME_NAME + r"\b", re.I)
_ISO = re.compile(r"^\s*((?:19|20)\d{2})(?:-(\d{1,2})(?:-(\d{1,2}))?)?\b")
_DMY = re.compile(r"\b(\d{1,2})-(\d{1,2})-((?:19|20)\d{2})\b")
_YEAR = re.compile(r"\b((?:19|20)\d{2})\b")


@dataclass(frozen=True)
class Validity:
    """What is known about when a document applies; empty strings mean unknown."""

    date: str = ""
    valid_from: str = ""
    valid_until: str = ""
    superseded_by: str = ""
    regime: str = ""
    predates_regime: bool = False  # the text says it was written before its regime took effect

    @classmethod
    def from_fields(cls, fields: dict) -> Validity:
        """From stored passage metadata (keys missing in an older index read as unknown)."""
        return cls(
            date=str(fields.get("date", "") or ""),
            valid_from=str(fields.get("valid_from", "") or ""),
            valid_until=str(fields.get("valid_until", "") or ""),
            superseded_by=str(fields.get("superseded_by", "") or ""),
            regime=str(fields.get("regime", "") or ""),
            predates_regime=bool(fields.get("predates_regime", False)),
        )


def normalize_regime(value: str) -> str:
    """``'wi 2021'``, ``'Wet inburgering 2021'`` → ``'Wi2021'``; other values are kept as written."""
    text = " ".join(str(value or "").split())
    match = _MENTION.fullmatch(text) or re.fullmatch(r"wi\s?(20(?:13|21))", text, re.I)
    if match:
        year = next(g for g in match.groups() if g)
        return f"Wi{year}"
    return text


def regime_in_text(text: str) -> tuple[str, bool]:
    """(regime, written before it took effect) as the text says it.

    "geschreven vóór de inwerkingtreding van de Wet inburgering 2021" gives ``('Wi2021', True)``;
    a text that names exactly one regime gives that regime; otherwise ``('', False)``.
    """
    stated = _WRITTEN_BEFORE.search(text or "")
    if stated:
        return f"Wi{next(g for g in stated.groups() if g)}", True
    named = {f"Wi{next(g for g in m.groups() if g)}" for m in _MENTION.finditer(text or "")}
    return (named.pop(), False) if len(named) == 1 else ("", False)


def date_range(value: str) -> tuple[date, date] | None:
    """The first and last day a stated date can mean: ``'2021-08'`` → 1–31 August 2021.

    Accepts ISO dates (``2022-01-06``, ``2021-08``, ``2023``), ``dd-mm-yyyy`` and, as a last
    resort, a year anywhere in the text (``'voorjaar 2023'``); ``None`` when there is no date.
    """
    text = str(value or "")
    try:
        match = _ISO.match(text)
        if match:
            year, month, day = (int(g) if g else 0 for g in match.groups())
            if month and day:
                return date(year, month, day), date(year, month, day)
            if month:
                return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
            return date(year, 1, 1), date(year, 12, 31)
        match = _DMY.search(text)
        if match:
            day, month, year = (int(g) for g in match.groups())
            return date(year, month, day), date(year, month, day)
    except ValueError:  # 2021-13, 31-02-2022: not a date
        return None
    match = _YEAR.search(text)
    if match:
        year = int(match.group(1))
        return date(year, 1, 1), date(year, 12, 31)
    return None


def format_date_nl(value: str) -> str:
    """A stated date in Dutch words: ``2021-08`` → ``augustus 2021``, ``2022-01-06`` → ``6 januari 2022``."""
    span = date_range(value)
    if span is None:
        return str(value or "").strip() or "datum onbekend"
    first, last = span
    if first == last:
        return f"{first.day} {MONTHS_NL[first.month - 1]} {first.year}"
    if first.month == last.month:
        return f"{MONTHS_NL[first.month - 1]} {first.year}"
    return str(first.year)


def _years_between(earlier: date, later: date) -> float:
    return (later - earlier).days / 365.25


def _joined(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " en " + parts[-1]


def caveat_reasons(validity: Validity, today: date, max_age_years: int) -> list[str]:
    """Why a reader should be careful with this source, each as a Dutch phrase after "deze bron"."""
    reasons: list[str] = []
    if validity.superseded_by:
        reasons.append(f"is vervangen door ‘{validity.superseded_by}’")
    until = date_range(validity.valid_until)
    if until and until[1] < today:
        reasons.append(f"gold tot {format_date_nl(validity.valid_until)}")
    start = date_range(validity.valid_from)
    if start and start[0] > today:
        reasons.append(f"geldt pas vanaf {format_date_nl(validity.valid_from)}")
    span = date_range(validity.date)
    regime = REGIMES.get(normalize_regime(validity.regime))
    if regime and (validity.predates_regime or (span and span[1] < regime[1])):
        name, effective = regime
        code = normalize_regime(validity.regime)
        when = f"{effective.day} {MONTHS_NL[effective.month - 1]} {effective.year}"
        reasons.append(f"is geschreven vóór de inwerkingtreding van de {name} ({code}, {when})")
    if span is None:
        reasons.append("heeft geen datum")
    elif max_age_years and _years_between(span[1], today) > max_age_years:
        reasons.append(f"is ouder dan {max_age_years} jaar ({format_date_nl(validity.date)})")
    return reasons


def caveat(validity: Validity, today: date, max_age_years: int) -> str:
    """One short Dutch sentence when the source may be out of date; empty when nothing is known against it.

    A source gets one when it is superseded, no longer or not yet valid, written before the
    regime it discusses took effect, older than ``max_age_years`` (0: never for age), or undated.
    The age counts from the last day the stated date can mean, so ``2023`` is not called old early.
    """
    reasons = caveat_reasons(validity, today, max_age_years)
    if not reasons:
        return ""
    return f"Let op: deze bron {_joined(reasons)}; controleer of dit nog geldt."


def is_valid(validity: Validity, today: date) -> bool:
    """Not superseded, not expired and already in force (as far as is known)."""
    if validity.superseded_by:
        return False
    until = date_range(validity.valid_until)
    start = date_range(validity.valid_from)
    return not (until and until[1] < today) and not (start and start[0] > today)


def recency_key(validity: Validity, today: date) -> tuple[int, int]:
    """Sort key among passages of equal evidence: valid before not valid, then newest first, undated last."""
    span = date_range(validity.date)
    return (0 if is_valid(validity, today) else 1, -(span[1].toordinal() if span else 0))

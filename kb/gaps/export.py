"""The report as CSV (one row per theme) and as Markdown for a CoP meeting."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from kb.gaps.records import GAP_KINDS, KIND_NL, STATUS_ANSWERED, GapReport, Theme


def _date(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else ""


def _kinds_nl(kinds: dict[str, int]) -> str:
    return ", ".join(f"{KIND_NL[k]}: {kinds[k]}" for k in GAP_KINDS if kinds.get(k))


def _status_nl(theme: Theme) -> str:
    if theme.status == STATUS_ANSWERED and theme.answered_by:
        since = f" sinds {_date(theme.answered_since)}" if theme.answered_since else ""
        return f"nu beantwoord{since} door “{theme.answered_by.title}” ({theme.answered_by.doc_id})"
    return "open" if theme.checked else "open (nog niet opnieuw gevraagd)"


CSV_HEADERS = [
    "thema",
    "status",
    "aantal",
    "vorige periode",
    "trend",
    "eerst gezien",
    "laatst gezien",
    "soort",
    "voorbeeldvragen",
    "dichtstbijzijnde documenten",
    "beantwoord sinds",
    "beantwoord door",
]


def _cell(value: str) -> str:
    """A spreadsheet shows a cell that starts with = + - @ as a formula: such a question is quoted."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def report_csv(report: GapReport) -> str:
    """One row per theme (UTF-8, comma-separated)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADERS)
    for t in report.themes:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    t.label,
                    t.status,
                    str(t.size),
                    str(t.previous),
                    t.trend,
                    _date(t.first_seen),
                    _date(t.last_seen),
                    _kinds_nl(t.kinds),
                    " | ".join(t.examples),
                    " | ".join(f"{d.title} ({d.doc_id})" for d in t.documents),
                    _date(t.answered_since),
                    t.answered_by.doc_id if t.answered_by else "",
                )
            ]
        )
    return out.getvalue()


def report_markdown(report: GapReport) -> str:
    """The report for a CoP meeting: a summary table, then each theme with examples and documents."""
    cop = f", CoP {report.cop}" if report.cop else ""
    lines = [
        "# Kennislacunes: vragen die de kennisbank niet (goed) kon beantwoorden",
        "",
        f"Periode {_date(report.since)} t/m {_date(report.until - timedelta(seconds=1))}{cop}: "
        f"{report.questions} vragen gesteld, {report.gaps} zonder goed antwoord "
        f"({', '.join(KIND_NL[k] for k in report.kinds)}); {themes_nl(len(report.themes))}, "
        f"{report.loose} losse vragen. Trend: vergeleken met {_date(report.previous_since)} t/m "
        f"{_date(report.since - timedelta(seconds=1))}.",
        "",
    ]
    if not report.themes:
        return "\n".join([*lines, "Geen thema's in deze periode."]) + "\n"
    lines += ["| thema | aantal | trend | status |", "|---|---:|---|---|"]
    lines += [f"| {_md(t.label)} | {t.size} | {t.trend} | {_md(_status_nl(t))} |" for t in report.themes]
    for t in report.themes:
        lines += ["", theme_markdown(t)]
    return "\n".join(lines) + "\n"


def theme_markdown(t: Theme, heading: str = "##") -> str:
    """One theme as Markdown: label, size and trend, status, example questions, closest documents.
    Everything that comes from a question or a document is escaped (:func:`_md`)."""
    lines = [
        f"{heading} {_md(t.label)}",
        "",
        f"{t.size} vragen ({_kinds_nl(t.kinds)}), eerst {_date(t.first_seen)}, laatst {_date(t.last_seen)}; "
        f"vorige periode {t.previous} (trend {t.trend}). Status: {_md(_status_nl(t))}.",
        "",
        "Voorbeeldvragen:",
        *[f"- {_md(q)}" for q in t.examples],
    ]
    if t.documents:
        lines += ["", "Documenten die het dichtst in de buurt komen:"]
        lines += [f"- {_md(d.title or d.doc_id)} (`{d.doc_id}`, {d.score:.2f})" for d in t.documents]
    return "\n".join(lines)


def themes_nl(count: int) -> str:
    """``1 thema``, ``3 thema's``."""
    return f"{count} thema" if count == 1 else f"{count} thema's"


def _md(text: str) -> str:
    """Text in a Markdown table or line: pipes escaped, no HTML."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")

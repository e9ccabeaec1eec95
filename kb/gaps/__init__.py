"""Kennislacunes: themes of the questions the knowledge base could not answer.

From the question log (:mod:`kb.questions_log`) the report (:mod:`kb.gaps.report`) takes the questions
that abstained, got a weak answer or a 👎, and groups them by their e5 vectors (:mod:`kb.gaps.grouping`).
Each theme gets a Dutch label from its characteristic terms (:mod:`kb.gaps.labels`), its size, first and
last seen, the count in the previous period of equal length (the trend), example questions closest to
its centre, the documents closest to it, and a status (:mod:`kb.gaps.status`): ``open``, or
``nu beantwoord`` when most of its representative questions, asked again against the current knowledge
base, are now answered by a document they did not cite before, with the document and since when (its
ingest time). :mod:`kb.gaps.export` writes the report as CSV and as Markdown for a CoP meeting.
"""

from kb.gaps.export import report_csv, report_markdown
from kb.gaps.records import (
    GAP_KINDS,
    KIND_NL,
    STATUS_ANSWERED,
    STATUS_OPEN,
    ClosestDocument,
    GapReport,
    Theme,
    gap_kind,
)
from kb.gaps.report import DEFAULT_PERIOD_DAYS, build_gap_report

__all__ = [
    "DEFAULT_PERIOD_DAYS",
    "GAP_KINDS",
    "KIND_NL",
    "STATUS_ANSWERED",
    "STATUS_OPEN",
    "ClosestDocument",
    "GapReport",
    "Theme",
    "build_gap_report",
    "gap_kind",
    "report_csv",
    "report_markdown",
]

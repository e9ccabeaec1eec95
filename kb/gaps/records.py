"""The report as data: a theme, the closest documents, the whole report; why a question is in it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from kb.questions_log import LoggedQuestion

GAP_KINDS = ("abstained", "weak", "down")
KIND_NL = {"abstained": "geen antwoord", "weak": "zwak antwoord", "down": "👎"}
STATUS_OPEN, STATUS_ANSWERED = "open", "nu beantwoord"


def gap_kind(entry: LoggedQuestion) -> str:
    """Why an entry is in the report: ``down`` (a 👎), else its outcome (``abstained`` or ``weak``)."""
    return "down" if entry.rating == "down" else entry.outcome


@dataclass(frozen=True)
class ClosestDocument:
    doc_id: str
    title: str
    score: float  # e5 similarity of the theme's centre to the document's best passage


@dataclass
class Theme:
    key: str
    label: str
    terms: tuple[str, ...]
    size: int
    previous: int  # questions of the previous period that fall in this theme
    first_seen: datetime
    last_seen: datetime
    kinds: dict[str, int]
    examples: tuple[str, ...]
    question_ids: tuple[int, ...]
    weekly: dict[str, int]  # Monday of the week (YYYY-MM-DD) → questions
    documents: tuple[ClosestDocument, ...] = ()
    status: str = STATUS_OPEN
    answered_since: datetime | None = None
    answered_by: ClosestDocument | None = None
    checked: bool = False  # asked again against the current knowledge base

    @property
    def trend(self) -> str:
        """The change against the previous period, in Dutch: ``nieuw``, ``+3``, ``-2`` or ``gelijk``."""
        if not self.previous:
            return "nieuw"
        change = self.size - self.previous
        return "gelijk" if change == 0 else f"{change:+d}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            trend=self.trend,
            first_seen=self.first_seen.isoformat(timespec="seconds"),
            last_seen=self.last_seen.isoformat(timespec="seconds"),
            answered_since=self.answered_since.isoformat(timespec="seconds") if self.answered_since else None,
        )
        return data


@dataclass
class GapReport:
    since: datetime
    until: datetime
    previous_since: datetime
    themes: list[Theme]
    questions: int  # all logged questions in the period
    gaps: int  # of which weak, unanswered or 👎 (after the kind and CoP filters)
    loose: int  # gap questions in no theme
    kinds: tuple[str, ...] = GAP_KINDS
    cop: str = ""
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def theme(self, key: str) -> Theme | None:
        return next((t for t in self.themes if t.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(timespec="seconds"),
            "until": self.until.isoformat(timespec="seconds"),
            "previous_since": self.previous_since.isoformat(timespec="seconds"),
            "questions": self.questions,
            "gaps": self.gaps,
            "loose": self.loose,
            "kinds": list(self.kinds),
            "cop": self.cop,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "themes": [t.to_dict() for t in self.themes],
        }

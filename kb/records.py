"""The small typed records that flow through the pipeline.

Citations are data: the CLI, the chat UI and the eval render or score these records;
nothing parses citations back out of prose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kb.privacy.pii import redact_name
from kb.validity import Validity

KINDS = ("handreiking", "CoP-interview", "CoP-verslag", "artikel", "verslag", "rapport", "beleid", "overig")


@dataclass(frozen=True)
class DocumentMeta:
    """Metadata of one source document (from front matter, a sidecar, or fallbacks)."""

    doc_id: str
    title: str
    publisher: str = "onbekend"
    date: str = ""  # ISO date, year, or free text as stated
    year: int = 0  # 0 = unknown
    kind: str = "onbekend"  # handreiking | CoP-interview | artikel | verslag | ...
    cop: str = ""  # CoP or region
    themes: tuple[str, ...] = ()
    author: str = ""
    url: str = ""
    source: str = ""  # file name it came from
    valid_from: str = ""  # ISO date from which it applies ('' = unknown)
    valid_until: str = ""  # ISO date until which it applied ('' = unknown)
    superseded_by: str = ""  # id or title of the document that replaces it
    regime: str = ""  # the law it discusses: Wi2013 | Wi2021 | ...
    predates_regime: bool = False  # its text says it was written before that law took effect

    @property
    def validity(self) -> Validity:
        return Validity(
            self.date, self.valid_from, self.valid_until, self.superseded_by, self.regime, self.predates_regime
        )


@dataclass(frozen=True)
class Chunk:
    """A passage sized for quoting, with where it sits in its document."""

    chunk_id: str
    doc_id: str
    index: int
    text: str
    section: str = ""
    page_start: int = 0  # 0 = not paged (text, html, docx)
    page_end: int = 0

    @property
    def locator(self) -> str:
        """Human-readable location: page and/or section."""
        parts = []
        if self.page_start:
            if self.page_end and self.page_end != self.page_start:
                parts.append(f"p. {self.page_start}–{self.page_end}")
            else:
                parts.append(f"p. {self.page_start}")
        if self.section:
            parts.append(f"§ {self.section}")
        return " · ".join(parts) or "begin van het document"


@dataclass(frozen=True)
class Query:
    """One question, analysed once (:func:`kb.search.query.analyse_query`): retrieval and the
    answerers read these fields instead of re-reading the text.

    Two term weightings ride along because the keyword ranking and the answerer's coverage were
    each fitted on their own scale (see :mod:`kb.nl.terms`). The weight mappings are read-only.
    """

    text: str  # what is searched and answered: the question, or a follow-up's standalone rewrite
    history: tuple[str, ...]  # the earlier questions that go with it (only for a follow-up)
    search_text: str  # the last two earlier questions and ``text``: what retrieval embeds and matches
    kind: str  # definition | list | quantity | other (kb.nl.question.question_kind of ``text``)
    # stems of ``search_text`` on the keyword scale, and of the lexicon's other names for its terms
    keyword_weights: Mapping[str, float]
    expansion_keyword_weights: Mapping[str, float]
    # stems of ``text`` (earlier questions lower) on the coverage scale, and of the other names for its terms
    coverage_weights: Mapping[str, float]
    expansion_coverage_weights: Mapping[str, float]
    definition: str = ""  # a definition question: what the lexicon says the first term it names means
    definition_chunk_id: str = ""  # ... and the passage a document defines it in ("" for a curated term)


@dataclass
class Passage:
    """A retrieved passage (one chunk, or adjacent chunks merged) with its score."""

    chunk_ids: list[str]
    doc_id: str
    title: str
    publisher: str
    date: str
    kind: str
    locator: str
    text: str
    score: float
    first_index: int = 0
    last_index: int = 0
    section: str = ""
    dense_score: float = 0.0
    lexical_score: float = 0.0
    parts: list[tuple[str, str]] = field(default_factory=list)  # (locator, text) per merged chunk
    validity: Validity = field(default_factory=Validity)  # the document's dates and regime

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "locator": self.locator,
            "text": self.text,
            "score": round(self.score, 4),
            "chunk_ids": list(self.chunk_ids),
        }


@dataclass(frozen=True)
class Citation:
    """One numbered source of an answer: the document, where, and the quoted sentence(s)."""

    n: int
    doc_id: str
    title: str
    publisher: str
    date: str
    locator: str
    quote: str
    text: str
    score: float
    source: str = ""
    caveat: str = ""  # Dutch: why this source may be out of date ('' = nothing known against it)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["score"] = round(self.score, 4)
        return data


@dataclass(frozen=True)
class Claim:
    """One sentence of a generated answer and what verification found.

    ``cited`` are the source numbers the model wrote; ``citations`` the numbers of the
    answer's citations that verification accepted for it (empty when the sentence was dropped).
    """

    text: str
    cited: tuple[int, ...]
    citations: tuple[int, ...]
    status: str  # supported | attached | unsupported | bad-reference | uncited
    support: float  # probability that the cited source(s) back the sentence
    reason: str = ""  # Dutch, shown to the user for dropped sentences

    @property
    def kept(self) -> bool:
        return self.status in ("supported", "attached")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["support"] = round(self.support, 4)
        return data


@dataclass
class Answer:
    """What the knowledge base says to a question, with its evidence."""

    question: str
    text: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[Passage] = field(default_factory=list)
    latency_ms: float = 0.0
    confidence: float = 0.0
    mode: str = "extractive"  # extractive | llm | llm-fallback
    notice: str = ""  # Dutch note for the user, e.g. why the extractive answer is shown instead
    claims: list[Claim] = field(default_factory=list)  # generated sentences, kept and dropped
    standalone_question: str = ""  # the follow-up rewritten with its history, when an LLM did that
    timings: dict[str, float] = field(default_factory=dict)  # ms per step (retrieve, generate, verify, …)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [p.to_dict() for p in self.retrieved],
            "latency_ms": round(self.latency_ms, 1),
            "confidence": round(self.confidence, 4),
            "mode": self.mode,
            "notice": self.notice,
            "claims": [c.to_dict() for c in self.claims],
            "standalone_question": self.standalone_question,
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
        }


# -- what ``KnowledgeBase.ask_stream`` yields, in this order --------------------------------
@dataclass(frozen=True)
class Retrieved:
    """The passages found for the question, before an answer is made from them."""

    passages: list[Passage]
    standalone_question: str = ""  # the follow-up as rewritten by the language model, if it was


@dataclass(frozen=True)
class DraftDelta:
    """More of the language model's answer as it streams in; not yet checked against the sources."""

    delta: str  # the new text
    draft: str  # everything written so far


@dataclass(frozen=True)
class Answered:
    """The final answer (verified when a language model wrote it); always the last event."""

    answer: Answer


AskEvent = Retrieved | DraftDelta | Answered


STATUS_NL = {
    "added": "toegevoegd",
    "replaced": "vervangen",
    "unchanged": "ongewijzigd",
    "duplicate": "dubbel, overgeslagen",
    "refused": "geweigerd",
}


@dataclass
class FileResult:
    """What happened to one file."""

    path: str
    status: str  # added | replaced | unchanged | duplicate | refused
    doc_id: str = ""
    title: str = ""
    chunks: int = 0
    embedded: int = 0
    reason: str = ""
    privacy: str = ""  # what personal data was found and redacted (kinds and places, no values)
    warnings: list[str] = field(default_factory=list)  # e.g. text that addresses the assistant

    @property
    def name(self) -> str:
        """The file name as it may be shown or logged: personal data in it replaced."""
        return redact_name(Path(self.path).name)

    @property
    def status_nl(self) -> str:
        return STATUS_NL.get(self.status, self.status)


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def embedded(self) -> int:
        return sum(r.embedded for r in self.results)

    def summary_nl(self) -> str:
        parts = [f"{self.count(s)} {label}" for s, label in STATUS_NL.items() if self.count(s)]
        return (
            f"{len(self.results)} bestand(en): " + (", ".join(parts) or "niets te doen") + f" ({self.seconds:.1f} s)."
        )

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 2), "results": [asdict(r) for r in self.results]}

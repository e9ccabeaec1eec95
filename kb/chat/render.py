"""Pure functions that turn knowledge-base records into what the chat app shows.

Citations are data: everything here reads :class:`~kb.records.Answer` fields and never
parses the answer text. Every value from a document is escaped before it becomes HTML
or Markdown, because uploaded documents are not trusted to be well-formed.

Nothing a document or the language model wrote becomes a link: Markdown link syntax is
escaped, and web and e-mail addresses are "defanged" (``https[:]//voorbeeld[.]nl``), which
Markdown's autolinking does not pick up. A source that smuggles in a phishing address
then shows it as text, not as something to click.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from kb.index.store import StoredDocument
from kb.privacy.pii import redact_name
from kb.records import Answer, Citation, FileResult, Passage
from kb.validity import format_date_nl

SOURCES_PLACEHOLDER = (
    '<div class="kb-sources kb-empty">Stel een vraag; de bronnen van het antwoord verschijnen hier, '
    "met de geciteerde zin gemarkeerd in de passage.</div>"
)
SOURCES_PENDING = (
    '<div class="kb-sources kb-empty">Het antwoord wordt geschreven en daarna zin voor zin gecontroleerd; '
    "de bronnen verschijnen hier zodra dat klaar is.</div>"
)
ABSTAIN_HEADING = "Geen antwoord in de bronnen"
INGEST_HEADERS = ["bestand", "resultaat", "document-id", "titel", "passages", "toelichting"]
DOCUMENT_HEADERS = ["id", "titel", "soort", "datum", "passages", "toegevoegd op"]
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~$])")


_ADDRESS = re.compile(
    r"(?:\b(?:https?|ftp|file)://|\b(?:mailto|javascript|data):(?=\S)|\bwww\.)[^\s<>\"'`]*"
    r"|\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b",
    re.I,
)


def defang(text: str) -> str:
    """Web and e-mail addresses made unclickable: ``https://x.nl`` → ``https[:]//x[.]nl``."""

    def neutral(match: re.Match[str]) -> str:
        value = re.sub(r"^(\w+):", r"\1[:]", match.group(0))
        return value.replace(".", "[.]").replace("@", "[@]")

    return _ADDRESS.sub(neutral, text or "")


def md_escape(text: str) -> str:
    """Escape Markdown syntax so document text shows literally in the chat (and links are not links)."""
    return _MD_SPECIAL.sub(r"\\\1", defang(text))


def _date(value: str) -> str:
    return value or "datum onbekend"


def citation_label(c: Citation) -> str:
    """One line naming a source: title, organisation, date (in words) and location."""
    return f"{c.title} — {c.publisher}, {format_date_nl(c.date)} — {c.locator}"


DRAFT_HEADING = "Concept van het taalmodel — wordt nog gecontroleerd op de bronnen"
SEARCHING = "⏳ Zoeken in de bronnen …"
MODE_NOTES = {
    "llm": "Geschreven door het taalmodel; elke zin is gecontroleerd op de bron die erbij staat.",
}


def draft_markdown(raw: str) -> str:
    """The chat message while a model is still writing: clearly marked as unchecked."""
    return f"✍️ *{DRAFT_HEADING}*\n\n{md_escape(raw)}"


def _glossary_pattern(glossary: Sequence[dict]) -> tuple[re.Pattern[str] | None, dict[str, dict]]:
    """One pattern over every name of every defined term (longest first); abbreviations match
    in capitals only (MAP, not 'map'), other names in any case."""
    by_name: dict[str, dict] = {}
    for entry in glossary:
        if not str(entry.get("definition", "")).strip():
            continue
        for name in [entry.get("term", ""), *entry.get("aliases", [])]:
            name = " ".join(str(name).split())
            if len(name) >= 2:
                by_name.setdefault(name if name.isupper() else name.lower(), entry)
    if not by_name:
        return None, {}
    names = sorted(by_name, key=len, reverse=True)
    alternatives = [re.escape(n) if n.isupper() else f"(?i:{re.escape(n)})" for n in names]
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)"), by_name


def glossary_markdown(text: str, glossary: Sequence[dict]) -> str:
    """``text`` as escaped Markdown, with the first mention of each defined lexicon term wrapped in
    ``<abbr title="term: definition">`` so its definition shows on hover. ``glossary`` is
    :meth:`kb.search.lexicon.Lexicon.to_dicts`; every piece of text and every title is escaped."""
    pattern, by_name = _glossary_pattern(glossary)
    if pattern is None:
        return md_escape(text)
    pieces: list[str] = []
    position = 0
    shown: set[str] = set()
    for match in pattern.finditer(text):
        found = match.group(0)
        entry = by_name.get(found) or by_name.get(found.lower())
        if entry is None or entry["term"] in shown:
            continue
        shown.add(entry["term"])
        title = html.escape(f"{entry['term']}: {' '.join(str(entry['definition']).split())}", quote=True)
        pieces.append(md_escape(text[position : match.start()]))
        pieces.append(f'<abbr class="kb-term" title="{title}">{md_escape(found)}</abbr>')
        position = match.end()
    pieces.append(md_escape(text[position:]))
    return "".join(pieces)


def answer_markdown(answer: Answer, glossary: Sequence[dict] | None = None) -> str:
    """The chat message for an answer: the text with its [n] markers and a short source list.

    With a language model it also says how the answer was made: a verified generated answer,
    or the extractive answer with the reason (``answer.notice``) why the model's was not used.
    With a ``glossary`` (the domain lexicon) the first mention of each defined term shows its
    definition on hover.
    """
    lead = f"_Gezocht als: {md_escape(answer.standalone_question)}_\n\n" if answer.standalone_question else ""
    notice = f"\n\nℹ️ _{md_escape(answer.notice)}_" if answer.notice else ""
    if answer.abstained:
        return f"{lead}⚠️ **{ABSTAIN_HEADING}.** {md_escape(answer.text)}{notice}"
    lines = [lead + (glossary_markdown(answer.text, glossary) if glossary else md_escape(answer.text))]
    if answer.mode in MODE_NOTES:
        lines.append(f"\n_{MODE_NOTES[answer.mode]}_")
    if notice:
        lines.append(notice.strip("\n"))
    if answer.citations:
        lines.append("")
        lines.append("**Bronnen:**")
        lines.extend(f"- {md_escape(f'[{c.n}]')} {md_escape(citation_label(c))}" for c in answer.citations)
    return "\n".join(lines)


def _quote_pattern(sentence: str) -> re.Pattern[str] | None:
    words = sentence.split()
    if not words:
        return None
    return re.compile(r"\s+".join(re.escape(w) for w in words))


def quote_spans(text: str, quote: str) -> list[tuple[int, int]]:
    """Where the quoted sentence(s) sit in ``text``, tolerant of differences in white space."""
    whole = _quote_pattern(quote)
    match = whole.search(text) if whole else None
    if match:
        return [match.span()]
    spans: list[tuple[int, int]] = []
    start = 0
    # The quote may join sentences that are not adjacent in the passage: find each one.
    for sentence in re.split(r"(?<=[.!?…])\s+", quote or ""):
        pattern = _quote_pattern(sentence)
        found = pattern.search(text, start) if pattern else None
        if found:
            spans.append(found.span())
            start = found.end()
    return spans


def highlight_quote(text: str, quote: str) -> str:
    """The passage as HTML with the quoted sentence(s) wrapped in ``<mark>``."""
    pieces: list[str] = []
    position = 0
    for start, end in quote_spans(text, quote):
        pieces.append(html.escape(text[position:start]))
        pieces.append(f"<mark>{html.escape(text[start:end])}</mark>")
        position = end
    pieces.append(html.escape(text[position:]))
    return "".join(pieces).replace("\n", "<br>")


def passage_html(text: str, quote: str, short: int = 700) -> str:
    """The paragraph(s) of a passage that hold the quote, marked; the whole passage on request.

    Merged passages run to a few thousand characters; showing only the quoted paragraph
    keeps the highlight in view. Paragraphs left out are shown as an ellipsis.
    """
    spans = quote_spans(text, quote)
    if len(text) <= short or not spans:
        return highlight_quote(text, quote)
    pieces: list[str] = []
    offset = 0
    skipped = False
    for paragraph in text.split("\n"):
        start, end = offset, offset + len(paragraph)
        offset = end + 1
        if any(s < end and e > start for s, e in spans):
            if skipped and not pieces:
                pieces.append("…")
            pieces.append(highlight_quote(paragraph, quote))
            skipped = False
        else:
            if pieces and not skipped:
                pieces.append("…")
            skipped = True
    if skipped and pieces[-1] != "…":
        pieces.append("…")
    whole = f'<details class="kb-whole"><summary>Hele passage</summary>{highlight_quote(text, quote)}</details>'
    return "<br>".join(pieces) + whole


def _meta_line(publisher: str, date: str | None, locator: str) -> str:
    """Organisation · date · location (``date=None``: shown elsewhere, left out here)."""
    parts = [publisher or "organisatie onbekend", None if date is None else _date(date), locator]
    return " · ".join(html.escape(p) for p in parts if p)


def date_badge(value: str) -> str:
    """The document's date in Dutch words, set apart so it is seen before the quote."""
    return f'<span class="kb-date" title="Datum van het document">{html.escape(format_date_nl(value))}</span>'


def caveat_html(caveat: str) -> str:
    """The citation's caveat in words (nothing when there is none)."""
    if not caveat:
        return ""
    return f'<div class="kb-caveat" role="note">⚠️ {html.escape(caveat)}</div>'


def citation_html(c: Citation) -> str:
    """One cited source: number, title, date (prominent), caveat, organisation, location and the passage."""
    return (
        f'<div class="kb-source" id="bron-{c.n}">'
        f'<div class="kb-source-title"><span class="kb-n">[{c.n}]</span> {html.escape(c.title)} '
        f"{date_badge(c.date)}</div>"
        f"{caveat_html(c.caveat)}"
        f'<div class="kb-source-meta">{_meta_line(c.publisher, None, c.locator)}</div>'
        f'<div class="kb-quote">“{html.escape(c.quote)}”</div>'
        f"<details><summary>Passage tonen [{c.n}]</summary>"
        f'<div class="kb-passage">{passage_html(c.text, c.quote)}</div></details>'
        "</div>"
    )


def closest_documents(passages: Sequence[Passage], limit: int = 3) -> list[Passage]:
    """The best passage of each of the first ``limit`` distinct documents."""
    seen: dict[str, Passage] = {}
    for p in passages:
        if p.doc_id not in seen:
            seen[p.doc_id] = p
        if len(seen) == limit:
            break
    return list(seen.values())


def _closest_html(p: Passage) -> str:
    snippet = p.text if len(p.text) <= 600 else p.text[:600].rsplit(" ", 1)[0] + " …"
    return (
        '<div class="kb-source kb-closest">'
        f'<div class="kb-source-title">{html.escape(p.title)}</div>'
        f'<div class="kb-source-meta">{_meta_line(p.publisher, p.date, p.locator)}</div>'
        f'<details><summary>Passage tonen</summary><div class="kb-passage">'
        f"{html.escape(snippet).replace(chr(10), '<br>')}</div></details></div>"
    )


def sources_html(answer: Answer | None) -> str:
    """The sources panel for the latest answer (or a hint before the first question)."""
    if answer is None:
        return SOURCES_PLACEHOLDER
    heading = f'<div class="kb-sources-heading">Bronnen bij: “{html.escape(answer.question)}”</div>'
    if answer.abstained:
        closest = closest_documents(answer.retrieved)
        body = "".join(_closest_html(p) for p in closest)
        intro = "De bronnen bevatten geen duidelijk antwoord op deze vraag; de kennisbank gist niet." + (
            " Deze documenten komen het dichtst in de buurt:" if closest else " Er zijn geen documenten gevonden."
        )
        return (
            f'<div class="kb-sources kb-abstained">{heading}<div class="kb-abstain-note"><strong>{ABSTAIN_HEADING}.</strong> '
            f"{html.escape(intro)}</div>{body}{dropped_html(answer)}</div>"
        )
    body = "".join(citation_html(c) for c in answer.citations)
    return f'<div class="kb-sources">{heading}{body}{dropped_html(answer)}</div>'


def dropped_html(answer: Answer) -> str:
    """Sentences the model wrote that verification removed, with the reason (none: empty)."""
    dropped = [c for c in answer.claims if not c.kept]
    if not dropped:
        return ""
    shown = "Zinnen van het taalmodel die niet in het antwoord staan"
    if answer.mode != "llm":
        shown = "Wat het taalmodel schreef en waarom het niet is gebruikt"
    items = "".join(
        f'<li><span class="kb-dropped-text">{html.escape(defang(c.text))}</span> '
        f'<span class="kb-dropped-reason">— {html.escape(c.reason)}</span></li>'
        for c in dropped
    )
    return f'<details class="kb-dropped"><summary>{shown} ({len(dropped)})</summary><ul>{items}</ul></details>'


def ingest_rows(results: Iterable[FileResult]) -> list[list[object]]:
    """Per-file ingest results as table rows, with the status in Dutch."""
    return [[_file_name(r.path), r.status_nl, r.doc_id, r.title, r.chunks, r.reason] for r in results]


def _file_name(path: str) -> str:
    """The file name without folders, personal data in it replaced (``intake-bsn-verwijderd.pdf``)."""
    return redact_name(re.split(r"[\\/]", path)[-1])


def format_timestamp(value: str) -> str:
    """``2024-05-01T09:30:00+00:00`` → ``01-05-2024 09:30 UTC``; unknown formats are shown as is."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value or ""
    suffix = " UTC" if moment.utcoffset() is not None and not moment.utcoffset() else ""
    return moment.strftime("%d-%m-%Y %H:%M") + suffix


def document_rows(documents: Iterable[StoredDocument]) -> list[list[object]]:
    """The indexed documents as table rows (incomplete ones are marked)."""
    return [
        [
            d.doc_id,
            d.title if d.complete else f"{d.title} (onvolledig: opnieuw indexeren)",
            d.kind,
            d.date or "—",
            d.chunks,
            format_timestamp(d.ingested_at),
        ]
        for d in sorted(documents, key=lambda d: d.title.lower())
    ]


def filter_choices(values: Iterable[object], all_label: str) -> list[tuple[str, str]]:
    """Dropdown choices for a filter: an 'all' option (empty value) and each value as text."""
    return [(all_label, "")] + [(str(v), str(v)) for v in values]

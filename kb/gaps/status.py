"""Status of a theme: asked again against the current knowledge base, is it now answered, and by what?"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from kb.errors import KBError
from kb.gaps.records import STATUS_ANSWERED, ClosestDocument, Theme
from kb.questions_log import LoggedQuestion, QuestionLog, Recheck, outcome_of

if TYPE_CHECKING:
    from kb.service import KnowledgeBase

RECHECK_PER_THEME = 3  # representative questions asked again per theme
RECHECK_LIMIT = 30  # at most this many new asks per report (≈ 10 s); the rest wait for the next report


def check_status(log: QuestionLog, kb: KnowledgeBase, themes: list[Theme], entries: dict[int, LoggedQuestion]) -> None:
    """Ask each theme's representative questions again (once per store generation) and mark the
    theme ``nu beantwoord`` when most of them are now answered by a document they did not cite."""
    generation = kb.store.generation()
    documents = {d.doc_id: d for d in kb.documents()}
    budget = RECHECK_LIMIT
    for theme in themes:
        distinct: dict[str, LoggedQuestion] = {}
        for i in theme.question_ids:  # closest to the theme's centre first
            distinct.setdefault(entries[i].question, entries[i])
        representatives = list(distinct.values())[:RECHECK_PER_THEME]
        results: list[tuple[LoggedQuestion, Recheck]] = []
        for entry in representatives:
            result = _known_result(log, entry, generation)
            if result is None:
                if budget <= 0:
                    break
                budget -= 1
                result = _ask_again(kb, entry)
                log.save_recheck(entry.question, entry.filters, generation, result)
            results.append((entry, result))
        if len(results) < len(representatives):
            continue  # not all asked yet: stays open until a next report
        theme.checked = True
        fixed = [r for e, r in results if r.outcome == "answered" and r.cited and r.cited[0] not in e.cited]
        if fixed and 2 * len(fixed) >= len(results):
            doc_id = Counter(r.cited[0] for r in fixed).most_common(1)[0][0]
            stored = documents.get(doc_id)
            theme.status = STATUS_ANSWERED
            theme.answered_by = ClosestDocument(doc_id, stored.title if stored else doc_id, 1.0)
            theme.answered_since = datetime.fromisoformat(stored.ingested_at) if stored else None


def _known_result(log: QuestionLog, entry: LoggedQuestion, generation: str) -> Recheck | None:
    """The answer at ``generation`` without asking: the logged one (same index, same answer) or a saved one."""
    if entry.generation == generation:
        return Recheck(entry.outcome, entry.score, entry.cited, entry.asked_at)
    return log.recheck(entry.question, entry.filters, generation)


def _ask_again(kb: KnowledgeBase, entry: LoggedQuestion) -> Recheck:
    try:
        answer = kb.ask(entry.question, filters=entry.filters, record=False)
    except KBError:  # a filter value that no longer exists, a question that is now refused
        return Recheck("abstained", 0.0, (), datetime.now(UTC))
    outcome = outcome_of(answer.abstained, answer.confidence, kb.answerer.abstain_below)
    return Recheck(
        outcome, answer.confidence, tuple(dict.fromkeys(c.doc_id for c in answer.citations)), datetime.now(UTC)
    )

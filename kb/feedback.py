"""Thumbs up/down on an answer, with an optional comment, appended to a JSONL file.

One line per rating: a random id, timestamp, question, earlier questions of the conversation,
answer text, cited document ids, the passages the answer was built from (document, location,
chunk ids and one short sentence each: what an evaluator needs to turn the rating into an eval
question), rating and comment. Nothing else about the person (no name, address or session) is
stored; personal data in any of these texts (a BSN, an e-mail address, …) is redacted before
the line is written, the file is readable by the service account only (0600), and ratings
older than ``KB_FEEDBACK_DAYS`` are deleted by :func:`purge_feedback`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kb.config import Settings
from kb.nl.text import fold, normalize_whitespace, split_sentences, tokenize
from kb.privacy.pii import redact
from kb.privacy.private_files import open_private
from kb.questions_log import QUESTION_LOG_FILE, rate_logged_question
from kb.records import Answer

log = logging.getLogger(__name__)

RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 2000
MAX_PASSAGES = 6  # the cited passages first, then the best-ranked others
MAX_QUOTE_CHARS = 300  # an eval question's expected passage is at most 300 characters
TEXT_FIELDS = ("question", "answer", "comment")
_write_lock = threading.Lock()  # several sessions may rate at the same moment


def feedback_path(settings: Settings) -> Path:
    """Where the ratings are kept: ``<data_dir>/feedback.jsonl``."""
    return settings.data_dir / "feedback.jsonl"


def best_sentence(text: str, question: str, prefer: str = "") -> str:
    """The sentence of ``text`` that an evaluator most likely wants as expected passage.

    Sentences inside ``prefer`` (the quote the answer used) win, then the one sharing most
    words with ``question``; a sentence longer than :data:`MAX_QUOTE_CHARS` is cut at a word,
    so the result is always a verbatim (whitespace-collapsed) piece of ``text``.
    """
    sentences = split_sentences(text)
    if not sentences:
        return ""
    asked = set(tokenize(question))
    preferred = fold(normalize_whitespace(prefer))

    def score(sentence: str) -> tuple[bool, int, bool]:
        return (
            bool(preferred) and fold(sentence) in preferred,
            len(asked & set(tokenize(sentence))),
            len(sentence) >= 40,
        )

    best = max(sentences, key=score)
    if len(best) > MAX_QUOTE_CHARS:
        best = best[:MAX_QUOTE_CHARS].rsplit(" ", 1)[0]
    return best


def answer_passages(answer: Answer, limit: int = MAX_PASSAGES) -> list[dict[str, Any]]:
    """The passages behind ``answer`` as feedback keeps them: cited ones first (``cited`` = its
    number), then the best-ranked retrieved ones (``cited`` = 0); one short sentence each."""
    passages: list[dict[str, Any]] = []
    seen: set[tuple[str, ...]] = set()
    by_text = {normalize_whitespace(p.text): p for p in answer.retrieved}
    for citation in answer.citations:
        source = by_text.get(normalize_whitespace(citation.text))
        chunk_ids = tuple(source.chunk_ids) if source else ()
        seen.add(chunk_ids or (citation.doc_id, citation.locator))
        passages.append(
            {
                "cited": citation.n,
                "doc_id": citation.doc_id,
                "title": citation.title,
                "locator": citation.locator,
                "chunk_ids": list(chunk_ids),
                "quote": best_sentence(citation.text, answer.question, citation.quote),
            }
        )
    for passage in answer.retrieved:
        if len(passages) >= limit:
            break
        if tuple(passage.chunk_ids) in seen:
            continue
        seen.add(tuple(passage.chunk_ids))
        passages.append(
            {
                "cited": 0,
                "doc_id": passage.doc_id,
                "title": passage.title,
                "locator": passage.locator,
                "chunk_ids": list(passage.chunk_ids),
                "quote": best_sentence(passage.text, answer.question),
            }
        )
    return passages[: max(limit, len(answer.citations))]


def new_feedback_id() -> str:
    """A random id for a rating (tells nothing about who gave it or when)."""
    return "fb-" + secrets.token_hex(5)


def legacy_feedback_id(record: dict[str, Any]) -> str:
    """A stable id for a rating written before ratings had one (from its time and question)."""
    seed = f"{record.get('timestamp', '')}\0{record.get('question', '')}".encode()
    return "fb-" + hashlib.sha256(seed).hexdigest()[:10]


def _redacted(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with personal data redacted in every text it holds (also nested ones)."""
    clean = {k: redact(v) if k in TEXT_FIELDS and isinstance(v, str) else v for k, v in record.items()}
    if isinstance(clean.get("history"), list):
        clean["history"] = [redact(h) if isinstance(h, str) else h for h in clean["history"]]
    if isinstance(clean.get("passages"), list):
        clean["passages"] = [
            {k: redact(v) if k in ("quote", "title", "locator") and isinstance(v, str) else v for k, v in p.items()}
            if isinstance(p, dict)
            else p
            for p in clean["passages"]
        ]
    return clean


def record_feedback(
    path: Path,
    question: str,
    answer_text: str,
    doc_ids: Iterable[str],
    rating: str,
    comment: str = "",
    now: datetime | None = None,
    *,
    history: Sequence[str] = (),
    passages: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Append one rating to ``path`` and return the record that was written (redacted).

    The rating is also attached to the question in the question log beside ``path``, if there is one."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {RATINGS}, not {rating!r}")
    moment = now or datetime.now(UTC)
    record = _redacted(
        {
            "id": new_feedback_id(),
            "timestamp": moment.isoformat(timespec="seconds"),
            "question": question,
            "history": list(history),
            "answer": answer_text,
            "doc_ids": list(dict.fromkeys(doc_ids)),
            "passages": [dict(p) for p in passages],
            "rating": rating,
            "comment": " ".join((comment or "").split())[:MAX_COMMENT_CHARS],
        }
    )
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _write_lock, open_private(path, "a") as fh:
        fh.write(line)
    try:
        rate_logged_question(path.with_name(QUESTION_LOG_FILE), record["question"], rating, record["doc_ids"], moment)
    except (sqlite3.Error, OSError) as exc:
        log.warning("rating not attached to the question log (%s)", type(exc).__name__)
    return record


def read_feedback(path: Path) -> list[dict[str, Any]]:
    """All ratings written so far, oldest first; a rating from before ids gets its stable legacy id."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut off by a crash; purge_feedback drops it
        if isinstance(record, dict):
            record.setdefault("id", legacy_feedback_id(record))
            records.append(record)
    return records


def list_feedback(path: Path, negative_only: bool = False) -> list[dict[str, Any]]:
    """The ratings newest first, optionally only the 👎 ones."""
    records = [r for r in read_feedback(path) if not negative_only or r.get("rating") == "down"]
    order = {id(r): n for n, r in enumerate(records)}  # same second: the later line is newer
    return sorted(records, key=lambda r: (str(r.get("timestamp", "")), order[id(r)]), reverse=True)


def find_feedback(path: Path, feedback_id: str) -> dict[str, Any] | None:
    """The rating with this id, or ``None``."""
    wanted = (feedback_id or "").strip()
    return next((r for r in read_feedback(path) if r["id"] == wanted), None)


def purge_feedback(path: Path, days: int, now: datetime | None = None) -> tuple[int, int]:
    """Delete ratings older than ``days`` (0: keep all) and redact what stays (ratings written
    before redaction existed); returns (deleted, redacted). The file is rewritten atomically."""
    if not path.exists():
        return 0, 0
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days) if days else None
    kept: list[str] = []
    deleted = redacted = 0
    with _write_lock:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                moment = datetime.fromisoformat(record.get("timestamp", ""))
            except (ValueError, TypeError, AttributeError):
                deleted += 1  # unreadable: cannot be dated or checked, so not kept
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            if cutoff and moment < cutoff:
                deleted += 1
                continue
            clean = _redacted(record)
            redacted += clean != record
            if "id" not in clean:  # the id it was shown with (computed from the unredacted question)
                clean = {"id": legacy_feedback_id(record), **clean}
            kept.append(json.dumps(clean, ensure_ascii=False) + "\n")
        if deleted or redacted:
            temporary = path.with_name(path.name + ".tmp")
            with open_private(temporary, "w") as fh:
                fh.writelines(kept)
            os.replace(temporary, path)
    return deleted, redacted

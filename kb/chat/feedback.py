"""Thumbs up/down on an answer, with an optional comment, appended to a JSONL file.

One line per rating: timestamp, question, answer text, cited document ids, rating and
comment. Nothing else about the person (no name, address or session) is stored; personal
data typed into the question, answer or comment (a BSN, an e-mail address, …) is redacted
before the line is written, the file is readable by the service account only (0600), and
ratings older than ``KB_FEEDBACK_DAYS`` are deleted by :func:`purge_feedback`.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kb.config import Settings
from kb.pii import redact
from kb.private_files import open_private

RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 2000
_write_lock = threading.Lock()  # several sessions may rate at the same moment


def feedback_path(settings: Settings) -> Path:
    """Where the ratings are kept: ``<data_dir>/feedback.jsonl``."""
    return settings.data_dir / "feedback.jsonl"


def record_feedback(
    path: Path,
    question: str,
    answer_text: str,
    doc_ids: Iterable[str],
    rating: str,
    comment: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Append one rating to ``path`` and return the record that was written."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {RATINGS}, not {rating!r}")
    record = {
        "timestamp": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "question": redact(question),
        "answer": redact(answer_text),
        "doc_ids": list(dict.fromkeys(doc_ids)),
        "rating": rating,
        "comment": redact(" ".join((comment or "").split())[:MAX_COMMENT_CHARS]),
    }
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _write_lock, open_private(path, "a") as fh:
        fh.write(line)
    return record


def read_feedback(path: Path) -> list[dict[str, Any]]:
    """All ratings written so far (for review and tests)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


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
            clean = {
                k: redact(v) if k in ("question", "answer", "comment") and isinstance(v, str) else v
                for k, v in record.items()
            }
            redacted += clean != record
            kept.append(json.dumps(clean, ensure_ascii=False) + "\n")
        if deleted or redacted:
            temporary = path.with_name(path.name + ".tmp")
            with open_private(temporary, "w") as fh:
                fh.writelines(kept)
            os.replace(temporary, path)
    return deleted, redacted

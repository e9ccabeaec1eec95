"""Thumbs up/down on an answer, with an optional comment, appended to a JSONL file.

One line per rating: timestamp, question, answer text, cited document ids, rating and
comment. Nothing else about the person (no name, address or session) is stored.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kb.config import Settings

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
        "question": question,
        "answer": answer_text,
        "doc_ids": list(dict.fromkeys(doc_ids)),
        "rating": rating,
        "comment": " ".join((comment or "").split())[:MAX_COMMENT_CHARS],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _write_lock, path.open("a", encoding="utf-8") as fh:
        fh.write(line)
    return record


def read_feedback(path: Path) -> list[dict[str, Any]]:
    """All ratings written so far (for review and tests)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

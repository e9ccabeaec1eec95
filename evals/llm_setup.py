"""The language model of the ``ours-llm`` system: built at the edge, passed into the run.

Three ways in: ``KB_LLM...`` settings (:func:`llm_from_settings`), the bundled small local model
for the duration of a run (:func:`local_llm`), or any llama-index LLM handed to
:class:`EvalLLM` directly (tests use a fake server). The run's summary records what was used
(:meth:`EvalLLM.describe`), never the API key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kb.config import Settings

LLM_SYSTEM = "ours-llm"
LLM_FIELDS = ("llm", "llm_base_url", "llm_model", "llm_timeout", "llm_retries", "llm_max_tokens", "llm_sources")


@dataclass(frozen=True)
class EvalLLM:
    """A llama-index LLM and the settings ``ours-llm`` runs it with (sources, retries, timeout)."""

    llm: Any  # llama_index.core.llms.LLM
    settings: Settings
    origin: str = "injected"  # settings (KB_LLM...) | local (--local-llm) | injected

    def apply_to(self, settings: Settings) -> Settings:
        """``settings`` with this model's ``llm_*`` fields (the API key is not carried over)."""
        return settings.with_(**{name: getattr(self.settings, name) for name in LLM_FIELDS})

    def describe(self) -> dict[str, Any]:
        """What makes runs comparable: backend, model, address without credentials, limits."""
        metadata = getattr(self.llm, "metadata", None)
        return {
            "origin": self.origin,
            "backend": self.settings.llm,
            "client": type(self.llm).__name__,
            "model": self.settings.llm_model or getattr(metadata, "model_name", "") or "",
            "base_url": public_url(self.settings.llm_base_url),
            "max_tokens": self.settings.llm_max_tokens,
            "sources": self.settings.llm_sources,
            "timeout_s": self.settings.llm_timeout,
            "retries": self.settings.llm_retries,
        }


def public_url(url: str) -> str:
    """``url`` without user, password, query and fragment (where keys and tokens hide)."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def llm_from_settings(settings: Settings) -> EvalLLM | None:
    """The model configured with ``KB_LLM...``, or ``None`` when ``KB_LLM=off``."""
    from kb.answer.llm.backends import load_llm

    llm = load_llm(settings)
    return None if llm is None else EvalLLM(llm, settings, origin="settings")


@contextmanager
def local_llm(settings: Settings, log: Callable[[str], None] = lambda _m: None) -> Iterator[EvalLLM]:
    """Start the bundled small model (``kb.answer.llm.local``) for the duration of the block."""
    from kb.answer.llm.backends import load_llm
    from kb.answer.llm.local import MODEL_ALIAS, local_model_server, local_settings

    log(f"Lokaal taalmodel {MODEL_ALIAS} starten ...")
    with local_model_server() as base_url:
        local = local_settings(settings, base_url)
        yield EvalLLM(load_llm(local), local, origin="local")

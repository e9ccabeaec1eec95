"""Language-model backends through llama-index: any OpenAI-compatible endpoint, or Ollama.

Off by default. The model is only reached over HTTP on the configured address; nothing is
downloaded. Timeouts bound every call; connection failures are retried a few times before
the caller falls back to the extractive answer.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlparse

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.llms import LLM

from kb.config import Settings
from kb.errors import ConfigError, KBError

log = logging.getLogger(__name__)

OLLAMA_DEFAULT_URL = "http://127.0.0.1:11434"
CONTEXT_WINDOW = 8192  # metadata only: prompts are kept far below it by limiting the sources
T = TypeVar("T")


class LLMUnavailable(KBError):
    """The model server did not answer (down, too slow, or refused the request)."""


def load_llm(settings: Settings) -> LLM | None:
    """The configured llama-index LLM, or ``None`` when ``KB_LLM=off``."""
    if settings.llm == "off":
        return None
    if not settings.llm_model:
        raise ConfigError("Zet KB_LLM_MODEL op de naam van het taalmodel (of zet KB_LLM=off).")
    if settings.llm == "ollama":
        try:
            from llama_index.llms.ollama import Ollama
        except ImportError:  # pragma: no cover - a dependency of the package
            raise ConfigError("Voor KB_LLM=ollama is het pakket llama-index-llms-ollama nodig.") from None
        return Ollama(
            model=settings.llm_model,
            base_url=(settings.llm_base_url or OLLAMA_DEFAULT_URL).rstrip("/"),
            request_timeout=settings.llm_timeout,
            temperature=0.0,  # grounded answers: no sampling
            context_window=CONTEXT_WINDOW,
            additional_kwargs={"num_predict": settings.llm_max_tokens},
        )
    if not settings.llm_base_url:
        raise ConfigError("Zet KB_LLM_BASE_URL op het adres van de server, bijvoorbeeld http://127.0.0.1:8080/v1.")
    try:
        from llama_index.llms.openai_like import OpenAILike
    except ImportError:  # pragma: no cover - a dependency of the package
        raise ConfigError("Voor KB_LLM=openai-compatible is het pakket llama-index-llms-openai-like nodig.") from None
    return OpenAILike(
        model=settings.llm_model,
        api_base=settings.llm_base_url.rstrip("/"),
        api_key=settings.llm_api_key or "geen-sleutel",  # local servers accept any key
        is_chat_model=True,
        context_window=CONTEXT_WINDOW,
        max_tokens=settings.llm_max_tokens,
        temperature=0.0,  # grounded answers: no sampling
        timeout=settings.llm_timeout,
        max_retries=0,  # retried in with_retries, the same way for both backends
    )


# Not time-outs: the server may still be working on the abandoned request, and a retry would
# multiply the wait; after a time-out the user gets the extractive answer at once.
_RETRYABLE = ("Connection", "InternalServer", "ServiceUnavailable", "RateLimit", "RemoteProtocol")


def is_retryable(exc: BaseException) -> bool:
    """Connection trouble, 5xx and rate limits are worth another try; a 4xx or a time-out is not.

    Matched by class name so that the OpenAI, httpx and Ollama clients' own types all count.
    """
    names = [cls.__name__ for cls in type(exc).__mro__]
    if any("Timeout" in name for name in names):  # openai's APITimeoutError is an APIConnectionError
        return False
    return any(part in name for part in _RETRYABLE for name in names)


def describe(settings: Settings) -> str:
    """One Dutch line for the log at start-up: which model writes the answers, and a privacy
    caution when questions and passages leave this machine."""
    if settings.llm == "off":
        return "Antwoorden: letterlijke citaten uit de bronnen (geen taalmodel; KB_LLM=off)."
    url = settings.llm_base_url or OLLAMA_DEFAULT_URL
    host = urlparse(url).hostname or ""
    port = urlparse(url).port
    where = f"{host}:{port}" if port else host  # never the user:password part of the URL
    line = f"Antwoorden: geschreven door taalmodel '{settings.llm_model}' via {where}, gecontroleerd op de bronnen."
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = host == "localhost"
    if not local:
        line += (
            " Let op: vragen en passages gaan naar deze server; gebruik alleen een server onder een "
            "verwerkersovereenkomst (AVG)."
        )
    return line


def with_retries(call: Callable[[], T], retries: int, what: str = "het taalmodel") -> T:
    """Run ``call``; on a connection problem try again (short back-off), then raise :class:`LLMUnavailable`.

    Both backends go through here (the OpenAI client's own retries are off), and so does the
    start of a stream, before any text has arrived.
    """
    for attempt in range(retries + 1):
        try:
            return call()
        except Exception as exc:  # the clients raise many types; all mean "no answer now"
            if attempt == retries or not is_retryable(exc):
                log.warning("%s did not answer: %s", what, type(exc).__name__)
                raise LLMUnavailable(f"{what[0].upper()}{what[1:]} antwoordt niet ({type(exc).__name__}).") from exc
            time.sleep(min(0.5 * 2**attempt, 4.0))
    raise AssertionError("unreachable")


def stream_chat(llm: LLM, messages: list[ChatMessage], retries: int, timeout: float) -> Iterator[str]:
    """Yield the answer's text as it arrives (deltas). Starting the stream is retried; the whole
    answer must arrive within ``timeout`` seconds (the client's timeout is per read)."""
    deadline = time.monotonic() + timeout

    def start() -> tuple[Any, str]:
        stream = iter(llm.stream_chat(messages))
        first = next(stream, None)
        return stream, (first.delta or "") if first is not None else ""

    stream, first = with_retries(start, retries)
    if first:
        yield first
    try:
        for chunk in stream:
            if chunk.delta:
                yield chunk.delta
            if time.monotonic() > deadline:
                raise TimeoutError("answer took too long")
    except Exception as exc:
        log.warning("the model's stream broke off: %s", type(exc).__name__)
        raise LLMUnavailable(f"Het taalmodel brak het antwoord af ({type(exc).__name__}).") from exc

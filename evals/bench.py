"""Benchmark: ingest time, unchanged re-ingest, warm query latency and peak memory,
on the sample corpus and on a scaled corpus of ~2,000 generated documents.

    python -m evals.bench [--docs 2000] [--real-embeddings] [--json OUT]

The scaled corpus is made from the sample texts: paragraphs are recombined, sentences
shuffled, municipalities, numbers and metadata varied, so every document is different.
Embedding 2,000 documents with e5 takes a long time on 2 cores; by default the scaled run
embeds each distinct *sentence* once with the real e5 model and gives a passage the
normalised mean of its sentences' vectors (``SentenceMeanEmbedding``, named as such in
the output). Queries always use the real model. ``--real-embeddings`` embeds every
passage for real (the full ingest cost).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from evals.paths import CORPUS, GROWTH
from kb.offline import apply_offline_env

apply_offline_env()

from llama_index.core.base.embeddings.base import BaseEmbedding  # noqa: E402
from pydantic import PrivateAttr  # noqa: E402

QUESTIONS = [
    "Hoeveel uur werkervaring moeten gezinsmigranten opdoen voor de MAP?",
    "Wie betaalt de reiskosten naar de opstartklas voor iemand die nog in een azc in Zaandam woont?",
    "Wat is de Regeling Eigen Bijdrage Asielzoekers?",
    "Wat is de logeerregeling?",
    "Welke drie scenario's zijn er voor de warme overdracht?",
    "Wat is een driegesprek?",
    "Hoeveel uur taalles zit in het COA-programma voor vergunninghouders?",
    "Welke tips zijn er voor het combineren van taal en werk?",
    "Wat doet een regisseur Inburgering in Arnhem?",
    "Moeten gezinsmigranten hun inburgering zelf betalen?",
    "Welke informatie deelt het COA via het klantprofiel in TVS?",
    "Hoe kijkt de CoP Midden-Limburg naar duale trajecten?",
    "Wanneer start de Brede intake in scenario 2?",
    "Hoeveel kinderbijslag krijg je voor een kind van 8 jaar?",
    "Wat zijn de onderdelen van de Voorinburgering?",
    "Waarom is de afstand tot het azc belangrijk bij de scenariokeuze?",
]
GROWTH_QUESTIONS = [
    "Wat is nareis?",
    "Wie helpt bij schulden in Heemskerk?",
    "Welk taalniveau vraagt de taaleis in de bijstand?",
    "Hoeveel statushouders moeten gemeenten huisvesten?",
]
GEMEENTEN = [
    "Amersfoort",
    "Apeldoorn",
    "Breda",
    "Deventer",
    "Eindhoven",
    "Enschede",
    "Groningen",
    "Haarlem",
    "Leeuwarden",
    "Maastricht",
    "Nijmegen",
    "Roermond",
    "Tilburg",
    "Utrecht",
    "Venlo",
    "Zaandam",
    "Zwolle",
    "Almere",
    "Delft",
    "Emmen",
    "Heerlen",
    "Hengelo",
    "Leiden",
    "Oss",
    "Sittard",
    "Zoetermeer",
    "Assen",
    "Dordrecht",
    "Gouda",
    "Helmond",
]
KINDS = ["handreiking", "CoP-interview", "CoP-verslag", "artikel", "verslag"]


class SentenceMeanEmbedding(BaseEmbedding):
    """Benchmark-only embedder: real e5 per distinct sentence, passage = normalised mean.

    Keeps the scaled benchmark's vectors realistic (they are mixes of real Dutch sentence
    embeddings) while embedding each sentence only once.
    """

    _inner: Any = PrivateAttr()
    _cache: dict = PrivateAttr(default_factory=dict)

    def __init__(self, inner: BaseEmbedding) -> None:
        super().__init__(model_name="bench-sentence-mean")
        self._inner = inner
        self._cache = {}

    def _vector(self, text: str):
        import numpy as np

        from kb.nl.text import split_sentences

        sentences = [s for s in split_sentences(text) if len(s) > 3] or [text]
        missing = [s for s in dict.fromkeys(sentences) if s not in self._cache]
        if missing:
            for sentence, vector in zip(missing, self._inner.get_text_embedding_batch(missing)):
                self._cache[sentence] = np.asarray(vector, dtype="float32")
        mean = np.mean([self._cache[s] for s in sentences], axis=0)
        return (mean / (np.linalg.norm(mean) or 1.0)).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._inner.get_query_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def query_latency(kb, rounds: int = 3, questions: list[str] | None = None) -> dict[str, float]:
    """Latency of a question asked before (warm: its sentence vectors are cached) and of its first
    asking (the answerer embeds its candidate sentences; the very first question, which also builds
    the lazy indexes, is left out)."""
    questions = questions or QUESTIONS
    first = []
    for question in questions:  # warm-up: caches, lazy indexes
        started = time.perf_counter()
        kb.ask(question)
        first.append((time.perf_counter() - started) * 1000)
    first = first[1:] or first
    timings = []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            kb.ask(question)
            timings.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": statistics.median(timings),
        "p95_ms": percentile(timings, 0.95),
        "n": len(timings),
        "first_ask_p50_ms": statistics.median(first),
        "first_ask_p95_ms": percentile(first, 0.95),
    }


def load_during_ingest(kb, folder: Path, threads: int = 4) -> dict[str, Any]:
    """Query from ``threads`` threads for as long as an ingest of ``folder`` runs."""
    import threading

    stop = threading.Event()
    timings: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        i = offset
        while not stop.is_set():
            question = QUESTIONS[i % len(QUESTIONS)]
            i += 1
            started = time.perf_counter()
            try:
                kb.ask(question)
            except Exception as exc:  # counted, never hidden: the target is zero
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            with lock:
                timings.append((time.perf_counter() - started) * 1000)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    report = kb.ingest([folder])
    stop.set()
    for thread in pool:
        thread.join()
    return {
        "threads": threads,
        "ingest_s": report.seconds,
        "ingested": report.count("added") + report.count("replaced"),
        "queries": len(timings),
        "errors": len(errors),
        "error_samples": errors[:3],
        "p50_ms": statistics.median(timings) if timings else None,
        "p95_ms": percentile(timings, 0.95) if timings else None,
    }


def make_scaled_corpus(target: Path, n_docs: int, seed: int = 7) -> None:
    """Write ``n_docs`` varied Markdown documents built from the sample corpus."""
    rng = random.Random(seed)
    sources = []
    for path in sorted(CORPUS.glob("*.txt")):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")) if len(p.strip()) > 80]
        sources.append(paragraphs)
    target.mkdir(parents=True, exist_ok=True)
    for i in range(n_docs):
        gemeente = rng.choice(GEMEENTEN)
        paragraphs = rng.choice(sources)
        start = rng.randrange(max(1, len(paragraphs) - 4))
        picked = paragraphs[start : start + rng.randint(2, 4)]
        # Vary documents by recombining and reordering whole sentences (so the benchmark's
        # sentence cache stays effective) plus one document-specific opening sentence.
        body = [f"Dit praktijkverslag beschrijft hoe de gemeente {gemeente} werkt (verslag {i})."]
        for paragraph in picked:
            sentences = re.split(r"(?<=[.!?])\s+", paragraph)
            if rng.random() < 0.4:
                rng.shuffle(sentences)
            body.append(" ".join(sentences))
        year = rng.choice([2021, 2022, 2023, 2024])
        front = (
            f"---\nid: bench-{i:05d}\ntitle: Praktijkverslag {gemeente} {i}\npublisher: CoP {gemeente}\n"
            f"date: '{year}'\nkind: {rng.choice(KINDS)}\ncop: {gemeente}\n---\n"
        )
        heading = f"# Ervaringen in {gemeente} ({i})\n\n"
        (target / f"verslag-{i:05d}.md").write_text(front + heading + "\n\n".join(body) + "\n", encoding="utf-8")


def run(n_docs: int, real_embeddings: bool) -> dict[str, Any]:
    from kb.config import Settings
    from kb.embeddings import load_embedding
    from kb.index.store import open_store
    from kb.service import build_kb

    results: dict[str, Any] = {}
    started = time.perf_counter()
    e5, model_id = load_embedding("e5")
    results["model_load_s"] = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        settings = Settings().with_(data_dir=Path(tmp) / "sample", corpus_dir=CORPUS)
        kb = build_kb(settings, embedding=(e5, model_id))
        report = kb.ingest([CORPUS])
        passages = sum(r.chunks for r in report.results)
        results["sample"] = {
            "documents": len(report.results),
            "passages": passages,
            "ingest_s": report.seconds,
            "passages_per_s": passages / report.seconds,
        }
        results["sample"]["reingest_unchanged_s"] = kb.ingest([CORPUS]).seconds
        results["sample"].update(query_latency(kb))
        results["sample"]["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps({"sample": results["sample"]}, indent=2), flush=True)

        growth = [g for g in GROWTH if g.is_dir()]
        if growth:  # the real growth corpus, embedded for real: ingest per passage and warm latency
            report = kb.ingest(growth)
            added = sum(r.chunks for r in report.results if r.status == "added")
            kb.retriever.refresh()
            results["grown"] = {
                "documents": len(kb.documents()),
                "passages": kb.store.count(),
                "ingest_s": report.seconds,
                "passages_added": added,
                "passages_per_s": added / report.seconds if report.seconds else 0.0,
                **query_latency(kb, questions=QUESTIONS + GROWTH_QUESTIONS),
                "peak_rss_mb": peak_rss_mb(),
            }
            print(json.dumps({"grown": results["grown"]}, indent=2), flush=True)

        load_dir = Path(tmp) / "load-docs"
        make_scaled_corpus(load_dir, 12, seed=3)
        results["load"] = load_during_ingest(kb, load_dir)
        print(json.dumps({"load": results["load"]}, indent=2), flush=True)

        if n_docs:
            scaled_dir = Path(tmp) / "scaled-docs"
            make_scaled_corpus(scaled_dir, n_docs)
            embedder = e5 if real_embeddings else SentenceMeanEmbedding(e5)
            scaled_settings = settings.with_(data_dir=Path(tmp) / "scaled")
            store = open_store(scaled_settings, model_id, 384)
            scaled_kb = build_kb(scaled_settings, embedding=(embedder, model_id), store=store)
            scaled_kb.ingest([CORPUS])
            report = scaled_kb.ingest([scaled_dir])
            scaled_kb = build_kb(scaled_settings, embedding=(e5, model_id), store=store)  # queries with the real model
            open_started = time.perf_counter()
            scaled_kb.retriever.refresh()
            results["scaled"] = {
                "documents": len(scaled_kb.documents()),
                "passages": store.count(),
                "refused": report.count("refused"),
                "duplicates": report.count("duplicate"),
                "ingest_s": report.seconds,
                "embedding": "real e5 per passage"
                if real_embeddings
                else "SentenceMeanEmbedding (e5 per distinct sentence)",
                "index_load_s": time.perf_counter() - open_started,
                "reingest_unchanged_s": scaled_kb.ingest([scaled_dir]).seconds,
            }
            results["scaled"].update(query_latency(scaled_kb))
            results["scaled"]["peak_rss_mb"] = peak_rss_mb()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000, help="documents in the scaled corpus (0 = skip)")
    parser.add_argument("--real-embeddings", action="store_true", help="embed every scaled passage with e5")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    emit(run(args.docs, args.real_embeddings), args.json)


def emit(results: dict[str, Any], json_path: Path | None) -> None:
    """Print the figures, and write them to ``json_path`` if given."""
    text = json.dumps(results, indent=2)
    print(text)
    if json_path:
        json_path.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""Benchmark of generated answers: what verification costs, and end-to-end latency with a model.

    python -m evals.bench_llm                  # verification cost only (no model needed)
    python -m evals.bench_llm --local-llm      # + end-to-end with the small local model
    KB_LLM=... python -m evals.bench_llm --configured   # + end-to-end with the configured model

Verification is measured on drafts made of the extractive answer's sentences (cited to their
source) plus one false sentence cited to the first source, so every draft holds one claim that
must be caught. "cold" uses a fresh verifier (no cached sentence embeddings), "warm" repeats it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from evals.bench import QUESTIONS, emit, peak_rss_mb, percentile
from evals.paths import CORPUS
from kb.search.query import analyse_query

FALSE_SENTENCE = "Het COA betaalt alle reiskosten van statushouders naar de taalschool in Zaandam"


def _stats(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "mean": sum(values) / len(values)}


def draft_for(kb, question: str) -> tuple[str, list]:
    """A realistic cited draft for ``question`` and the sources it cites."""
    passages = kb.retriever.retrieve(analyse_query(question, (), kb.retriever.lexicon), kb.settings.top_k, {})
    sources = passages[: kb.settings.llm_sources]
    answer = kb.ask(question)
    parts = []
    for citation in answer.citations:
        n = next((i for i, p in enumerate(sources, 1) if citation.quote[:60] in p.text.replace("\n", " ")), 1)
        parts.append(f"{citation.quote} [{n}]")
    parts.append(f"{FALSE_SENTENCE} [1].")
    return " ".join(parts), sources


def verification_cost(kb) -> dict[str, Any]:
    from kb.answer.llm.claims import split_draft
    from kb.answer.llm.generate import GenerativeAnswerer
    from kb.answer.llm.verify import CitationVerifier

    cold, warm, claims, caught = [], [], 0, 0
    for question in QUESTIONS:
        draft, sources = draft_for(kb, question)
        verifier = CitationVerifier(kb.embed_model, kb.retriever.idf)
        generator = GenerativeAnswerer(None, verifier, kb.answerer)  # type: ignore[arg-type] - no model needed
        for times in (cold, warm):
            started = time.perf_counter()
            checked, _ = generator.verify(split_draft(draft), sources)
            times.append((time.perf_counter() - started) * 1000)
        claims += len(checked)
        caught += sum(1 for c in checked if c.text.startswith(FALSE_SENTENCE) and not c.kept)
    return {
        "drafts": len(QUESTIONS),
        "sentences": claims,
        "false_sentences_caught": f"{caught}/{len(QUESTIONS)}",
        "cold_ms": _stats(cold),
        "warm_ms": _stats(warm),
    }


def end_to_end(kb, questions: list[str]) -> dict[str, Any]:
    rows = []
    for question in questions:
        answer = kb.ask(question)
        rows.append({"mode": answer.mode, "total_ms": answer.latency_ms, **answer.timings})
    summary: dict[str, Any] = {"questions": len(rows)}
    for key in ("first_token_ms", "generate_ms", "verify_ms", "total_ms"):
        values = [r[key] for r in rows if key in r]
        if values:
            summary[key] = _stats(values)
    summary["modes"] = {m: sum(r["mode"] == m for r in rows) for m in sorted({r["mode"] for r in rows})}
    return summary


def run(local_llm: bool, configured: bool, n_questions: int) -> dict[str, Any]:
    from kb.config import Settings
    from kb.embeddings import load_embedding
    from kb.service import build_kb

    results: dict[str, Any] = {}
    e5 = load_embedding("e5")
    with tempfile.TemporaryDirectory(prefix="kb-bench-llm-") as tmp, ExitStack() as stack:
        settings = Settings.from_env().with_(data_dir=Path(tmp) / "data", corpus_dir=CORPUS)
        kb = build_kb(settings.with_(llm="off"), embedding=e5)
        kb.ingest([CORPUS])
        results["verification"] = verification_cost(kb)
        print(json.dumps(results, indent=2), flush=True)
        if local_llm:
            from kb.answer.llm.local import MODEL_ALIAS, local_model_server

            started = time.perf_counter()
            base_url = stack.enter_context(local_model_server())
            results["local_server_start_s"] = time.perf_counter() - started
            settings = settings.with_(
                llm="openai-compatible", llm_base_url=base_url, llm_model=MODEL_ALIAS, llm_max_tokens=200, llm_sources=3
            )
        if local_llm or configured:
            llm_kb = build_kb(settings, embedding=kb.embedding, store=kb.store, retriever=kb.retriever)
            results["llm"] = {"model": settings.llm_model, **end_to_end(llm_kb, QUESTIONS[:n_questions])}
        results["peak_rss_mb"] = peak_rss_mb()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--local-llm", action="store_true", help="start the small local model and time answers")
    parser.add_argument("--configured", action="store_true", help="time answers with the model from KB_LLM_*")
    parser.add_argument("--questions", type=int, default=8, help="questions for the end-to-end part")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    emit(run(args.local_llm, args.configured, args.questions), args.json)


if __name__ == "__main__":
    main()

"""Score one answer against its question, and aggregate scores per system, type and topic.

Unanswerable questions have no support and no key facts: they count only for abstention
(and latency). Citation precision is pooled over citations (supported citations / all
citations of answerable questions), so a question with three citations weighs three times.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from evals import generation, metrics
from evals.questions import Question

UNSTABLE = ("latency_ms", "timings", "metrics")  # left out of the answers digest
RANK_DEPTH = 10  # hit@k and MRR look at the top 10 passages, as `kb ask` returns them


def score_answer(question: Question, answer: dict[str, Any]) -> dict[str, Any]:
    """Per-question metrics for one answer (``Answer.to_dict()`` shape)."""
    abstained = bool(answer.get("abstained"))
    scores: dict[str, Any] = {
        "abstained": abstained,
        "abstention_correct": abstained == (not question.answerable),
        "latency_ms": float(answer.get("latency_ms") or 0.0),
    }
    if not question.answerable:
        return scores
    texts = [p.get("text", "") for p in answer.get("retrieved", [])][:RANK_DEPTH]
    passages = question.expected_passages
    ranks = metrics.support_ranks(texts, passages)
    cited = [c.get("text", "") for c in answer.get("citations", [])]
    supported = metrics.supported_citations(cited, passages)
    scores.update(
        {
            "support_rank": ranks[0] if ranks else None,
            "rr": metrics.reciprocal_rank(texts, passages),
            **{f"hit@{k}": metrics.hit_at(texts, passages, k) for k in metrics.HIT_KS},
            "passage_recall@10": metrics.passage_recall(texts, passages),
            "passage_chars": metrics.mean(len(t) for t in texts),
            "support_in_context": metrics.support_in_context(texts, passages),
            "key_fact_recall": metrics.key_fact_recall(answer.get("answer", ""), question.key_facts),
            "missing_facts": metrics.missing_facts(answer.get("answer", ""), question.key_facts),
            "citations": len(cited),
            "supported_citations": supported,
            "citation_precision": supported / len(cited) if cited else None,
        }
    )
    return scores


def aggregate(scores: Sequence[dict[str, Any]], unanswerable: Sequence[bool]) -> dict[str, Any]:
    """Summary metrics of a group of per-question scores (``unanswerable[i]`` belongs to ``scores[i]``)."""
    answerable = [s for s, u in zip(scores, unanswerable) if not u]
    citations = sum(s["citations"] for s in answerable)
    abstention = metrics.Abstention.count((s["abstained"], u) for s, u in zip(scores, unanswerable))
    latencies = [s["latency_ms"] for s in scores]
    summary: dict[str, Any] = {
        "n": len(scores),
        "n_answerable": len(answerable),
        "n_unanswerable": len(scores) - len(answerable),
        **{f"hit@{k}": metrics.mean(s[f"hit@{k}"] for s in answerable) for k in metrics.HIT_KS},
        "mrr": metrics.mean(s["rr"] for s in answerable),
        "passage_recall@10": metrics.mean(s["passage_recall@10"] for s in answerable),
        "support_in_context": metrics.mean(s["support_in_context"] for s in answerable),
        "passage_chars": metrics.mean(s["passage_chars"] for s in answerable),
        "key_fact_recall": metrics.mean(s["key_fact_recall"] for s in answerable),
        "citation_precision": sum(s["supported_citations"] for s in answerable) / citations if citations else None,
        "n_citations": citations,
        "abstention_precision": abstention.precision,
        "abstention_recall": abstention.recall,
        "n_abstained": abstention.true_positive + abstention.false_positive,
        "abstain_rate": metrics.mean(s["abstained"] for s in scores),
        "latency_p50_ms": metrics.percentile(latencies, 50),
        "latency_p95_ms": metrics.percentile(latencies, 95),
    }
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()}


def breakdown(records: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], str]) -> dict[str, dict[str, Any]]:
    """Aggregate result records (with ``metrics`` and ``type``) per group, groups sorted by name."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[key(record)].append(record)
    return {name: summarize(group) for name, group in sorted(groups.items())}


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate result records of one system."""
    return aggregate([r["metrics"] for r in records], [r["type"] == "unanswerable" for r in records])


def answers_digest(records: Sequence[dict[str, Any]]) -> str:
    """Fingerprint of what a system answered (text, citations, retrieved passages), without timings.

    Metrics are left out, so a change to the eval's scoring code does not change the digest:
    equal digests mean identical answers.
    """
    stable = [{k: v for k, v in record.items() if k not in UNSTABLE} for record in records]
    return hashlib.sha256(json.dumps(stable, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def system_summary(records: Sequence[dict[str, Any]], seconds: float, built: dict[str, Any]) -> dict[str, Any]:
    """One system's entry in ``summary.json``: overall, per type, per topic, answers digest;
    for a system whose answers a language model wrote, also ``generation`` (:mod:`evals.generation`)."""
    summary = {
        "overall": summarize(records),
        "by_type": breakdown(records, lambda r: r["type"]),
        "by_topic": breakdown(records, lambda r: r["topic"]),
        "digest": answers_digest(records),
        "seconds": round(seconds, 1),
        "built": built,
    }
    if generation.is_generated(records):
        summary["generation"] = generation.generation_summary(records)
    return summary

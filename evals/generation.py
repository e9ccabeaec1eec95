"""Metrics for generated answers, computed from the records (``Answer.to_dict()``) of one system.

A generated answer is verified sentence by sentence (``claims``): *kept* sentences
(``supported``, ``attached``) are shown with citations, *dropped* ones are reported with a
reason. The product promises that every sentence shown carries at least one verified citation;
:func:`generation_summary` checks that on the data rather than assuming it: a shown sentence
counts only when one of its numbers is a citation of the answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

GENERATED_MODES = ("llm", "llm-fallback")
KEPT = ("supported", "attached")  # the other statuses are dropped sentences
STEPS = ("condense", "first_token", "generate", "verify")  # Answer.timings keys, without "_ms"


def is_generated(records: Sequence[dict[str, Any]]) -> bool:
    """Whether a language model took part in these answers (any answer in ``llm`` or ``llm-fallback`` mode)."""
    return any(r.get("mode") in GENERATED_MODES for r in records)


def shown_claims(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The sentences of a generated answer that are shown (kept sentences of an ``llm`` answer)."""
    if record.get("mode") != "llm":
        return []
    return [c for c in record.get("claims", []) if c.get("status") in KEPT]


def has_verified_citation(claim: dict[str, Any], record: dict[str, Any]) -> bool:
    """The sentence names at least one number that is a citation of its answer."""
    numbers = {c.get("n") for c in record.get("citations", [])}
    return any(n in numbers for n in claim.get("citations", []))


def uncited_shown(records: Sequence[dict[str, Any]]) -> list[str]:
    """Ids of answers that show a sentence without a verified citation (should be none)."""
    return [r["id"] for r in records if any(not has_verified_citation(c, r) for c in shown_claims(r))]


def generation_summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Modes, sentences kept and dropped, the citation promise and latency of one system's answers."""
    from evals import metrics  # imported here: the report needs this module, not llama-index
    from kb.answer.llm.generate import NOTICE_UNAVAILABLE

    n = len(records)
    modes = Counter(r.get("mode", "extractive") for r in records)
    answered = [r for r in records if r.get("mode") == "llm" and not r.get("abstained")]
    fallbacks = [r for r in records if r.get("mode") == "llm-fallback"]
    drafts = [r for r in records if r.get("claims")]
    claims = [c for r in records for c in r.get("claims", [])]
    kept = [c for c in claims if c.get("status") in KEPT]
    dropped = Counter(c.get("status", "?") for c in claims if c.get("status") not in KEPT)
    shown = [(c, r) for r in records for c in shown_claims(r)]
    with_citation = sum(has_verified_citation(c, r) for c, r in shown)
    summary: dict[str, Any] = {
        "n": n,
        "share_llm": len(answered) / n if n else None,
        "share_llm_not_found": (modes["llm"] - len(answered)) / n if n else None,
        "share_fallback": len(fallbacks) / n if n else None,
        "share_extractive": modes["extractive"] / n if n else None,
        "share_abstained": metrics.mean(bool(r.get("abstained")) for r in records),
        "n_fallback_unavailable": sum(r.get("notice") == NOTICE_UNAVAILABLE for r in fallbacks),
        "n_fallback_unsupported": sum(r.get("notice") != NOTICE_UNAVAILABLE for r in fallbacks),
        "n_drafts": len(drafts),
        "sentences_per_draft": len(claims) / len(drafts) if drafts else None,
        "sentences_per_answer": len(shown) / len(answered) if answered else None,
        "n_sentences": len(claims),
        "n_kept": len(kept),
        "n_dropped": sum(dropped.values()),
        "kept_share": len(kept) / len(claims) if claims else None,
        "dropped_by_status": dict(sorted(dropped.items())),
        "n_shown": len(shown),
        "shown_with_citation": with_citation / len(shown) if shown else None,
        "uncited_shown": uncited_shown(records),
        "n_condensed": sum(bool(r.get("standalone_question")) for r in records),
        "latency_p50_ms": metrics.percentile([r.get("latency_ms") or 0.0 for r in records], 50),
        "latency_p95_ms": metrics.percentile([r.get("latency_ms") or 0.0 for r in records], 95),
        **{
            f"{step}_p50_ms": metrics.percentile([r["timings"][f"{step}_ms"] for r in timed], 50)
            for step in STEPS
            if (timed := [r for r in records if f"{step}_ms" in r.get("timings", {})])
        },
    }
    # Not rounded: 0.99996 must not read as the promised 1.0.
    exact = ("shown_with_citation",)
    return {k: round(v, 4) if isinstance(v, float) and k not in exact else v for k, v in summary.items()}


def dropped_examples(records: Sequence[dict[str, Any]], n: int = 6) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Up to ``n`` (record, dropped claim) pairs: the statuses in turn, each time from a question not yet shown
    when there is one, so the examples cover several kinds and several questions."""
    pools: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for record in records:
        for claim in record.get("claims", []):
            if claim.get("status") not in KEPT:
                pools.setdefault(claim.get("status", "?"), []).append((record, claim))
    chosen: list[tuple[dict[str, Any], dict[str, Any]]] = []
    shown: set[str] = set()
    while len(chosen) < n and any(pools.values()):
        for status in sorted(pools):
            pool = pools[status]
            if not pool or len(chosen) >= n:
                continue
            pick = next((i for i, (record, _c) in enumerate(pool) if record["id"] not in shown), 0)
            record, claim = pool.pop(pick)
            shown.add(record["id"])
            chosen.append((record, claim))
    return chosen

"""The regression gate: a run's figures for ``ours`` against the minimums in ``evals/thresholds.json``.

Other systems (baselines, ``ours-llm``) are not gated on minimums and may be missing. One rule
holds for every system with generated answers: each sentence shown carries a verified citation.

How the minimums are set (``kb eval thresholds RUN --write``): each measured rate minus a
margin of 0.03, or minus one question's worth (1 / the metric's denominator) when that is
larger, floored to 3 decimals. So a single flipped question out of the 15 unanswerable ones
does not fail the gate, but a drop of three or more answerable questions on hit@k does.
Latency is not gated: it depends on the machine (see the benchmark instead).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from evals.errors import EvalError
from evals.paths import EVALS_DIR

DEFAULT_THRESHOLDS = EVALS_DIR / "thresholds.json"
DEFAULT_MARGIN = 0.03
# metric -> the summary count it is a share of (for the one-question margin)
GATED: dict[str, str] = {
    "hit@1": "n_answerable",
    "hit@3": "n_answerable",
    "hit@5": "n_answerable",
    "hit@10": "n_answerable",
    "mrr": "n_answerable",
    "passage_recall@10": "n_answerable",
    "support_in_context": "n_answerable",
    "key_fact_recall": "n_answerable",
    "citation_precision": "n_citations",
    "abstention_precision": "n_abstained",
    "abstention_recall": "n_unanswerable",
}


def _minimums(overall: dict[str, Any], margin: float) -> tuple[dict[str, float], dict[str, float]]:
    minimums, measured = {}, {}
    for metric, denominator in GATED.items():
        value = overall.get(metric)
        if value is None:
            continue
        slack = max(margin, 1 / max(overall.get(denominator) or 1, 1))
        minimums[metric] = max(math.floor((value - slack) * 1000 + 1e-6) / 1000, 0.0)
        measured[metric] = value
    return minimums, measured


def derive_thresholds(summary: dict[str, Any], margin: float = DEFAULT_MARGIN, system: str = "ours") -> dict[str, Any]:
    """Minimums from a run: measured value minus max(margin, 1/denominator), floored to 3 decimals.

    For a run with ``--grow`` the grown corpus gets its own minimums (``grown``)."""
    if system not in summary.get("systems", {}):
        raise EvalError(f"De run bevat geen systeem '{system}'; draai kb eval run met --systems {system}.")
    minimums, measured = _minimums(summary["systems"][system]["overall"], margin)
    cfg = summary["config"]
    grown = {}
    if system in (summary.get("grown") or {}).get("systems", {}):
        grown_min, grown_measured = _minimums(summary["grown"]["systems"][system]["overall"], margin)
        grown = {
            "grown": {
                "documents": len(summary["grown"]["index"]["documents"]),
                "measured": grown_measured,
                "minimums": grown_min,
            }
        }
    return {
        "system": system,
        "how_set": (
            f"measured value minus max({margin}, 1/denominator), floored to 3 decimals; "
            "regenerate with: kb eval thresholds RUN_DIR --write"
        ),
        "from_run": {
            "git_commit": cfg["git"]["commit"],
            "started_at": cfg["started_at"],
            "model_id": cfg["model_id"],
            "questions_sha256": cfg["questions"]["sha256"],
            "k": cfg["k"],
            "split": cfg["questions"].get("split", "all"),
            "grow": cfg["corpus"].get("grow", []),
        },
        "margin": margin,
        "measured": measured,
        "minimums": minimums,
        **grown,
    }


def load_thresholds(path: Path = DEFAULT_THRESHOLDS) -> dict[str, Any]:
    """The stored thresholds; raises :class:`EvalError` when missing or malformed."""
    if not path.is_file():
        raise EvalError(f"Drempelbestand '{path}' niet gevonden. Maak het met: kb eval thresholds RUN_DIR --write")
    try:
        thresholds = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EvalError(f"'{path}' is geen geldige JSON ({exc.msg}, regel {exc.lineno}).") from None
    if not isinstance(thresholds.get("minimums"), dict):
        raise EvalError(f"'{path}' heeft geen 'minimums'.")
    return thresholds


def check_gate(summary: dict[str, Any], thresholds: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(failures, warnings): one readable line per metric below its minimum, and notes on comparability."""
    system = thresholds.get("system", "ours")
    if system not in summary.get("systems", {}):
        return [f"the run has no results for '{system}' (run with --systems {system})"], []
    overall = summary["systems"][system]["overall"]
    measured = thresholds.get("measured", {})
    failures = []
    for metric, minimum in thresholds["minimums"].items():
        value = overall.get(metric)
        when_set = f" (was {measured[metric]:.3f} when the threshold was set)" if metric in measured else ""
        if value is None:
            failures.append(f"{metric}: no value in this run, minimum {minimum:.3f}{when_set}")
        elif value < minimum:
            failures.append(f"{metric}: {value:.3f} < minimum {minimum:.3f}{when_set}")
    if "grown" in thresholds:
        grown = (summary.get("grown") or {}).get("systems", {}).get(system)
        if grown is None:
            failures.append("the thresholds include the grown corpus, but this run has none (run with --grow)")
        else:
            for metric, minimum in thresholds["grown"]["minimums"].items():
                value = grown["overall"].get(metric)
                if value is None or value < minimum:
                    failures.append(
                        f"grown corpus {metric}: {value if value is None else f'{value:.3f}'} < minimum {minimum:.3f}"
                    )
    for name, system_summary in summary.get("systems", {}).items():
        # The promise of generated answers is gated whenever a run has them, with no threshold to set.
        broken = (system_summary.get("generation") or {}).get("uncited_shown")
        if broken:
            failures.append(f"{name}: shown sentences without a verified citation in {', '.join(broken)}")
    warnings = []
    source, cfg = thresholds.get("from_run", {}), summary.get("config", {})
    if cfg.get("questions", {}).get("selected"):
        warnings.append("the run used a selection of the questions (--ids/--limit); the thresholds are for all")
    if source.get("questions_sha256") and source["questions_sha256"] != cfg.get("questions", {}).get("sha256"):
        warnings.append("the question set differs from the one the thresholds were set on")
    if source.get("model_id") and source["model_id"] != cfg.get("model_id"):
        warnings.append(f"embedding model {cfg.get('model_id')} differs from {source['model_id']} (thresholds)")
    if source.get("split") and source["split"] != cfg.get("questions", {}).get("split", "all"):
        warnings.append(
            f"split {cfg.get('questions', {}).get('split', 'all')} differs from {source['split']} (thresholds)"
        )
    if source.get("k") and source["k"] != cfg.get("k"):
        warnings.append(f"k={cfg.get('k')} differs from k={source['k']} (thresholds)")
    return failures, warnings

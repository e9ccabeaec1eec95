"""Compare two runs: per-question improvements and regressions, and the change of every summary metric."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.document import Heading, Paragraph, Table, to_markdown
from evals.report import GENERATION_LABELS, LABELS, fmt
from evals.rundir import load_results, load_summary

# per-question metrics compared, all "higher is better" (booleans: True is better)
QUESTION_METRICS = ("hit@5", "rr", "key_fact_recall", "abstention_correct")
EPSILON = 1e-9
MAX_LISTED = 15  # questions named in the "answers differ" line


def question_changes(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Any, Any, int]]:
    """(metric, before, after, +1 better / -1 worse) for each per-question metric that changed."""
    changes = []
    for metric in QUESTION_METRICS:
        a, b = before.get(metric), after.get(metric)
        if a is None or b is None:
            continue
        delta = float(b) - float(a)
        if abs(delta) > EPSILON:
            changes.append((metric, a, b, 1 if delta > 0 else -1))
    return changes


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def answer_differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs between two answers to one question (empty when identical apart from timing)."""
    found = []
    for field, label in (("answer", "answer text"), ("abstained", "abstained"), ("citations", "citations")):
        if before.get(field) != after.get(field):
            found.append(label)
    ranked_a = [p.get("chunk_ids") for p in before.get("retrieved", [])]
    ranked_b = [p.get("chunk_ids") for p in after.get("retrieved", [])]
    if ranked_a != ranked_b:
        found.append("retrieved passages")
    elif before.get("retrieved") != after.get("retrieved"):
        found.append("retrieved scores")
    if before.get("confidence") != after.get("confidence"):
        found.append("confidence")
    return found


def _delta(before: float | None, after: float | None, metric: str) -> str:
    if before is None or after is None:
        return "–"
    return f"{after - before:+.0f}" if metric.endswith(("_ms", "_chars")) else f"{after - before:+.3f}"


def compare_system(a: list[dict], b: list[dict], summary_a: dict, summary_b: dict, system: str) -> list:
    """Blocks for one system: summary deltas, then improved / regressed / mixed questions."""
    overall_a = summary_a["systems"][system]["overall"]
    overall_b = summary_b["systems"][system]["overall"]
    digest_a, digest_b = summary_a["systems"][system]["digest"], summary_b["systems"][system]["digest"]
    same = "identical answers (same digest " + digest_a + ")" if digest_a == digest_b else "answers differ"
    blocks: list = [Heading(f"{system}"), Paragraph(f"Answers digest A {digest_a}, B {digest_b}: **{same}**.")]
    by_id = {r["id"]: r for r in a}
    differing = [
        f"{r['id']} ({', '.join(found)})"
        for r in b
        if r["id"] in by_id and (found := answer_differences(by_id[r["id"]], r))
    ]
    if differing:
        shown = "; ".join(differing[:MAX_LISTED]) + (
            f"; … {len(differing) - MAX_LISTED} more" if len(differing) > MAX_LISTED else ""
        )
        blocks.append(Paragraph(f"Answers differ in {len(differing)} question(s): {shown}."))
    table = Table(["metric", "A", "B", "change"], numeric={1, 2, 3})
    for metric, label in LABELS.items():
        va, vb = overall_a.get(metric), overall_b.get(metric)
        delta = _delta(va, vb, metric)
        table.rows.append([label, fmt(va, metric), fmt(vb, metric), delta])
    blocks.append(table)
    generation_a = summary_a["systems"][system].get("generation")
    generation_b = summary_b["systems"][system].get("generation")
    if generation_a and generation_b:
        table = Table(["generated answers", "A", "B", "change"], numeric={1, 2, 3})
        for metric, label in GENERATION_LABELS.items():
            va, vb = generation_a.get(metric), generation_b.get(metric)
            if va is None and vb is None:
                continue
            table.rows.append([label, fmt(va, metric), fmt(vb, metric), _delta(va, vb, metric)])
        blocks.append(table)
    groups: dict[str, list[list[str]]] = {"improved": [], "regressed": [], "mixed": []}
    for record in b:
        earlier = by_id.get(record["id"])
        if earlier is None:
            continue
        changes = question_changes(earlier["metrics"], record["metrics"])
        if not changes:
            continue
        signs = {sign for *_rest, sign in changes}
        group = "mixed" if len(signs) > 1 else "improved" if 1 in signs else "regressed"
        text = ", ".join(f"{m} {_value(x)} → {_value(y)}" for m, x, y, _s in changes)
        groups[group].append([record["id"], record["type"], text])
    for group, rows in groups.items():
        blocks.append(Paragraph(f"**{group.capitalize()} ({len(rows)})**" + ("" if rows else ": none")))
        if rows:
            blocks.append(Table(["id", "type", "changes (hit@5, RR, key-fact recall, abstention correct)"], rows))
    return blocks


def compare_runs(run_a: Path, run_b: Path, systems: list[str] | None = None) -> str:
    """Markdown comparing run B with run A for every system both contain (or the ones asked for)."""
    summary_a, summary_b = load_summary(run_a), load_summary(run_b)
    results_a, results_b = load_results(run_a), load_results(run_b)
    common = [s for s in summary_b["systems"] if s in summary_a["systems"]]
    chosen = [s for s in (systems or common) if s in common]
    blocks: list = [
        Heading("Comparison of two eval runs", 1),
        Paragraph(
            f"A: `{run_a}` (commit {summary_a['config']['git']['commit'][:12]}, {summary_a['config']['started_at']}); "
            f"B: `{run_b}` (commit {summary_b['config']['git']['commit'][:12]}, {summary_b['config']['started_at']})."
        ),
    ]
    if summary_a["config"]["questions"]["sha256"] != summary_b["config"]["questions"]["sha256"]:
        blocks.append(Paragraph("**Note:** the question sets differ; only questions with the same id are compared."))
    elif summary_a["config"]["questions"].get("selected") != summary_b["config"]["questions"].get("selected"):
        blocks.append(
            Paragraph(
                "**Note:** the runs asked different selections of the questions (--ids/--limit); summary "
                "metrics are over different questions, per-question changes only over those in both."
            )
        )
    for run, mine, other in (("A", summary_a, summary_b), ("B", summary_b, summary_a)):
        only = [s for s in mine["systems"] if s not in other["systems"]]
        if only:
            blocks.append(Paragraph(f"Only in {run} (not compared): {', '.join(only)}."))
    missing = [s for s in systems or [] if s not in common]
    if missing:
        blocks.append(Paragraph(f"Not in both runs, so not compared: {', '.join(missing)}."))
    if not chosen:
        blocks.append(Paragraph("The runs have no system in common."))
    phases = [("sample", summary_a, summary_b)]
    if summary_a.get("grown") and summary_b.get("grown"):  # both runs have a grown-corpus phase: compare it too
        phases.append(("grown", {**summary_a, **summary_a["grown"]}, {**summary_b, **summary_b["grown"]}))
    for phase, phase_a, phase_b in phases:
        if len(phases) > 1:
            blocks.append(Heading(f"{'Sample' if phase == 'sample' else 'Grown'} corpus", 2))
        for system in [s for s in chosen if s in phase_a["systems"] and s in phase_b["systems"]]:
            blocks += compare_system(
                [r for r in results_a if r["system"] == system and r.get("corpus", "sample") == phase],
                [r for r in results_b if r["system"] == system and r.get("corpus", "sample") == phase],
                phase_a,
                phase_b,
                system,
            )
    return to_markdown(blocks)

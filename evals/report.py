"""``report.md`` and ``report.html`` for a run: ours vs the baselines, breakdowns, plots, worst questions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.document import Block, Heading, Image, Paragraph, Preformatted, Table, to_html, to_markdown
from evals.generation import dropped_examples
from evals.llm_setup import LLM_SYSTEM
from evals.questions import TYPES
from evals.rundir import load_results, load_summary

LABELS = {
    "hit@1": "hit@1",
    "hit@3": "hit@3",
    "hit@5": "hit@5",
    "hit@10": "hit@10",
    "mrr": "MRR@10",
    "passage_recall@10": "passage recall@10",
    "support_in_context": "support in first 2,000 chars",
    "passage_chars": "mean passage length (chars)",
    "key_fact_recall": "key-fact recall",
    "citation_precision": "citation precision",
    "abstention_precision": "abstention precision",
    "abstention_recall": "abstention recall",
    "abstain_rate": "abstain rate",
    "latency_p50_ms": "latency p50 (ms)",
    "latency_p95_ms": "latency p95 (ms)",
}
GROUP_COLUMNS = (
    "hit@1",
    "hit@5",
    "hit@10",
    "mrr",
    "support_in_context",
    "key_fact_recall",
    "citation_precision",
    "abstain_rate",
    "latency_p50_ms",
)
WORST_N = 10
SNIPPET = 220
DROPPED_SHOWN = 6
GENERATION_LABELS = {
    "n": "answers",
    "share_llm": "generated answer shown",
    "share_llm_not_found": "model: not in the sources (abstained)",
    "share_fallback": "fell back to the extractive answer",
    "n_fallback_unavailable": "… because the model did not answer (count)",
    "n_fallback_unsupported": "… because too little was verified (count)",
    "share_abstained": "abstained (any mode)",
    "sentences_per_draft": "generated sentences per draft",
    "sentences_per_answer": "sentences shown per generated answer",
    "n_sentences": "generated sentences (all drafts)",
    "n_kept": "kept (supported or attached)",
    "n_dropped": "dropped",
    "kept_share": "kept ÷ generated",
    "n_shown": "sentences shown",
    "shown_with_citation": "shown sentences with ≥ 1 verified citation",
    "n_condensed": "follow-ups rewritten by the model",
    "latency_p50_ms": "latency p50 (ms)",
    "latency_p95_ms": "latency p95 (ms)",
    "condense_p50_ms": "rewriting a follow-up p50 (ms)",
    "first_token_p50_ms": "first token p50 (ms)",
    "generate_p50_ms": "whole generation p50 (ms)",
    "verify_p50_ms": "verification p50 (ms)",
}
LLM_NOTE = " `ours-llm` is `ours` with a language model writing the answer; see *Generated answers*."
GENERATION_EXPLANATION = (
    "`ours-llm` is `ours` (same store, same retriever instance) with a language model: it gets the question and "
    "the top passages as numbered sources, and every sentence it writes is checked against the source(s) it "
    "cites. Kept sentences (status `supported`, or `attached` when an uncited sentence is clearly backed by one "
    "source) are shown with citations; dropped ones (`unsupported`, `bad-reference`, `uncited`) are left out "
    "and reported. When the model does not answer, or too little is verified, the extractive answer of `ours` "
    "is shown instead (fallback). A *draft* is a generated answer that was verified. ‘Shown sentences with ≥ 1 "
    "verified citation’ is computed from the records (a sentence's number must be one of its answer's "
    "citations): it is the product's promise and must be 1.000. Retrieval metrics of `ours-llm` equal those of "
    "`ours` except for follow-ups the model rewrote into a standalone question."
)

EXPLANATION = (
    "**How to read this.** A retrieved passage ‘contains the support’ when it holds one of the question's "
    "`expected_passages` verbatim (whitespace collapsed) or at least 80% of its word 3-grams. hit@k: the support "
    "is in the top k; MRR@10: mean of 1/rank of the first such passage; passage recall@10: share of all expected "
    "passages in the top 10 (matters for multi-passage questions); support in first 2,000 chars: the support lies "
    "in the first 2,000 characters of the ranked passages joined; hit@k favours long passages (a "
    "3,000-character passage easily contains a quote), this one does not, so read it with the mean passage "
    "length. Key-fact recall: share of the key facts in the "
    "answer text; citation precision: supported citations / all citations. Retrieval and answer metrics use the "
    "answerable questions only. Abstention: the positive class is ‘unanswerable’; precision = right abstentions / "
    "all abstentions, recall = abstentions on unanswerable / all unanswerable. Ratio columns are ours ÷ baseline "
    "(for latency, lower is better). `bm25` and `dense` are our retriever with one signal, same chunks; "
    "`llamaindex` is llama-index's default SentenceSplitter + VectorStoreIndex over the plain .txt files. "
    "**`ours` and the three baselines use the same extractive answerer** (ours, same IDF statistics): llama-index's "
    "nodes are converted to `Passage` objects and answered by it, so answer metrics compare retrieval and chunking. "
    "Follow-up questions: every system prepends the last two history turns when `kb.text.is_follow_up` "
    "says the question leans on them, as ours does. Caveat: the answerer's abstention model uses the dense "
    "similarity of the passages; `bm25` passages have none, which the answerer treats as neutral evidence, so "
    "`bm25` (almost) never abstains: its abstention figures say little, read it for retrieval and key facts."
)


def fmt(value: Any, metric: str = "") -> str:
    """A metric value for a table: rates with 3 decimals, latencies in whole ms, missing as '–'."""
    if value is None:
        return "–"
    if metric.endswith(("_ms", "_chars")):
        return f"{value:.0f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def ratio(ours: Any, baseline: Any) -> str:
    if ours is None or baseline in (None, 0):
        return "–"
    return f"{ours / baseline:.2f}×"


def summary_table(summary: dict[str, Any]) -> Table:
    """Every summary metric for every system side by side, with ours ÷ each baseline (and ours-llm ÷ ours)."""
    systems = list(summary["systems"])
    baselines = [s for s in systems if s not in ("ours", LLM_SYSTEM)] if "ours" in systems else []
    pairs = [("ours", b) for b in baselines]
    if "ours" in systems and LLM_SYSTEM in systems:
        pairs.append((LLM_SYSTEM, "ours"))
    headers = ["metric", *systems, *(f"{a} ÷ {b}" for a, b in pairs)]
    table = Table(headers, numeric=set(range(1, len(headers))))
    for metric, label in LABELS.items():
        values = {s: summary["systems"][s]["overall"].get(metric) for s in systems}
        row = [label, *(fmt(values[s], metric) for s in systems)]
        row += [ratio(values[a], values[b]) for a, b in pairs]
        table.rows.append(row)
    return table


def group_table(groups: dict[str, dict[str, Any]], order: list[str], first: str) -> Table:
    """One system's metrics per type or topic."""
    headers = [first, "n", *(LABELS[m] for m in GROUP_COLUMNS)]
    table = Table(headers, numeric=set(range(1, len(headers))))
    for name in order:
        if name in groups:
            g = groups[name]
            table.rows.append([name, str(g["n"]), *(fmt(g.get(m), m) for m in GROUP_COLUMNS)])
    return table


def cross_table(summary: dict[str, Any], key: str, order: list[str], first: str) -> Table:
    """hit@5 / key-fact recall (answerable groups) or abstain rate (unanswerable) per group, per system."""
    systems = list(summary["systems"])
    table = Table([first, *systems], numeric=set(range(1, len(systems) + 1)))
    for name in order:
        cells = []
        for system in systems:
            g = summary["systems"][system][key].get(name)
            if g is None:
                cells.append("–")
            elif g["n_answerable"]:
                cells.append(f"{fmt(g['hit@5'])} / {fmt(g['key_fact_recall'])}")
            else:
                cells.append(f"abstained {fmt(g['abstain_rate'])}")
        table.rows.append([name, *cells])
    return table


def _worst_key(record: dict[str, Any]) -> tuple:
    m = record["metrics"]
    return (m["rr"], m["key_fact_recall"], m["citation_precision"] or 0.0, record["id"])


def worst_questions(records: list[dict[str, Any]], system: str = "ours", n: int = WORST_N) -> list[dict[str, Any]]:
    """The answerable questions a system did worst on: lowest reciprocal rank, then fewest key facts."""
    mine = [r for r in records if r["system"] == system and r["type"] != "unanswerable"]
    return sorted(mine, key=_worst_key)[:n]


def diagnosis(record: dict[str, Any]) -> str:
    """One line on what went wrong with a question (for the worst list and the core engineer)."""
    m = record["metrics"]
    parts = [f"support at rank {m['support_rank']}" if m["support_rank"] else "support not in top 10"]
    if record.get("error"):
        parts.append(f"error: {record['error']}")
    elif m["abstained"]:
        parts.append("abstained")
    elif m["missing_facts"]:
        parts.append("answer misses " + ", ".join(f"‘{f}’" for f in m["missing_facts"]))
    else:
        parts.append("all key facts in the answer")
    if m["citations"] and not m["supported_citations"]:
        parts.append("no citation holds the support")
    top = record.get("retrieved", [])[:1]
    if top and m["support_rank"] != 1:
        parts.append(f"top hit: {top[0]['doc_id']} ({top[0]['locator']})")
    return "; ".join(parts)


def _snippet(text: str, size: int = SNIPPET) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"


def worst_blocks(records: list[dict[str, Any]]) -> list[Block]:
    blocks: list[Block] = []
    for record in worst_questions(records):
        m = record["metrics"]
        blocks.append(Heading(f"{record['id']} ({record['type']}, {record['topic']}) — {diagnosis(record)}", 4))
        blocks.append(Paragraph(f"**Question:** {record['question']}"))
        blocks.append(
            Paragraph(f"**Answer** (key-fact recall {fmt(m['key_fact_recall'])}): {_snippet(record['answer'], 400)}")
        )
        table = Table(["rank", "document", "locator", "text"], numeric={0})
        for rank, passage in enumerate(record.get("retrieved", [])[:3], 1):
            table.rows.append([str(rank), passage["title"], passage["locator"], _snippet(passage["text"])])
        blocks.append(table)
    return blocks


def abstention_blocks(records: list[dict[str, Any]], system: str = "ours") -> list[Block]:
    mine = [r for r in records if r["system"] == system]
    answered = [r["id"] for r in mine if r["type"] == "unanswerable" and not r["abstained"]]
    refused = [r["id"] for r in mine if r["type"] != "unanswerable" and r["abstained"]]
    return [
        Paragraph(f"**Answered although unanswerable ({len(answered)}):** {', '.join(answered) or 'none'}"),
        Paragraph(f"**Abstained although answerable ({len(refused)}):** {', '.join(refused) or 'none'}"),
    ]


def generation_table(summary: dict[str, Any]) -> Table:
    """The generation metrics of every system a language model took part in, side by side."""
    systems = [name for name, s in summary["systems"].items() if s.get("generation")]
    table = Table(["metric", *systems], numeric=set(range(1, len(systems) + 1)))
    for metric, label in GENERATION_LABELS.items():
        table.rows.append([label, *(fmt(summary["systems"][s]["generation"].get(metric), metric) for s in systems)])
    statuses = sorted({st for s in systems for st in summary["systems"][s]["generation"]["dropped_by_status"]})
    for status in statuses:
        counts = [summary["systems"][s]["generation"]["dropped_by_status"].get(status, 0) for s in systems]
        table.rows.append([f"dropped as `{status}`", *(str(c) for c in counts)])
    return table


def _yes_no(value: Any) -> str:
    return "–" if value is None else "yes" if value else "no"


def rewritten_blocks(system: str, mine: list[dict[str, Any]], ours: list[dict[str, Any]]) -> list[Block]:
    """Follow-ups the model rewrote before retrieval: what it made of them, and what that did to hit@5."""
    rewritten = [r for r in mine if r.get("standalone_question")]
    if not rewritten:
        return []
    by_id = {r["id"]: r for r in ours}
    table = Table(["id", "follow-up", "rewritten as", "hit@5 ours → " + system])
    for record in rewritten:
        before = by_id.get(record["id"], {}).get("metrics", {}).get("hit@5")
        after = record["metrics"].get("hit@5")
        change = "–" if after is None else f"{_yes_no(before)} → {_yes_no(after)}"
        table.rows.append(
            [record["id"], _snippet(record["question"], 120), _snippet(record["standalone_question"], 160), change]
        )
    return [Paragraph(f"**{system}, follow-ups rewritten by the model ({len(rewritten)}):**"), table]


def generation_blocks(summary: dict[str, Any], records: list[dict[str, Any]]) -> list[Block]:
    """The *Generated answers* section: metrics, the citation promise, fallbacks, dropped sentences."""
    systems = [name for name, s in summary["systems"].items() if s.get("generation")]
    if not systems:
        return []
    blocks: list[Block] = [Heading("Generated answers"), Paragraph(GENERATION_EXPLANATION), generation_table(summary)]
    for system in systems:
        g = summary["systems"][system]["generation"]
        mine = [r for r in records if r["system"] == system]
        if g["uncited_shown"]:
            blocks.append(
                Paragraph(
                    f"**{system}: shown sentences without a verified citation in "
                    f"{', '.join(g['uncited_shown'])}.** This breaks the product's promise; it is a bug."
                )
            )
        fallbacks = [r["id"] for r in mine if r.get("mode") == "llm-fallback"]
        blocks.append(Paragraph(f"**{system}, fell back ({len(fallbacks)}):** {', '.join(fallbacks) or 'none'}"))
        blocks += rewritten_blocks(system, mine, [r for r in records if r["system"] == "ours"])
        examples = dropped_examples(mine, DROPPED_SHOWN)
        if examples:
            blocks.append(Paragraph(f"**{system}, examples of dropped sentences:**"))
            table = Table(["id", "question", "status", "reason", "dropped sentence"])
            for record, claim in examples:
                table.rows.append(
                    [
                        record["id"],
                        _snippet(record["question"], 120),
                        claim["status"],
                        claim.get("reason", ""),
                        _snippet(claim["text"], 200),
                    ]
                )
            blocks.append(table)
    return blocks


def plot_topic_hit5(summary: dict[str, Any], path: Path) -> Path:
    """Grouped bars: hit@5 per topic (answerable topics), one bar per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(summary["systems"])
    topics = [t for t, g in summary["systems"][systems[0]]["by_topic"].items() if g["n_answerable"]]
    width = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    for i, system in enumerate(systems):
        values = [summary["systems"][system]["by_topic"][t]["hit@5"] or 0.0 for t in topics]
        ax.bar([x + i * width for x in range(len(topics))], values, width, label=system)
    ax.set_xticks([x + width * (len(systems) - 1) / 2 for x in range(len(topics))], topics, rotation=35, ha="right")
    ax.set_ylim(0, 1.18)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("hit@5")
    ax.set_title("hit@5 per topic")
    ax.legend(ncol=len(systems), loc="upper center", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_latency(records: list[dict[str, Any]], systems: list[str], path: Path) -> Path:
    """Histogram of per-question latency for each system (log-spaced bins)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    latencies = {s: [max(r["latency_ms"], 0.1) for r in records if r["system"] == s] for s in systems}
    every = [v for values in latencies.values() for v in values] or [1.0]
    bins = np.logspace(np.log10(min(every)), np.log10(max(every) * 1.01), 30)
    fig, ax = plt.subplots(figsize=(8, 4))
    for system, values in latencies.items():
        ax.hist(values, bins=bins, histtype="step", linewidth=1.8, label=system)
    ax.set_xscale("log")
    ax.set_xlabel("latency per question (ms, log scale)")
    ax.set_ylabel("questions")
    ax.set_title("Latency distribution")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _llm_rows(llm: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not llm:
        return []
    where = f" at {llm['base_url']}" if llm.get("base_url") else ""
    return [
        (
            f"language model ({LLM_SYSTEM})",
            f"{llm['backend']} {llm['model']}{where} via {llm['client']} ({llm['origin']}); "
            f"max tokens {llm['max_tokens']}, sources {llm['sources']}, "
            f"timeout {llm['timeout_s']} s, retries {llm['retries']}",
        )
    ]


def _selection(questions: dict[str, Any]) -> str:
    selected = questions.get("selected") or {}
    parts = []
    if selected.get("ids"):
        parts.append(f"only {', '.join(selected['ids'])}")
    if selected.get("limit") is not None:
        parts.append(f"a sample of at most {selected['limit']}, stratified by type")
    return f" ({'; '.join(parts)})" if parts else ""


def reproduce_command(summary: dict[str, Any], run_dir: Path) -> str:
    """The command lines that repeat this run (same systems, question selection and model source) and compare."""
    cfg = summary["config"]
    selected = cfg["questions"].get("selected") or {}
    llm = cfg.get("llm") or {}
    options = [f"--systems {','.join(summary['systems'])}"]
    if selected.get("ids"):
        options.append(f"--ids {','.join(selected['ids'])}")
    if selected.get("limit") is not None:
        options.append(f"--limit {selected['limit']}")
    if llm.get("origin") == "local":
        options.append("--local-llm")
    lines = (
        ["# with the same KB_LLM... settings (see 'language model' below)"] if llm.get("origin") == "settings" else []
    )
    lines.append(f"kb eval run {cfg['questions']['path']} --out DIR {' '.join(options)}")
    lines.append(f"kb eval compare {run_dir} DIR   # same answers digests = identical answers")
    return "\n".join(lines)


def run_info(summary: dict[str, Any]) -> Table:
    cfg = summary["config"]
    table = Table(["setting", "value"])
    git = cfg["git"]
    index = cfg["index"]
    rows = [
        ("git commit", f"{git['commit'][:12]}{' (uncommitted changes)' if git.get('dirty') else ''}"),
        ("code sha256 (kb/, ingest/)", git.get("code_sha256", "–")),
        ("embedding model", f"{cfg['model_id']} (KB_EMBEDDING={cfg['embedding']})"),
        ("k (passages per question)", str(cfg["k"])),
        (
            "questions",
            f"{cfg['questions']['path']} — {cfg['questions']['n']} questions{_selection(cfg['questions'])}, "
            f"sha256 {cfg['questions']['sha256']}",
        ),
        (
            "index",
            f"{'fresh, ingest ' + str(index.get('ingest_seconds')) + ' s' if index['fresh'] else index['data_dir']}",
        ),
        ("documents", ", ".join(f"{d['doc_id']} ({d['chunks']})" for d in index["documents"])),
        *_llm_rows(cfg.get("llm")),
        ("versions", ", ".join(f"{k} {v}" for k, v in cfg["versions"].items())),
        ("started", cfg["started_at"]),
        ("run time", f"{summary['run_seconds']} s"),
    ]
    for name, s in summary["systems"].items():
        built = ", ".join(f"{k}: {v}" for k, v in s["built"].items())
        rows.append((f"system {name}", f"{s['seconds']} s for all questions; answers digest {s['digest']}; {built}"))
    table.rows = [list(r) for r in rows]
    return table


GROWTH_NOTE = (
    "Groei: the same questions asked twice, with only the sample corpus indexed and with the growth folders "
    "indexed next to it. 'Δ' is grown minus sample, over the questions asked in both phases; questions about the "
    "new documents are only asked on the grown corpus and count in its overall figures above the Δ table."
)


def growth_blocks(summary: dict[str, Any]) -> list[Block]:
    """Sample corpus and grown corpus side by side, per metric and per question type, with the difference."""
    grown = summary.get("grown")
    if not grown:
        return []
    blocks: list[Block] = [
        Heading(f"Groei — sample corpus vs grown corpus ({len(grown['index']['documents'])} documents)"),
        Paragraph(GROWTH_NOTE),
        Heading("Grown corpus, all its questions", 3),
    ]
    systems = list(grown["systems"])
    table = Table(["metric", *systems], numeric=set(range(1, len(systems) + 1)))
    for metric, label in LABELS.items():
        table.rows.append([label, *(fmt(grown["systems"][s]["overall"].get(metric), metric) for s in systems)])
    blocks.append(table)
    for system, growth in grown["growth"].items():
        metrics = growth["metrics"]
        groups = list(metrics)
        headers = ["metric"] + [f"{g} (n={metrics[g]['n']}) sample / grown / Δ" for g in groups]
        delta = Table(headers, numeric=set(range(1, len(headers))))
        for metric in metrics["overall"]:
            if metric == "n":
                continue
            row = [LABELS.get(metric, metric)]
            for g in groups:
                c = metrics[g][metric]
                d = "–" if c["delta"] is None else f"{c['delta']:+.3f}"
                row.append(f"{fmt(c['sample'], metric)} / {fmt(c['grown'], metric)} / {d}")
            delta.rows.append(row)
        blocks += [Heading(f"Δ on the same questions — {system}", 3), delta]
        changed = growth["answered_changed"]
        blocks.append(
            Paragraph(
                f"{system}: {len(changed)} answered question(s) changed their answer"
                + (f" ({', '.join(changed[:20])})" if changed else "")
                + f"; {len(growth['answered_now_abstain'])} now abstain."
            )
        )
    refused = grown["index"].get("refused") or []
    if refused:
        blocks.append(Paragraph(f"Refused while growing: {', '.join(refused)}."))
    return blocks


def build_report(run_dir: Path) -> list[Block]:
    """All blocks of the report; writes the plots as PNG files into ``run_dir``."""
    summary, all_records = load_summary(run_dir), load_results(run_dir)
    records = [r for r in all_records if r.get("corpus", "sample") == "sample"]
    systems = list(summary["systems"])
    main = "ours" if "ours" in systems else systems[0]
    s = summary["systems"]
    types = [t for t in TYPES if t in s[main]["by_type"]]
    topics = list(s[main]["by_topic"])
    blocks: list[Block] = [
        Heading("CoP Kennisbank — evaluation report", 1),
        Paragraph(
            f"Systems: {', '.join(systems)}. {summary['config']['questions']['n']} questions"
            f"{_selection(summary['config']['questions'])}."
        ),
        Heading("Summary"),
        summary_table(summary),
        Paragraph(EXPLANATION + (LLM_NOTE if LLM_SYSTEM in systems else "")),
        Heading(f"Per question type — {main}"),
        group_table(s[main]["by_type"], types, "type"),
        Heading("Per question type — all systems (hit@5 / key-fact recall)"),
        cross_table(summary, "by_type", types, "type"),
        Heading(f"Per topic — {main}"),
        group_table(s[main]["by_topic"], topics, "topic"),
        Heading("Per topic — all systems (hit@5 / key-fact recall)"),
        cross_table(summary, "by_topic", topics, "topic"),
        *generation_blocks(summary, records),
        *growth_blocks(summary),
        Heading("Plots"),
        Image(plot_topic_hit5(summary, run_dir / "hit5_by_topic.png"), "hit@5 per topic and system"),
        Image(plot_latency(records, systems, run_dir / "latency.png"), "latency distribution per system"),
        Heading(f"The {WORST_N} worst questions — {main}"),
        Paragraph("Lowest reciprocal rank of the support first, then fewest key facts in the answer."),
        *worst_blocks([r for r in records if r["system"] == main]),
        Heading(f"Abstention errors — {main}"),
        *abstention_blocks(records, main),
        Heading("Run"),
        run_info(summary),
        Paragraph("Reproduce:"),
        Preformatted(reproduce_command(summary, run_dir)),
    ]
    return blocks


def write_report(run_dir: Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` (plots as PNG next to them, embedded in the HTML)."""
    blocks = build_report(run_dir)
    md, page = run_dir / "report.md", run_dir / "report.html"
    md.write_text(to_markdown(blocks), encoding="utf-8")
    page.write_text(to_html(blocks, "CoP Kennisbank — evaluation report"), encoding="utf-8")
    return md, page

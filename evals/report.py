"""``report.md`` and ``report.html`` for a run: ours vs the baselines, breakdowns, plots, worst questions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.document import Block, Heading, Image, Paragraph, Preformatted, Table, to_html, to_markdown
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
    "**All four systems use the same extractive answerer** (ours, same IDF statistics): llama-index's nodes are "
    "converted to `Passage` objects and answered by it, so answer metrics compare retrieval and chunking. "
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
    """Every summary metric for every system, with ours ÷ each baseline."""
    systems = list(summary["systems"])
    baselines = [s for s in systems if s != "ours"] if "ours" in systems else []
    headers = ["metric", *systems, *(f"ours ÷ {b}" for b in baselines)]
    table = Table(headers, numeric=set(range(1, len(headers))))
    for metric, label in LABELS.items():
        values = {s: summary["systems"][s]["overall"].get(metric) for s in systems}
        row = [label, *(fmt(values[s], metric) for s in systems)]
        row += [ratio(values["ours"], values[b]) for b in baselines]
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
            f"{cfg['questions']['path']} — {cfg['questions']['n']} questions, sha256 {cfg['questions']['sha256']}",
        ),
        (
            "index",
            f"{'fresh, ingest ' + str(index.get('ingest_seconds')) + ' s' if index['fresh'] else index['data_dir']}",
        ),
        ("documents", ", ".join(f"{d['doc_id']} ({d['chunks']})" for d in index["documents"])),
        ("versions", ", ".join(f"{k} {v}" for k, v in cfg["versions"].items())),
        ("started", cfg["started_at"]),
        ("run time", f"{summary['run_seconds']} s"),
    ]
    for name, s in summary["systems"].items():
        built = ", ".join(f"{k}: {v}" for k, v in s["built"].items())
        rows.append((f"system {name}", f"{s['seconds']} s for all questions; answers digest {s['digest']}; {built}"))
    table.rows = [list(r) for r in rows]
    return table


def build_report(run_dir: Path) -> list[Block]:
    """All blocks of the report; writes the plots as PNG files into ``run_dir``."""
    summary, records = load_summary(run_dir), load_results(run_dir)
    systems = list(summary["systems"])
    main = "ours" if "ours" in systems else systems[0]
    s = summary["systems"]
    types = [t for t in TYPES if t in s[main]["by_type"]]
    topics = list(s[main]["by_topic"])
    blocks: list[Block] = [
        Heading("CoP Kennisbank — evaluation report", 1),
        Paragraph(f"Systems: {', '.join(systems)}. {summary['config']['questions']['n']} questions."),
        Heading("Summary"),
        summary_table(summary),
        Paragraph(EXPLANATION),
        Heading(f"Per question type — {main}"),
        group_table(s[main]["by_type"], types, "type"),
        Heading("Per question type — all systems (hit@5 / key-fact recall)"),
        cross_table(summary, "by_type", types, "type"),
        Heading(f"Per topic — {main}"),
        group_table(s[main]["by_topic"], topics, "topic"),
        Heading("Per topic — all systems (hit@5 / key-fact recall)"),
        cross_table(summary, "by_topic", topics, "topic"),
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
        Preformatted(
            f"kb eval run {summary['config']['questions']['path']} --out DIR --systems {','.join(systems)}\n"
            f"kb eval compare {run_dir} DIR   # same answers digests = identical answers"
        ),
    ]
    return blocks


def write_report(run_dir: Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` (plots as PNG next to them, embedded in the HTML)."""
    blocks = build_report(run_dir)
    md, page = run_dir / "report.md", run_dir / "report.html"
    md.write_text(to_markdown(blocks), encoding="utf-8")
    page.write_text(to_html(blocks, "CoP Kennisbank — evaluation report"), encoding="utf-8")
    return md, page

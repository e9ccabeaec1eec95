"""The evaluator's folders inside ``KB_DATA_DIR`` and what the Evaluatie tab does with them.

Question files made from feedback live in ``<data>/evals/questions/`` and runs started from the
app in ``<data>/evals/runs/<run>``; both hold (redacted) questions and answers, so they stay in the
private data folder. The tab never takes a path from the browser: a question file or run is
chosen by name from :func:`question_files` / :func:`list_runs` and looked up here again, so a
crafted request can only name something in these lists.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.errors import EvalError
from evals.from_feedback import question_file_name
from evals.paths import EVALS_DIR
from kb.config import Settings
from kb.privacy.private_files import private_dir, tighten

BUNDLED = {  # the project's own question sets, offered next to the evaluator's files
    "questions.jsonl (meegeleverd)": EVALS_DIR / "questions.jsonl",
    "questions_growth.jsonl (meegeleverd)": EVALS_DIR / "questions_growth.jsonl",
}
TAB_SYSTEMS = ("ours",)  # fast: our system on the app's own index


def questions_dir(settings: Settings) -> Path:
    return settings.data_dir / "evals" / "questions"


def runs_dir(settings: Settings) -> Path:
    return settings.data_dir / "evals" / "runs"


def question_file(settings: Settings, name: str) -> Path:
    """The evaluator's question file called ``name`` (checked, inside :func:`questions_dir`)."""
    return private_dir(questions_dir(settings)) / question_file_name(name)


def question_files(settings: Settings) -> dict[str, Path]:
    """Question files the tab may run, by the label shown: the evaluator's first, then the bundled ones."""
    folder = questions_dir(settings)
    own = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    files = {p.name: p for p in own if not p.name.startswith(".")}
    files.update({label: path for label, path in BUNDLED.items() if path.is_file()})
    return files


def resolve_question_file(settings: Settings, label: str | None) -> Path:
    """The path behind a label of :func:`question_files`; anything else is refused."""
    files = question_files(settings)
    if not label or label not in files:
        raise EvalError("Kies een vragenbestand uit de lijst.")
    return files[label]


def list_runs(settings: Settings) -> list[str]:
    """Finished runs (folders with a ``summary.json``), newest first."""
    folder = runs_dir(settings)
    if not folder.is_dir():
        return []
    return sorted((p.name for p in folder.iterdir() if (p / "summary.json").is_file()), reverse=True)


def resolve_run(settings: Settings, name: str | None) -> Path:
    """The folder of a run named by :func:`list_runs`; anything else is refused."""
    if not name or name not in list_runs(settings):
        raise EvalError("Kies een evaluatierun uit de lijst.")
    return runs_dir(settings) / name


def new_run_name(label: str, now: datetime | None = None) -> str:
    """``20261203-110512-feedback``: sorts by time, says which question file."""
    stem = label.split(" ", 1)[0].removesuffix(".jsonl")
    return f"{(now or datetime.now(UTC)).strftime('%Y%m%d-%H%M%S')}-{stem}"


def run_eval(
    settings: Settings,
    label: str,
    embedding: tuple[Any, str] | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> str:
    """Run ``ours`` on the question file ``label`` against the app's index; returns the run's name.

    Writes ``results.jsonl``, ``summary.json`` and the report into ``runs_dir/<run>`` (private).
    """
    from evals.report import write_report
    from evals.runner import RunConfig, run_suite

    path = resolve_question_file(settings, label)
    base = name = new_run_name(label)
    for n in range(2, 100):  # two runs in the same second get their own folders
        if not (runs_dir(settings) / name).exists():
            break
        name = f"{base}-{n}"
    out_dir = private_dir(runs_dir(settings)) / name
    config = RunConfig(
        questions_path=path,
        out_dir=out_dir,
        systems=TAB_SYSTEMS,
        data_dir=settings.data_dir,
        corpus_dir=settings.corpus_dir,
        embedding=settings.embedding,
    )

    def told(done: int, total: int, system: str) -> None:
        if progress is not None:
            progress(done / max(total, 1), f"{system}: vraag {done + 1} van {total}")

    run_suite(config, embedding=embedding, progress=told)
    if progress is not None:
        progress(1.0, "Rapport maken …")
    write_report(out_dir)
    tighten(out_dir)
    return name


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def summary_markdown(run_dir: Path) -> str:
    """The run in a few lines (Dutch): the main metrics of each system and every question's outcome."""
    from evals.rundir import load_results, load_summary

    summary, records = load_summary(run_dir), load_results(run_dir)
    config = summary["config"]
    lines = [
        f"**Run {run_dir.name}** — {config['questions']['n']} vraag/vragen uit "
        f"`{Path(config['questions']['path']).name}`, gestart {config['started_at']}, "
        f"{summary['run_seconds']} s.",
        "",
        "| systeem | hit@5 | MRR | kernfeiten | bronprecisie | onthouden P / R | p50 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in summary["systems"].items():
        o = s["overall"]
        lines.append(
            f"| {name} | {_fmt(o.get('hit@5'))} | {_fmt(o.get('mrr'))} | {_fmt(o.get('key_fact_recall'))} | "
            f"{_fmt(o.get('citation_precision'))} | {_fmt(o.get('abstention_precision'))} / "
            f"{_fmt(o.get('abstention_recall'))} | {_fmt(o.get('latency_p50_ms'))} |"
        )
    lines += ["", "| vraag | type | in top 5 | kernfeiten | ontbreekt | onthouden |", "|---|---|---|---:|---|---|"]
    for r in records[:50]:
        m = r.get("metrics", {})
        hit = "–" if m.get("hit@5") is None else "ja" if m.get("hit@5") else "nee"
        lines.append(
            f"| {r['id']} | {r['type']} | {hit} | {_fmt(m.get('key_fact_recall'))} | "
            f"{', '.join(m.get('missing_facts') or []) or '–'} | {'ja' if m.get('abstained') else 'nee'} |"
        )
    if len(records) > 50:
        lines.append(f"\n… en nog {len(records) - 50} vragen: zie het rapport hieronder.")
    return "\n".join(lines)


def report_iframe(run_dir: Path) -> str:
    """``report.html`` in a sandboxed frame: no scripts, no access to the app's page or cookie."""
    page = run_dir / "report.html"
    if not page.is_file():
        return "<p class='kb-empty'>Deze run heeft geen report.html.</p>"
    return (
        f"<iframe id='kb-eval-report-frame' title='Evaluatierapport {html.escape(run_dir.name)}' sandbox='' "
        f"style='width:100%;height:70vh;border:1px solid var(--border-color-primary);border-radius:8px' "
        f'srcdoc="{html.escape(page.read_text(encoding="utf-8"), quote=True)}"></iframe>'
    )


def compare_markdown(settings: Settings, run_a: str | None, run_b: str | None) -> str:
    """``kb eval compare`` of two runs chosen from :func:`list_runs`, as Markdown."""
    from evals.compare import compare_runs

    if run_a and run_a == run_b:
        raise EvalError("Kies twee verschillende runs om te vergelijken.")
    return compare_runs(resolve_run(settings, run_a), resolve_run(settings, run_b))

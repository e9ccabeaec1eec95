"""``kb eval``: run the evaluation suite, render reports, compare runs, gate on thresholds.

Also ``python -m evals ...``. This module is imported by every ``kb`` invocation, so it
imports only click here; the runner, models and plotting are imported inside the commands.
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path

import click

from evals.paths import CORPUS, EVALS_DIR
from kb.clicommon import FriendlyGroup
from kb.offline import apply_offline_env


@click.group("eval", cls=FriendlyGroup)
def eval_group() -> None:
    """Evaluatie: vragenset draaien tegen ons systeem en de baselines, rapport, vergelijken, drempels."""
    apply_offline_env()  # an entry point of its own (python -m evals)


def _log(message: str) -> None:
    click.echo(message, err=True)


@eval_group.command("run")
@click.argument("questions", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    envvar="KB_EVAL_OUT",
    help="Map voor results.jsonl, summary.json en het rapport (KB_EVAL_OUT).",
)
@click.option(
    "--systems",
    default=None,
    envvar="KB_EVAL_SYSTEMS",
    help="Komma-gescheiden: ours, ours-noreader, ours-llm, bm25, dense, rrf, rrf-reader, llamaindex (KB_EVAL_SYSTEMS). Standaard alle; "
    "ours-llm alleen als er een taalmodel is (KB_LLM of --local-llm).",
)
@click.option(
    "--local-llm",
    "use_local_llm",
    is_flag=True,
    envvar="KB_EVAL_LOCAL_LLM",
    help="Start het kleine lokale taalmodel (extra 'local-llm') voor ours-llm zolang de run duurt, "
    "in plaats van KB_LLM (KB_EVAL_LOCAL_LLM).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    envvar="KB_EVAL_LIMIT",
    help="Hoogstens zoveel vragen: een vaste steekproef naar vraagtype (evenredig, elk type minstens één); "
    "voor snelle runs met een taalmodel (KB_EVAL_LIMIT).",
)
@click.option(
    "--ids",
    default=None,
    envvar="KB_EVAL_IDS",
    help="Alleen deze vragen, komma-gescheiden, bv. q001,q091 (KB_EVAL_IDS).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    envvar="KB_EVAL_DATA_DIR",
    help="Bestaande index gebruiken in plaats van het corpus vers te indexeren (KB_EVAL_DATA_DIR). "
    "KB_DATA_DIR wordt bewust niet gebruikt.",
)
@click.option(
    "--corpus",
    "corpus_dir",
    type=click.Path(path_type=Path),
    default=None,
    envvar="KB_EVAL_CORPUS",
    help="Corpusmap (standaard: corpus/ van dit project) (KB_EVAL_CORPUS).",
)
@click.option(
    "--embedding",
    default="e5",
    show_default=True,
    envvar="KB_EVAL_EMBEDDING",
    help="Embeddingmodel voor alle systemen (KB_EVAL_EMBEDDING).",
)
@click.option(
    "-k",
    "k",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    envvar="KB_EVAL_K",
    help="Passages per vraag (KB_EVAL_K).",
)
@click.option(
    "--grow",
    "grow",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Groeitest: stel dezelfde vragen nog eens met de documenten uit deze map naast het corpus "
    "(herhaalbaar); het rapport zet beide naast elkaar.",
)
@click.option(
    "--split",
    type=click.Choice(["dev", "test", "all"]),
    default="all",
    show_default=True,
    envvar="KB_EVAL_SPLIT",
    help="Alleen de dev- of test-vragen uit evals/split.json (KB_EVAL_SPLIT). Afstemmen op dev, rapporteren op test.",
)
@click.option(
    "--keep-index",
    is_flag=True,
    envvar="KB_EVAL_KEEP_INDEX",
    help="De verse index in de uitvoermap laten staan (KB_EVAL_KEEP_INDEX).",
)
def run_command(
    questions: tuple[Path, ...],
    out_dir: Path,
    systems: str,
    data_dir: Path | None,
    corpus_dir: Path | None,
    embedding: str,
    k: int,
    keep_index: bool,
    use_local_llm: bool,
    limit: int | None,
    ids: str | None,
    grow: tuple[Path, ...],
    split: str,
) -> None:
    """Draai de vragen uit QUESTIONS door elk systeem; schrijft resultaten, samenvatting en rapport."""
    from evals.llm_setup import LLM_SYSTEM
    from evals.report import write_report
    from evals.runner import RunConfig, choose_systems, run_suite

    requested = _split(systems) if systems is not None else None
    with ExitStack() as stack:
        llm = None
        if requested is None or LLM_SYSTEM in requested:
            llm = _open_llm(stack, use_local_llm)
        elif use_local_llm:
            _log(f"--local-llm wordt niet gebruikt: {LLM_SYSTEM} staat niet in --systems.")
        config = RunConfig(
            questions_path=tuple(questions),
            out_dir=out_dir,
            systems=choose_systems(requested, llm is not None),
            data_dir=data_dir,
            corpus_dir=corpus_dir or CORPUS,
            embedding=embedding,
            k=k,
            keep_index=keep_index,
            llm=llm,
            ids=tuple(_split(ids or "")),
            limit=limit,
            split=None if split == "all" else split,
            grow=tuple(grow),
        )
        summary = run_suite(config, log=_log)
    md, page = write_report(out_dir)
    click.echo(_headline(summary))
    click.echo(f"Rapport: {md} en {page} ({summary['run_seconds']} s)")


def _split(values: str) -> list[str]:
    return [v.strip() for v in values.split(",") if v.strip()]


def _open_llm(stack: ExitStack, use_local_llm: bool):
    """The language model for ours-llm: the local one (started on ``stack``), else ``KB_LLM...``, else None."""
    from dataclasses import fields

    from evals.llm_setup import llm_from_settings, local_llm
    from kb.config import Settings

    # Only the KB_LLM... settings count: the eval's index and answers do not follow KB_DATA_DIR etc.
    configured = Settings.from_env()
    settings = Settings().with_(
        **{f.name: getattr(configured, f.name) for f in fields(Settings) if f.name.startswith("llm")}
    )
    if use_local_llm:
        return stack.enter_context(local_llm(settings, _log))
    return llm_from_settings(settings)


def _system_line(name: str, s: dict) -> str:
    from evals.report import fmt

    o = s["overall"]
    return (
        f"{name:<11} hit@5 {fmt(o['hit@5'])}  MRR {fmt(o['mrr'])}  key-facts {fmt(o['key_fact_recall'])}  "
        f"citations {fmt(o['citation_precision'])}  abstention P/R {fmt(o['abstention_precision'])}/"
        f"{fmt(o['abstention_recall'])}  p50 {fmt(o['latency_p50_ms'], '_ms')} ms  [{s['digest']}]"
    )


def _headline(summary: dict) -> str:
    from evals.report import fmt

    lines = []
    for name, s in summary["systems"].items():
        lines.append(_system_line(name, s))
        if g := s.get("generation"):
            lines.append(
                f"{'':<11} generated {fmt(g['share_llm'])}  fallback {fmt(g['share_fallback'])}  "
                f"sentences kept {g['n_kept']}/{g['n_sentences']}  "
                f"shown with a verified citation {fmt(g['shown_with_citation'])}"
            )
    if grown := summary.get("grown"):
        lines.append(f"Gegroeid corpus ({len(grown['index']['documents'])} documenten):")
        lines.extend(_system_line(name, s) for name, s in grown["systems"].items())
        for name, g in grown["growth"].items():
            deltas = [(m, v["delta"]) for m, v in g["metrics"]["overall"].items() if isinstance(v, dict)]
            worst = min(
                ((m, d) for m, d in deltas if d is not None and m != "latency_p50_ms"),
                key=lambda md: md[1],
                default=("-", 0.0),
            )
            lines.append(
                f"{name:<11} groei: grootste daling {worst[0]} {worst[1]:+.3f}; "
                f"{len(g['answered_changed'])} beantwoorde vragen veranderd, {len(g['answered_now_abstain'])} nu onthouden"
            )
    return "\n".join(lines)


@eval_group.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
def report_command(run_dir: Path) -> None:
    """Maak report.md en report.html (opnieuw) uit een bestaande run."""
    from evals.report import write_report

    md, page = write_report(run_dir)
    click.echo(f"Rapport: {md} en {page}")


@eval_group.command("compare")
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option(
    "--system",
    "systems",
    multiple=True,
    envvar="KB_EVAL_COMPARE_SYSTEMS",
    help="Alleen dit systeem (herhaalbaar); standaard alle systemen die in beide runs zitten.",
)
def compare_command(run_a: Path, run_b: Path, systems: tuple[str, ...]) -> None:
    """Vergelijk RUN_B met RUN_A: verbeteringen, achteruitgang per vraag en verandering per metriek."""
    from evals.compare import compare_runs

    text = compare_runs(run_a, run_b, list(systems) or None)
    click.echo(text)
    (run_b / "compare.md").write_text(text, encoding="utf-8")
    click.echo(f"Geschreven: {run_b / 'compare.md'}", err=True)


@eval_group.command("gate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--thresholds",
    "thresholds_path",
    type=click.Path(path_type=Path),
    default=EVALS_DIR / "thresholds.json",
    show_default=True,
    envvar="KB_EVAL_THRESHOLDS",
    help="Drempelbestand met minimums (KB_EVAL_THRESHOLDS).",
)
def gate_command(run_dir: Path, thresholds_path: Path) -> None:
    """Controleer een run tegen de drempels; exit 1 met de lijst van metrieken onder hun minimum."""
    from evals.gate import check_gate, load_thresholds
    from evals.rundir import load_summary

    thresholds = load_thresholds(thresholds_path)
    failures, warnings = check_gate(load_summary(run_dir), thresholds)
    for warning in warnings:
        click.echo(f"Let op: {warning}", err=True)
    system = thresholds.get("system", "ours")
    if failures:
        click.echo(f"Gate FAILED for '{system}' ({len(failures)} problem(s)):")
        for line in failures:
            click.echo(f"  - {line}")
        sys.exit(1)
    click.echo(f"Gate passed for '{system}': all {len(thresholds['minimums'])} metrics at or above their minimum.")


@eval_group.command("thresholds")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--margin",
    type=float,
    default=0.03,
    show_default=True,
    envvar="KB_EVAL_MARGIN",
    help="Marge onder de gemeten waarde (minstens één vraag) (KB_EVAL_MARGIN).",
)
@click.option(
    "--write",
    "write_path",
    type=click.Path(path_type=Path),
    default=None,
    is_flag=False,
    flag_value=str(EVALS_DIR / "thresholds.json"),
    help="Schrijf naar dit bestand (zonder waarde: evals/thresholds.json).",
)
def thresholds_command(run_dir: Path, margin: float, write_path: Path | None) -> None:
    """Leid minimums af uit een run (gemeten waarde min marge) en toon of schrijf ze."""
    from evals.gate import derive_thresholds
    from evals.rundir import load_summary

    text = json.dumps(derive_thresholds(load_summary(run_dir), margin), ensure_ascii=False, indent=2) + "\n"
    if write_path:
        Path(write_path).write_text(text, encoding="utf-8")
        click.echo(f"Geschreven: {write_path}", err=True)
    else:
        click.echo(text, nl=False)

"""The ``kb`` command line: ingest, ask, docs, privacy, feedback, gaps, export/import, serve."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from pathlib import Path

import click

from kb.clicommon import FriendlyGroup
from kb.config import Settings
from kb.errors import KBError
from kb.offline import apply_offline_env

MODES_NL = {
    "extractive": "letterlijke citaten",
    "llm": "geschreven door het taalmodel, gecontroleerd op de bronnen",
    "llm-fallback": "letterlijke citaten; het taalmodel viel af",
}


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def _open_kb(ctx: click.Context, log_questions: bool = False):
    """The knowledge base of this command; ``log_questions``: its questions go into the question log."""
    from kb.service import build_kb

    if "kb" not in ctx.obj:
        ctx.obj["kb"] = build_kb(_settings(ctx), log_questions=log_questions)
    return ctx.obj["kb"]


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"'{item}' is geen sleutel=waarde.", param_hint=what)
        out[key.strip().lower()] = value.strip()
    return out


@click.group(cls=FriendlyGroup)
@click.option(
    "--data-dir", envvar="KB_DATA_DIR", type=click.Path(path_type=Path), help="Map met de index (KB_DATA_DIR)."
)
@click.option(
    "--embedding", envvar="KB_EMBEDDING", help="Embeddingmodel: e5, minilm of st:<naam-of-pad> (KB_EMBEDDING)."
)
@click.option("--chroma-url", envvar="KB_CHROMA_URL", help="Chroma-server in plaats van de lokale map (KB_CHROMA_URL).")
@click.option(
    "--local-llm",
    is_flag=True,
    help="Start het kleine lokale taalmodel (Gemma 3 270M, extra 'local-llm') en laat het de antwoorden schrijven.",
)
@click.pass_context
def main(
    ctx: click.Context, data_dir: Path | None, embedding: str | None, chroma_url: str | None, local_llm: bool
) -> None:
    """CoP Kennisbank: doorzoek handreikingen en CoP-interviews over de Wet inburgering 2021."""
    apply_offline_env()  # before any command imports chromadb, gradio or transformers
    from kb.privacy.private_files import private_umask

    private_umask()  # the index, feedback and lock files are for this account only
    settings = Settings.from_env()
    changes = {k: v for k, v in {"data_dir": data_dir, "embedding": embedding, "chroma_url": chroma_url}.items() if v}
    settings = settings.with_(**changes) if changes else settings
    logging.basicConfig(
        level=getattr(logging, settings.log_level, logging.WARNING), format="%(levelname)s %(name)s: %(message)s"
    )
    if local_llm:
        from kb.answer.llm.local import local_model_server, local_settings

        click.echo("Lokaal taalmodel starten …", err=True)
        settings = local_settings(settings, ctx.with_resource(local_model_server()))
    ctx.obj = {"settings": settings}


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--meta",
    "meta",
    multiple=True,
    help="Metadata voor alle bestanden, bv. --meta kind=handreiking --meta cop=Utrecht.",
)
@click.option("--reset", is_flag=True, help="Verwijder eerst de hele index (nodig na het wisselen van embeddingmodel).")
@click.option("--json", "as_json", is_flag=True, help="Schrijf het resultaat als JSON.")
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...], meta: tuple[str, ...], reset: bool, as_json: bool) -> None:
    """Voeg documenten toe (standaard: de map corpus/). Ongewijzigde bestanden worden overgeslagen."""
    settings = _settings(ctx)
    if reset:
        from kb.index.locking import ingest_lock
        from kb.index.store import drop_collection

        with ingest_lock(settings):
            dropped = drop_collection(settings)
        if dropped:
            click.echo("De bestaande index is verwijderd; alles wordt opnieuw opgebouwd.", err=True)
    kb = _open_kb(ctx)
    targets = list(paths) or [settings.corpus_dir]
    missing = [p for p in targets if not p.exists()]
    for path in missing:
        click.echo(f"Niet gevonden: {path}", err=True)

    def progress(fraction: float, message: str) -> None:
        if not as_json and sys.stderr.isatty():
            click.echo(f"\r[{fraction:4.0%}] {message[:70]:<70}", err=True, nl=False)

    report = kb.ingest([p for p in targets if p.exists()], _pairs(meta, "--meta"), progress)
    if as_json:
        data = report.to_dict()
        for row, result in zip(data["results"], report.results):
            row["path"] = str(Path(result.path).with_name(result.name))  # no personal data from a file name
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if sys.stderr.isatty():
        click.echo("", err=True)
    for result in report.results:
        line = f"{result.status_nl:>22}  {result.name}"
        if result.doc_id:
            line += f"  → {result.doc_id} ({result.chunks} passages)"
        click.echo(line)
        if result.reason:
            click.echo(f"{'':>24}{result.reason}")
    click.echo(report.summary_nl())
    if missing or (report.results and report.count("refused") == len(report.results)):
        sys.exit(1)


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Schrijf het antwoord als één JSON-object.")
@click.option("--history", multiple=True, help="Eerdere vraag in het gesprek (herhaalbaar), voor vervolgvragen.")
@click.option("--filter", "filters", multiple=True, help="Filter, bv. --filter kind=handreiking, cop=..., year=2023.")
@click.option("-k", "k", type=click.IntRange(1, 100), default=None, help="Aantal op te halen passages (standaard 10).")
@click.option(
    "--log",
    "log_question",
    is_flag=True,
    envvar="KB_ASK_LOG",
    help="Zet de vraag (zonder persoonsgegevens) in het vragenlog voor 'kb gaps'; KB_QUESTION_LOG=off gaat voor "
    "(KB_ASK_LOG).",
)
@click.pass_context
def ask(
    ctx: click.Context,
    question: str,
    as_json: bool,
    history: tuple[str, ...],
    filters: tuple[str, ...],
    k: int | None,
    log_question: bool,
) -> None:
    """Stel een vraag; het antwoord citeert de bronnen met [1], [2], ..."""
    kb = _open_kb(ctx, log_questions=log_question)
    answer = kb.ask(question, history=history, filters=_pairs(filters, "--filter"), k=k)
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    if answer.standalone_question:
        click.echo(f"(gezocht als: {answer.standalone_question})")
    click.echo(answer.text)
    if answer.notice:
        click.echo(f"\nLet op: {answer.notice}")
    dropped = [c for c in answer.claims if not c.kept]
    if dropped and answer.mode == "llm":
        click.echo("Weggelaten zinnen:")
        for claim in dropped:
            click.echo(f"  – {claim.text} ({claim.reason})")
    if answer.citations:
        from kb.validity import format_date_nl

        click.echo("\nBronnen:")
        for c in answer.citations:
            click.echo(f"  [{c.n}] {c.title} — {c.publisher}, {format_date_nl(c.date)} — {c.locator}")
            click.echo(f"      “{c.quote}”")
            if c.caveat:
                click.echo(f"      {c.caveat}")
    click.echo(f"\n({answer.latency_ms:.0f} ms, {MODES_NL.get(answer.mode, answer.mode)})", err=True)


@main.group()
def docs() -> None:
    """Beheer de geïndexeerde documenten."""


@docs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Als JSON.")
@click.pass_context
def docs_list(ctx: click.Context, as_json: bool) -> None:
    """Toon alle documenten in de index."""
    documents = _open_kb(ctx.find_root()).documents()
    if as_json:
        from dataclasses import asdict

        click.echo(json.dumps([asdict(d) for d in documents], ensure_ascii=False, indent=2))
        return
    if not documents:
        click.echo("De index is leeg. Voeg documenten toe met: kb ingest [MAP-OF-BESTAND ...]")
        return
    for d in documents:
        flag = "" if d.complete else "  (onvolledig: draai kb ingest opnieuw)"
        click.echo(f"{d.doc_id:<45} {d.chunks:>4} passages  {d.kind:<14} {d.date:<10} {d.title}{flag}")


@docs.command("remove")
@click.argument("doc_id")
@click.pass_context
def docs_remove(ctx: click.Context, doc_id: str) -> None:
    """Verwijder een document (alle passages) uit de index."""
    removed = _open_kb(ctx.find_root()).remove(doc_id)
    if not removed:
        click.echo(f"Geen document met id '{doc_id}'. Zie 'kb docs list'.", err=True)
        sys.exit(1)
    click.echo(f"'{doc_id}' verwijderd ({removed} passages).")


@main.group()
def privacy() -> None:
    """Persoonsgegevens (AVG): zoek ze in de index, ruim oude feedback op."""


@privacy.command("scan")
@click.option("--json", "as_json", is_flag=True, help="Als JSON.")
@click.pass_context
def privacy_scan(ctx: click.Context, as_json: bool) -> None:
    """Toon passages en metadata in de index die nog persoonsgegevens bevatten (soort en plaats, nooit de waarde)."""
    from dataclasses import asdict

    from kb.erasure import scan_index

    findings = scan_index(_open_kb(ctx.find_root()).store)
    if as_json:
        click.echo(json.dumps([asdict(f) for f in findings], ensure_ascii=False, indent=2))
        return
    if not findings:
        click.echo("Geen persoonsgegevens gevonden in de geïndexeerde passages en metadata.")
        return
    for f in findings:
        click.echo(f"{f.doc_id:<45} {f.chunk or '-':<30} {f.place:<22} {f.label}")
    documents = sorted({f.doc_id for f in findings})
    click.echo(
        f"\n{len(findings)} vondst(en) in {len(documents)} document(en). Verwijder een document met "
        "'kb docs remove ID' en voeg een geanonimiseerde versie opnieuw toe (met KB_PII_POLICY=redact "
        "worden deze gegevens bij het opnieuw indexeren onleesbaar gemaakt)."
    )
    sys.exit(1)


@privacy.command("purge")
@click.pass_context
def privacy_purge(ctx: click.Context) -> None:
    """Verwijder feedback ouder dan KB_FEEDBACK_DAYS (en maak persoonsgegevens in de rest onleesbaar) en
    vragen in het vragenlog ouder dan KB_QUESTION_LOG_DAYS."""
    from kb.erasure import purge

    result = purge(_settings(ctx.find_root()))
    kept = "zonder termijn (KB_FEEDBACK_DAYS=0)" if not result.days else f"{result.days} dagen"
    click.echo(
        f"Feedback: {result.deleted} beoordeling(en) verwijderd, {result.redacted} onleesbaar gemaakt "
        f"(bewaartermijn {kept})."
    )
    kept = "zonder termijn (KB_QUESTION_LOG_DAYS=0)" if not result.question_days else f"{result.question_days} dagen"
    click.echo(f"Vragenlog: {result.questions_deleted} vraag/vragen verwijderd (bewaartermijn {kept}).")


@main.group()
def feedback() -> None:
    """Beoordelingen (👍/👎) uit de chat bekijken en omzetten in evaluatievragen."""


@feedback.command("list")
@click.option(
    "--negative", is_flag=True, envvar="KB_FEEDBACK_NEGATIVE", help="Alleen 👎-beoordelingen (KB_FEEDBACK_NEGATIVE)."
)
@click.option("--json", "as_json", is_flag=True, envvar="KB_FEEDBACK_JSON", help="Als JSON (KB_FEEDBACK_JSON).")
@click.pass_context
def feedback_list(ctx: click.Context, negative: bool, as_json: bool) -> None:
    """Toon de beoordelingen, nieuwste eerst: id, vraag, antwoord, bronnen en de passages om uit te kiezen."""
    from kb.feedback import feedback_path, list_feedback

    items = list_feedback(feedback_path(_settings(ctx.find_root())), negative)
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("Er is (nog) geen feedback." if not negative else "Er is geen 👎-feedback.")
        return
    for item in items:
        rating = {"up": "👍", "down": "👎"}.get(item.get("rating", ""), item.get("rating", ""))
        click.echo(f"{item['id']}  {str(item.get('timestamp', ''))[:16].replace('T', ' ')}  {rating}")
        for earlier in item.get("history", []):
            click.echo(f"  eerder: {earlier}")
        click.echo(f"  vraag: {item.get('question', '')}")
        click.echo(f"  antwoord: {' '.join(str(item.get('answer', '')).split())[:300]}")
        if item.get("comment"):
            click.echo(f"  toelichting: {item['comment']}")
        passages = [p for p in item.get("passages", []) if p.get("quote")]
        for n, p in enumerate(passages, 1):
            mark = f"bron [{p['cited']}]" if p.get("cited") else "opgehaald"
            click.echo(f"  passage {n} ({mark}, {p['doc_id']}): “{p['quote']}”")
        if not passages and item.get("doc_ids"):
            click.echo(f"  bronnen: {', '.join(item['doc_ids'])}")
        click.echo("")


@feedback.command("to-question")
@click.argument("feedback_id")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="KB_FEEDBACK_QUESTIONS",
    help="Vragenbestand (JSONL) waaraan de vraag wordt toegevoegd; wordt aangemaakt (KB_FEEDBACK_QUESTIONS).",
)
@click.option(
    "--question", default=None, help="De vraag zoals hij in de evaluatie komt (standaard: de gestelde vraag)."
)
@click.option(
    "--key-fact",
    "key_facts",
    multiple=True,
    help="Kernfeit dat een goed antwoord bevat, 1–4 woorden uit de passage; herhaalbaar, a|b voor alternatieven.",
)
@click.option(
    "--passage",
    "passages",
    multiple=True,
    type=click.IntRange(min=1),
    help="Nummer van de verwachte passage uit 'kb feedback list' (herhaalbaar; standaard de geciteerde).",
)
@click.option(
    "--type",
    "kind",
    type=click.Choice(["factual", "paraphrased", "multi-passage", "follow-up", "unanswerable"]),
    default=None,
    help="Vraagtype (standaard follow-up als er eerdere vragen waren, anders factual).",
)
@click.option("--topic", default="feedback", show_default=True, help="Onderwerp (topic) van de vraag.")
@click.pass_context
def feedback_to_question(
    ctx: click.Context,
    feedback_id: str,
    out: Path,
    question: str | None,
    key_facts: tuple[str, ...],
    passages: tuple[int, ...],
    kind: str | None,
    topic: str,
) -> None:
    """Maak van beoordeling FEEDBACK_ID een evaluatievraag en voeg die toe aan --out."""
    from kb.feedback import feedback_path, find_feedback

    if importlib.util.find_spec("evals") is None:
        raise click.ClickException("Hiervoor is het pakket 'evals' nodig (in de checkout van dit project).")
    from evals.from_feedback import append_question, draft_question, question_line

    item = find_feedback(feedback_path(_settings(ctx.find_root())), feedback_id)
    if item is None:
        raise click.ClickException(f"Geen feedback met id '{feedback_id}'. Zie 'kb feedback list'.")
    drafted = draft_question(item, question, key_facts, list(passages) or None, kind, topic)
    count = append_question(out, drafted)
    click.echo(question_line(drafted), nl=False)
    click.echo(
        f"Toegevoegd aan {out} ({count} vraag/vragen). Draai: kb eval run {out} --systems ours --out RUN", err=True
    )


GAP_KINDS_CLI = ("abstained", "weak", "down")  # kb.gaps.GAP_KINDS, without importing it for every command


@main.command()
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    envvar="KB_GAPS_SINCE",
    default=None,
    help="Begin van de periode, JJJJ-MM-DD (standaard 90 dagen terug); de trend vergelijkt met de even lange "
    "periode ervoor (KB_GAPS_SINCE).",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    envvar="KB_GAPS_UNTIL",
    default=None,
    help="Einde van de periode, JJJJ-MM-DD, die dag niet meegerekend (standaard: nu) (KB_GAPS_UNTIL).",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(GAP_KINDS_CLI),
    envvar="KB_GAPS_KIND",
    help="Alleen deze soort (herhaalbaar): abstained (geen antwoord), weak (zwak antwoord), down (👎); "
    "standaard alle drie (KB_GAPS_KIND).",
)
@click.option("--cop", default="", envvar="KB_GAPS_COP", help="Alleen vragen gesteld met dit CoP-filter (KB_GAPS_COP).")
@click.option(
    "--json", "as_json", is_flag=True, envvar="KB_GAPS_JSON", help="Schrijf het rapport als JSON (KB_GAPS_JSON)."
)
@click.option(
    "--markdown",
    "markdown_out",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="KB_GAPS_MARKDOWN",
    default=None,
    help="Schrijf het rapport ook als Markdown naar dit bestand, voor een CoP-bijeenkomst (KB_GAPS_MARKDOWN).",
)
@click.option(
    "--csv",
    "csv_out",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="KB_GAPS_CSV",
    default=None,
    help="Schrijf de thema's ook als CSV naar dit bestand (KB_GAPS_CSV).",
)
@click.option(
    "--no-recheck",
    is_flag=True,
    envvar="KB_GAPS_NO_RECHECK",
    help="Stel de vragen van de thema's niet opnieuw aan de kennisbank (sneller; geen 'nu beantwoord') "
    "(KB_GAPS_NO_RECHECK).",
)
@click.pass_context
def gaps(
    ctx: click.Context,
    since,
    until,
    kinds: tuple[str, ...],
    cop: str,
    as_json: bool,
    markdown_out: Path | None,
    csv_out: Path | None,
    no_recheck: bool,
) -> None:
    """Kennislacunes: thema's van vragen die de kennisbank niet (goed) kon beantwoorden, uit het vragenlog."""
    from datetime import UTC

    from kb.gaps import build_gap_report, report_csv, report_markdown
    from kb.questions_log import QuestionLog, question_log_path

    settings = _settings(ctx)
    path = question_log_path(settings)
    if not path.exists():
        off = " (KB_QUESTION_LOG=off)" if settings.question_log == "off" else ""
        raise click.ClickException(
            f"Er is nog geen vragenlog{off}. Vragen uit de chat-app komen er vanzelf in; vanaf de "
            "opdrachtregel met 'kb ask --log \"...\"'."
        )
    if since and until and until <= since:
        raise click.BadParameter("--until moet na --since liggen.", param_hint="--until")
    log = QuestionLog(path, settings.question_log_days)
    log.purge()
    report = build_gap_report(
        log,
        _open_kb(ctx),
        since=since.replace(tzinfo=UTC) if since else None,
        until=until.replace(tzinfo=UTC) if until else None,
        kinds=kinds or GAP_KINDS_CLI,
        cop=cop,
        recheck=not no_recheck,
    )
    for target, text in ((markdown_out, report_markdown), (csv_out, report_csv)):
        if target is not None:
            target.write_text(text(report), encoding="utf-8")
            click.echo(f"Geschreven: {target}", err=True)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    _print_gaps(report)


def _print_gaps(report) -> None:
    from kb.gaps import STATUS_ANSWERED
    from kb.gaps.export import themes_nl

    click.echo(
        f"{report.since:%Y-%m-%d} – {report.until:%Y-%m-%d}: {report.questions} vragen, {report.gaps} zonder goed "
        f"antwoord, {themes_nl(len(report.themes))}, {report.loose} losse vragen."
    )
    for theme in report.themes:
        status = theme.status
        if theme.status == STATUS_ANSWERED and theme.answered_by:
            status += f" door {theme.answered_by.doc_id}"
            if theme.answered_since:
                status += f" (sinds {theme.answered_since:%Y-%m-%d})"
        click.echo(f"\n{theme.label}  [{theme.size} vragen, trend {theme.trend}, {status}]")
        for question in theme.examples:
            click.echo(f"  – {question}")
        if theme.documents:
            click.echo(f"  dichtstbij: {', '.join(d.doc_id for d in theme.documents)}")


@main.command("export")
@click.argument("target", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def export_cmd(ctx: click.Context, target: Path) -> None:
    """Schrijf de hele index (passages, metadata, embeddings, manifest) naar een .tar.gz."""
    from kb.index.backup import export_index

    manifest = export_index(_open_kb(ctx).store, target)
    click.echo(f"{len(manifest['documents'])} documenten ({manifest['passages']} passages) geëxporteerd naar {target}.")


@main.command("import")
@click.argument("source", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.pass_context
def import_cmd(ctx: click.Context, source: Path) -> None:
    """Laad een export in deze index (zelfde documenten worden vervangen, andere blijven)."""
    from kb.index.backup import import_index
    from kb.index.locking import ingest_lock

    kb = _open_kb(ctx)
    with ingest_lock(_settings(ctx)):
        result = import_index(kb.store, source)
    click.echo(f"{result['documents']} documenten ({result['passages']} passages) geïmporteerd uit {source.name}.")


@main.command()
@click.option("--host", envvar="KB_HOST", default="127.0.0.1", show_default=True, help="Adres (KB_HOST).")
@click.option(
    "--port",
    envvar=["KB_PORT", "GRADIO_SERVER_PORT"],
    type=int,
    default=7860,
    show_default=True,
    help="Poort (KB_PORT).",
)
@click.option(
    "--ingest/--no-ingest", default=True, help="Eerst de corpusmap indexeren (ongewijzigde bestanden kosten niets)."
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, ingest: bool) -> None:
    """Start de chat-app in de browser."""
    from kb.chat.app import evaluator_account
    from kb.chat.auth import AdminCredentials

    try:
        admin = AdminCredentials.from_settings(
            _settings(ctx)
        )  # a too short password stops here, before any model loads
        evaluator_account(_settings(ctx))
    except KBError as exc:
        raise click.ClickException(str(exc)) from None
    kb = _open_kb(ctx, log_questions=True)  # every chat question goes into the question log (KB_QUESTION_LOG)
    if importlib.util.find_spec("gradio") is None:  # an install without the chat app
        _terminal_chat(kb)
        return
    from kb.chat.app import launch

    launch(kb, host=host, port=port, ingest_corpus=ingest, admin=admin)


def _terminal_chat(kb) -> None:
    """Question-and-answer in the terminal (used when the chat app is not installed)."""
    click.echo("Stel uw vraag (leeg = stoppen). Vervolgvragen gebruiken de vorige vragen.")
    history: list[str] = []
    while True:
        try:
            question = click.prompt("Vraag", default="", show_default=False).strip()
        except (EOFError, click.Abort):
            return
        if not question:
            return
        try:
            answer = kb.ask(question, history=history)
        except KBError as exc:
            click.echo(str(exc))
            continue
        click.echo(answer.text)
        for c in answer.citations:
            click.echo(f"  [{c.n}] {c.title} — {c.locator}")
        history.append(question)


def _register_optional_commands() -> None:
    """``kb eval ...`` lives in the evals package (kept out of the core).

    Only a missing package is skipped; an error inside it surfaces instead of silently
    removing the command.
    """
    if importlib.util.find_spec("evals") is None:
        return
    from evals.cli import eval_group

    main.add_command(eval_group, "eval")


_register_optional_commands()


if __name__ == "__main__":
    main()

"""The Kennislacunes tab for CoP-trekkers and evaluators: themes of the questions the knowledge base
could not answer, a chart of them over time, exports for a CoP meeting, and draft eval questions.

Behind the login of :mod:`kb.chat.auth` (role ``evaluator``, or the admin). Every handler is a
module-level function that first checks the cookie of its own request (:func:`kb.chat.login.admin_session`),
because each Gradio event is an HTTP endpoint that can be called without the page; the build
functions only lay out and wire. The report itself is :mod:`kb.gaps`; drafting eval questions is
:mod:`evals.from_gaps` (the feedback → question path).
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kb.chat.auth import EVALUATOR, WRONG_NL, AdminGate
from kb.chat.login import LOGIN_JS, LOGOUT_JS, admin_session, client_address, login_form, session_token, takes_request
from kb.config import Settings
from kb.errors import KBError
from kb.gaps import GAP_KINDS, KIND_NL, GapReport, Theme, build_gap_report, report_csv, report_markdown
from kb.gaps.export import theme_markdown as export_theme_markdown
from kb.gaps.export import themes_nl
from kb.questions_log import QuestionLog, question_log_path
from kb.service import KnowledgeBase

NOT_LOGGED_IN = "Log eerst in als CoP-trekker of evaluator (of opnieuw: na een tijd zonder activiteit of na uitloggen)."
DISABLED_NL = (
    "Het tabblad Kennislacunes is uitgeschakeld: er is geen evaluator of beheerder ingesteld. Start de app met "
    "`KB_EVALUATOR_USER` en `KB_EVALUATOR_PASSWORD` (of `KB_ADMIN_USER` en `KB_ADMIN_PASSWORD`) en log hier dan in."
)
NO_LOG_NL = "Er is nog geen vragenlog: vragen uit de chat komen er vanzelf in (tenzij `KB_QUESTION_LOG=off`)."
THEME_HEADERS = ["Thema", "Aantal", "Trend", "Status", "Eerst gezien", "Laatst gezien", "Soort"]
CHART_THEMES = 8  # the largest themes in the chart
EXPORT_KEEP_SECONDS = 120  # Gradio has copied the file for the download by then
DRAFTS_FILE = "kennislacunes"


@dataclass
class GapsTab:
    """What the handlers share: the knowledge base, the accounts, and the last report per filter choice."""

    kb: KnowledgeBase
    settings: Settings
    gate: AdminGate
    reports: dict[tuple, tuple[tuple, GapReport]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def log(self) -> QuestionLog | None:
        path = question_log_path(self.settings)
        return QuestionLog(path, self.settings.question_log_days) if path.exists() else None

    def report(self, since: str, until: str, kinds: list[str] | None, cop: str) -> GapReport:
        """The report for these filters; rebuilt when the log or the index changed, a day passed, or not
        every theme's status was checked yet (each report asks a limited number of questions again)."""
        log = self.log()
        if log is None:
            raise KBError(NO_LOG_NL)
        key = (since or "", until or "", tuple(kinds or GAP_KINDS), cop or "")
        state = (len(log), self.kb.store.generation(), datetime.now(UTC).date())
        with self.lock:
            cached = self.reports.get(key)
            if cached and cached[0] == state:
                return cached[1]
            report = build_gap_report(
                log, self.kb, _day(since, "Van"), _day(until, "Tot"), kinds or GAP_KINDS, cop or ""
            )
            if all(t.checked for t in report.themes):  # otherwise the next report asks the next themes again
                self.reports[key] = (state, report)
            return report


def _day(text: str, label: str) -> datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise KBError(f"'{label}' moet een datum zijn als 2025-03-01, niet '{text}'.") from None


# -- pure renderers ---------------------------------------------------------------------------------
def theme_rows(report: GapReport) -> list[list[Any]]:
    return [
        [
            t.label,
            t.size,
            t.trend,
            t.status,
            f"{t.first_seen:%Y-%m-%d}",
            f"{t.last_seen:%Y-%m-%d}",
            ", ".join(f"{KIND_NL[k]} {n}" for k, n in t.kinds.items()),
        ]
        for t in report.themes
    ]


def chart_rows(report: GapReport) -> list[dict[str, Any]]:
    """Questions per week of the largest themes: rows (week, thema, vragen) for a line chart."""
    return [
        {"week": week, "thema": t.label, "vragen": count}
        for t in report.themes[:CHART_THEMES]
        for week, count in t.weekly.items()
    ]


def summary_markdown(report: GapReport) -> str:
    return (
        f"**{report.since:%Y-%m-%d} – {report.until:%Y-%m-%d}**: {report.questions} vragen gesteld, "
        f"{report.gaps} zonder goed antwoord, **{themes_nl(len(report.themes))}**, {report.loose} losse vragen."
    )


def theme_markdown(theme: Theme) -> str:
    """The chosen theme, rendered as in the Markdown export (escaped there)."""
    return export_theme_markdown(theme, heading="###")


def _allowed(tab: GapsTab, request: Any):
    return admin_session(tab.gate, request, EVALUATOR)


def gaps_show(tab: GapsTab, since: str, until: str, kinds: list[str], cop: str, request: Any):
    """(message, summary, theme rows, chart rows, theme choices) for the filters."""
    if _allowed(tab, request) is None:
        return NOT_LOGGED_IN, "", [], [], []
    try:
        report = tab.report(since, until, kinds, cop)
    except KBError as exc:
        return f"⚠️ {exc}", "", [], [], []
    choices = [(f"{t.label} ({t.size})", t.key) for t in report.themes]
    return "", summary_markdown(report), theme_rows(report), chart_rows(report), choices


def gaps_theme(tab: GapsTab, since: str, until: str, kinds: list[str], cop: str, key: str | None, request: Any) -> str:
    if _allowed(tab, request) is None:
        return NOT_LOGGED_IN
    try:
        theme = tab.report(since, until, kinds, cop).theme(key or "")
    except KBError as exc:
        return f"⚠️ {exc}"
    return theme_markdown(theme) if theme else "Kies een thema."


def gaps_export(tab: GapsTab, since: str, until: str, kinds: list[str], cop: str, kind: str, request: Any):
    """(path of the export file or None, message); ``kind``: ``csv`` or ``markdown``."""
    if _allowed(tab, request) is None:
        return None, NOT_LOGGED_IN
    if kind not in ("csv", "markdown"):
        return None, "Kies CSV of Markdown."
    try:
        report = tab.report(since, until, kinds, cop)
    except KBError as exc:
        return None, f"⚠️ {exc}"
    folder = Path(tempfile.mkdtemp(prefix="kb-gaps-"))  # 0700: this account only
    name = f"kennislacunes-{report.until:%Y-%m-%d}.{'csv' if kind == 'csv' else 'md'}"
    (folder / name).write_text(report_csv(report) if kind == "csv" else report_markdown(report), encoding="utf-8")
    cleanup = threading.Timer(EXPORT_KEEP_SECONDS, shutil.rmtree, args=(folder,), kwargs={"ignore_errors": True})
    cleanup.daemon = True
    cleanup.start()
    return str(folder / name), f"Export klaar: `{name}`."


def gaps_draft_questions(
    tab: GapsTab, since: str, until: str, kinds: list[str], cop: str, key: str | None, request: Any
) -> str:
    """Turn the chosen theme's example questions into draft eval questions (Evaluatie tab's files)."""
    session = _allowed(tab, request)
    if session is None:
        return NOT_LOGGED_IN
    if importlib.util.find_spec("evals") is None:  # a bare install of kb, without the checkout's evals
        return "Conceptvragen maken kan alleen met het pakket 'evals' (in de checkout van dit project)."
    from evals import workspace
    from evals.errors import EvalError
    from evals.from_gaps import append_theme_questions

    try:
        theme = tab.report(since, until, kinds, cop).theme(key or "")
        if theme is None:
            return "Kies eerst een thema."
        path = workspace.question_file(tab.settings, DRAFTS_FILE)
        added, skipped = append_theme_questions(path, theme)
    except (KBError, EvalError) as exc:
        return f"⚠️ {exc}"
    tab.gate.audit.record("eval_question", session.user, client_address(request), questions=added)
    already = f" ({skipped} stonden er al in)" if skipped else ""
    return f"{added} conceptvraag/-vragen toegevoegd aan `{path.name}`{already}; bewerk en draai ze in het tabblad Evaluatie."


def gaps_after_login(tab: GapsTab, request: Any):
    """After the login form posted (or the tab was opened): (login visible, work visible, message, who)."""
    session = _allowed(tab, request)
    if session is None:
        wait = tab.gate.throttle.wait_seconds(client_address(request))
        return True, False, tab.gate.login_refusal(wait) if wait > 0 else WRONG_NL, ""
    role = "evaluator" if session.role == EVALUATOR else "CoP-trekker"
    return False, True, "", f"U bent ingelogd als {role} (**{session.user}**)."


def gaps_logout(tab: GapsTab, request: Any):
    tab.gate.logout(session_token(request), client_address(request))
    return True, False, "U bent uitgelogd.", ""


# -- layout and wiring -----------------------------------------------------------------------------
def build_gaps_tab(kb: KnowledgeBase, settings: Settings, gate: AdminGate | None, tab: Any = None) -> None:
    """Build the Kennislacunes tab inside the open ``tab``; without an account only a notice."""
    import gradio as gr

    if gate is None:
        gr.Markdown(DISABLED_NL, elem_id="kb-gaps-disabled")
        return
    _wire(GapsTab(kb, settings, gate), _layout(kb), tab)


@dataclass
class _Ui:
    login: tuple
    work: Any
    whoami: Any
    logout: Any
    filters: list
    show: Any
    message: Any
    summary: Any
    table: Any
    chart: Any
    theme: Any
    detail: Any
    export_kind: Any
    export: Any
    download: Any
    draft: Any
    draft_status: Any


def _layout(kb: KnowledgeBase) -> _Ui:
    import gradio as gr

    login = login_form("Log in als CoP-trekker of evaluator om de kennislacunes te zien.", "kb-gaps")
    cops = sorted({str(v) for v in kb.retriever.filter_values().get("cop", [])})
    with gr.Column(visible=False) as work:
        with gr.Row():
            whoami = gr.Markdown(elem_id="kb-gaps-whoami")
            logout = gr.Button("Uitloggen", size="sm", scale=0, elem_id="kb-gaps-logout")
        with gr.Row():
            since = gr.Textbox(label="Van (JJJJ-MM-DD; leeg: 90 dagen terug)", elem_id="kb-gaps-since")
            until = gr.Textbox(label="Tot (leeg: nu)", elem_id="kb-gaps-until")
            kinds = gr.CheckboxGroup(
                [(KIND_NL[k], k) for k in GAP_KINDS], value=list(GAP_KINDS), label="Soort", elem_id="kb-gaps-kinds"
            )
            cop = gr.Dropdown(
                [("alle CoP's", ""), *[(c, c) for c in cops]], value="", label="CoP", elem_id="kb-gaps-cop"
            )
            show = gr.Button("Rapport maken", variant="primary", scale=0, elem_id="kb-gaps-show")
        message = gr.Markdown(elem_id="kb-gaps-message")
        summary = gr.Markdown(elem_id="kb-gaps-summary")
        chart = gr.LinePlot(x="week", y="vragen", color="thema", label="Thema's per week", elem_id="kb-gaps-chart")
        table = gr.Dataframe(headers=THEME_HEADERS, interactive=False, wrap=True, elem_id="kb-gaps-table")
        theme = gr.Dropdown([], label="Thema", elem_id="kb-gaps-theme")
        detail = gr.Markdown(elem_id="kb-gaps-detail")
        with gr.Row():
            export_kind = gr.Radio([("CSV", "csv"), ("Markdown", "markdown")], value="markdown", label="Export")
            export = gr.Button("Exporteren", scale=0, elem_id="kb-gaps-export")
            download = gr.File(label="Download", interactive=False, elem_id="kb-gaps-download")
        with gr.Row():
            draft = gr.Button("Maak conceptvragen voor de evaluatie", scale=0, elem_id="kb-gaps-draft")
            draft_status = gr.Markdown(elem_id="kb-gaps-draft-status")
    return _Ui(
        login, work, whoami, logout, [since, until, kinds, cop], show, message, summary, table, chart, theme,
        detail, export_kind, export, download, draft, draft_status,
    )  # fmt: skip


def _wire(state: GapsTab, ui: _Ui, tab: Any) -> None:
    import gradio as gr
    import pandas as pd

    login_box, user, password, login, login_status = ui.login

    def visible(outcome):
        show_login, show_work, message, who = outcome
        return gr.Column(visible=show_login), gr.Column(visible=show_work), message, who

    @takes_request
    def on_login(request: Any):
        return visible(gaps_after_login(state, request))

    @takes_request
    def on_tab(request: Any):  # opening the tab with a live login (e.g. from another tab) shows the work
        if _allowed(state, request) is None:
            return tuple(gr.skip() for _ in session_outputs)
        return on_login(request)

    @takes_request
    def on_logout(request: Any):
        return visible(gaps_logout(state, request))

    @takes_request
    def on_show(since: str, until: str, kinds: list[str], cop: str, request: Any):
        message, summary, rows, chart, choices = gaps_show(state, since, until, kinds, cop, request)
        table = pd.DataFrame(rows, columns=THEME_HEADERS)
        plot = pd.DataFrame(chart, columns=["week", "thema", "vragen"])
        return message, summary, table, plot, gr.Dropdown(choices=choices, value=None)

    @takes_request
    def on_theme(since: str, until: str, kinds: list[str], cop: str, key: str | None, request: Any):
        return gaps_theme(state, since, until, kinds, cop, key, request)

    @takes_request
    def on_export(since: str, until: str, kinds: list[str], cop: str, kind: str, request: Any):
        return gaps_export(state, since, until, kinds, cop, kind, request)

    @takes_request
    def on_draft(since: str, until: str, kinds: list[str], cop: str, key: str | None, request: Any):
        return gaps_draft_questions(state, since, until, kinds, cop, key, request)

    session_outputs = [login_box, ui.work, login_status, ui.whoami]
    for trigger in (login.click, password.submit):
        trigger(None, [user, password], [user, password], js=LOGIN_JS, api_visibility="private").then(
            on_login, None, session_outputs, api_visibility="private"
        )
    if tab is not None:
        tab.select(on_tab, None, session_outputs, api_visibility="private")
    ui.logout.click(None, None, None, js=LOGOUT_JS, api_visibility="private").then(
        on_logout, None, session_outputs, api_visibility="private"
    )
    report_outputs = [ui.message, ui.summary, ui.table, ui.chart, ui.theme]
    ui.show.click(on_show, ui.filters, report_outputs, api_visibility="private")
    ui.theme.change(on_theme, [*ui.filters, ui.theme], [ui.detail], api_visibility="private")
    ui.export.click(on_export, [*ui.filters, ui.export_kind], [ui.download, ui.message], api_visibility="private")
    ui.draft.click(on_draft, [*ui.filters, ui.theme], [ui.draft_status], api_visibility="private")

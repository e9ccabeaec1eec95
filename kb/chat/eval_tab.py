"""The Evaluatie tab for evaluators: feedback → eval question → eval run → report and comparison.

Behind the login of :mod:`kb.chat.auth` (role ``evaluator``, or the admin). As in the
Documents tab every handler checks the cookie of its own request, because each Gradio event
is an HTTP endpoint that can be called without the page; question files and runs are chosen
by name from lists the server makes (:mod:`evals.workspace`), never by a path from the browser.
The work itself lives in :mod:`kb.feedback`, :mod:`evals.from_feedback` and
:mod:`evals.workspace`; this module only renders and wires: :class:`EvalView` lays the tab out and
:func:`build_eval_tab` wires it to :class:`EvalHandlers`. Only :func:`kb.chat.app.create_app` imports
this module, because it imports gradio; ``evals`` is imported where it is used, because a bare
install of ``kb`` may not have it.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from kb.chat.auth import EVALUATOR, WRONG_NL, AdminGate
from kb.chat.login import LOGIN_JS, LOGOUT_JS, admin_session, client_address, login_form, session_token
from kb.config import Settings
from kb.errors import KBError
from kb.feedback import feedback_path, find_feedback, list_feedback
from kb.service import KnowledgeBase

log = logging.getLogger(__name__)

NOT_LOGGED_IN = "Log eerst in als evaluator (of opnieuw: na een tijd zonder activiteit of na uitloggen)."
DISABLED_NL = (
    "Het tabblad Evaluatie is uitgeschakeld: er is geen evaluator of beheerder ingesteld. Start de app met "
    "`KB_EVALUATOR_USER` en `KB_EVALUATOR_PASSWORD` (of `KB_ADMIN_USER` en `KB_ADMIN_PASSWORD`) en log hier dan in."
)
FEEDBACK_HEADERS = ["Id", "Tijd", "Oordeel", "Vraag", "Antwoord", "Bronnen", "Toelichting"]
RATING_NL = {"up": "👍 nuttig", "down": "👎 niet nuttig"}
ANSWER_CHARS = 400
BUSY_NL = "Er loopt al een evaluatie; wacht tot die klaar is."
# the outputs of the login handlers, in order: the work part, then the run part (attributes of EvalView)
WORK_OUTPUTS = ("login_box", "work_box", "login_status", "whoami", "feedback", "item_choice", "run_file")
RUN_OUTPUTS = ("run_choice", "run_a", "run_b", "summary", "report")


def eval_tab_available() -> bool:
    """The tab needs the ``evals`` package (a checkout has it; a bare install of ``kb`` may not)."""
    return importlib.util.find_spec("evals") is not None


def sources_cell(item: dict[str, Any]) -> str:
    """The cited sources of a feedback item, one per line: ``[1] title — locator``."""
    cited = [p for p in item.get("passages", []) if isinstance(p, dict) and p.get("cited")]
    if cited:
        return "\n".join(f"[{p['cited']}] {p.get('title') or p['doc_id']} — {p.get('locator', '')}" for p in cited)
    return ", ".join(item.get("doc_ids", [])) or "–"


def feedback_rows(items: list[dict[str, Any]]) -> list[list[str]]:
    """One table row per feedback item (already newest first)."""
    rows = []
    for item in items:
        answer = str(item.get("answer", ""))
        rows.append(
            [
                item["id"],
                str(item.get("timestamp", ""))[:16].replace("T", " "),
                RATING_NL.get(item.get("rating", ""), item.get("rating", "")),
                str(item.get("question", "")),
                answer if len(answer) <= ANSWER_CHARS else answer[:ANSWER_CHARS].rsplit(" ", 1)[0] + " …",
                sources_cell(item),
                str(item.get("comment", "")),
            ]
        )
    return rows


def feedback_choice(item: dict[str, Any]) -> tuple[str, str]:
    """Dropdown entry for a feedback item: (label, id)."""
    question = str(item.get("question", ""))
    short = question if len(question) <= 70 else question[:70] + "…"
    return f"{short} ({item['id']}, {RATING_NL.get(item.get('rating', ''), '')})", item["id"]


def passage_options(item: dict[str, Any]) -> list[tuple[str, int]]:
    """Checkbox entries for the passages of a feedback item: (label, 1-based number)."""
    from evals.from_feedback import passage_choices

    options = []
    for n, p in enumerate(passage_choices(item), 1):
        mark = f"bron [{p['cited']}]" if p.get("cited") else "opgehaald"
        options.append((f"{mark} · {p['doc_id']} · “{p['quote']}”", n))
    return options


def parse_facts(text: str) -> list[str]:
    """Key facts typed one per line (or separated by ';')."""
    return [f.strip() for line in (text or "").splitlines() for f in line.split(";") if f.strip()]


class EvalView:
    """The Evaluatie tab's components, laid out inside the open tab: the login form, and behind it
    the feedback list, the form that turns feedback into an eval question, eval runs and their results."""

    def __init__(self) -> None:
        self.login_box, self.user, self.password, self.login, self.login_status = login_form(
            "Log in als evaluator (of als CoP-trekker) om feedback te bekijken en evaluaties te draaien.", "kb-eval"
        )
        with gr.Column(visible=False) as self.work_box:
            with gr.Row():
                self.whoami = gr.Markdown(elem_id="kb-eval-whoami")
                self.logout = gr.Button("Uitloggen", size="sm", scale=0, elem_id="kb-eval-logout")
            self._feedback_section()
            self._run_section()

    def _feedback_section(self) -> None:
        from evals.questions import TYPES

        gr.Markdown("### Feedback")
        with gr.Row():
            self.negative = gr.Checkbox(True, label="Alleen 👎 (niet nuttig)", elem_id="kb-eval-negative")
            self.refresh = gr.Button("Vernieuwen", size="sm", scale=0, elem_id="kb-eval-refresh")
        self.feedback = gr.Dataframe(
            empty_feedback(),
            interactive=False,
            wrap=True,
            column_widths=["9%", "9%", "8%", "18%", "28%", "16%", "12%"],
            elem_id="kb-eval-feedback",
        )
        gr.Markdown("### Feedback omzetten in een evaluatievraag")
        self.item_choice = gr.Dropdown([], label="Feedback", elem_id="kb-eval-item")
        with gr.Row():
            self.question = gr.Textbox(label="Vraag", scale=3, elem_id="kb-eval-question")
            self.kind = gr.Dropdown(list(TYPES), value="factual", label="Soort vraag", scale=1, elem_id="kb-eval-type")
        self.facts = gr.Textbox(
            label="Kernfeiten (één per regel, 1–4 woorden uit de passage; a|b voor alternatieven)",
            lines=3,
            elem_id="kb-eval-facts",
        )
        self.passages = gr.CheckboxGroup([], label="Verwachte passage(s)", elem_id="kb-eval-passages")
        with gr.Row():
            self.file_name = gr.Textbox("feedback", label="Vragenbestand", scale=3, elem_id="kb-eval-file")
            self.add = gr.Button("Toevoegen aan vragenbestand", variant="primary", scale=1, elem_id="kb-eval-add")
        self.add_status = gr.Markdown(elem_id="kb-eval-add-status")

    def _run_section(self) -> None:
        gr.Markdown("### Evaluatie draaien")
        gr.Markdown(
            "Draait ons systeem (`ours`) op de index van deze app met de vragen uit het gekozen bestand; "
            "het resultaat komt in de datamap (`evals/runs/`)."
        )
        with gr.Row():
            self.run_file = gr.Dropdown([], label="Vragenbestand", scale=3, elem_id="kb-eval-run-file")
            self.start = gr.Button("Evaluatie starten", variant="primary", scale=1, elem_id="kb-eval-start")
        self.run_status = gr.Markdown(elem_id="kb-eval-run-status")
        gr.Markdown("### Resultaat")
        self.run_choice = gr.Dropdown([], label="Run", elem_id="kb-eval-run-choice")
        self.summary = gr.Markdown(elem_id="kb-eval-summary")
        self.report = gr.HTML(elem_id="kb-eval-report")
        gr.Markdown("### Twee runs vergelijken")
        with gr.Row():
            self.run_a = gr.Dropdown([], label="Run A (ervoor)", elem_id="kb-eval-run-a")
            self.run_b = gr.Dropdown([], label="Run B (erna)", elem_id="kb-eval-run-b")
            self.compare = gr.Button("Vergelijken", scale=0, elem_id="kb-eval-compare")
        self.comparison = gr.Markdown(elem_id="kb-eval-comparison")


def build_eval_tab(kb: KnowledgeBase, settings: Settings, gate: AdminGate | None, tab: Any = None) -> None:
    """Build the Evaluatie tab inside the open ``tab``; without an account only a notice."""
    if gate is None:
        gr.Markdown(DISABLED_NL, elem_id="kb-eval-disabled")
        return
    evals = EvalHandlers(kb, settings, gate)
    view = EvalView()
    all_outputs = [getattr(view, name) for name in (*WORK_OUTPUTS, *RUN_OUTPUTS)]
    run_outputs = [getattr(view, name) for name in RUN_OUTPUTS]
    if tab is not None:
        tab.select(evals.eval_on_tab, [view.negative], all_outputs, api_visibility="private")
    for trigger in (view.login.click, view.password.submit):
        trigger(
            None, [view.user, view.password], [view.user, view.password], js=LOGIN_JS, api_visibility="private"
        ).then(evals.eval_after_login, [view.negative], all_outputs, api_visibility="private")
    view.logout.click(None, None, None, js=LOGOUT_JS, api_visibility="private").then(
        evals.eval_after_logout, None, all_outputs, api_visibility="private"
    )
    for trigger in (view.refresh.click, view.negative.change):
        trigger(
            evals.eval_list_feedback,
            [view.negative],
            [view.feedback, view.item_choice, view.add_status],
            api_visibility="private",
        )
    view.item_choice.change(
        evals.eval_pick_feedback,
        [view.item_choice],
        [view.question, view.kind, view.facts, view.passages, view.add_status],
        api_visibility="private",
    )
    view.add.click(
        evals.eval_to_question,
        [view.item_choice, view.question, view.kind, view.facts, view.passages, view.file_name],
        [view.add_status, view.run_file],
        api_visibility="private",
    )
    view.start.click(evals.eval_run, [view.run_file], [view.run_status, *run_outputs], api_visibility="private")
    view.run_choice.input(evals.eval_show_run, [view.run_choice], [view.summary, view.report], api_visibility="private")
    view.compare.click(evals.eval_compare, [view.run_a, view.run_b], [view.comparison], api_visibility="private")


# -- handlers: each one checks the login cookie of its own request first --------------------
@dataclass(frozen=True, eq=False)  # eq=False: compared and hashed as the one object it is, like a function
class EvalHandlers:
    kb: KnowledgeBase
    settings: Settings
    gate: AdminGate
    running: Any = field(default_factory=threading.Lock, compare=False)  # one eval run at a time: few cores

    @property
    def ratings(self) -> Path:
        return feedback_path(self.settings)

    def feedback_table(self, negative: bool) -> tuple[pd.DataFrame, Any]:
        items = list_feedback(self.ratings, bool(negative))
        table = pd.DataFrame(feedback_rows(items), columns=FEEDBACK_HEADERS)
        return table, gr.Dropdown(choices=[feedback_choice(i) for i in items], value=None)

    def file_choices(self) -> Any:
        from evals import workspace

        labels = list(workspace.question_files(self.settings))
        return gr.Dropdown(choices=labels, value=labels[0] if labels else None)

    def run_choices(self, selected: str | None = None) -> tuple[Any, Any, Any]:
        from evals import workspace

        runs = workspace.list_runs(self.settings)
        chosen = selected if selected in runs else runs[0] if runs else None
        previous = runs[1] if len(runs) > 1 else None
        return (
            gr.Dropdown(choices=runs, value=chosen),
            gr.Dropdown(choices=runs, value=previous),
            gr.Dropdown(choices=runs, value=chosen),
        )

    def show_run(self, name: str | None) -> tuple[str, str]:
        from evals import workspace

        if not name:
            return "Nog geen evaluatierun. Start er hierboven een.", ""
        try:
            run_dir = workspace.resolve_run(self.settings, name)
            return workspace.summary_markdown(run_dir), workspace.report_iframe(run_dir)
        except KBError as exc:
            return f"⚠️ {exc}", ""

    def eval_after_login(self, negative_only: bool, request: gr.Request):
        """After the browser posted the form to /admin/login (or the tab was opened): the cookie decides."""
        from evals import workspace

        session = admin_session(self.gate, request, EVALUATOR)
        if session is None:
            wait = self.gate.throttle.wait_seconds(client_address(request))
            return logged_out(self.gate.login_refusal(wait) if wait > 0 else WRONG_NL)
        table, items = self.feedback_table(negative_only)
        role = "evaluator" if session.role == EVALUATOR else "beheerder"
        first = workspace.list_runs(self.settings)
        shown = self.show_run(first[0] if first else None)
        return (
            gr.Column(visible=False),
            gr.Column(visible=True),
            "",
            f"U bent ingelogd als {role} (**{session.user}**).",
            table,
            items,
            self.file_choices(),
            *self.run_choices(),
            *shown,
        )

    def eval_on_tab(self, negative_only: bool, request: gr.Request):
        """Opening the tab with a live login cookie (e.g. from the Documents tab) shows the work at once."""
        if admin_session(self.gate, request, EVALUATOR) is None:
            return skips(len(WORK_OUTPUTS) + len(RUN_OUTPUTS))
        return self.eval_after_login(negative_only, request)

    def eval_after_logout(self, request: gr.Request):
        self.gate.logout(session_token(request), client_address(request))
        return logged_out("U bent uitgelogd.")

    def eval_list_feedback(self, negative_only: bool, request: gr.Request):
        if admin_session(self.gate, request, EVALUATOR) is None:
            return empty_feedback(), gr.Dropdown(choices=[], value=None), NOT_LOGGED_IN
        table, items = self.feedback_table(negative_only)
        return table, items, ""

    def eval_pick_feedback(self, feedback_id: str | None, request: gr.Request):
        """Fill the draft form from the chosen feedback item."""
        from evals.from_feedback import default_passages

        if admin_session(self.gate, request, EVALUATOR) is None:
            return "", gr.skip(), "", gr.CheckboxGroup(choices=[], value=[]), NOT_LOGGED_IN
        item = find_feedback(self.ratings, feedback_id or "")
        if item is None:
            return "", gr.skip(), "", gr.CheckboxGroup(choices=[], value=[]), ""
        kind_value = "follow-up" if item.get("history") else "factual"
        options = gr.CheckboxGroup(choices=passage_options(item), value=default_passages(item))
        return item.get("question", ""), kind_value, "", options, ""

    def eval_to_question(
        self,
        feedback_id: str | None,
        question_text: str,
        kind_value: str,
        facts_text: str,
        chosen: list[int] | None,
        name: str,
        request: gr.Request,
    ):
        from evals import workspace
        from evals.errors import EvalError
        from evals.from_feedback import append_question, draft_question

        session = admin_session(self.gate, request, EVALUATOR)
        if session is None:
            return NOT_LOGGED_IN, gr.skip()
        item = find_feedback(self.ratings, feedback_id or "")
        if item is None:
            return "Kies eerst een feedback-item.", gr.skip()
        try:
            path = workspace.question_file(self.settings, name)
            drafted = draft_question(item, question_text, parse_facts(facts_text), list(chosen or []), kind_value)
            count = append_question(path, drafted)
        except EvalError as exc:
            return f"⚠️ {exc}", gr.skip()
        client = client_address(request)
        self.gate.audit.record("eval_question", session.user, client, feedback_ids=[item["id"]], questions=1)
        message = f"Vraag **{drafted.id}** toegevoegd aan `{path.name}` ({count} vraag/vragen)."
        labels = list(workspace.question_files(self.settings))
        return message, gr.Dropdown(choices=labels, value=path.name)

    def eval_run(self, label: str | None, request: gr.Request, progress=gr.Progress()):
        from evals import workspace

        session = admin_session(self.gate, request, EVALUATOR)
        if session is None:
            return NOT_LOGGED_IN, *skips(len(RUN_OUTPUTS))
        if not self.running.acquire(blocking=False):
            return BUSY_NL, *skips(len(RUN_OUTPUTS))
        try:
            progress(0.0, desc="Evaluatie voorbereiden …")
            embedding = (self.kb.embed_model, self.kb.store.model_id)
            name = workspace.run_eval(self.settings, label or "", embedding, lambda f, m: progress(f, desc=m))
        except KBError as exc:
            return f"⚠️ {exc}", *skips(len(RUN_OUTPUTS))
        except Exception:
            log.exception("eval run failed")
            return "⚠️ De evaluatie is mislukt; zie het log van de server.", *skips(len(RUN_OUTPUTS))
        finally:
            self.running.release()
        self.gate.audit.record("eval_run", session.user, client_address(request))
        return f"Klaar: run **{name}**.", *self.run_choices(name), *self.show_run(name)

    def eval_show_run(self, name: str | None, request: gr.Request):
        if admin_session(self.gate, request, EVALUATOR) is None:
            return NOT_LOGGED_IN, ""
        return self.show_run(name)

    def eval_compare(self, a: str | None, b: str | None, request: gr.Request):
        from evals import workspace

        if admin_session(self.gate, request, EVALUATOR) is None:
            return NOT_LOGGED_IN
        try:
            return workspace.compare_markdown(self.settings, a, b)
        except KBError as exc:
            return f"⚠️ {exc}"


def empty_feedback() -> pd.DataFrame:
    return pd.DataFrame(columns=FEEDBACK_HEADERS)


def skips(n: int) -> tuple:
    """Leave ``n`` outputs as they are."""
    return tuple(gr.skip() for _ in range(n))


def logged_out(message: str) -> tuple:
    """The login form shown; everything behind it hidden and emptied."""
    empty = gr.Dropdown(choices=[], value=None)
    return (
        gr.Column(visible=True),
        gr.Column(visible=False),
        message,
        "",
        empty_feedback(),
        empty,
        empty,
        empty,
        empty,
        empty,
        "",
        "",
    )

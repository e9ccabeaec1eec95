"""The Documents tab for CoP-trekkers: upload with metadata, list, remove, re-index.

Everything here sits behind the admin login (:mod:`kb.chat.auth`). Every handler reads the
admin cookie from its own request (``gr.Request``) and asks the server-side session table,
because hidden components can still be called and Gradio's session hash is no secret.
Handlers that change documents write a line to the audit log. :class:`DocumentsView` lays the
tab out and :func:`build_documents_tab` wires it to :class:`DocumentsHandlers`; the upload
itself is :func:`kb.chat.uploads.ingest_uploads`. Only :func:`kb.chat.app.create_app` imports
this module, because it imports gradio.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd
from gradio.utils import get_upload_folder

from kb.chat.auth import ADMIN, DISABLED_NL, WRONG_NL, AdminGate, AdminSession
from kb.chat.login import LOGIN_JS, LOGOUT_JS, admin_session, client_address, login_form, session_token, wrong_role
from kb.chat.render import DOCUMENT_HEADERS, INGEST_HEADERS, document_rows, ingest_rows
from kb.chat.uploads import discard_temp_files, ingest_uploads, remove_document
from kb.config import Settings
from kb.errors import KBError
from kb.records import KINDS, FileResult
from kb.service import KnowledgeBase
from kb.validity import REGIMES

NOT_LOGGED_IN = "Log eerst in als beheerder (of opnieuw: na een tijd zonder activiteit of na uitloggen)."
WRONG_ROLE_NL = "⚠️ Dit account mag geen documenten beheren; het is voor het tabblad Evaluatie."
REPLACE_LABEL = "Vervang het bestaande document"


def audit_ingest(gate: AdminGate, session: AdminSession, client: str, action: str, results: list[FileResult]) -> None:
    """One audit line for an upload or re-index: ids and counts per status, and one per replacement."""
    counts = Counter(r.status for r in results)
    changed = [r.doc_id for r in results if r.status == "added"]
    replaced = [r.doc_id for r in results if r.status == "replaced"]
    details = {k: counts[k] for k in ("added", "replaced", "unchanged", "duplicate", "refused") if counts[k]}
    gate.audit.record(action, session.user, client, doc_ids=changed + replaced, **details)
    if replaced:
        gate.audit.record("replace", session.user, client, doc_ids=replaced, replaced=len(replaced))


class DocumentsView:
    """The Documents tab's components, laid out inside the open tab: the login form, and behind
    it the upload form with its metadata, the list of documents and the re-index button."""

    def __init__(self, settings: Settings) -> None:
        self.pending_removal = gr.State("")
        self.login_box, self.user, self.password, self.login, self.login_status = login_form(
            "Log in als CoP-trekker om documenten toe te voegen of te verwijderen.", "kb"
        )
        with gr.Column(visible=False) as self.admin_box:
            with gr.Row():
                gr.Markdown("U bent ingelogd als beheerder.")
                self.logout = gr.Button("Uitloggen", size="sm", scale=0, elem_id="kb-logout")
            self._upload_form()
            self._document_list(settings)

    def _upload_form(self) -> None:
        gr.Markdown("### Documenten toevoegen")
        self.files = gr.File(
            label="Bestanden (PDF, DOCX, HTML, Markdown of tekst)",
            file_count="multiple",
            file_types=[".pdf", ".docx", ".html", ".htm", ".md", ".txt"],
            elem_id="kb-files",
        )
        gr.Markdown("Metadata (optioneel; lege velden worden uit het document zelf gehaald):")
        with gr.Row():
            self.title = gr.Textbox(label="Titel (alleen bij één bestand)", elem_id="kb-meta-title")
            self.publisher = gr.Textbox(label="Organisatie", elem_id="kb-meta-publisher")
            self.date = gr.Textbox(label="Datum", placeholder="JJJJ-MM-DD of JJJJ", elem_id="kb-meta-date")
        with gr.Row():
            self.kind = gr.Dropdown(["", *KINDS], value="", label="Soort document", allow_custom_value=True)
            self.cop = gr.Textbox(label="CoP of regio", elem_id="kb-meta-cop")
            self.themes = gr.Textbox(label="Thema's (komma's ertussen)", elem_id="kb-meta-themes")
        with gr.Row():
            self.valid_until = gr.Textbox(
                label="Geldig tot",
                placeholder="JJJJ-MM-DD of JJJJ (leeg: geen einddatum)",
                elem_id="kb-meta-valid-until",
            )
            self.superseded_by = gr.Textbox(
                label="Vervangen door (id van het nieuwere document)", elem_id="kb-meta-superseded-by"
            )
            self.regime = gr.Dropdown(["", *REGIMES], value="", label="Gaat over de wet", elem_id="kb-meta-regime")
        self.replace = gr.Checkbox(
            False,
            label=REPLACE_LABEL,
            info="Alleen nodig als een bestand de id krijgt van een document dat er al staat (uit de corpusmap "
            "of een ander bestand). Zonder vinkje wordt zo'n bestand geweigerd.",
            elem_id="kb-replace",
        )
        self.upload = gr.Button("Toevoegen aan de kennisbank", variant="primary", elem_id="kb-upload")
        self.upload_summary = gr.Markdown(elem_id="kb-upload-summary")
        self.results = gr.Dataframe(
            pd.DataFrame(columns=INGEST_HEADERS),
            label="Resultaat per bestand",
            interactive=False,
            wrap=True,
            elem_id="kb-results",
        )

    def _document_list(self, settings: Settings) -> None:
        gr.Markdown("### Documenten in de kennisbank")
        self.documents = gr.Dataframe(
            pd.DataFrame(columns=DOCUMENT_HEADERS), interactive=False, wrap=True, elem_id="kb-documents"
        )
        with gr.Row():
            self.to_remove = gr.Dropdown([], label="Document verwijderen", scale=4, elem_id="kb-remove-choice")
            self.remove = gr.Button("Verwijderen…", variant="stop", scale=1, elem_id="kb-remove")
        with gr.Column(visible=False) as self.confirm_box:
            self.confirm_text = gr.Markdown(elem_id="kb-confirm-text")
            with gr.Row():
                self.confirm = gr.Button("Ja, definitief verwijderen", variant="stop", elem_id="kb-confirm")
                self.cancel = gr.Button("Annuleren", elem_id="kb-cancel")
        self.remove_status = gr.Markdown(elem_id="kb-remove-status")
        gr.Markdown("### Corpusmap opnieuw indexeren")
        gr.Markdown(f"Leest de map `{settings.corpus_dir}`; ongewijzigde bestanden worden overgeslagen.")
        self.reindex = gr.Button("Opnieuw indexeren", elem_id="kb-reindex")


def build_documents_tab(kb: KnowledgeBase, settings: Settings, gate: AdminGate | None) -> None:
    """Build the Documents tab inside the open tab; without an admin account only a notice."""
    if gate is None or not gate.has_role(ADMIN):
        gr.Markdown(DISABLED_NL, elem_id="kb-admin-disabled")
        return
    view = DocumentsView(settings)
    docs = DocumentsHandlers(kb, settings, gate)
    admin_outputs = [
        view.login_box,
        view.admin_box,
        view.login_status,
        view.documents,
        view.to_remove,
        view.results,
        view.upload_summary,
        view.remove_status,
    ]
    for trigger in (view.login.click, view.password.submit):
        trigger(
            None, [view.user, view.password], [view.user, view.password], js=LOGIN_JS, api_visibility="private"
        ).then(docs.after_login, None, admin_outputs, api_visibility="private")
    view.logout.click(None, None, None, js=LOGOUT_JS, api_visibility="private").then(
        docs.after_logout, None, admin_outputs, api_visibility="private"
    )
    form = [view.title, view.publisher, view.date, view.kind, view.cop, view.themes]
    view.upload.click(
        docs.on_upload,
        [view.files, *form, view.valid_until, view.superseded_by, view.regime, view.replace],
        [view.upload_summary, view.results, view.documents, view.to_remove, view.files, view.replace],
        api_visibility="private",
    )
    view.remove.click(
        docs.on_remove,
        [view.to_remove],
        [view.pending_removal, view.remove_status, view.confirm_box, view.confirm_text],
        api_visibility="private",
    )
    view.confirm.click(
        docs.on_confirm,
        [view.pending_removal],
        [view.pending_removal, view.remove_status, view.confirm_box, view.documents, view.to_remove],
        api_visibility="private",
    )
    view.cancel.click(
        cancel_removal, None, [view.pending_removal, view.remove_status, view.confirm_box], api_visibility="private"
    )
    view.reindex.click(
        docs.on_reindex,
        None,
        [view.upload_summary, view.results, view.documents, view.to_remove],
        api_visibility="private",
    )


# -- handlers: each one checks the admin cookie of its own request first --------------------
@dataclass(frozen=True, eq=False)  # eq=False: compared and hashed as the one object it is, like a function
class DocumentsHandlers:
    kb: KnowledgeBase
    settings: Settings
    gate: AdminGate

    def documents_table(self) -> pd.DataFrame:
        return pd.DataFrame(document_rows(self.kb.documents()), columns=DOCUMENT_HEADERS)

    def document_choices(self) -> list[tuple[str, str]]:
        documents = sorted(self.kb.documents(), key=lambda d: d.title.lower())
        return [(f"{d.title} ({d.doc_id})", d.doc_id) for d in documents]

    def after_login(self, request: gr.Request):
        """Runs after the browser posted the form to /admin/login: the cookie decides."""
        gate = self.gate
        if admin_session(gate, request) is None:
            wait = gate.throttle.wait_seconds(client_address(request))
            message = gate.login_refusal(wait) if wait > 0 else WRONG_ROLE_NL if wrong_role(gate, request) else WRONG_NL
            return logged_out(message)
        return (
            gr.Column(visible=False),
            gr.Column(visible=True),
            "",
            self.documents_table(),
            gr.Dropdown(choices=self.document_choices(), value=None),
            gr.skip(),
            gr.skip(),
            gr.skip(),
        )

    def after_logout(self, request: gr.Request):
        # also when the browser's POST did not arrive
        self.gate.logout(session_token(request), client_address(request))
        return logged_out("U bent uitgelogd.")

    def on_upload(
        self,
        paths,
        title_v,
        publisher_v,
        date_v,
        kind_v,
        cop_v,
        themes_v,
        valid_until_v,
        superseded_by_v,
        regime_v,
        replace_v,
        request: gr.Request,
        progress=gr.Progress(),
    ):
        session = admin_session(self.gate, request)
        if session is None:  # before the try: without a login, nobody's temp files are touched
            return NOT_LOGGED_IN, gr.skip(), gr.skip(), gr.skip(), None, False
        try:
            if not paths:
                return "Kies eerst een of meer bestanden.", gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            pairs = [(Path(p), Path(p).name) for p in paths]
            form = {
                "title": title_v,
                "publisher": publisher_v,
                "date": date_v,
                "kind": kind_v,
                "cop": cop_v,
                "themes": themes_v,
                "valid_until": valid_until_v,
                "superseded_by": superseded_by_v,
                "regime": regime_v,
            }
            try:
                rows, summary = ingest_uploads(self.kb, pairs, form, lambda f, m: progress(f, desc=m), bool(replace_v))
            except KBError as exc:
                return f"⚠️ {exc}", gr.skip(), gr.skip(), gr.skip(), None, gr.skip()
            if rows:
                audit_ingest(self.gate, session, client_address(request), "upload", rows)
            table = pd.DataFrame(ingest_rows(rows), columns=INGEST_HEADERS)
            choices = gr.Dropdown(choices=self.document_choices(), value=None)
            return summary, table, self.documents_table(), choices, None, False
        finally:
            discard_temp_files(paths, get_upload_folder())

    def on_remove(self, doc_id: str | None, request: gr.Request):
        if admin_session(self.gate, request) is None:
            return "", NOT_LOGGED_IN, gr.Column(visible=False), ""
        if not doc_id:
            return "", "Kies eerst een document om te verwijderen.", gr.Column(visible=False), ""
        document = next((d for d in self.kb.documents() if d.doc_id == doc_id), None)
        if document is None:
            return "", f"Er is geen document met id '{doc_id}' (meer).", gr.Column(visible=False), ""
        question = (
            f"Weet u zeker dat u **{document.title}** (`{doc_id}`, {document.chunks} passages) wilt verwijderen? "
            "Het document is daarna niet meer te vinden in de chat."
        )
        return doc_id, "", gr.Column(visible=True), question

    def on_confirm(self, doc_id: str, request: gr.Request):
        session = admin_session(self.gate, request)
        if session is None:
            return "", NOT_LOGGED_IN, gr.Column(visible=False), gr.skip(), gr.skip()
        if not doc_id:
            message = "Er is niets gekozen om te verwijderen."
        else:
            before = {d.doc_id: d.chunks for d in self.kb.documents()}
            message = remove_document(self.kb, doc_id)
            if doc_id in before:
                client = client_address(request)
                self.gate.audit.record("remove", session.user, client, doc_ids=[doc_id], passages=before[doc_id])
        return (
            "",
            message,
            gr.Column(visible=False),
            self.documents_table(),
            gr.Dropdown(choices=self.document_choices(), value=None),
        )

    def on_reindex(self, request: gr.Request, progress=gr.Progress()):
        session = admin_session(self.gate, request)
        if session is None:
            return NOT_LOGGED_IN, gr.skip(), gr.skip(), gr.skip()
        corpus = self.settings.corpus_dir
        if not corpus.is_dir():
            return f"De corpusmap `{corpus}` bestaat niet.", gr.skip(), gr.skip(), gr.skip()
        try:
            report = self.kb.ingest([corpus], None, lambda f, m: progress(f, desc=m))
        except KBError as exc:
            return f"⚠️ {exc}", gr.skip(), gr.skip(), gr.skip()
        # corpus files that took an id back from an upload are corpus documents again
        self.kb.upload_registry.update(forget=[r.doc_id for r in report.results if r.status in ("added", "replaced")])
        audit_ingest(self.gate, session, client_address(request), "reindex", report.results)
        table = pd.DataFrame(ingest_rows(report.results), columns=INGEST_HEADERS)
        return (
            report.summary_nl(),
            table,
            self.documents_table(),
            gr.Dropdown(choices=self.document_choices(), value=None),
        )


def logged_out(message: str) -> tuple:
    """The login form shown; the admin part hidden and emptied, so no admin data stays in the session."""
    return (
        gr.Column(visible=True),
        gr.Column(visible=False),
        message,
        pd.DataFrame(columns=DOCUMENT_HEADERS),
        gr.Dropdown(choices=[], value=None),
        pd.DataFrame(columns=INGEST_HEADERS),
        "",
        "",
    )


def cancel_removal():
    return "", "Verwijderen geannuleerd.", gr.Column(visible=False)

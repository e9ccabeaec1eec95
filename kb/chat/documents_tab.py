"""The Documents tab for CoP-trekkers: upload with metadata, list, remove, re-index.

Everything here sits behind the admin login (:mod:`kb.chat.auth`). Every handler reads the
admin cookie from its own request (``gr.Request``) and asks the server-side session table,
because hidden components can still be called and Gradio's session hash is no secret.
Handlers that change documents write a line to the audit log.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from kb.chat.auth import ADMIN, DISABLED_NL, WRONG_NL, AdminGate, AdminSession
from kb.chat.login import (
    LOGIN_JS,
    LOGOUT_JS,
    admin_session,
    client_address,
    login_form,
    session_token,
    takes_request,
    wrong_role,
)
from kb.chat.render import DOCUMENT_HEADERS, INGEST_HEADERS, document_rows, ingest_rows
from kb.chat.uploads import UploadRefused, UploadRegistry, find_replacements, stage_uploads, staging_dir
from kb.config import Settings
from kb.errors import KBError
from kb.records import KINDS, FileResult, IngestReport
from kb.service import KnowledgeBase
from kb.validity import REGIMES, normalize_regime

log = logging.getLogger(__name__)

NOT_LOGGED_IN = "Log eerst in als beheerder (of opnieuw: na een tijd zonder activiteit of na uitloggen)."
WRONG_ROLE_NL = "⚠️ Dit account mag geen documenten beheren; het is voor het tabblad Evaluatie."
REPLACE_LABEL = "Vervang het bestaande document"
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def upload_dir(settings: Settings) -> Path:
    """Where uploaded files wait while they are indexed (empty otherwise)."""
    return settings.data_dir / "uploads"


def upload_registry(settings: Settings) -> UploadRegistry:
    return UploadRegistry(settings.data_dir / "uploaded.json")


def upload_overrides(
    n_files: int,
    title: str = "",
    publisher: str = "",
    date: str = "",
    kind: str = "",
    cop: str = "",
    themes: str = "",
    valid_until: str = "",
    superseded_by: str = "",
    regime: str = "",
) -> tuple[dict[str, str], str]:
    """Metadata from the form as ``kb.ingest`` overrides (non-empty fields only), and a note.

    With several files the title is not applied: each file keeps its own title. The validity
    fields (valid until, superseded by, the law it is about) feed the caveats of :mod:`kb.validity`.
    """
    for label, value in (("datum", date), ("datum 'geldig tot'", valid_until)):
        value = (value or "").strip()
        if value and not _DATE.match(value):
            raise UploadRefused(f"De {label} '{value}' is niet geldig. Gebruik JJJJ-MM-DD, JJJJ-MM of JJJJ.")
    regime = normalize_regime(regime or "")
    if regime and regime not in REGIMES:
        raise UploadRefused(f"De wet '{regime}' is onbekend. Kies uit: {', '.join(REGIMES)}.")
    fields = {
        "title": title,
        "publisher": publisher,
        "date": date,
        "kind": kind,
        "cop": cop,
        "themes": themes,
        "valid_until": valid_until,
        "superseded_by": superseded_by,
        "regime": regime,
    }
    overrides = {k: " ".join(str(v or "").split()) for k, v in fields.items()}
    overrides = {k: v for k, v in overrides.items() if v}
    note = ""
    if n_files > 1 and "title" in overrides:
        del overrides["title"]
        note = "De titel is niet gebruikt: bij meerdere bestanden houdt elk bestand zijn eigen titel."
    return overrides, note


def ingest_uploads(
    kb: KnowledgeBase,
    files: list[tuple[Path, str]],
    form: dict[str, str],
    progress: Any = None,
    replace: bool = False,
) -> tuple[list[FileResult], str]:
    """Check, stage and ingest uploaded ``(temp path, original name)`` files; returns (results, summary).

    A file whose document id already belongs to another source (another file, the corpus)
    is refused unless ``replace``. The staged copies are deleted afterwards, also when
    something fails: the indexed passages are what is kept.
    """
    settings = kb.settings
    try:
        overrides, note = upload_overrides(len(files), **form)
    except UploadRefused as exc:
        return [], str(exc)
    staging = staging_dir(upload_dir(settings))
    try:
        staged = stage_uploads(files, staging, settings.max_file_mb)
        registry = upload_registry(settings)
        conflicts: dict[Path, str] = {}
        if not replace:
            conflicts = find_replacements(
                staged.accepted, kb.documents(), registry.load(), lambda path: kb.document_id_for(path, overrides)
            )
        to_ingest = [p for p in staged.accepted if p not in conflicts]
        report = kb.ingest(to_ingest, overrides, progress) if to_ingest else IngestReport()
        # File names can hold personal data: the registry keeps the redacted name, as logs do.
        registry.update(add={r.doc_id: r.name for r in report.results if r.status in ("added", "replaced")})
        refused = [FileResult(p.name, "refused", reason=reason) for p, reason in conflicts.items()]
        combined = IngestReport([*report.results, *refused, *staged.refused], report.seconds)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return combined.results, " ".join(part for part in (combined.summary_nl(), note) if part)


def remove_document(kb: KnowledgeBase, doc_id: str) -> str:
    """Remove a document from the index (uploads keep no file, so there is nothing else to delete)."""
    removed = kb.remove(doc_id)
    upload_registry(kb.settings).update(forget=[doc_id])
    if not removed:
        return f"Er is geen document met id '{doc_id}' (meer)."
    return f"'{doc_id}' is verwijderd ({removed} passages)."


def discard_temp_files(paths: list[str] | None, cache_dir: str) -> None:
    """Delete Gradio's own temporary copies of uploaded files (inside ``cache_dir`` only)."""
    root = Path(cache_dir).resolve()
    for raw in paths or []:
        path = Path(raw).resolve()
        if path.is_file() and root in path.parents:
            path.unlink(missing_ok=True)


def audit_ingest(gate: AdminGate, session: AdminSession, client: str, action: str, results: list[FileResult]) -> None:
    """One audit line for an upload or re-index: ids and counts per status, and one per replacement."""
    counts = Counter(r.status for r in results)
    changed = [r.doc_id for r in results if r.status == "added"]
    replaced = [r.doc_id for r in results if r.status == "replaced"]
    details = {k: counts[k] for k in ("added", "replaced", "unchanged", "duplicate", "refused") if counts[k]}
    gate.audit.record(action, session.user, client, doc_ids=changed + replaced, **details)
    if replaced:
        gate.audit.record("replace", session.user, client, doc_ids=replaced, replaced=len(replaced))


def build_documents_tab(kb: KnowledgeBase, settings: Settings, gate: AdminGate | None) -> None:
    """Build the Documents tab inside the open tab; without an admin account only a notice."""
    import gradio as gr
    import pandas as pd
    from gradio.utils import get_upload_folder

    if gate is None or not gate.has_role(ADMIN):
        gr.Markdown(DISABLED_NL, elem_id="kb-admin-disabled")
        return

    def documents_table() -> pd.DataFrame:
        return pd.DataFrame(document_rows(kb.documents()), columns=DOCUMENT_HEADERS)

    def document_choices() -> list[tuple[str, str]]:
        return [(f"{d.title} ({d.doc_id})", d.doc_id) for d in sorted(kb.documents(), key=lambda d: d.title.lower())]

    pending_removal = gr.State("")
    login_box, user, password, login, login_status = login_form(
        "Log in als CoP-trekker om documenten toe te voegen of te verwijderen.", "kb"
    )
    with gr.Column(visible=False) as admin_box:
        with gr.Row():
            gr.Markdown("U bent ingelogd als beheerder.")
            logout = gr.Button("Uitloggen", size="sm", scale=0, elem_id="kb-logout")
        gr.Markdown("### Documenten toevoegen")
        files = gr.File(
            label="Bestanden (PDF, DOCX, HTML, Markdown of tekst)",
            file_count="multiple",
            file_types=[".pdf", ".docx", ".html", ".htm", ".md", ".txt"],
            elem_id="kb-files",
        )
        gr.Markdown("Metadata (optioneel; lege velden worden uit het document zelf gehaald):")
        with gr.Row():
            title = gr.Textbox(label="Titel (alleen bij één bestand)", elem_id="kb-meta-title")
            publisher = gr.Textbox(label="Organisatie", elem_id="kb-meta-publisher")
            date = gr.Textbox(label="Datum", placeholder="JJJJ-MM-DD of JJJJ", elem_id="kb-meta-date")
        with gr.Row():
            kind = gr.Dropdown(["", *KINDS], value="", label="Soort document", allow_custom_value=True)
            cop = gr.Textbox(label="CoP of regio", elem_id="kb-meta-cop")
            themes = gr.Textbox(label="Thema's (komma's ertussen)", elem_id="kb-meta-themes")
        with gr.Row():
            valid_until = gr.Textbox(
                label="Geldig tot",
                placeholder="JJJJ-MM-DD of JJJJ (leeg: geen einddatum)",
                elem_id="kb-meta-valid-until",
            )
            superseded_by = gr.Textbox(
                label="Vervangen door (id van het nieuwere document)", elem_id="kb-meta-superseded-by"
            )
            regime = gr.Dropdown(["", *REGIMES], value="", label="Gaat over de wet", elem_id="kb-meta-regime")
        replace = gr.Checkbox(
            False,
            label=REPLACE_LABEL,
            info="Alleen nodig als een bestand de id krijgt van een document dat er al staat (uit de corpusmap "
            "of een ander bestand). Zonder vinkje wordt zo'n bestand geweigerd.",
            elem_id="kb-replace",
        )
        upload = gr.Button("Toevoegen aan de kennisbank", variant="primary", elem_id="kb-upload")
        upload_summary = gr.Markdown(elem_id="kb-upload-summary")
        results = gr.Dataframe(
            pd.DataFrame(columns=INGEST_HEADERS),
            label="Resultaat per bestand",
            interactive=False,
            wrap=True,
            elem_id="kb-results",
        )
        gr.Markdown("### Documenten in de kennisbank")
        documents = gr.Dataframe(
            pd.DataFrame(columns=DOCUMENT_HEADERS), interactive=False, wrap=True, elem_id="kb-documents"
        )
        with gr.Row():
            to_remove = gr.Dropdown([], label="Document verwijderen", scale=4, elem_id="kb-remove-choice")
            remove = gr.Button("Verwijderen…", variant="stop", scale=1, elem_id="kb-remove")
        with gr.Column(visible=False) as confirm_box:
            confirm_text = gr.Markdown(elem_id="kb-confirm-text")
            with gr.Row():
                confirm = gr.Button("Ja, definitief verwijderen", variant="stop", elem_id="kb-confirm")
                cancel = gr.Button("Annuleren", elem_id="kb-cancel")
        remove_status = gr.Markdown(elem_id="kb-remove-status")
        gr.Markdown("### Corpusmap opnieuw indexeren")
        gr.Markdown(f"Leest de map `{settings.corpus_dir}`; ongewijzigde bestanden worden overgeslagen.")
        reindex = gr.Button("Opnieuw indexeren", elem_id="kb-reindex")

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

    @takes_request
    def after_login(request: gr.Request):
        """Runs after the browser posted the form to /admin/login: the cookie decides."""
        if admin_session(gate, request) is None:
            wait = gate.throttle.wait_seconds(client_address(request))
            message = gate.login_refusal(wait) if wait > 0 else WRONG_ROLE_NL if wrong_role(gate, request) else WRONG_NL
            return logged_out(message)
        return (
            gr.Column(visible=False),
            gr.Column(visible=True),
            "",
            documents_table(),
            gr.Dropdown(choices=document_choices(), value=None),
            gr.skip(),
            gr.skip(),
            gr.skip(),
        )

    admin_outputs = [login_box, admin_box, login_status, documents, to_remove, results, upload_summary, remove_status]
    for trigger in (login.click, password.submit):
        trigger(None, [user, password], [user, password], js=LOGIN_JS, api_visibility="private").then(
            after_login, None, admin_outputs, api_visibility="private"
        )

    @takes_request
    def after_logout(request: gr.Request):
        gate.logout(session_token(request), client_address(request))  # also when the browser's POST did not arrive
        return logged_out("U bent uitgelogd.")

    logout.click(None, None, None, js=LOGOUT_JS, api_visibility="private").then(
        after_logout, None, admin_outputs, api_visibility="private"
    )

    @takes_request
    def on_upload(
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
        try:
            session = admin_session(gate, request)
            if session is None:
                return NOT_LOGGED_IN, gr.skip(), gr.skip(), gr.skip(), None, False
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
                rows, summary = ingest_uploads(kb, pairs, form, lambda f, m: progress(f, desc=m), bool(replace_v))
            except KBError as exc:
                return f"⚠️ {exc}", gr.skip(), gr.skip(), gr.skip(), None, gr.skip()
            if rows:
                audit_ingest(gate, session, client_address(request), "upload", rows)
            table = pd.DataFrame(ingest_rows(rows), columns=INGEST_HEADERS)
            return summary, table, documents_table(), gr.Dropdown(choices=document_choices(), value=None), None, False
        finally:
            discard_temp_files(paths, get_upload_folder())

    upload.click(
        on_upload,
        [files, title, publisher, date, kind, cop, themes, valid_until, superseded_by, regime, replace],
        [upload_summary, results, documents, to_remove, files, replace],
        api_visibility="private",
    )

    @takes_request
    def on_remove(doc_id: str | None, request: gr.Request):
        if admin_session(gate, request) is None:
            return "", NOT_LOGGED_IN, gr.Column(visible=False), ""
        if not doc_id:
            return "", "Kies eerst een document om te verwijderen.", gr.Column(visible=False), ""
        document = next((d for d in kb.documents() if d.doc_id == doc_id), None)
        if document is None:
            return "", f"Er is geen document met id '{doc_id}' (meer).", gr.Column(visible=False), ""
        question = (
            f"Weet u zeker dat u **{document.title}** (`{doc_id}`, {document.chunks} passages) wilt verwijderen? "
            "Het document is daarna niet meer te vinden in de chat."
        )
        return doc_id, "", gr.Column(visible=True), question

    remove.click(
        on_remove,
        [to_remove],
        [pending_removal, remove_status, confirm_box, confirm_text],
        api_visibility="private",
    )

    @takes_request
    def on_confirm(doc_id: str, request: gr.Request):
        session = admin_session(gate, request)
        if session is None:
            return "", NOT_LOGGED_IN, gr.Column(visible=False), gr.skip(), gr.skip()
        if not doc_id:
            message = "Er is niets gekozen om te verwijderen."
        else:
            before = {d.doc_id: d.chunks for d in kb.documents()}
            message = remove_document(kb, doc_id)
            if doc_id in before:
                gate.audit.record(
                    "remove", session.user, client_address(request), doc_ids=[doc_id], passages=before[doc_id]
                )
        return (
            "",
            message,
            gr.Column(visible=False),
            documents_table(),
            gr.Dropdown(choices=document_choices(), value=None),
        )

    confirm.click(
        on_confirm,
        [pending_removal],
        [pending_removal, remove_status, confirm_box, documents, to_remove],
        api_visibility="private",
    )
    cancel.click(
        lambda: ("", "Verwijderen geannuleerd.", gr.Column(visible=False)),
        None,
        [pending_removal, remove_status, confirm_box],
        api_visibility="private",
    )

    @takes_request
    def on_reindex(request: gr.Request, progress=gr.Progress()):
        session = admin_session(gate, request)
        if session is None:
            return NOT_LOGGED_IN, gr.skip(), gr.skip(), gr.skip()
        if not settings.corpus_dir.is_dir():
            return f"De corpusmap `{settings.corpus_dir}` bestaat niet.", gr.skip(), gr.skip(), gr.skip()
        try:
            report = kb.ingest([settings.corpus_dir], None, lambda f, m: progress(f, desc=m))
        except KBError as exc:
            return f"⚠️ {exc}", gr.skip(), gr.skip(), gr.skip()
        # corpus files that took an id back from an upload are corpus documents again
        upload_registry(settings).update(forget=[r.doc_id for r in report.results if r.status in ("added", "replaced")])
        audit_ingest(gate, session, client_address(request), "reindex", report.results)
        table = pd.DataFrame(ingest_rows(report.results), columns=INGEST_HEADERS)
        return report.summary_nl(), table, documents_table(), gr.Dropdown(choices=document_choices(), value=None)

    reindex.click(on_reindex, None, [upload_summary, results, documents, to_remove], api_visibility="private")

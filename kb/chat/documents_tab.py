"""The Documents tab for CoP-trekkers: upload with metadata, list, remove, re-index.

Everything here sits behind the admin login (:mod:`kb.chat.auth`). Every handler checks
the session's login state itself, because hidden components can still be called.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

from kb.chat.auth import DISABLED_NL, AdminCredentials
from kb.chat.render import DOCUMENT_HEADERS, INGEST_HEADERS, document_rows, ingest_rows
from kb.chat.uploads import UploadRefused, stage_uploads
from kb.config import Settings
from kb.errors import KBError
from kb.records import KINDS, FileResult, IngestReport
from kb.service import KnowledgeBase

log = logging.getLogger(__name__)

NOT_LOGGED_IN = "Log eerst in als beheerder."
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def upload_dir(settings: Settings) -> Path:
    """Where uploaded files are kept (the source stays next to the index)."""
    return settings.data_dir / "uploads"


def upload_overrides(
    n_files: int, title: str = "", publisher: str = "", date: str = "", kind: str = "", cop: str = "", themes: str = ""
) -> tuple[dict[str, str], str]:
    """Metadata from the form as ``kb.ingest`` overrides (non-empty fields only), and a note.

    With several files the title is not applied: each file keeps its own title.
    """
    date = (date or "").strip()
    if date and not _DATE.match(date):
        raise UploadRefused(f"De datum '{date}' is niet geldig. Gebruik JJJJ-MM-DD, JJJJ-MM of JJJJ.")
    fields = {"title": title, "publisher": publisher, "date": date, "kind": kind, "cop": cop, "themes": themes}
    overrides = {k: " ".join(str(v or "").split()) for k, v in fields.items()}
    overrides = {k: v for k, v in overrides.items() if v}
    note = ""
    if n_files > 1 and "title" in overrides:
        del overrides["title"]
        note = "De titel is niet gebruikt: bij meerdere bestanden houdt elk bestand zijn eigen titel."
    return overrides, note


def ingest_uploads(
    kb: KnowledgeBase, files: list[tuple[Path, str]], form: dict[str, str], progress: Any = None
) -> tuple[list[FileResult], str]:
    """Check, keep and ingest uploaded ``(temp path, original name)`` files; returns (results, summary)."""
    try:
        overrides, note = upload_overrides(len(files), **form)
    except UploadRefused as exc:
        return [], str(exc)
    staged = stage_uploads(files, upload_dir(kb.settings), kb.settings.max_file_mb)
    report = kb.ingest(staged.accepted, overrides, progress) if staged.accepted else IngestReport()
    combined = IngestReport([*report.results, *staged.refused], report.seconds)
    return combined.results, " ".join(part for part in (combined.summary_nl(), note) if part)


def remove_document(kb: KnowledgeBase, doc_id: str) -> str:
    """Remove a document and, when no other document uses it, its uploaded source file."""
    document = next((d for d in kb.documents() if d.doc_id == doc_id), None)
    removed = kb.remove(doc_id)
    if not removed:
        return f"Er is geen document met id '{doc_id}' (meer)."
    message = f"'{doc_id}' is verwijderd ({removed} passages)."
    source = document.source if document else ""
    kept = upload_dir(kb.settings) / source if source else None
    if kept and kept.is_file() and not any(d.source == source for d in kb.documents()):
        kept.unlink()
        message += " Het geüploade bestand is ook verwijderd."
    return message


def build_documents_tab(kb: KnowledgeBase, settings: Settings, admin: AdminCredentials | None) -> None:
    """Build the Documents tab inside the open tab; without an admin account only a notice."""
    import gradio as gr
    import pandas as pd

    if admin is None:
        gr.Markdown(DISABLED_NL, elem_id="kb-admin-disabled")
        return

    def documents_table() -> pd.DataFrame:
        return pd.DataFrame(document_rows(kb.documents()), columns=DOCUMENT_HEADERS)

    def document_choices() -> list[tuple[str, str]]:
        return [(f"{d.title} ({d.doc_id})", d.doc_id) for d in sorted(kb.documents(), key=lambda d: d.title.lower())]

    logged_in = gr.State(False)
    pending_removal = gr.State("")
    with gr.Column(visible=True) as login_box:
        gr.Markdown("Log in als CoP-trekker om documenten toe te voegen of te verwijderen.")
        user = gr.Textbox(label="Gebruikersnaam", elem_id="kb-user")
        password = gr.Textbox(label="Wachtwoord", type="password", elem_id="kb-password")
        login = gr.Button("Inloggen", variant="primary", elem_id="kb-login")
        login_status = gr.Markdown(elem_id="kb-login-status")
    with gr.Column(visible=False) as admin_box:
        with gr.Row():
            gr.Markdown("U bent ingelogd als beheerder.")
            logout = gr.Button("Uitloggen", size="sm", scale=0)
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
        """The login form shown, the admin part hidden, the password field cleared."""
        return (False, gr.Column(visible=True), gr.Column(visible=False), "", message, gr.skip(), gr.skip())

    def on_login(name: str, secret: str):
        if admin.check(name, secret):
            return (
                True,
                gr.Column(visible=False),
                gr.Column(visible=True),
                "",
                "",
                documents_table(),
                gr.Dropdown(choices=document_choices(), value=None),
            )
        time.sleep(1.0)  # slows down guessing
        return logged_out("⚠️ Onjuiste gebruikersnaam of wachtwoord.")

    login_outputs = [logged_in, login_box, admin_box, password, login_status, documents, to_remove]
    login.click(on_login, [user, password], login_outputs, api_visibility="private")
    password.submit(on_login, [user, password], login_outputs, api_visibility="private")
    logout.click(lambda: logged_out("U bent uitgelogd."), None, login_outputs, api_visibility="private")

    def on_upload(paths, title_v, publisher_v, date_v, kind_v, cop_v, themes_v, ok, progress=gr.Progress()):
        if not ok:
            return NOT_LOGGED_IN, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        if not paths:
            return "Kies eerst een of meer bestanden.", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        pairs = [(Path(p), Path(p).name) for p in paths]
        form = {
            "title": title_v,
            "publisher": publisher_v,
            "date": date_v,
            "kind": kind_v,
            "cop": cop_v,
            "themes": themes_v,
        }
        try:
            rows, summary = ingest_uploads(kb, pairs, form, lambda f, m: progress(f, desc=m))
        except KBError as exc:
            return f"⚠️ {exc}", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        table = pd.DataFrame(ingest_rows(rows), columns=INGEST_HEADERS)
        cleared = None if rows else gr.skip()  # empty the upload box once handled
        return summary, table, documents_table(), gr.Dropdown(choices=document_choices(), value=None), cleared

    upload.click(
        on_upload,
        [files, title, publisher, date, kind, cop, themes, logged_in],
        [upload_summary, results, documents, to_remove, files],
        api_visibility="private",
    )

    def on_remove(doc_id: str | None, ok: bool):
        if not ok:
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
        [to_remove, logged_in],
        [pending_removal, remove_status, confirm_box, confirm_text],
        api_visibility="private",
    )

    def on_confirm(doc_id: str, ok: bool):
        if not ok:
            return "", NOT_LOGGED_IN, gr.Column(visible=False), gr.skip(), gr.skip()
        message = remove_document(kb, doc_id) if doc_id else "Er is niets gekozen om te verwijderen."
        return (
            "",
            message,
            gr.Column(visible=False),
            documents_table(),
            gr.Dropdown(choices=document_choices(), value=None),
        )

    confirm.click(
        on_confirm,
        [pending_removal, logged_in],
        [pending_removal, remove_status, confirm_box, documents, to_remove],
        api_visibility="private",
    )
    cancel.click(
        lambda: ("", "Verwijderen geannuleerd.", gr.Column(visible=False)),
        None,
        [pending_removal, remove_status, confirm_box],
        api_visibility="private",
    )

    def on_reindex(ok: bool, progress=gr.Progress()):
        if not ok:
            return NOT_LOGGED_IN, gr.skip(), gr.skip(), gr.skip()
        if not settings.corpus_dir.is_dir():
            return f"De corpusmap `{settings.corpus_dir}` bestaat niet.", gr.skip(), gr.skip(), gr.skip()
        try:
            report = kb.ingest([settings.corpus_dir], None, lambda f, m: progress(f, desc=m))
        except KBError as exc:
            return f"⚠️ {exc}", gr.skip(), gr.skip(), gr.skip()
        table = pd.DataFrame(ingest_rows(report.results), columns=INGEST_HEADERS)
        return report.summary_nl(), table, documents_table(), gr.Dropdown(choices=document_choices(), value=None)

    reindex.click(on_reindex, [logged_in], [upload_summary, results, documents, to_remove], api_visibility="private")

"""Build and launch the chat app: a Chat tab for klantmanagers, a Documents tab for CoP-trekkers and an
Evaluatie tab for evaluators.

:func:`create_app` builds the Gradio Blocks without launching (tests, embedding);
:func:`launch` is what ``kb serve`` and ``chat_app.py`` call. Everything stays on this
machine: loopback by default, no share link, no analytics, system fonts only.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import TYPE_CHECKING, Any

from kb.answer.llm.backends import describe as describe_llm
from kb.chat.audit import AuditLog, audit_path
from kb.chat.auth import EVALUATOR, PASSWORD_VAR, USER_VAR, AdminCredentials, AdminGate, Clock
from kb.config import Settings
from kb.erasure import purge
from kb.offline import apply_offline_env
from kb.privacy.private_files import private_umask
from kb.service import KnowledgeBase

if TYPE_CHECKING:
    from kb.chat.server import RunningServer

log = logging.getLogger(__name__)

TITLE = "CoP Kennisbank"
INTRO = (
    "# CoP Kennisbank\n"
    "Vragen over de uitvoering van de Wet inburgering 2021, beantwoord uit de handreikingen en "
    "CoP-interviews in de kennisbank, met genummerde bronnen. Staat het antwoord niet in de bronnen, "
    "dan zegt de kennisbank dat."
)


def mode_line(kb: KnowledgeBase) -> str:
    """One sentence on how answers are made here (with or without a language model)."""
    if kb.mode == "extractive":
        return "\n\n_Antwoorden bestaan uit letterlijke zinnen uit de bronnen._"
    return (
        "\n\n_Een taalmodel schrijft de antwoorden; elke zin wordt gecontroleerd op de bron die erbij staat, "
        "en zinnen die de bronnen niet onderbouwen worden weggelaten._"
    )


SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif")
MONO_FONTS = ("ui-monospace", "SFMono-Regular", "Consolas", "Liberation Mono", "monospace")
CSS = """
#kb-sources .kb-sources { max-height: 62vh; overflow-y: auto; }
.kb-sources-heading { font-size: 0.9em; color: var(--body-text-color-subdued); margin-bottom: 6px; }
.kb-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin-bottom: 8px; }
.kb-source-title { font-weight: 600; }
.kb-n { color: var(--color-accent); margin-right: 4px; }
.kb-date { display: inline-block; font-weight: 600; font-size: 0.85em; padding: 0 6px; margin-left: 4px;
  border-radius: 4px; background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary); }
.kb-caveat { background: #fff4e5; border-left: 4px solid #f59e0b; padding: 4px 8px; margin: 4px 0; color: #3b2a00;
  font-size: 0.9em; }
.kb-source-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 2px 0 4px; }
.kb-quote { font-style: italic; margin: 4px 0; }
.kb-passage { font-size: 0.9em; line-height: 1.45; margin-top: 4px; }
.kb-passage mark { background: #fde68a; color: inherit; padding: 0 2px; }
.kb-source summary { cursor: pointer; color: var(--color-accent); font-size: 0.9em; }
.kb-dropped { margin-top: 10px; font-size: 0.9em; }
.kb-dropped-text { text-decoration: line-through; }
.kb-dropped-reason { color: #7a4b00; }
.kb-abstain-note { background: #fff4e5; border-left: 4px solid #f59e0b; padding: 8px; margin-bottom: 8px; color: #3b2a00; }
.kb-empty { color: var(--body-text-color-subdued); }
abbr.kb-term { cursor: help; text-decoration: underline dotted; }
/* under the term's line, as wide as the answer: inside the chat box, also when it is scrolled */
abbr.kb-term:hover::after { content: attr(title); position: absolute; left: 8px; right: 8px; margin-top: 1.7em;
  z-index: 50; white-space: normal; background: #1f2937; color: #fff; padding: 6px 8px; border-radius: 6px;
  font-size: 0.8em; line-height: 1.35; font-style: normal; font-weight: normal; }
"""
_FROM_SETTINGS: Any = object()  # sentinel: the admin account of the settings (KB_ADMIN_USER / KB_ADMIN_PASSWORD)


def evaluator_account(settings: Settings) -> AdminCredentials | None:
    """The evaluator's account from ``KB_EVALUATOR_USER``/``KB_EVALUATOR_PASSWORD``; ``None`` unless both are set.

    Raises :class:`~kb.errors.ConfigError` for a password shorter than 12 characters.
    """
    if not settings.evaluator_user or not settings.evaluator_password:
        return None
    return AdminCredentials(settings.evaluator_user, settings.evaluator_password, EVALUATOR)


def admin_gate(admin: AdminCredentials | None, settings: Settings, clock: Clock = time.monotonic) -> AdminGate | None:
    """Sessions, login throttle and audit log for ``admin`` and the evaluator of ``settings``;
    ``None`` when neither account is configured."""
    accounts = [a for a in (admin, evaluator_account(settings)) if a is not None]
    if not accounts:
        return None
    return AdminGate(accounts, settings.admin_idle_minutes, AuditLog(audit_path(settings)), clock)


def create_app(
    kb: KnowledgeBase,
    settings: Settings,
    admin: AdminCredentials | None = _FROM_SETTINGS,
    *,
    gate: AdminGate | None = None,
) -> Any:  # gr.Blocks; gradio is imported lazily
    """Build the app (not launched). ``admin=None`` (and no ``gate``) disables the Documents tab's uploads.

    The admin handlers need the same ``gate`` as the login routes of :mod:`kb.chat.server`.
    """
    import gradio as gr

    from kb.chat.chat_tab import build_chat_tab
    from kb.chat.documents_tab import build_documents_tab
    from kb.chat.eval_tab import build_eval_tab, eval_tab_available
    from kb.chat.gaps_tab import build_gaps_tab

    if gate is None:
        gate = admin_gate(AdminCredentials.from_settings(settings) if admin is _FROM_SETTINGS else admin, settings)
    # delete_cache: files uploaded but never added wait in Gradio's temp folder; drop them after an hour
    # (the upload handler deletes the ones it handled at once)
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO + mode_line(kb))
        with gr.Tabs():
            with gr.Tab("Vragen stellen", id="chat") as chat_tab:
                build_chat_tab(kb, settings, demo, chat_tab)
            with gr.Tab("Documenten", id="documents"):
                build_documents_tab(kb, settings, gate)
            if eval_tab_available():
                with gr.Tab("Evaluatie", id="evaluation") as eval_tab:
                    build_eval_tab(kb, settings, gate, eval_tab)
            with gr.Tab("Kennislacunes", id="gaps") as gaps_tab:
                build_gaps_tab(kb, settings, gate, gaps_tab)
    return demo


def theme() -> Any:
    """Gradio's default look with system fonts, so the browser fetches no web fonts."""
    import gradio as gr

    return gr.themes.Default(font=list(SYSTEM_FONTS), font_mono=list(MONO_FONTS))


def mount_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """Keyword arguments for ``gr.mount_gradio_app``: local only, nothing sent anywhere."""
    return {
        "server_name": host,
        "server_port": port,
        "show_error": False,  # errors reach the user as Dutch sentences, never tracebacks
        "max_file_size": f"{settings.max_file_mb}mb",
        "footer_links": [],
        "run_history": False,  # would keep questions in the browser's storage
        "ssr_mode": False,
        "mcp_server": False,
        "pwa": False,
        "theme": theme(),
        "css": CSS,
    }


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def launch(
    kb: KnowledgeBase,
    host: str = "127.0.0.1",
    port: int = 7860,
    ingest_corpus: bool = True,
    *,
    block: bool = True,
    admin: AdminCredentials | None = _FROM_SETTINGS,
    gate: AdminGate | None = None,
) -> RunningServer:
    """Optionally index the corpus folder, then serve the app; returns the running server.

    With ``block=False`` the server runs in a background thread (tests); call ``.close()``.
    ``admin`` defaults to the account in ``kb.settings`` (a too short password stops here);
    tests may pass a ``gate`` with their own clock.
    """
    from kb.chat.server import RunningServer, build_server_app
    from kb.chat.uploads import sweep_uploads, upload_dir

    apply_offline_env()  # serving is an entry point: before gradio is imported (in create_app)
    settings = kb.settings
    private_umask()  # files the app creates (feedback, index, locks) are for this account only
    purged = purge(settings)
    if purged.deleted or purged.redacted:
        print(f"Feedback: {purged.deleted} beoordeling(en) ouder dan {purged.days} dagen verwijderd.")
    if gate is None:
        gate = admin_gate(AdminCredentials.from_settings(settings) if admin is _FROM_SETTINGS else admin, settings)
    leftovers = sweep_uploads(upload_dir(settings))
    if leftovers:
        print(f"{leftovers} achtergebleven upload(s) uit {upload_dir(settings)} verwijderd.")
    if ingest_corpus:
        if settings.corpus_dir.is_dir():
            report = kb.ingest([settings.corpus_dir])
            print(f"Corpus {settings.corpus_dir}: {report.summary_nl()}")
        else:
            print(f"Corpusmap {settings.corpus_dir} bestaat niet; er is niets geïndexeerd.")
    print(describe_llm(settings))
    if gate is None or not gate.has_role("admin"):
        print(f"Documenten beheren is uitgeschakeld; stel {USER_VAR} en {PASSWORD_VAR} in om het aan te zetten.")
    if gate is not None and not _is_loopback(host):
        print(
            f"Let op: de app luistert op {host}. Zet er een HTTPS-proxy voor, "
            "anders gaan het beheerderswachtwoord en de sessiecookie onversleuteld over het netwerk."
        )
    demo = create_app(kb, settings, gate=gate)
    demo.queue(default_concurrency_limit=2)
    app = build_server_app(demo, gate, mount_options(settings, host, port))
    server = RunningServer(app, demo, gate, host, port, settings.trusted_proxies)
    if block:
        print(f"De chat-app draait op {server.url}")
    return server.serve(block)

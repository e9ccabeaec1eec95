"""What both admin tabs (Documenten, Evaluatie) share: the login form and the session check.

Every handler reads the login cookie from its own request (``gr.Request``) and asks the
server-side session table (:mod:`kb.chat.auth`), because hidden components can still be
called and Gradio's session hash is no secret.
"""

from __future__ import annotations

from typing import Any

from kb.chat.audit import valid_address
from kb.chat.auth import ADMIN, COOKIE_NAME, AdminGate, AdminSession


def takes_request(fn: Any) -> Any:
    """Mark ``fn``'s ``request`` parameter as ``gr.Request`` for Gradio (a nested handler whose module
    imports gradio lazily cannot name the type in its annotations)."""
    import gradio as gr

    fn.__annotations__["request"] = gr.Request
    return fn

def client_address(request: Any) -> str:
    """The address the request came from, checked (``X-Forwarded-For`` only counts from a trusted proxy)."""
    client = getattr(request, "client", None)
    return valid_address(getattr(client, "host", ""))


def session_token(request: Any) -> str | None:
    cookies = getattr(request, "cookies", None) or {}
    return cookies.get(COOKIE_NAME)


def admin_session(gate: AdminGate, request: Any, role: str = ADMIN) -> AdminSession | None:
    """The session behind this Gradio request's cookie (never its session hash) when it may act as
    ``role``, or ``None``.

    A page used with a login for ``role`` is bound to the token, so its event stream is only
    readable with it; the role is checked first, so a login without that role binds nothing.
    """
    token = session_token(request)
    session = gate.session(token)
    if session is None or not session.may(role):
        return None
    gate.bind(getattr(request, "session_hash", None), token)
    return session


def wrong_role(gate: AdminGate, request: Any) -> bool:
    """True when the cookie belongs to a live session of another role (an evaluator on the Documents tab)."""
    return gate.session(session_token(request)) is not None


# The login form posts to the server's /admin/login route (kb.chat.server), which sets the
# HttpOnly cookie; the password therefore never passes through Gradio's queue or session state.
LOGIN_JS = """
async (user, password) => {
  try {
    await fetch(new URL("admin/login", document.baseURI), {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({user: user || "", password: password || ""}),
      credentials: "same-origin",
    });
  } catch (error) {}
  return [user, ""];
}
"""
LOGOUT_JS = """
async () => {
  try {
    await fetch(new URL("admin/logout", document.baseURI), {method: "POST", credentials: "same-origin"});
  } catch (error) {}
  return [];
}
"""


def login_form(intro: str, prefix: str) -> tuple[Any, Any, Any, Any, Any]:
    """The login column (visible until logged in): (column, user, password, button, status).
    ``prefix`` keeps the element ids of the two tabs apart (``kb`` → ``kb-user``, ``kb-login`` …)."""
    import gradio as gr

    with gr.Column(visible=True) as column:
        gr.Markdown(intro)
        user = gr.Textbox(label="Gebruikersnaam", elem_id=f"{prefix}-user")
        password = gr.Textbox(label="Wachtwoord", type="password", elem_id=f"{prefix}-password")
        button = gr.Button("Inloggen", variant="primary", elem_id=f"{prefix}-login")
        status = gr.Markdown(elem_id=f"{prefix}-login-status")
    return column, user, password, button, status

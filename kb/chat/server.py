"""Serve the chat app: the Gradio Blocks mounted inside a small FastAPI app that owns the admin login.

Why this shape (Gradio 6.31): an HttpOnly cookie can only be set by an HTTP response. A
Gradio event handler answers through the queue's event stream (``/gradio_api/queue/data``),
not with response headers, so it cannot set one; it could only hand a token to JavaScript,
where any script could read it. ``gr.mount_gradio_app`` is Gradio's public way to put the
Blocks inside an own FastAPI app, served here by uvicorn. ``POST /admin/login`` and
``POST /admin/logout`` are registered before the mount, so they win over Gradio's routes;
they set and clear the cookie. Gradio event handlers read that cookie back from
``gr.Request`` (the queue's ``join`` call is a same-origin fetch, so the browser sends it)
and check it against :class:`~kb.chat.auth.AdminGate`. ``Blocks.launch(_app=...)`` is
private, and routes added to ``demo.app`` after ``launch`` depend on the order of Gradio's
internal routes, so neither was used.

Deep links are refused: Gradio's ``/gradio_api/deep_link?session_hash=`` saves the current
values of every component of any session whose hash is known (another user's chat, the
admin's document table) and ``?deep_link=`` on ``/config`` or the page hands them out again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kb.chat.audit import valid_address
from kb.chat.auth import COOKIE_NAME, AdminGate

log = logging.getLogger(__name__)

LOGIN_PATH = "/admin/login"
LOGOUT_PATH = "/admin/logout"
DEEP_LINK_PATH = "/gradio_api/deep_link"
HEARTBEAT_PATH = "/gradio_api/heartbeat/"


def is_https(request: Request) -> bool:
    """True when the browser reached us over HTTPS, directly or through a TLS-terminating proxy in
    ``KB_TRUSTED_PROXIES`` (uvicorn then sets the scheme from its ``X-Forwarded-Proto``)."""
    return request.url.scheme == "https"


def peer_address(request: Request) -> str:
    """The client's address, checked: the connecting peer, or what a trusted proxy forwarded."""
    return valid_address(request.client.host if request.client else "")


class LoginForm(BaseModel):
    """The JSON body of ``POST /admin/login`` (module level: FastAPI resolves the annotations here)."""

    user: str = ""
    password: str = ""


class RefuseDeepLinks:
    """ASGI middleware: 404 for Gradio's deep-link route and for any request carrying ``deep_link=``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (
            scope["path"].rstrip("/").endswith(DEEP_LINK_PATH) or b"deep_link" in scope.get("query_string", b"")
        ):
            from starlette.responses import PlainTextResponse

            await PlainTextResponse("Niet beschikbaar.", status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class GuardAdminStreams:
    """ASGI middleware: 403 for Gradio's event stream and heartbeat of an admin page without its cookie."""

    def __init__(self, app: Any, gate: AdminGate) -> None:
        self.app, self.gate = app, gate

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            from starlette.requests import Request as StarletteRequest
            from starlette.responses import PlainTextResponse

            request = StarletteRequest(scope)
            path = scope["path"]
            session_hash = request.query_params.get("session_hash", "")
            if HEARTBEAT_PATH in path:
                session_hash = path.rsplit("/", 1)[-1]
            if session_hash and not self.gate.may_read(session_hash, request.cookies.get(COOKIE_NAME)):
                await PlainTextResponse("Geen toegang.", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_server_app(demo: Any, gate: AdminGate | None, mount_options: dict[str, Any]) -> Any:
    """The FastAPI app: admin login/logout routes (when there is an admin) and the Gradio app at ``/``."""
    import gradio as gr

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    if gate is not None:
        app.add_middleware(GuardAdminStreams, gate=gate)

        @app.post(LOGIN_PATH)
        def admin_login(form: LoginForm, request: Request) -> JSONResponse:
            outcome = gate.login(form.user, form.password, peer_address(request))
            if not outcome.ok:
                status = 429 if outcome.retry_after else 401
                headers = {"Retry-After": str(int(outcome.retry_after) + 1)} if outcome.retry_after else None
                return JSONResponse({"ok": False, "message": outcome.message}, status_code=status, headers=headers)
            gate.replace_token(request.cookies.get(COOKIE_NAME), outcome.token)  # a new login replaces an older one
            response = JSONResponse({"ok": True, "message": outcome.message})
            response.set_cookie(
                COOKIE_NAME,
                outcome.token,
                httponly=True,
                samesite="strict",
                secure=is_https(request),
                path="/",
            )
            return response

        @app.post(LOGOUT_PATH)
        def admin_logout(request: Request) -> JSONResponse:
            gate.logout(request.cookies.get(COOKIE_NAME), peer_address(request))
            response = JSONResponse({"ok": True, "message": "U bent uitgelogd."})
            response.delete_cookie(
                COOKIE_NAME,
                path="/",
                httponly=True,
                samesite="strict",
                secure=is_https(request),
            )
            return response

    app.add_middleware(RefuseDeepLinks)  # added last, so it runs first
    return gr.mount_gradio_app(app, demo, path="/", **mount_options)


class RunningServer:
    """The app served by uvicorn, in this thread (``block=True``) or a background thread."""

    def __init__(
        self, app: Any, demo: Any, gate: AdminGate | None, host: str, port: int, trusted_proxies: tuple[str, ...] = ()
    ) -> None:
        import uvicorn

        # access_log off: request lines carry session hashes and would put them in the log.
        # proxy_headers only for the proxies in KB_TRUSTED_PROXIES: uvicorn's default believes
        # X-Forwarded-For from 127.0.0.1, so any local client could choose its own address.
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
            proxy_headers=bool(trusted_proxies),
            forwarded_allow_ips=list(trusted_proxies),
        )
        self.server = uvicorn.Server(config)
        self.demo, self.gate = demo, gate
        self.url = f"http://{host}:{port}/"
        self._thread: threading.Thread | None = None

    def serve(self, block: bool) -> RunningServer:
        if block:
            self.server.run()
            return self
        self._thread = threading.Thread(target=self.server.run, name="kb-chat-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"De chat-app kon niet starten op {self.url}.")
            time.sleep(0.05)
        return self

    def close(self) -> None:
        """Stop serving (background mode) and free the port."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)

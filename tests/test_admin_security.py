"""Admin access against the running app over real HTTP (issue 11).

Each test replays an attack found on main: the session hash as admin credential, deep links,
endless password guessing, silent replacement of a corpus document, colliding non-Latin file
names, originals left in ``uploads/``. The app is :func:`kb.chat.app.launch` on a free
loopback port against a private copy of the sample index; the login clock is injected so
idle expiry and lock-outs are tested without waiting.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import stat
import time
from pathlib import Path

import httpx
import pytest

from kb.chat.audit import read_audit
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow

HANDREIKING = "handreiking-warme-overdracht"
ADMIN = ("trekker-test", "een-lang-test-wachtwoord-" + secrets.token_urlsafe(6))
EVALUATOR = ("evaluator-test", "een-ander-lang-wachtwoord-" + secrets.token_urlsafe(6))


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory, sample_data_dir, e5):
    from kb.chat.app import admin_gate, launch
    from kb.chat.auth import AdminCredentials
    from kb.config import Settings
    from kb.service import build_kb

    data_dir = tmp_path_factory.mktemp("admin") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    leftover = data_dir / "uploads" / "batch-oud" / "verslag-met-bsn.md"  # an interrupted upload
    leftover.parent.mkdir(parents=True)
    leftover.write_text("BSN 123456782", encoding="utf-8")
    settings = Settings().with_(data_dir=data_dir, corpus_dir=CORPUS)
    kb = build_kb(settings, embedding=e5)
    clock = FakeClock()
    with_evaluator = settings.with_(evaluator_user=EVALUATOR[0], evaluator_password=EVALUATOR[1])
    gate = admin_gate(AdminCredentials(*ADMIN), with_evaluator, clock)
    server = launch(kb, host="127.0.0.1", port=_free_port(), ingest_corpus=False, block=False, gate=gate)
    try:
        yield {"url": server.url, "kb": kb, "gate": gate, "clock": clock, "demo": server.demo, "leftover": leftover}
    finally:
        server.close()


@pytest.fixture(autouse=True)
def fresh_throttle(request):
    """Each test against the app starts without earlier failed logins."""
    from kb.chat.auth import LoginThrottle

    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        app["gate"].throttle = LoginThrottle(app["clock"])


def _fn_index(demo, name: str) -> int:
    return next(i for i, fn in demo.fns.items() if fn.name == name)


def call_event(
    app, fn_name: str, data: list, session_hash: str, cookies: dict | None = None, refusable: bool = False
) -> list | int | str:
    """Run one Gradio event the way the browser does: POST queue/join, then read queue/data.

    Returns the outputs, or the HTTP status when the event stream was refused, or (with
    ``refusable``) ``"refused"`` when Gradio refused the input before the handler ran (a
    dropdown value that is not one of the choices the server gave this session).
    """
    base = app["url"]
    with httpx.Client(base_url=base, cookies=cookies or {}, timeout=120) as client:
        body = {"data": data, "fn_index": _fn_index(app["demo"], fn_name), "session_hash": session_hash}
        joined = client.post("gradio_api/queue/join", json={**body, "event_data": None, "trigger_id": None})
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        with client.stream("GET", "gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
            if stream.status_code != 200:
                return stream.status_code
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                    if refusable and not message.get("success"):
                        return "refused"
                    assert message.get("success"), message
                    return message["output"]["data"]
    raise AssertionError("no result")


def login(
    app, password: str = ADMIN[1], headers: dict | None = None, user: str = ADMIN[0], source: str | None = None
) -> httpx.Response:
    """POST the login form; ``source``: the loopback address to connect from (another machine)."""
    transport = httpx.HTTPTransport(local_address=source) if source else None
    with httpx.Client(transport=transport, timeout=30) as client:
        return client.post(app["url"] + "admin/login", json={"user": user, "password": password}, headers=headers)


def _text(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _audit(app) -> list[dict]:
    return read_audit(app["kb"].settings.data_dir / "audit.jsonl")


def test_login_sets_a_strict_httponly_cookie_and_the_hash_alone_gets_nothing(app):
    """Bug: admin rights were the Gradio session hash, which travels in URLs and proxy logs."""
    wrong = login(app, "fout-wachtwoord-123")
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    ok = login(app)
    assert ok.status_code == 200
    cookie = ok.headers["set-cookie"].lower()
    assert "kb_admin=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie  # plain HTTP on loopback
    # no KB_TRUSTED_PROXIES: a forwarded scheme is not believed (see test_behind_a_trusted_proxy_…)
    not_a_proxy = login(app, headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"].lower()
    assert "secure" not in not_a_proxy
    token = ok.cookies["kb_admin"]
    assert len(token) >= 43 and token not in json.dumps(_audit(app))

    session_hash = secrets.token_hex(6)
    shown = call_event(app, "after_login", [], session_hash, {"kb_admin": token})
    assert HANDREIKING in _text(shown)  # the admin sees the documents table
    # the same session hash without the cookie: its event stream is refused ...
    before = len(_audit(app))
    assert call_event(app, "on_remove", [HANDREIKING], session_hash) == 403
    assert call_event(app, "on_reindex", [], session_hash) == 403
    assert call_event(app, "after_login", [], session_hash) == 403
    # ... and the handlers check the cookie, not the session: without it they do nothing
    other = secrets.token_hex(6)
    assert "Log eerst in als beheerder" in _text(call_event(app, "on_reindex", [], other)[0])
    assert call_event(app, "on_confirm", [None], other)[1].startswith("Log eerst in")
    assert call_event(app, "on_upload", [None, "", "", "", "", "", "", "", "", "", True], other)[0].startswith(
        "Log eerst in"
    )
    replay = call_event(app, "after_login", [], other)
    assert HANDREIKING not in _text(replay) and "Onjuiste" in _text(replay)
    time.sleep(1)  # the refused replays above had time to run
    assert not [e for e in _audit(app)[before:] if e["action"] in ("reindex", "remove")]
    assert any(d.doc_id == HANDREIKING for d in app["kb"].documents())


def test_deep_links_return_no_admin_data(app):
    """Bug: /gradio_api/deep_link?session_hash= then /config?deep_link= gave another session's chat and
    the admin's documents table."""
    token = login(app).cookies["kb_admin"]
    session_hash = secrets.token_hex(6)
    call_event(app, "after_login", [], session_hash, {"kb_admin": token})
    for hash_ in (session_hash, secrets.token_hex(6)):
        link = httpx.get(app["url"] + "gradio_api/deep_link", params={"session_hash": hash_})
        assert link.status_code == 404 and HANDREIKING not in link.text
    for path in ("config", ""):
        shared = httpx.get(app["url"] + path, params={"deep_link": "abc123"})
        assert shared.status_code == 404
    config = httpx.get(app["url"] + "config")
    assert config.status_code == 200 and HANDREIKING not in config.text


def test_the_event_stream_of_an_admin_page_needs_the_admin_cookie(app):
    """Gradio streams a page's results to whoever asks with its session hash (queue/data?session_hash=):
    once a page has been used as admin, its stream and heartbeat need that admin's cookie."""
    token = login(app).cookies["kb_admin"]
    session_hash = secrets.token_hex(6)
    call_event(app, "after_login", [], session_hash, {"kb_admin": token})
    for path in ("gradio_api/queue/data", f"gradio_api/heartbeat/{session_hash}"):
        stolen = httpx.get(app["url"] + path, params={"session_hash": session_hash}, timeout=10)
        assert stolen.status_code == 403 and HANDREIKING not in stolen.text
        forged = httpx.get(
            app["url"] + path, params={"session_hash": session_hash}, cookies={"kb_admin": "geraden"}, timeout=10
        )
        assert forged.status_code == 403
    with httpx.stream(
        "GET",
        app["url"] + "gradio_api/queue/data",
        params={"session_hash": session_hash},
        cookies={"kb_admin": token},
        timeout=10,
    ) as own:
        assert own.status_code == 200
    # a page never used as admin (a klantmanager's chat) is not affected
    assert call_event(app, "on_reindex", [], secrets.token_hex(6))[0].startswith("Log eerst in")
    # after logout the page works again without a cookie (and shows nothing of the admin part)
    httpx.post(app["url"] + "admin/logout", cookies={"kb_admin": token})
    replay = call_event(app, "after_login", [], session_hash)
    assert HANDREIKING not in _text(replay)


def _join(app, fn_name: str, data: list, session_hash: str, cookies: dict) -> str:
    """POST queue/join only (nobody reads the stream yet); returns the event id."""
    body = {"data": data, "fn_index": _fn_index(app["demo"], fn_name), "session_hash": session_hash}
    joined = httpx.post(
        app["url"] + "gradio_api/queue/join", json={**body, "event_data": None, "trigger_id": None}, cookies=cookies
    )
    joined.raise_for_status()
    return joined.json()["event_id"]


def test_an_evaluator_joining_with_the_admin_pages_hash_leaves_the_admins_stream_working(app):
    """Bug: admin_session() bound the page before it checked the role, and a new binding overwrote the
    old one: an evaluator who joined with the admin page's session hash locked the admin out (403)."""
    admin = {"kb_admin": login(app).cookies["kb_admin"]}
    evaluator = {"kb_admin": login(app, EVALUATOR[1], user=EVALUATOR[0]).cookies["kb_admin"]}
    page = secrets.token_hex(6)
    assert HANDREIKING in _text(call_event(app, "after_login", [], page, admin))
    for fn_name, data in (("eval_after_login", [True]), ("after_login", [])):  # his own tab, and the admin's
        event_id = _join(app, fn_name, data, page, evaluator)
        with httpx.stream(
            "GET", app["url"] + "gradio_api/queue/data", params={"session_hash": page}, cookies=admin, timeout=60
        ) as stream:
            assert stream.status_code == 200, fn_name
            done = (json.loads(line[5:]) for line in stream.iter_lines() if line.startswith("data:"))
            assert any(m.get("msg") == "process_completed" and m.get("event_id") == event_id for m in done)
        # the evaluator's handler has run: the page is still the admin's, and only the admin's
        for cookies, status in ((admin, 200), (evaluator, 403), ({}, 403)):
            with httpx.stream("GET", app["url"] + f"gradio_api/heartbeat/{page}", cookies=cookies, timeout=10) as beat:
                assert beat.status_code == status, (fn_name, cookies == admin)
    assert HANDREIKING in _text(call_event(app, "after_login", [], page, admin))


def test_logout_ends_the_session_on_the_server(app):
    ok = login(app)
    token = ok.cookies["kb_admin"]
    out = httpx.post(app["url"] + "admin/logout", cookies={"kb_admin": token})
    assert out.status_code == 200 and 'kb_admin=""' in out.headers["set-cookie"]
    assert app["gate"].session(token) is None
    replay = call_event(app, "on_reindex", [], secrets.token_hex(6), {"kb_admin": token})
    assert "Log eerst in als beheerder" in _text(replay[0])
    assert _audit(app)[-1]["action"] == "logout"


def test_sessions_end_after_the_idle_time(app):
    token = login(app).cookies["kb_admin"]
    clock, idle = app["clock"], app["kb"].settings.admin_idle_minutes * 60
    clock.advance(idle - 60)
    assert HANDREIKING in _text(call_event(app, "after_login", [], secrets.token_hex(6), {"kb_admin": token}))
    clock.advance(idle - 60)  # activity above restarted the idle time
    assert app["gate"].session(token) is not None
    clock.advance(idle + 1)
    replay = call_event(app, "after_login", [], secrets.token_hex(6), {"kb_admin": token})
    assert HANDREIKING not in _text(replay)


def test_thirty_wrong_passwords_lock_out_at_once_and_the_right_one_is_refused_while_locked(app):
    """Bug: 30 wrong passwords and then the right one worked; each failure slept 1 s in a queue worker."""
    statuses, slowest = [], 0.0
    for n in range(30):
        started = time.perf_counter()
        statuses.append(login(app, f"geraden-{n:04d}-wachtwoord").status_code)
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.5
    assert statuses[:3] == [401, 401, 401] and set(statuses[3:]) == {429}  # after the 3rd, as the README says
    started = time.perf_counter()
    right = login(app)
    assert time.perf_counter() - started < 0.5
    assert right.status_code == 429 and "set-cookie" not in right.headers
    assert "Te veel mislukte pogingen" in right.json()["message"] and int(right.headers["retry-after"]) > 0
    # the login form in the app says the same, answered at once
    shown = call_event(app, "after_login", [], secrets.token_hex(6))
    assert "Te veel mislukte pogingen" in _text(shown)
    entries = _audit(app)
    assert sum(e["action"] == "login_failed" for e in entries) >= 3
    assert entries[-1]["action"] == "login_blocked" and entries[-1]["user"] == ADMIN[0]
    assert entries[-2]["action"] == "login_failed"  # 28 refused attempts: one line, then counted
    app["clock"].advance(3600)  # the back-off ends
    assert login(app).status_code == 200
    assert _audit(app)[-1]["action"] == "login" and _audit(app)[-1]["blocked"] == 28


def test_many_failures_for_an_account_lock_it_only_for_the_addresses_that_failed():
    """Replaces the lock for everyone (100 failures from anywhere locked the real trekker out too)."""
    from kb.chat.auth import LoginThrottle

    clock = FakeClock()
    throttle = LoginThrottle(clock, account_limit=10)
    for n in range(10):
        throttle.failed(f"10.0.0.{n}", "trekker")
    clock.advance(3)  # past the first address's 2 s back-off: the account lock holds it
    assert throttle.wait_seconds("10.0.0.3", "trekker") > 800  # one guess per 15 minutes now
    assert throttle.wait_seconds("10.0.0.3", "evaluator") == 0  # only that account
    assert throttle.wait_seconds("192.168.1.1", "trekker") == 0  # a machine that never failed
    clock.advance(901)
    assert throttle.wait_seconds("10.0.0.3", "trekker") == 0
    # an IPv6 machine picks any address in its /64: it counts as one
    for n in range(3):
        throttle.failed(f"2001:db8:1:2::{n + 1:x}", "trekker")
    assert throttle.wait_seconds("2001:db8:1:2::ffff", "trekker") > 0
    assert throttle.wait_seconds("2001:db8:1:3::1", "trekker") == 0


def _xff_login(app, forwarded_for: str, password: str = "fout-wachtwoord-123") -> int:
    return login(app, password, headers={"X-Forwarded-For": forwarded_for}).status_code


def test_a_spoofed_forwarded_for_changes_neither_the_throttle_nor_the_audit_address(app):
    """Bug: uvicorn believed X-Forwarded-For from any loopback client: 203.0.113.7 and a 3,000-character
    header went into audit.jsonl verbatim, and each invented address had its own throttle."""
    before = len(_audit(app))
    long_header = "203.0.113." + "9" * 3000
    statuses = [_xff_login(app, xff) for xff in ("203.0.113.7", long_header, "198.51.100.1", "198.51.100.2")]
    entries = _audit(app)[before:]
    assert [e["client"] for e in entries] == ["127.0.0.1"] * 4
    assert "9" * 100 not in (app["kb"].settings.data_dir / "audit.jsonl").read_text(encoding="utf-8")
    throttle = app["gate"].throttle
    assert throttle.wait_seconds("127.0.0.1", ADMIN[0]) > 0
    assert all(throttle.wait_seconds(a, ADMIN[0]) == 0 for a in ("203.0.113.7", "198.51.100.1", "198.51.100.2"))
    # one machine: the 4th attempt already waits for that machine's back-off
    assert statuses == [401, 401, 401, 429]
    assert [e["action"] for e in entries] == ["login_failed"] * 3 + ["login_blocked"]


def test_a_hundred_failures_from_spoofed_addresses_do_not_lock_the_real_admin_out(app):
    """Bug: cycling X-Forwarded-For gave 100 failures in 0.1 s; then the admin's right password got 429
    for 15 minutes, and 300 blocked attempts added 34 KB to the audit log."""
    audit_file = app["kb"].settings.data_dir / "audit.jsonl"
    before = len(_audit(app))
    statuses = [_xff_login(app, f"198.51.100.{n}") for n in range(100)]
    # the real admin, on another machine (another loopback address), logs in at once
    right = login(app, source="127.0.0.2")
    assert right.status_code == 200 and right.json()["message"] == "U bent ingelogd als beheerder."
    assert _audit(app)[-1]["client"] == "127.0.0.2" and _audit(app)[-1]["action"] == "login"
    assert statuses[:3] == [401] * 3 and set(statuses[3:]) == {429}  # the attacking machine is held
    size = audit_file.stat().st_size
    assert {_xff_login(app, f"203.0.113.{n % 250}") for n in range(300)} == {429}
    assert audit_file.stat().st_size == size  # counted, not written
    assert app["gate"].throttle.refused_total == 397
    assert len(_audit(app)) - before == 5  # three failures, the start of the refusals, the admin's login


def test_an_evaluator_is_told_he_is_logged_in_as_evaluator(app):
    reply = login(app, EVALUATOR[1], user=EVALUATOR[0])
    assert reply.status_code == 200 and reply.json()["message"] == "U bent ingelogd als evaluator."
    assert "beheerder" not in reply.text


@pytest.fixture(scope="module")
def proxied_app(tmp_path_factory, sample_data_dir, e5):
    """The app behind a reverse proxy on 127.0.0.1 (KB_TRUSTED_PROXIES=127.0.0.1)."""
    from kb.chat.app import admin_gate, launch
    from kb.chat.auth import AdminCredentials
    from kb.config import Settings
    from kb.service import build_kb

    data_dir = tmp_path_factory.mktemp("proxied") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    settings = Settings.from_env({"KB_DATA_DIR": str(data_dir), "KB_TRUSTED_PROXIES": "127.0.0.1"})
    kb = build_kb(settings.with_(corpus_dir=CORPUS), embedding=e5)
    gate = admin_gate(AdminCredentials(*ADMIN), kb.settings, FakeClock())
    server = launch(kb, host="127.0.0.1", port=_free_port(), ingest_corpus=False, block=False, gate=gate)
    try:
        yield {"url": server.url, "kb": kb, "gate": gate}
    finally:
        server.close()


def test_behind_a_trusted_proxy_its_forwarded_headers_count_and_only_its_own(proxied_app):
    app = proxied_app
    secure = login(app, headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    assert secure.status_code == 200 and "; secure" in secure.headers["set-cookie"].lower()
    assert _audit(app)[-1]["client"] == "203.0.113.7"
    # a client that put its own header in front: the proxy appended the real address, which counts
    login(app, "fout-wachtwoord-123", headers={"X-Forwarded-For": "10.9.9.9, 198.51.100.23"})
    assert _audit(app)[-1]["client"] == "198.51.100.23"
    # what the proxy forwards is checked before it is written
    login(app, "fout-wachtwoord-123", headers={"X-Forwarded-For": "x" * 3000})
    assert _audit(app)[-1]["client"] == "onbekend"
    # a machine that is not the proxy cannot forward anything
    direct = login(app, headers={"X-Forwarded-For": "203.0.113.8", "X-Forwarded-Proto": "https"}, source="127.0.0.3")
    assert direct.status_code == 200 and "secure" not in direct.headers["set-cookie"].lower()
    assert _audit(app)[-1]["client"] == "127.0.0.3"


def _upload(app, files: dict[str, bytes], replace: bool, cookies: dict) -> list:
    """Upload through Gradio's upload route, then press 'Toevoegen' (the on_upload event)."""
    with httpx.Client(base_url=app["url"], timeout=60) as client:
        sent = client.post("gradio_api/upload", files=[("files", (name, data)) for name, data in files.items()])
        sent.raise_for_status()
        paths = sent.json()
    payload = [{"path": p, "orig_name": name, "meta": {"_type": "gradio.FileData"}} for p, name in zip(paths, files)]
    out = call_event(
        app, "on_upload", [payload, "", "", "", "", "", "", "", "", "", replace], secrets.token_hex(6), cookies
    )
    for p in paths:
        assert not Path(p).exists()  # Gradio's temporary copy is gone too
    return out


def _rows(out) -> list[list]:
    return out[1]["data"]


def test_uploads_cannot_silently_replace_a_corpus_document_and_keep_no_original(app):
    """Bug: a text with the handreiking's id in its front matter replaced the 92-passage handreiking."""
    kb, uploads = app["kb"], app["kb"].settings.data_dir / "uploads"
    assert not app["leftover"].exists()  # swept at start-up
    assert stat.S_IMODE(uploads.stat().st_mode) == 0o700
    cookies = {"kb_admin": login(app).cookies["kb_admin"]}
    passages = {d.doc_id: d.chunks for d in kb.documents()}[HANDREIKING]
    hijack = f"---\nid: {HANDREIKING}\ntitle: Overgenomen\n---\n\nEen korte tekst die de handreiking vervangt.\n"

    out = _upload(app, {"overname.md": hijack.encode()}, False, cookies)
    (row,) = _rows(out)
    assert row[1] == "geweigerd" and f"id '{HANDREIKING}'" in row[5] and "Vervang het bestaande document" in row[5]
    assert {d.doc_id: d.chunks for d in kb.documents()}[HANDREIKING] == passages
    assert list(uploads.iterdir()) == []

    # without the cookie the tick does not help
    refused = call_event(app, "on_upload", [None, "", "", "", "", "", "", "", "", "", True], secrets.token_hex(6))
    assert refused[0].startswith("Log eerst in")

    # two non-Latin names no longer collide as document.md
    arabic = "# تقرير\n\nDe gemeente Wormerveld verstrekt fietsen aan inburgeraars in de opstartklas.\n"
    cyrillic = "# отчет\n\nDe gemeente Zaanbeek organiseert taalcafés voor statushouders op zaterdag.\n"
    out = _upload(app, {"تقرير.md": arabic.encode(), "отчет.md": cyrillic.encode()}, False, cookies)
    rows = _rows(out)
    assert [r[1] for r in rows] == ["toegevoegd", "toegevoegd"], rows
    assert rows[0][2] != rows[1][2] and all(r[2].startswith("document-") for r in rows)
    assert list(uploads.iterdir()) == []
    # the same file again is a new version of the same upload: no tick needed
    out = _upload(app, {"تقرير.md": (arabic + "\nNieuwe alinea over fietslessen.\n").encode()}, False, cookies)
    assert _rows(out)[0][1] == "vervangen"

    # ticked: replaced, and the audit log says so without any document text
    out = _upload(app, {"overname.md": hijack.encode()}, True, cookies)
    assert _rows(out)[0][1] == "vervangen"
    assert {d.doc_id: d.chunks for d in kb.documents()}[HANDREIKING] == 1
    assert list(uploads.iterdir()) == []
    entries = _audit(app)
    assert entries[-1]["action"] == "replace" and entries[-1]["doc_ids"] == [HANDREIKING]
    assert entries[-2]["action"] == "upload" and entries[-2]["replaced"] == 1
    audit_file = kb.settings.data_dir / "audit.jsonl"
    assert stat.S_IMODE(audit_file.stat().st_mode) == 0o600
    text = audit_file.read_text(encoding="utf-8")
    for fragment in ("Overgenomen", "fietsen", "taalcafés", "Wormerveld", ADMIN[1]):
        assert fragment not in text
    assert {"timestamp", "action", "user", "client"} <= set(entries[-1])

    # re-indexing the corpus brings the handreiking back (and is audited)
    out = call_event(app, "on_reindex", [], secrets.token_hex(6), cookies)
    assert {d.doc_id: d.chunks for d in kb.documents()}[HANDREIKING] == passages
    assert _audit(app)[-2]["action"] == "reindex" or _audit(app)[-1]["action"] == "reindex"
    assert os.listdir(uploads) == []


def test_start_up_refuses_a_short_admin_password(tmp_path):
    """``chat_app.py`` stops before loading any model, with one Dutch sentence and no traceback."""
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {
        **os.environ,
        "KB_ADMIN_USER": "trekker",
        "KB_ADMIN_PASSWORD": "kort",
        "KB_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, str(REPO / "chat_app.py")], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "te kort: gebruik minstens 12 tekens" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()


def test_evaluatie_handlers_need_an_evaluator_or_admin_cookie_and_take_no_paths(app):
    """Every handler of the Evaluatie tab is an HTTP endpoint: each checks the cookie and its role.
    Question files and runs are dropdown choices the server gave this page (Gradio refuses any other
    value) and are looked up again by name on the server; a new question file's name is checked."""
    from kb.feedback import feedback_path, record_feedback

    data_dir = app["kb"].settings.data_dir
    item = record_feedback(feedback_path(app["kb"].settings), "Wat is de MAP?", "Antwoord.", [], "down", "geheim-123")
    nobody = secrets.token_hex(6)
    for name, data in (
        ("eval_list_feedback", [True]),
        ("eval_after_login", [True]),
        ("eval_pick_feedback", [item["id"]]),
        ("eval_to_question", [item["id"], "Vraag?", "unanswerable", "", [], "feedback"]),
        ("eval_run", ["questions.jsonl (meegeleverd)"]),
        ("eval_show_run", ["20260101-000000-x"]),
        ("eval_compare", ["a", "b"]),
    ):
        out = call_event(app, name, data, nobody, refusable=True)
        assert "geheim-123" not in _text(out) and "Wat is de MAP?" not in _text(out), name
        assert out == "refused" or any(m in _text(out) for m in ("Log eerst in als evaluator", "Onjuiste")), (name, out)
    assert not (data_dir / "evals").exists()  # nothing was written or run

    # the evaluator sees the feedback but may not manage documents
    evaluator = {"kb_admin": login(app, EVALUATOR[1], user=EVALUATOR[0]).cookies["kb_admin"]}
    page = secrets.token_hex(6)
    opened = _text(call_event(app, "eval_after_login", [True], page, evaluator))
    assert item["id"] in opened and "geheim-123" in opened and "ingelogd als evaluator" in opened
    assert "mag geen documenten beheren" in _text(call_event(app, "after_login", [], secrets.token_hex(6), evaluator))
    refused = call_event(app, "on_confirm", [HANDREIKING], secrets.token_hex(6), evaluator)
    assert refused[1].startswith("Log eerst in als beheerder")
    assert any(d.doc_id == HANDREIKING for d in app["kb"].documents())

    # crafted values: not among this page's choices, so refused before the handler; a bad file name refused by it
    for label in ("../../../etc/passwd", "/etc/passwd", str(data_dir / "feedback.jsonl")):
        assert call_event(app, "eval_run", [label], page, evaluator, refusable=True) == "refused"
    assert call_event(app, "eval_compare", ["../..", "../chroma"], page, evaluator, refusable=True) == "refused"
    escaped = call_event(
        app, "eval_to_question", [item["id"], "Vraag?", "unanswerable", "", [], "../../x"], page, evaluator
    )
    assert "alleen kleine letters" in escaped[0]
    assert not (data_dir / "evals" / "questions").exists() or not list((data_dir / "evals" / "questions").iterdir())
    # the page's session ends: its dropdown values are valid, the cookie is not
    app["clock"].advance(app["kb"].settings.admin_idle_minutes * 60 + 1)
    expired = call_event(app, "eval_run", ["questions.jsonl (meegeleverd)"], page, evaluator)
    assert expired[0] == "Log eerst in als evaluator (of opnieuw: na een tijd zonder activiteit of na uitloggen)."
    assert not (data_dir / "evals" / "runs").exists()
    # the admin may evaluate too
    admin = {"kb_admin": login(app).cookies["kb_admin"]}
    assert item["id"] in _text(call_event(app, "eval_list_feedback", [True], secrets.token_hex(6), admin))


def test_trusted_proxies_setting_is_empty_by_default_and_checked():
    from kb.config import Settings
    from kb.errors import ConfigError

    assert Settings.from_env({}).trusted_proxies == ()
    parsed = Settings.from_env({"KB_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1"}).trusted_proxies
    assert parsed == ("127.0.0.1/32", "10.0.0.0/8", "::1/128")
    for wrong in ("*", "proxy.example.nl", "10.0.0.0/33"):
        with pytest.raises(ConfigError, match="KB_TRUSTED_PROXIES"):
            Settings.from_env({"KB_TRUSTED_PROXIES": wrong})


def test_kennislacunes_handlers_need_an_evaluator_or_admin_cookie_also_as_raw_api_calls(app):
    """Issue 21: every handler of the Kennislacunes tab is an HTTP endpoint and checks the role itself."""
    from kb.chat.gaps_tab import NOT_LOGGED_IN
    from kb.questions_log import QuestionLog, question_log_path

    log = QuestionLog(question_log_path(app["kb"].settings))
    log.record("Wat kost een tolk bij het geheime-thema-x gesprek?", "abstained", 0.1)
    calls = (
        ("on_show", ["", "", [], ""]),
        ("on_theme", ["", "", [], "", None]),
        ("on_export", ["", "", [], "", "csv"]),
        ("on_draft", ["", "", [], "", None]),
    )
    for cookies in (None, {"kb_admin": "geraden-" + secrets.token_hex(8)}):
        for name, data in calls:
            out = call_event(app, name, data, secrets.token_hex(6), cookies, refusable=True)
            assert "geheime-thema-x" not in _text(out), name
            assert out == "refused" or NOT_LOGGED_IN in _text(out), (name, out)
    evaluator = {"kb_admin": login(app, EVALUATOR[1], user=EVALUATOR[0]).cookies["kb_admin"]}
    shown = call_event(app, "on_show", ["", "", [], ""], secrets.token_hex(6), evaluator)
    assert NOT_LOGGED_IN not in _text(shown) and "Onjuiste" not in _text(shown)

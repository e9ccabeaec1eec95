"""Login for the Documents and Evaluatie tabs: the accounts, server-side sessions and a login throttle.

There are two roles. The admin (a CoP-trekker) manages documents and may evaluate; the
evaluator only sees feedback and runs evaluations. Credentials come only from
``KB_ADMIN_USER``/``KB_ADMIN_PASSWORD`` and ``KB_EVALUATOR_USER``/``KB_EVALUATOR_PASSWORD``
(the latter read by :class:`~kb.config.Settings`); nothing is built in. Without both, uploading and removing documents is disabled and the tab says how to
enable it; a password shorter than :data:`MIN_PASSWORD_CHARS` stops the start-up.

A successful login gets a random token that the server hands out in an HttpOnly cookie
(:mod:`kb.chat.server`). The token, never Gradio's session hash, is what every admin
handler checks: the session hash travels in URLs (``queue/data?session_hash=``) and so ends
up in proxy logs. Sessions live only in this process, end after ``KB_ADMIN_IDLE_MINUTES``
without activity and on logout. Failed logins lock the client's address out for a time
that doubles with each failure, and many failures from anywhere lock the login for everyone
for a while; a locked-out attempt is answered at once, without checking the password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from kb.chat.audit import AuditLog
from kb.config import Settings
from kb.errors import ConfigError

USER_VAR = "KB_ADMIN_USER"
PASSWORD_VAR = "KB_ADMIN_PASSWORD"
ADMIN, EVALUATOR = "admin", "evaluator"
ROLES = (ADMIN, EVALUATOR)
MIN_PASSWORD_CHARS = 12
COOKIE_NAME = "kb_admin"
DISABLED_NL = (
    "Documenten toevoegen en verwijderen is uitgeschakeld: er is geen beheerder ingesteld. "
    f"Start de app met de omgevingsvariabelen `{USER_VAR}` en `{PASSWORD_VAR}`, bijvoorbeeld "
    f"`{USER_VAR}=trekker {PASSWORD_VAR}='een lang wachtwoord' .venv/bin/kb serve`, en log hier dan in."
)
WRONG_NL = "⚠️ Onjuiste gebruikersnaam of wachtwoord."

Clock = Callable[[], float]


@dataclass(frozen=True)
class AdminCredentials:
    """One login account: the admin (a CoP-trekker, manages documents) or an evaluator."""

    user: str
    password: str = field(repr=False)  # never shown in logs or reprs
    role: str = ADMIN

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {self.role!r}")
        if len(self.password) < MIN_PASSWORD_CHARS:
            variable = PASSWORD_VAR if self.role == ADMIN else "KB_EVALUATOR_PASSWORD"
            raise ConfigError(
                f"Het wachtwoord in {variable} is te kort: gebruik minstens "
                f"{MIN_PASSWORD_CHARS} tekens, bijvoorbeeld een zin van een paar woorden. De app start niet."
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> AdminCredentials | None:
        """The admin account of ``settings``; ``None`` when the user or the password is empty.

        Raises :class:`ConfigError` when the password is shorter than :data:`MIN_PASSWORD_CHARS`.
        """
        if not settings.admin_user or not settings.admin_password:
            return None
        return cls(settings.admin_user, settings.admin_password)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AdminCredentials | None:
        """The admin account from the environment (read by :class:`~kb.config.Settings`)."""
        return cls.from_settings(Settings.from_env(None if environ is None else dict(environ)))

    def check(self, user: str, password: str) -> bool:
        """True when both match; both are always compared so timing reveals nothing."""
        user_ok = hmac.compare_digest((user or "").strip().encode("utf-8"), self.user.encode("utf-8"))
        password_ok = hmac.compare_digest((password or "").encode("utf-8"), self.password.encode("utf-8"))
        return user_ok and password_ok


@dataclass
class AdminSession:
    """One logged-in account; the token itself is not kept, only its hash."""

    user: str
    client: str
    last_seen: float
    role: str = ADMIN

    def may(self, role: str) -> bool:
        """True when this session may act as ``role`` (the admin may also evaluate)."""
        return self.role == role or self.role == ADMIN


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AdminSessions:
    """Server-side session table: random tokens that end after ``idle_seconds`` without use."""

    def __init__(self, idle_seconds: float, clock: Clock = time.monotonic) -> None:
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._sessions: dict[str, AdminSession] = {}
        self._lock = threading.Lock()

    def start(self, user: str, client: str, role: str = ADMIN) -> str:
        """A new session; returns its token (32 random bytes, URL-safe)."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._drop_expired()
            self._sessions[_key(token)] = AdminSession(user, client, self.clock(), role)
        return token

    def get(self, token: str | None) -> AdminSession | None:
        """The live session for ``token`` (its idle time starts again), or ``None``."""
        if not token:
            return None
        with self._lock:
            self._drop_expired()
            session = self._sessions.get(_key(token))
            if session is not None:
                session.last_seen = self.clock()
            return session

    def end(self, token: str | None) -> AdminSession | None:
        """End the session for ``token``; returns it when there was one."""
        if not token:
            return None
        with self._lock:
            self._drop_expired()
            return self._sessions.pop(_key(token), None)

    def __len__(self) -> int:
        with self._lock:
            self._drop_expired()
            return len(self._sessions)

    def _drop_expired(self) -> None:
        now = self.clock()
        for key in [k for k, s in self._sessions.items() if now - s.last_seen > self.idle_seconds]:
            del self._sessions[key]


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    """Exponential back-off per client address, plus a limit on failures from all addresses.

    After ``free`` failures an address waits ``base_seconds``, then twice that after the next
    failure, up to ``max_seconds``. ``global_limit`` failures within ``window_seconds`` lock the
    login for everyone for ``window_seconds`` (that also stops guessing from many addresses;
    the price is that the real trekker has to wait too). Nothing sleeps: a locked-out attempt
    is refused immediately, so no worker is held.
    """

    def __init__(
        self,
        clock: Clock = time.monotonic,
        free: int = 3,
        base_seconds: float = 2.0,
        max_seconds: float = 900.0,
        global_limit: int = 100,
        window_seconds: float = 900.0,
    ) -> None:
        self.clock, self.free, self.base_seconds, self.max_seconds = clock, free, base_seconds, max_seconds
        self.global_limit, self.window_seconds = global_limit, window_seconds
        self._by_client: dict[str, _Failures] = {}
        self._recent: deque[float] = deque()
        self._global_until = 0.0
        self._lock = threading.Lock()

    def wait_seconds(self, client: str) -> float:
        """Seconds before ``client`` may try again (0 when it may try now)."""
        now = self.clock()
        with self._lock:
            failures = self._by_client.get(client)
            own = failures.locked_until - now if failures else 0.0
            return max(0.0, own, self._global_until - now)

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            failures = self._by_client.setdefault(client, _Failures())
            if now - failures.last > self.window_seconds * 4:  # an old streak is forgotten
                failures.count = 0
            failures.count += 1
            failures.last = now
            if failures.count > self.free:
                delay = self.base_seconds * 2 ** (failures.count - self.free - 1)
                failures.locked_until = now + min(delay, self.max_seconds)
            self._recent.append(now)
            while self._recent and now - self._recent[0] > self.window_seconds:
                self._recent.popleft()
            if len(self._recent) >= self.global_limit:
                self._global_until = now + self.window_seconds
                self._recent.clear()

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._by_client.pop(client, None)


@dataclass(frozen=True)
class LoginOutcome:
    """What a login attempt gave: a token on success, else a Dutch message."""

    ok: bool
    message: str
    token: str = field(default="", repr=False)
    retry_after: float = 0.0  # seconds, when the client is locked out


def _wait_nl(seconds: float) -> str:
    if seconds <= 90:
        return f"{max(1, round(seconds))} seconden"
    return f"{round(seconds / 60)} minuten"


class AdminGate:
    """Login, session check and logout for the accounts (admin, evaluator), with an audit trail."""

    def __init__(
        self,
        credentials: AdminCredentials | Sequence[AdminCredentials],
        idle_minutes: int,
        audit: AuditLog,
        clock: Clock = time.monotonic,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self.accounts = (credentials,) if isinstance(credentials, AdminCredentials) else tuple(credentials)
        if not self.accounts:
            raise ValueError("AdminGate needs at least one account")
        if len({a.user for a in self.accounts}) != len(self.accounts):
            raise ConfigError("KB_ADMIN_USER en KB_EVALUATOR_USER moeten verschillende namen zijn. De app start niet.")
        self.sessions = AdminSessions(idle_minutes * 60, clock)
        self.throttle = throttle or LoginThrottle(clock)
        self.audit = audit
        self._bound: dict[str, str] = {}  # Gradio session hash -> hash of the admin token used in it
        self._bound_lock = threading.Lock()

    def login(self, user: str, password: str, client: str) -> LoginOutcome:
        """Check the password unless ``client`` is locked out; on success start a session."""
        wait = self.throttle.wait_seconds(client)
        if wait > 0:
            self.audit.record("login_blocked", self._who(user), client)
            return LoginOutcome(False, self.login_refusal(wait), retry_after=wait)
        matches = [a for a in self.accounts if a.check(user, password)]  # every account checked: same timing
        if not matches:
            self.throttle.failed(client)
            self.audit.record("login_failed", self._who(user), client)
            return LoginOutcome(False, WRONG_NL)
        account = matches[0]
        self.throttle.succeeded(client)
        token = self.sessions.start(account.user, client, account.role)
        self.audit.record("login", account.user, client)
        return LoginOutcome(True, "", token)

    def has_role(self, role: str) -> bool:
        """True when an account with ``role`` is configured."""
        return any(a.role == role for a in self.accounts)

    @staticmethod
    def login_refusal(wait_seconds: float) -> str:
        """What a locked-out client is told (the password was not even checked)."""
        return f"⚠️ Te veel mislukte pogingen om in te loggen. Probeer het over {_wait_nl(wait_seconds)} opnieuw."

    def session(self, token: str | None) -> AdminSession | None:
        """The live admin session for a cookie value, or ``None``."""
        return self.sessions.get(token)

    def logout(self, token: str | None, client: str) -> bool:
        """End the session server-side; True when there was one."""
        if token:
            self._move_bindings(_key(token), None)
        session = self.sessions.end(token)
        if session is None:
            return False
        self.audit.record("logout", session.user, client)
        return True

    def replace_token(self, old: str | None, new: str) -> None:
        """After a new login in the same browser: end the old session, keep its pages bound to the new token."""
        if old:
            self.sessions.end(old)
            self._move_bindings(_key(old), _key(new))

    # Gradio's event stream (queue/data, heartbeat) is addressed by the session hash alone. Once a
    # page has been used as admin, only requests with that admin's cookie may read its stream, so a
    # session hash from a proxy log does not show the documents table as it streams by.
    def bind(self, session_hash: str | None, token: str | None) -> None:
        """Tie a Gradio session (a browser tab) to the login token used in it. A page bound already
        stays bound to its own token: another account's request with that session hash (an evaluator
        who learnt the admin page's hash) must not take the page's stream over. A new login in the
        same browser moves the binding (:meth:`replace_token`), a logout ends it."""
        if session_hash and token:
            with self._bound_lock:
                self._bound.setdefault(session_hash, _key(token))

    def may_read(self, session_hash: str, token: str | None) -> bool:
        """True unless ``session_hash`` belongs to an admin page and ``token`` is not that admin's."""
        with self._bound_lock:
            bound = self._bound.get(session_hash)
        return bound is None or (bool(token) and hmac.compare_digest(bound, _key(token or "")))

    def _move_bindings(self, old_key: str, new_key: str | None) -> None:
        with self._bound_lock:
            for session_hash in [h for h, k in self._bound.items() if k == old_key]:
                if new_key is None:
                    del self._bound[session_hash]
                else:
                    self._bound[session_hash] = new_key

    def _who(self, typed_user: str) -> str:
        """The typed name only when it is an account's: a wrong name may be a password typed in the wrong box."""
        typed = (typed_user or "").strip()
        known = [hmac.compare_digest(typed.encode(), a.user.encode()) for a in self.accounts]
        return typed if any(known) else "(onbekend)"

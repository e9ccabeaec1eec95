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
that doubles with each failure, and many failures for one account lock that account for the
addresses that failed, never for an address that did not (:class:`LoginThrottle`); a
locked-out attempt is answered at once, without checking the password, and is counted rather
than written to the audit log one by one. The address is the one the client connects from:
``X-Forwarded-For`` counts only from a proxy in ``KB_TRUSTED_PROXIES`` (:mod:`kb.chat.server`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from kb.chat.audit import UNKNOWN_ADDRESS, AuditLog, valid_address
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
LOGGED_IN_NL = {ADMIN: "U bent ingelogd als beheerder.", EVALUATOR: "U bent ingelogd als evaluator."}

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


def address_key(client: str) -> str:
    """What the throttle counts by: the IPv4 address, or the /64 network of an IPv6 address (one
    machine can pick any address in its /64)."""
    address = valid_address(client)
    if address == UNKNOWN_ADDRESS:
        return address
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0


@dataclass
class _Account:
    recent: deque[float]  # the latest failure times, at most ``account_limit``
    failed_from: dict[str, float] = field(default_factory=dict)  # address key -> its latest failure
    attacked_until: float = 0.0


class LoginThrottle:
    """Back-off per client address, and a lock per account that spares the addresses that never failed.

    Per address (an IPv6 address counts by its /64): the ``free``-th failure makes it wait
    ``base_seconds``, each next failure twice as long, up to ``max_seconds``. Per account:
    ``account_limit`` failures for one account within ``window_seconds`` (from any addresses) put
    it under attack until ``window_seconds`` after the latest; meanwhile an address that failed for
    it within the window is refused for it, while an address that did not fail may still try, and
    the right password from there logs in. So no number of failures from other machines locks the
    real trekker out (unlike a lock for everyone), and every attacking address gets at most one
    guess per window while the attack lasts. Nothing sleeps: a locked-out attempt is refused
    immediately, so no worker is held. Refused attempts are counted per address (:meth:`refused`).
    """

    MAX_TRACKED = 10_000  # addresses kept per table; beyond that the oldest go first

    def __init__(
        self,
        clock: Clock = time.monotonic,
        free: int = 3,
        base_seconds: float = 2.0,
        max_seconds: float = 900.0,
        account_limit: int = 10,
        window_seconds: float = 900.0,
    ) -> None:
        self.clock, self.free, self.base_seconds, self.max_seconds = clock, free, base_seconds, max_seconds
        self.account_limit, self.window_seconds = account_limit, window_seconds
        self._by_client: dict[str, _Failures] = {}
        self._accounts: dict[str, _Account] = {}
        self._refused: dict[str, int] = {}
        self.refused_total = 0
        self._lock = threading.Lock()

    def wait_seconds(self, client: str, account: str = "") -> float:
        """Seconds before ``client`` may try ``account`` again (0 when it may try now)."""
        now, key = self.clock(), address_key(client)
        with self._lock:
            failures = self._by_client.get(key)
            own = failures.locked_until - now if failures else 0.0
            state = self._accounts.get(account)
            for_account = 0.0
            if state is not None and now < state.attacked_until and key in state.failed_from:
                for_account = min(state.attacked_until, state.failed_from[key] + self.window_seconds) - now
            return max(0.0, own, for_account)

    def failed(self, client: str, account: str = "") -> None:
        now, key = self.clock(), address_key(client)
        with self._lock:
            self._forget_old(now)
            failures = self._by_client.setdefault(key, _Failures())
            if now - failures.last > self.window_seconds * 4:  # an old streak is forgotten
                failures.count = 0
            failures.count += 1
            failures.last = now
            if failures.count >= self.free:
                delay = self.base_seconds * 2 ** (failures.count - self.free)
                failures.locked_until = now + min(delay, self.max_seconds)
            state = self._accounts.setdefault(account, _Account(deque(maxlen=self.account_limit)))
            state.recent.append(now)
            state.failed_from[key] = now
            if len(state.recent) == self.account_limit and now - state.recent[0] <= self.window_seconds:
                state.attacked_until = now + self.window_seconds

    def succeeded(self, client: str, account: str = "") -> None:
        key = address_key(client)
        with self._lock:
            self._by_client.pop(key, None)
            state = self._accounts.get(account)
            if state is not None:
                state.failed_from.pop(key, None)

    def refused(self, client: str) -> int:
        """Count one refused attempt of ``client``; returns how many in a row (1: the first of a series)."""
        key = address_key(client)
        with self._lock:
            self.refused_total += 1
            if key not in self._refused and len(self._refused) >= self.MAX_TRACKED:
                self._refused.pop(next(iter(self._refused)))
            self._refused[key] = self._refused.get(key, 0) + 1
            return self._refused[key]

    def take_refused(self, client: str) -> int:
        """How many attempts of ``client`` were refused since its last checked one (and start again at 0)."""
        with self._lock:
            return self._refused.pop(address_key(client), 0)

    def _forget_old(self, now: float) -> None:
        """Bound the tables (accounts are bounded already: an unknown user name counts as ``(onbekend)``)."""
        if len(self._by_client) >= self.MAX_TRACKED:
            old = [k for k, f in self._by_client.items() if now - f.last > self.window_seconds and now > f.locked_until]
            for k in old or list(self._by_client)[: self.MAX_TRACKED // 10]:
                del self._by_client[k]
        for state in self._accounts.values():
            if len(state.failed_from) >= self.MAX_TRACKED:
                for k in [k for k, t in state.failed_from.items() if now - t > self.window_seconds]:
                    del state.failed_from[k]


@dataclass(frozen=True)
class LoginOutcome:
    """What a login attempt gave: a token on success, else a Dutch message."""

    ok: bool
    message: str
    token: str = field(default="", repr=False)
    retry_after: float = 0.0  # seconds, when the client is locked out
    role: str = ""  # the account's role, on success


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
        """Check the password unless ``client`` is locked out for this account; on success start a session.

        A refused attempt is counted: the first of a series is written to the audit log, the next
        checked attempt's line says how many there were (``blocked``).
        """
        client, who = valid_address(client), self._who(user)
        wait = self.throttle.wait_seconds(client, who)
        if wait > 0:
            if self.throttle.refused(client) == 1:
                self.audit.record("login_blocked", who, client)
            return LoginOutcome(False, self.login_refusal(wait), retry_after=wait)
        blocked = self.throttle.take_refused(client)
        counted = {"blocked": blocked} if blocked else {}
        matches = [a for a in self.accounts if a.check(user, password)]  # every account checked: same timing
        if not matches:
            self.throttle.failed(client, who)
            self.audit.record("login_failed", who, client, **counted)
            return LoginOutcome(False, WRONG_NL)
        account = matches[0]
        self.throttle.succeeded(client, account.user)
        token = self.sessions.start(account.user, client, account.role)
        self.audit.record("login", account.user, client, **counted)
        return LoginOutcome(True, LOGGED_IN_NL[account.role], token, role=account.role)

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

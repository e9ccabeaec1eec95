"""Admin login for the Documents tab.

Credentials come only from ``KB_ADMIN_USER`` and ``KB_ADMIN_PASSWORD``; nothing is built
in. Without both, uploading and removing documents is disabled and the tab says how to
enable it. Passwords are compared in constant time.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

USER_VAR = "KB_ADMIN_USER"
PASSWORD_VAR = "KB_ADMIN_PASSWORD"
DISABLED_NL = (
    "Documenten toevoegen en verwijderen is uitgeschakeld: er is geen beheerder ingesteld. "
    f"Start de app met de omgevingsvariabelen `{USER_VAR}` en `{PASSWORD_VAR}`, bijvoorbeeld "
    f"`{USER_VAR}=trekker {PASSWORD_VAR}='een lang wachtwoord' .venv/bin/kb serve`, en log hier dan in."
)


@dataclass(frozen=True)
class AdminCredentials:
    """The one admin account (a CoP-trekker) that may manage documents."""

    user: str
    password: str = field(repr=False)  # never shown in logs or reprs

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AdminCredentials | None:
        """Read the account from the environment; ``None`` when either variable is unset or empty."""
        env = os.environ if environ is None else environ
        user = env.get(USER_VAR, "").strip()
        password = env.get(PASSWORD_VAR, "")
        if not user or not password:
            return None
        return cls(user, password)

    def check(self, user: str, password: str) -> bool:
        """True when both match; both are always compared so timing reveals nothing."""
        user_ok = hmac.compare_digest((user or "").strip().encode("utf-8"), self.user.encode("utf-8"))
        password_ok = hmac.compare_digest((password or "").encode("utf-8"), self.password.encode("utf-8"))
        return user_ok and password_ok

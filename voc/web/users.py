"""Web app users: roles, scrypt password hashes and API tokens (only their sha256 is stored).

The rows are read and written by :class:`voc.store.users.UserAccounts`; this module holds the rules.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from voc.config import WebSettings
from voc.store.db import Database
from voc.store.users import LoginCounters, UserAccount, UserAccounts

ROLES = ("reviewer", "supervisor", "department_owner")
NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 8
# scrypt cost: 16 MiB and ~50 ms per check on one core; stored with the hash so it can be raised later.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
TOKEN_PREFIX = "voc_"


class UserError(ValueError):
    """A user cannot be added or changed; the message says why."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str
    department: str | None
    active: bool
    has_token: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    password_tag: str  # changes when the password does: signed sessions made before a change stop working

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    def can_review(self) -> bool:
        return self.role in ("reviewer", "supervisor")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64), salted with 16 random bytes."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough (and keeps API calls cheap).
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_DUMMY_HASH = hash_password("not a real password", salt=b"\0" * 16)


def _user(row: UserAccount) -> User:
    return User(row.id, row.name, row.role, row.department, row.active, row.token_hash is not None, row.created_at,
                row.last_login_at, hashlib.sha256(row.password_hash.encode()).hexdigest()[:12])


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password too short: use at least {MIN_PASSWORD} characters")


class Users:
    """Web app users over the ``users`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.accounts = UserAccounts(db)

    def add(self, name: str, role: str, password: str, department: str | None = None) -> User:
        if not NAME_RE.match(name):
            raise UserError(f"user name {name!r}: use 1-64 letters, digits or _ . @ -")
        if role not in ROLES:
            raise UserError(f"role {role!r}: expected one of {', '.join(ROLES)}")
        if department and role != "department_owner":
            raise UserError("--department is only for department_owner users")
        check_password_rules(password)
        row = self.accounts.add(name, role, department or None, hash_password(password))
        if row is None:
            raise UserError(f"user {name!r} already exists")
        return _user(row)

    def list(self) -> list[User]:
        return [_user(r) for r in self.accounts.all()]

    def get(self, name: str) -> User | None:
        row = self.accounts.by_name(name)
        return _user(row) if row is not None else None

    def authenticate(self, name: str, password: str) -> User | None:
        """The active user with this name and password, else None (same work either way)."""
        row = self.accounts.by_name(name)
        ok = verify_password(password, row.password_hash if row is not None else _DUMMY_HASH)
        if row is None or not ok or not row.active:
            return None
        row = self.accounts.record_login(row)
        return _user(row) if row is not None else None

    def issue_token(self, name: str) -> str:
        """A new API token for ``name`` (replaces the old one). Shown once; only its hash is kept."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        if not self.accounts.set_token_hash(name, hash_token(token)):
            raise UserError(f"no user {name!r}")
        return token

    def by_token(self, token: str) -> User | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        row = self.accounts.by_token_hash(hash_token(token))
        return _user(row) if row is not None and row.active else None

    def set_password(self, name: str, password: str) -> None:
        check_password_rules(password)
        if not self.accounts.set_password_hash(name, hash_password(password)):
            raise UserError(f"no user {name!r}")

    def set_active(self, name: str, active: bool) -> None:
        if not self.accounts.set_active(name, active):
            raise UserError(f"no user {name!r}")


class LoginThrottle:
    """Lockout after repeated failed logins, per user name and per client address, that holds under concurrency and
    across workers: each attempt is counted in the database before its password is checked, so 41 simultaneous
    guesses get at most ``login_max_failures`` checks; locks double with each repeat (``web.login_*`` settings)."""

    def __init__(self, db: Database, settings: WebSettings) -> None:
        self.counters = LoginCounters(db)
        self.settings = settings

    @staticmethod
    def keys(name: str, address: str) -> tuple[str, str]:
        return f"user:{name.strip().lower()[:64]}", f"addr:{address[:100]}"

    def reserve(self, name: str, address: str, now: dt.datetime) -> float:
        """0.0 when this attempt may check its password, else the seconds to wait (answer 429)."""
        user_key, addr_key = self.keys(name, address)
        s = self.settings
        return self.counters.reserve([(user_key, s.login_max_failures), (addr_key, s.login_max_failures_per_address)],
                                     now, s.login_window_s, s.login_max_lock_s)

    def succeeded(self, name: str, address: str, now: dt.datetime) -> None:
        user_key, addr_key = self.keys(name, address)
        self.counters.succeeded(user_key, [addr_key], now)

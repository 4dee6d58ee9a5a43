"""The ``users`` table: web app accounts as stored (hashes only; hashing and rules live in :mod:`voc.web.users`), and
the ``login_throttle`` counters that lock a user name or an address after repeated failed logins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select

from voc.store.db import Database
from voc.store.schema import LoginThrottleRow, UserRow, utcnow

__all__ = ["LoginCounters", "UserAccount", "UserAccounts"]


@dataclass(frozen=True, slots=True)
class UserAccount:
    """One row of ``users``, detached from the session."""

    id: int
    name: str
    role: str
    department: str | None
    active: bool
    password_hash: str
    token_hash: str | None
    created_at: dt.datetime
    last_login_at: dt.datetime | None


def _account(row: UserRow) -> UserAccount:
    return UserAccount(row.id, row.name, row.role, row.department, row.active, row.password_hash, row.token_hash,
                       row.created_at, row.last_login_at)


def _by_name(s, name: str) -> UserRow | None:
    return s.scalars(select(UserRow).where(UserRow.name == name)).first()


class UserAccounts:
    """Reads and writes of the ``users`` table; every method is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, name: str, role: str, department: str | None, password_hash: str) -> UserAccount | None:
        """The new active account, or None when ``name`` is taken."""
        with self.db.session() as s:
            if s.scalars(select(UserRow.id).where(UserRow.name == name)).first() is not None:
                return None
            row = UserRow(name=name, role=role, department=department, password_hash=password_hash, active=True)
            s.add(row)
            s.flush()
            return _account(row)

    def all(self) -> list[UserAccount]:
        """Every account, by name."""
        with self.db.session() as s:
            return [_account(r) for r in s.scalars(select(UserRow).order_by(UserRow.name))]

    def by_name(self, name: str) -> UserAccount | None:
        with self.db.session() as s:
            row = _by_name(s, name)
            return _account(row) if row is not None else None

    def by_token_hash(self, token_hash: str) -> UserAccount | None:
        with self.db.session() as s:
            row = s.scalars(select(UserRow).where(UserRow.token_hash == token_hash)).first()
            return _account(row) if row is not None else None

    def record_login(self, account: UserAccount) -> UserAccount | None:
        """Stamp ``last_login_at`` on ``account``, unless it was deactivated or its password changed since it
        was read (then None: the login that checked the old password must not succeed)."""
        with self.db.session() as s:
            row = s.get(UserRow, account.id)
            if row is None or not row.active or row.password_hash != account.password_hash:
                return None
            row.last_login_at = utcnow()
            return _account(row)

    def set_token_hash(self, name: str, token_hash: str | None) -> bool:
        """False when there is no such user."""
        with self.db.session() as s:
            row = _by_name(s, name)
            if row is None:
                return False
            row.token_hash = token_hash
            return True

    def set_password_hash(self, name: str, password_hash: str) -> bool:
        """False when there is no such user."""
        with self.db.session() as s:
            row = _by_name(s, name)
            if row is None:
                return False
            row.password_hash = password_hash
            return True

    def set_active(self, name: str, active: bool) -> bool:
        """(De)activate; deactivating also revokes the API token. False when there is no such user."""
        with self.db.session() as s:
            row = _by_name(s, name)
            if row is None:
                return False
            row.active = active
            if not active:
                row.token_hash = None
            return True


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands timestamps back without their zone; they are stored in UTC."""
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


class LoginCounters:
    """Failed-login counters per key ("user:<name>", "addr:<address>"), updated atomically in the database so that
    every worker and every concurrent request sees the same count (a row lock on PostgreSQL; SQLite's single
    writer). Rows are only deleted once their window and lock are long over: nothing resets a lockout early."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def reserve(self, limits: Sequence[tuple[str, int]], now: dt.datetime, window_s: float, max_lock_s: float) -> float:
        """Count one login attempt against every key *before* its password is checked; 0.0 when it may go ahead,
        else the seconds until the lock that refuses it ends. A key over its limit is locked for ``window_s``,
        doubling with each lockout in a row (at most ``max_lock_s``)."""
        limit = dict(limits)
        keys = sorted(limit)
        with self.db.session() as s:
            self._prune(s, now, window_s + max_lock_s)
            for key in keys:  # a write first: on SQLite this takes the writer lock for the whole transaction
                s.execute(self.db.insert(LoginThrottleRow).values(key=key, failures=0, window_start=now, strikes=0,
                                                                  updated_at=now).on_conflict_do_nothing())
            q = select(LoginThrottleRow).where(LoginThrottleRow.key.in_(keys)).order_by(LoginThrottleRow.key)
            rows = list(s.scalars(q.with_for_update() if self.db.dialect == "postgresql" else q))
            locked = [(_aware(r.locked_until) - now).total_seconds() for r in rows
                      if r.locked_until is not None and _aware(r.locked_until) > now]
            if locked:
                return max(locked)
            wait = 0.0
            for row in rows:
                if (now - _aware(row.window_start)).total_seconds() >= window_s:
                    row.failures, row.window_start = 0, now
                    if row.locked_until is not None and (now - _aware(row.locked_until)).total_seconds() > max_lock_s:
                        row.strikes = 0  # quiet for long after its last lockout: start over
                row.failures += 1
                row.updated_at = now
                if row.failures > limit[row.key]:
                    row.strikes += 1
                    lock = min(window_s * 2 ** (row.strikes - 1), max_lock_s)
                    row.locked_until = now + dt.timedelta(seconds=lock)
                    row.failures, row.window_start = 0, now
                    wait = max(wait, lock)
            return wait

    def succeeded(self, user_key: str, other_keys: Sequence[str], now: dt.datetime) -> None:
        """A right password: the user's counter starts over; the attempt reserved on the others is given back."""
        with self.db.session() as s:
            s.execute(delete(LoginThrottleRow).where(LoginThrottleRow.key == user_key))
            for row in s.scalars(select(LoginThrottleRow).where(LoginThrottleRow.key.in_(list(other_keys)))):
                row.failures = max(0, row.failures - 1)
                row.updated_at = now

    def state(self, key: str) -> dict[str, object] | None:
        with self.db.session() as s:
            row = s.get(LoginThrottleRow, key)
            return None if row is None else {"failures": row.failures, "strikes": row.strikes,
                                             "locked_until": _aware(row.locked_until)}

    @staticmethod
    def _prune(s, now: dt.datetime, quiet_s: float) -> None:
        """Forget keys untouched for ``quiet_s`` whose lock (if any) is over: bounded table, no lockout reset."""
        old = now - dt.timedelta(seconds=quiet_s)
        s.execute(delete(LoginThrottleRow).where(
            LoginThrottleRow.updated_at < old,
            or_(LoginThrottleRow.locked_until.is_(None), and_(LoginThrottleRow.locked_until < now))))

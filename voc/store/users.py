"""The ``users`` table: web app accounts as stored (hashes only; hashing and rules live in :mod:`voc.web.users`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from voc.store.db import Database
from voc.store.schema import UserRow, utcnow

__all__ = ["UserAccount", "UserAccounts"]


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

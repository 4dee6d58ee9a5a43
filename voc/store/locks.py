"""One run per business date at a time: a PostgreSQL advisory lock, or a file lock beside a SQLite database.

The lock lives as long as the holder's connection (PostgreSQL) or open file (SQLite): a killed process releases it,
so a crash never leaves a date locked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from voc.store.db import Database

__all__ = ["RunLocked", "run_lock"]

log = logging.getLogger(__name__)


class RunLocked(RuntimeError):
    """Another process is running the same business date, and it did not finish within the wait."""


def _pg_keys(db: Database, run_date: dt.date) -> tuple[int, int]:
    """(class, object) of the advisory lock: per database schema and date (tests share one database)."""
    digest = hashlib.sha256(f"voc-run:{db.schema or ''}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF, run_date.toordinal()


@contextlib.contextmanager
def run_lock(db: Database, run_date: dt.date, wait_s: float, poll_s: float = 0.5) -> Iterator[bool]:
    """Hold ``run_date``'s run lock for the with-block; yields True when another run held it first (and this one
    waited for it). Raises :class:`RunLocked` when it is still held after ``wait_s`` seconds."""
    if db.dialect == "postgresql":
        with _pg_lock(db, run_date, wait_s, poll_s) as waited:
            yield waited
    else:
        with _file_lock(db, run_date, wait_s, poll_s) as waited:
            yield waited


def _busy(run_date: dt.date, wait_s: float) -> RunLocked:
    waited = f" for {wait_s:g} s" if wait_s else ""
    return RunLocked(f"another voc run for {run_date} is in progress (waited{waited or ' not at all'}); let it finish, "
                     "or raise limits.run_lock_wait_s to wait for it")


@contextlib.contextmanager
def _pg_lock(db: Database, run_date: dt.date, wait_s: float, poll_s: float) -> Iterator[bool]:
    keys = {"a": _pg_keys(db, run_date)[0], "b": _pg_keys(db, run_date)[1]}
    # Autocommit: the lock belongs to the session, and no transaction stays open for the hours a run may take.
    conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        deadline = time.monotonic() + wait_s
        waited = False
        while not conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), keys).scalar():
            if time.monotonic() >= deadline:
                raise _busy(run_date, wait_s)
            if not waited:
                log.info("run for %s: another run holds the date, waiting up to %g s", run_date, wait_s)
            waited = True
            time.sleep(poll_s)
        try:
            yield waited
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), keys)
    finally:
        conn.close()


@contextlib.contextmanager
def _file_lock(db: Database, run_date: dt.date, wait_s: float, poll_s: float) -> Iterator[bool]:
    database = make_url(db.url).database
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: one process at a time is up to the operator
        fcntl = None
    if fcntl is None or not database or database == ":memory:":
        yield False  # an in-memory database belongs to one process
        return
    folder = Path(f"{database}.locks")
    folder.mkdir(parents=True, exist_ok=True)
    # flock (not lockf): held per open file, so two threads of one process exclude each other too.
    fd = os.open(folder / f"run-{run_date.isoformat()}", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(run_date, wait_s) from None
                waited = True
                time.sleep(poll_s)
        try:
            yield waited
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

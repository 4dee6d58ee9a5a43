"""Fixtures of the reliability suite: a hostile inbox, settings over a temporary store, and a per-case time limit."""

from __future__ import annotations

import datetime as dt
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.reliability.hostile import DAY, build_hostile_inbox


class TooSlow(AssertionError):
    pass


@contextmanager
def time_limit(seconds: float, what: str):
    """Fail (instead of hanging) when the block runs longer than ``seconds``: SIGALRM in the main thread."""

    def expire(_signum, _frame):
        raise TooSlow(f"{what} took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    t0 = time.perf_counter()
    try:
        yield lambda: time.perf_counter() - t0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture()
def hostile(tmp_path: Path):
    """(inbox, outside folder) of the hostile inbox (see hostile.py)."""
    return build_hostile_inbox(tmp_path)


def settings_for(tmp_path: Path, inbox: Path, db_url: str | None = None, **overrides):
    from voc.config import load_settings

    env = {"VOC_DATABASE_URL": db_url or f"sqlite:///{tmp_path / 'voc.db'}", "VOC_INBOX": str(inbox),
           "VOC_EXPORTS_DIR": str(tmp_path / "exports"), "VOC_ID_SECRET": "reliability-suite-secret"}
    return load_settings(environ=env, **overrides)


NOW = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(2, 0), tzinfo=dt.UTC)

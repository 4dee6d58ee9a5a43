"""The inbox as a boundary: what ingest refuses or cuts before anything reaches the store.

Paths must resolve inside the inbox (no ``..``, no absolute paths, no symlinks out); dates must fall in a plausible
window; a text body is cut to ``limits.max_text_chars`` for analysis (the original stays in the inbox); other fields
over ``limits.max_field_chars`` refuse their row; identifiers that look like a phone/ID/card number are replaced by a
keyed hash (:func:`pseudonym`), the same one every night, so joins still work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voc.config import LimitSettings

__all__ = ["InboxRules", "NotYet", "inside", "outside_reason", "oversized_field", "pseudonym", "truncate_text"]

PSEUDONYM_PREFIX = "pid-"


class NotYet(ValueError):
    """A row dated after the plausible window: refused today, but it may go in on a later run."""


@dataclass(frozen=True, slots=True)
class InboxRules:
    """Limits of one scan: the settings plus the run's today (the date window ends there)."""

    limits: LimitSettings
    today: dt.date | None = None  # None: no upper bound on dates (tools that scan without a run)
    identify: Callable[[str], str] | None = None  # identifier -> what may be stored (see :func:`pseudonym`)
    max_audio_s: float | None = None  # longer recordings are refused (asr.max_duration_s)

    @property
    def latest(self) -> dt.date | None:
        return self.today + dt.timedelta(days=self.limits.future_days) if self.today else None

    def date_problem(self, when: dt.datetime, tz: Any, column: str) -> str | None:
        """Why ``when`` is not a plausible date for an interaction, or None."""
        day = when.astimezone(tz).date()
        latest = self.latest
        if day < self.limits.earliest_date or (latest is not None and day > latest):
            window = f"{self.limits.earliest_date} .. {latest.isoformat() if latest else 'any'}"
            return f"{column} {day.isoformat()} is outside the plausible window {window} (limits.earliest_date, limits.future_days)"
        return None

    def too_new(self, when: dt.datetime, tz: Any) -> bool:
        """True when ``when`` falls after the window (it may be plausible on a later run)."""
        return self.latest is not None and when.astimezone(tz).date() > self.latest

    def ident(self, value: str | None) -> str | None:
        if value is None or value == "" or self.identify is None:
            return value
        return self.identify(value)

    def file_label(self, rel: str) -> str:
        """``rel`` with an identifier-like file name pseudonymised ("recordings/13912345678.wav" -> pid-…)."""
        if self.identify is None:
            return rel
        head, sep, name = rel.replace(os.sep, "/").rpartition("/")
        stem, dot, ext = name.partition(".")
        new = self.identify(stem)
        return rel if new == stem else f"{head}{sep}{new}{dot}{ext}"


def pseudonym(value: str, key: bytes) -> str:
    """``pid-`` + 16 hex digits of HMAC-SHA256(key, value): stable for one key, not reversible without it."""
    return PSEUDONYM_PREFIX + hmac.new(key, value.strip().encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def inside(root: Path, path: Path) -> Path | None:
    """``path`` resolved (symlinks followed), or None when that lands outside ``root`` (already resolved)."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    return resolved if resolved == root or resolved.is_relative_to(root) else None


def outside_reason(ref: str, what: str = "file") -> str:
    """Why ``ref`` is refused: an absolute path, or one that leads out of the inbox (``..``, a symbolic link)."""
    if os.path.isabs(ref) or ref.startswith(("/", "\\")) or (len(ref) > 1 and ref[1] == ":"):
        return f"{what} '{ref}' is an absolute path; give a path inside the inbox, relative to it"
    if what == "symbolic link":
        return f"'{ref}' is a symbolic link to outside the inbox; only files inside the inbox are read"
    return f"{what} '{ref}' leads outside the inbox (.. or a symbolic link out of it); only files inside the inbox are read"


def oversized_field(record: Mapping[str, Any], limit: int, exempt: tuple[str, ...] = ()) -> str | None:
    """A reason when a field (other than ``exempt``) holds more than ``limit`` characters."""
    for key, value in record.items():
        if key in exempt or value is None:
            continue
        n = len(value) if isinstance(value, str) else len(str(value))
        if n > limit:
            return f"column '{str(key)[:40]}' holds {n:,} characters (limit {limit:,}, limits.max_field_chars)"
    return None


_GLUE = frozenset("0123456789@._-+")


def truncate_text(text: str, limit: int) -> tuple[str, int | None]:
    """(the first ``limit`` characters, the original length) when ``text`` is longer, else (text, None).

    The cut moves back (up to 64 characters) so it does not split a number or an e-mail address: half a phone
    number would slip past redaction.
    """
    if len(text) <= limit:
        return text, None
    cut = limit
    floor = max(0, limit - 64)
    while cut > floor and _joins(text[cut - 1]) and _joins(text[cut]):
        cut -= 1
    if cut == floor and _joins(text[cut]):
        cut = limit  # one endless token: nothing to protect
    return text[:cut], len(text)


def _joins(ch: str) -> bool:
    return ch in _GLUE or (ch.isascii() and ch.isalnum()) or "\uff10" <= ch <= "\uff19"

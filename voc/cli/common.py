"""What every command group shares: the consoles, global options, settings, the store, errors, JSON, dates,
progress bars and reading one text per line."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

__all__ = ["Bars", "emit_json", "err", "fail", "open_store", "out", "parse_date", "read_lines", "settings", "state"]


err = Console(stderr=True, soft_wrap=True)  # messages name files: never break a path across lines
out = Console()


class State:
    """The root options (--config, --verbose), set by the app's callback before any command runs."""

    config: Path | None = None
    verbose: int = 0


state = State()


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def settings():
    from voc.config import ConfigError, load_settings

    try:
        return load_settings(state.config)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def open_store(s=None, *, create: bool = False):
    """The configured store. Only commands that write (init, ingest, run, reprocess, watch, users add) may create a
    database; the others refuse with a message naming the database and where its URL came from."""
    from voc.store import Store, StoreError

    s = s or settings()
    try:
        if create:
            return Store.open(s.db_url)
        return _existing_store(s)
    except StoreError as exc:
        raise fail(str(exc)) from None


def _url_source() -> str:
    import os

    from voc.config import find_config_file

    if os.environ.get("VOC_DATABASE_URL"):
        return "VOC_DATABASE_URL"
    try:
        path = find_config_file(state.config)
    except ValueError:
        path = None
    return f"database_url in {path}" if path else "the default database_url (no --config, VOC_CONFIG or ./voc.yaml)"


def _existing_store(s):
    """Open the store without creating it: a missing SQLite file or a database without voc's schema is an error."""
    from sqlalchemy.engine import make_url

    from voc.store import Store
    from voc.store.db import Database, current_revision, head_revision, migrate, normalise_url

    url = make_url(normalise_url(s.db_url))
    missing = (url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
               and not Path(url.database).is_file())
    db = None if missing else Database(s.db_url, auto_migrate=False)
    if db is None or current_revision(db.engine) is None:
        where = url.render_as_string(hide_password=True)
        if db is not None:
            db.dispose()
        raise fail(f"no voc database at {where} (from {_url_source()}): run `voc init` to create it, or choose "
                   "another with --config FILE or VOC_DATABASE_URL")
    if current_revision(db.engine) != head_revision():
        migrate(db.engine)  # an existing store of an older voc is upgraded, as on every open
    return Store(db)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


def parse_date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: '{value}' is not a date (expected YYYY-MM-DD)") from None


HEARTBEAT_S = 30.0  # without a terminal, a running stage reports how far it is at most this often


class Bars:
    """Rich progress bars, one per stage, fed by the pipeline's progress callback."""

    def __init__(self, enabled: bool, heartbeat: bool = False) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.enabled = enabled
        self.heartbeat = heartbeat and not enabled
        self.progress = Progress(TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=err, transient=False, disable=not enabled)
        self.tasks: dict[str, Any] = {}

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.heartbeat:  # a log or a pipe: a plain line now and then, so a long stage is not silent
            self._heartbeat(stage, done, total)
            return
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)

    def _heartbeat(self, stage: str, done: int, total: int) -> None:
        import time

        now = time.monotonic()
        started, last, before = self.tasks.get(stage, (now, now, -1))
        if done < before:  # the same stage again (the next night of a range): its clock starts anew
            started, last = now, now
        self.tasks[stage] = (started, last, done)
        if done >= total:
            del self.tasks[stage]
        elif done > 0 and now - last >= HEARTBEAT_S:
            self.tasks[stage] = (started, now, done)
            err.print(f"{stage:<10} {done}/{total} items, {now - started:.0f} s so far", markup=False, highlight=False)


def read_lines(file: Path) -> list[str]:
    """One text per line of ``file`` ('-' = stdin), aligned with the file: empty lines are kept."""
    if str(file) == "-":
        text = sys.stdin.read()
    else:
        from voc.pipeline.adhoc import decode_table_bytes

        try:
            data = file.read_bytes()
        except FileNotFoundError:
            raise fail(f"{file}: no such file") from None
        except OSError as exc:
            raise fail(f"{file}: cannot read ({exc.strerror or exc})") from None
        try:
            text = decode_table_bytes(data, str(file))[0]
        except ValueError as exc:
            raise fail(str(exc)) from None
        if "\x00" in text:
            raise fail(f"{file}: binary data (NUL bytes), expected one text per line in UTF-8 or GBK")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line, it does not start a new one
    return lines

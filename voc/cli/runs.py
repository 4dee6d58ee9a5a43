"""Nightly-run commands: init, ingest, run, reprocess, status (thin callers of voc.pipeline and the store)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from voc.cli.common import Bars, emit_json, err, fail, open_store, out, parse_date, settings

__all__ = ["COMMANDS"]


def init(
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Create or upgrade the database schema and the data folders."""
    from voc.store import current_revision

    s = settings()
    store = open_store(s, create=True)
    for folder in (s.exports_dir, s.models_dir):
        Path(folder).mkdir(parents=True, exist_ok=True)
    info = {"database": store.db.safe_url, "revision": current_revision(store.db.engine),
            "tables": len(store.db.table_names())}
    if json_out:
        emit_json(info)
    else:
        out.print(f"database ready: {info['database']} (schema {info['revision']}, {info['tables']} tables)")


def ingest(
    path: Annotated[Path | None, typer.Argument(help="inbox folder (default: settings.inbox)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    rescan: Annotated[bool, typer.Option("--rescan", help="read every text file again, even those unchanged since "
                                         "the last scan (duplicates are still skipped)")] = False,
) -> None:
    """Ingest an inbox: new calls and texts are added, bad files quarantined with a reason.

    Text files read before with the same settings and unchanged since (size, time, content hash) are skipped."""
    from voc.pipeline import ingest_inbox

    s = settings()
    inbox = path or s.inbox
    if not Path(inbox).is_dir():
        raise fail(f"inbox {inbox} does not exist or is not a folder")
    store = open_store(s, create=True)
    with Bars(not json_out and sys.stderr.isatty(), heartbeat=not json_out) as bars:
        result = ingest_inbox(store, s, inbox=Path(inbox), progress=bars, rescan=rescan)
    if json_out:
        emit_json({k: result[k] for k in ("ingested", "duplicates", "quarantined", "files")})
    else:
        files = result["files"]
        out.print(f"ingested {result['ingested']}, duplicates {result['duplicates']}, "
                  f"quarantined {len(result['quarantined'])}; text files read {files['read']}, "
                  f"unchanged {files['unchanged']}")
        for note in result["notes"]:
            out.print(f"  note: {note}")
        for q in result["quarantined"]:
            out.print(f"  [yellow]quarantined[/yellow] {q['path']}: {q['reason']}")
    if result["quarantined"]:  # a script can tell "all in" from "some inputs were refused"
        raise typer.Exit(4)


def _default_date(tz: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(tz)).date() - dt.timedelta(days=1)


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
    store = open_store(s, create=True)
    runs = []
    day = start
    log_lines = not json_out and not sys.stderr.isatty()  # logs and `make demo`: a line per stage as it ends
    with Bars(not json_out and sys.stderr.isatty(), heartbeat=not json_out) as bars:
        while day <= end:
            try:
                summary = pipeline.run(store, s, day, names, resume=not no_resume, progress=bars,
                                       on_stage=_stage_line(day) if log_lines else None)
            except pipeline.RunLocked as exc:  # another process runs this date and did not finish in the wait
                raise fail(str(exc), code=5) from None
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
            if len(runs) > 1 and not sys.stdout.isatty():
                _print_run_line(r)
            else:
                _print_run(r)
        out.print(f"exports: {Path(s.exports_dir).resolve()}")
    if status != "done":
        raise typer.Exit(1)
    if failed_items:
        raise typer.Exit(3)


def _stage_line(day: dt.date):
    def emit(st: dict[str, Any]) -> None:
        counts = ", ".join(f"{k} {st[k]}" for k in ("processed", "skipped", "failed") if st.get(k))
        took = f" in {st['seconds']:.1f} s" if st.get("seconds") is not None else ""
        err.print(f"{day} {st.get('stage', ''):<10} {st.get('status', '')}{took}" + (f" ({counts})" if counts else "")
                  + (f": {st['error']}" if st.get("error") else ""), markup=False, highlight=False, soft_wrap=True)

    return emit


def _print_run_line(r: dict[str, Any]) -> None:
    """One line per date when the output is not a terminal (a 30-day backfill prints 30 lines, not 30 tables)."""
    done = [st for st in r["stages"] if st.get("status") == "done"]
    seconds = sum(st.get("seconds") or 0 for st in done)
    failed = sum(st.get("failed", 0) for st in done if st.get("stage") != "ingest")
    out.print(f"run {r['run_id']} for {r['run_date']}: {r['status']}{' (resumed)' if r['resumed'] else ''}, "
              f"{len(done)} stages in {seconds:.1f} s, {failed} failed items", markup=False, highlight=False)
    for st in r["stages"]:
        if st.get("error"):
            out.print(f"  {st['stage']} failed: {st['error']}", markup=False, highlight=False)


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


def reprocess(
    stage: Annotated[list[str], typer.Option("--stage", "-s", help="stages to rerun (repeatable)")],
    call: Annotated[list[str] | None, typer.Option("--call", help="call id (C009), channel:id (call:C009) or internal id (repeatable)")] = None,
    since: Annotated[str | None, typer.Option("--since", help="rerun items from this date")] = None,
    until: Annotated[str | None, typer.Option("--until", help="... up to this date (default: open)")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Rerun chosen stages for chosen calls or dates (their old outputs are replaced)."""
    from voc import pipeline

    if not call and not since:
        raise fail("give --call ID (repeatable) or --since YYYY-MM-DD")
    s = settings()
    store = open_store(s, create=True)
    calls = _call_ids(store, call or ())
    try:
        with Bars(not json_out and sys.stderr.isatty(), heartbeat=not json_out) as bars:
            result = pipeline.reprocess(
                store, s, stage, call_ids=calls,
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


def _call_ids(store, refs) -> list[str]:
    """--call values as interaction ids: a call id (C009), call:C009, or the internal id; an id that two sources
    share is an error listing them; an unknown one goes on as given (reprocess names it)."""
    from voc.store.contacts import AmbiguousContact, find_contacts

    ids = []
    for ref in refs:
        hits = find_contacts(store.db, ref)
        if len(hits) > 1:
            raise fail(f"--call: {AmbiguousContact(ref, hits)}")
        ids.append(hits[0].interaction_id if hits else ref)
    return ids


def status(json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False) -> None:
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
    from voc.pipeline import sentiment_overview

    info["sentiment"] = sentiment_overview(store, s)
    from voc.records import visible_id

    for row in [*info["failures"], *info["sentiment"]["escalated_calls"]]:  # added field: the id people type
        row["contact_id"] = visible_id(row.get("external_id"), row["id"])
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
        out.print(f"  [red]failed[/red] {f['stage']} {f['contact_id']}: {f['reason']}")
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

        out.print(f"  [red]escalation[/red] call {escape(str(c['contact_id']))} "
                  f"({c['score']:+.2f}, {c['trajectory']}): {escape('; '.join(c['reasons']))}")


COMMANDS = (init, ingest, run, reprocess, status)  # commands of the root app, registered in voc.cli in this order

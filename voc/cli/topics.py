"""`voc topics` (list, show, history, fit) and `voc watch`, the near-real-time alert loop."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from voc.cli.common import emit_json, err, fail, open_store, out, parse_date, read_lines, settings, state

__all__ = ["COMMANDS", "topics_app"]


topics_app = typer.Typer(help="Complaint topics: list, show, history; fit topics on a text file.", no_args_is_help=True)


def _topic_registry(store, day: dt.date | None = None):
    """(snapshot date, registry) as of ``day`` (default: the latest topics run); (None, None) before any run."""
    from voc.pipeline.topics import registry_as_of

    return registry_as_of(store, day)


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

    --json: {"topics": [{"id", "label", "size"}], "assignments": [topic id or -1 per input line], "options": how
    it was clustered (reducer pca/umap, reduce_dim, min_cluster_size, ...)}; empty lines and lines left as noise get -1.
    Reduction: topics.fit_reducer (pca, or umap: ~10 s more the first time in a process).
    """
    from voc.pipeline.adhoc import fit_topics

    s = settings()
    lines = read_lines(file)
    todo = [i for i, line in enumerate(lines) if line.strip()]
    today = dt.datetime.now(ZoneInfo(s.timezone)).date()
    try:
        result = fit_topics(s, lines, today)
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
        emit_json({"topics": topics, "assignments": assignments,
                   "options": dict(result.stats.get("options", {})) if result else {}})
        return
    t = Table("id", "label", "size", title=f"{len(topics)} topics in {len(todo)} documents of {file}")
    for tp in topics:
        t.add_row(tp["id"], tp["label"], str(tp["size"]))
    out.print(t)
    for a, line in zip(assignments, lines, strict=True):
        sys.stdout.write(f"{a}\t{line}\n")


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
    "latency_s", "facets"}. Ctrl-C stops cleanly (exit 0); items of an interrupted cycle are picked up by the next run.
    """
    from voc.pipeline.watch import watch as run_watch

    s = settings()
    store = open_store(s, create=True)

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


COMMANDS = (watch,)  # commands of the root app, registered in voc.cli in this order

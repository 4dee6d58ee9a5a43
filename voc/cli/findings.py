"""`voc findings`: a night's findings with their routes; confirm or correct a department."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from voc.cli.common import emit_json, fail, open_store, out, parse_date, settings

__all__ = ["findings_app"]


findings_app = typer.Typer(help="Findings of the nightly runs and their routes to departments.", no_args_is_help=True)


@findings_app.command("list")
def findings_list(
    date: Annotated[str | None, typer.Option("--date", "-d", help="business date (default: the latest with findings)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
) -> None:
    """A date's findings (emerging topics, topic trends, QA patterns) with department, confidence and reason.

    Each finding prints as a block: its id (what `voc findings confirm` takes) and its route, then the title with
    its topic, the counts, the reason for the route and the first contacts (call C009, chat T00152). Ids are never
    cut, at any terminal width.

    --json: an array of {"id", "kind", "run_date", "title", "summary", "topic_id", "count", "customers",
    "value_weight", "department", "confidence", "reason", "confirmed", "examples", "interaction_ids", "details",
    "contact_ids"}; contact_ids are the visible ids (call id, record id) aligned with interaction_ids.
    """
    from voc.records import visible_id
    from voc.store.contacts import contact_refs

    store = open_store()
    if date:
        day = parse_date(date, "--date")
    else:
        recent = store.findings(since=dt.date.today() - dt.timedelta(days=3650))
        day = max((f.run_date for f in recent), default=None)
    found = store.findings(run_date=day) if day else []
    routes = {r.finding_id: r for r in store.routes([f.id for f in found])}
    refs = contact_refs(store.db, [i for f in found for i in f.interaction_ids])
    rows = []
    for f in sorted(found, key=lambda f: (-f.value_weight, -f.count, f.id)):
        r = routes.get(f.id)
        rows.append({"id": f.id, "kind": f.kind, "run_date": f.run_date.isoformat(), "title": f.title,
                     "summary": f.summary, "topic_id": f.topic_id, "count": f.count, "customers": f.customers,
                     "value_weight": f.value_weight, "department": r.department if r else None,
                     "confidence": r.confidence if r else None, "reason": r.reason if r else None,
                     "confirmed": bool(r and r.reason.endswith("(confirmed)")),
                     "examples": list(f.examples), "interaction_ids": list(f.interaction_ids), "details": f.details,
                     "contact_ids": [refs[i].contact_id if i in refs else visible_id(None, i) for i in f.interaction_ids],
                     "_contacts": [refs[i].label for i in f.interaction_ids if i in refs]})
    if json_out:
        emit_json([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
        return
    if not rows:
        out.print("no findings" + (f" for {day}" if day else " yet"))
        return
    _print_findings(rows, day)


def _print_findings(rows: list[dict], day) -> None:
    """One block per finding; rich wraps at spaces, so an id (no spaces) stays whole on its line."""
    from rich.padding import Padding
    from rich.text import Text

    out.print(Text(f"findings {day}: {len(rows)} (confirm with: voc findings confirm FINDING_ID DEPARTMENT)"))
    for k, r in enumerate(rows, start=1):
        out.print()
        head = Text(f"{k:>2}. ")
        head.append(r["id"], style="bold")
        route = (f"→ {r['department']}" if r["department"] else "→ not routed") + (
            f" {r['confidence']:.2f}" if r["confidence"] is not None else "") + (" confirmed" if r["confirmed"] else "")
        head.append(f"  {route}")
        out.print(head)
        topic = f"topic {r['topic_id']}: " if r["topic_id"] else ""
        lines = [f"{topic}{' '.join(str(r['title']).split())}",
                 f"{r['kind']} · {r['count']} contacts · {r['customers']} customers · value {r['value_weight']:.1f}"]
        if r["reason"]:
            lines.append(f"reason: {' '.join(r['reason'].split())}")
        for line in lines:
            out.print(Padding(Text(line), (0, 0, 0, 4)))
        if r["_contacts"]:
            shown = r["_contacts"][:6]
            more = [f"+{len(r['_contacts']) - len(shown)}"] if len(r["_contacts"]) > len(shown) else []
            for line in _fill("contacts:", [*[x + "," for x in shown[:-1]], shown[-1], *more], out.width - 4):
                out.print(Text("    " + line), no_wrap=True, overflow="fold")


def _fill(head: str, pieces: list[str], width: int) -> list[str]:
    """``head`` and ``pieces`` joined by spaces into lines of ``width`` cells, never breaking a piece ("chat
    T00152" stays on one line)."""
    from rich.cells import cell_len

    lines, cur = [], head
    for p in pieces:
        if cur and cell_len(cur) + 1 + cell_len(p) > width:
            lines.append(cur)
            cur = "  " + p
        else:
            cur = f"{cur} {p}" if cur else p
    return [*lines, cur]


@findings_app.command("confirm")
def findings_confirm(
    finding_id: Annotated[str, typer.Argument(help="finding id, e.g. emerging:2026-11-20:T0007")],
    department: Annotated[str, typer.Argument(help="department id that owns it")],
    reason: Annotated[str | None, typer.Option(
        "--reason", "-r", help="why it belongs there (required when the department changes; at most 500 "
        "characters); added to the route's reason")] = None,
    by: Annotated[str | None, typer.Option("--by", help="who confirms (recorded)")] = None,
) -> None:
    """Confirm or correct a finding's department; its topic is routed there on later nights (route memory), and its
    member texts become labelled examples the routing model learns from (refitted by the next routing run, or now
    with `voc route retrain`). Moving a finding to another department (or routing one that has none) needs
    --reason, as re-routing in the web app does; route, reason and examples are written in one transaction."""
    from voc.pipeline.adhoc import DepartmentConfigError, load_departments
    from voc.pipeline.routing import RouteReasonError, confirm_route

    s = settings()
    try:
        ids = {d.id for d in load_departments(s.routing.departments_file)}
    except DepartmentConfigError as exc:
        raise fail(str(exc)) from None
    if department not in ids:
        raise fail(f"unknown department {department!r}; expected one of: {', '.join(sorted(ids))}")
    try:
        r = confirm_route(open_store(s), s, finding_id, department, by, reason, reason_required=True)
    except KeyError as exc:
        raise fail(str(exc).strip("'")) from None
    except RouteReasonError as exc:
        raise fail(f"{exc}; give it with --reason \"...\"") from None
    out.print(f"{finding_id} -> {r.department} ({r.reason})", markup=False, highlight=False)

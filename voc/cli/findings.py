"""`voc findings`: a night's findings with their routes; confirm or correct a department."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from voc.cli.common import emit_json, fail, open_store, out, parse_date, settings

__all__ = ["findings_app"]


findings_app = typer.Typer(help="Findings of the nightly runs and their routes to departments.", no_args_is_help=True)


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
    """Confirm or correct a finding's department; its topic is routed there on later nights (route memory), and its
    member texts become labelled examples the routing model learns from (refitted by the next routing run, or now
    with `voc route retrain`)."""
    from voc.pipeline.adhoc import DepartmentConfigError, load_departments
    from voc.pipeline.routing import confirm_route

    s = settings()
    try:
        ids = {d.id for d in load_departments(s.routing.departments_file)}
    except DepartmentConfigError as exc:
        raise fail(str(exc)) from None
    if department not in ids:
        raise fail(f"unknown department {department!r}; expected one of: {', '.join(sorted(ids))}")
    try:
        r = confirm_route(open_store(s), s, finding_id, department, by)
    except KeyError as exc:
        raise fail(str(exc).strip("'")) from None
    out.print(f"{finding_id} -> {r.department} ({r.reason})")

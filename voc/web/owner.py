"""What a department owner works with: the findings inbox, confirming and re-routing a finding, outreach lists
(page and CSV) and the customer view (one customer's timeline, the at-risk list).

Re-routing goes through :func:`voc.pipeline.routing.confirm_route`, the same code as ``voc findings confirm``: the
route is fixed, the topic's route memory is set and the finding's texts become the router's training examples.
Owners see and act on their own department's findings only; supervisors on all; reviewers only read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from voc.config import Settings
from voc.csvsafe import safe_writer
from voc.records import Finding, Route
from voc.store import Store, web_views
from voc.web.users import User
from voc.web.views import NotVisible

__all__ = [
    "OUTREACH_COLUMNS", "RerouteError", "at_risk", "can_route", "customer_page", "department_names", "finding_detail",
    "findings_inbox", "outreach_csv", "reroute", "visible_id",
]

OUTREACH_COLUMNS = ("rank", "topic_id", "topic_label", "department", "customer_id", "tier", "value", "weight",
                    "status", "match", "product", "batch", "region", "reason")


class RerouteError(ValueError):
    """A confirm or re-route was refused; the message says why (shown to the user)."""


def visible_id(external_id: str | None, interaction_id: str) -> str:
    """The id people know a contact by: the source's call or record id, else the internal one."""
    return external_id or interaction_id


def department_names(settings: Settings) -> dict[str, str]:
    from voc.pipeline.adhoc import load_departments

    return {d.id: d.display_name for d in load_departments(settings.routing.departments_file)}


def can_route(user: User) -> bool:
    return user.role in ("department_owner", "supervisor")


def _owns(user: User, route: Route | None) -> bool:
    if user.role != "department_owner":
        return True
    return route is not None and route.department == user.department


def _finding_row(f: Finding, r: Route | None, ext: dict[str, str | None]) -> dict[str, Any]:
    return {"id": f.id, "kind": f.kind, "run_date": f.run_date.isoformat(), "title": f.title, "summary": f.summary,
            "topic_id": f.topic_id, "count": f.count, "customers": f.customers, "value_weight": f.value_weight,
            "department": r.department if r else None, "confidence": round(r.confidence, 3) if r else None,
            "reason": r.reason if r else None, "confirmed": bool(r and "(confirmed)" in r.reason),
            "examples": list(f.examples)[:3],
            "contacts": [{"id": i, "visible_id": visible_id(ext.get(i), i)} for i in f.interaction_ids]}


def _external_ids(store: Store, ids: list[str]) -> dict[str, str | None]:
    return {i.id: i.external_id for i in store.interactions(ids=ids)} if ids else {}


def findings_inbox(store: Store, settings: Settings, user: User, day: dt.date | None = None,
                   department: str | None = None) -> dict[str, Any]:
    """A date's findings (default: the latest date with findings) routed to the owner's department (owners), or to
    ``department`` (others, optional); the dates with findings for the date picker."""
    everything = store.findings(since=dt.date(1900, 1, 1))
    dates = sorted({f.run_date for f in everything}, reverse=True)
    day = day or (dates[0] if dates else None)
    found = [f for f in everything if f.run_date == day]
    routes = {r.finding_id: r for r in store.routes([f.id for f in found])}
    owner_only = user.role == "department_owner"  # an owner without a department sees none
    dept = user.department if owner_only else department
    if owner_only or dept:
        found = [f for f in found if routes.get(f.id) is not None and routes[f.id].department == dept]
    found.sort(key=lambda f: (-f.value_weight, -f.count, f.id))
    ext = _external_ids(store, sorted({i for f in found for i in f.interaction_ids[:10]}))
    rows = [_finding_row(f, routes.get(f.id), ext) for f in found]
    for r in rows:
        r["contacts"] = r["contacts"][:10]
    return {"date": day.isoformat() if day else None, "dates": [d.isoformat() for d in dates[:60]],
            "department": dept, "findings": rows, "departments": department_names(settings)}


def _finding_and_route(store: Store, user: User, finding_id: str) -> tuple[Finding, Route | None]:
    found = store.findings(ids=[finding_id])
    if not found:
        raise NotVisible(f"finding {finding_id} does not exist")
    route = next(iter(store.routes([finding_id])), None)
    if not _owns(user, route):
        raise NotVisible(f"finding {finding_id} is routed to another department", forbidden=True)
    return found[0], route


def finding_detail(store: Store, settings: Settings, user: User, finding_id: str) -> dict[str, Any]:
    """One finding: its route, member contacts (visible ids, text previews) and outreach list. Raises NotVisible."""
    from voc.pipeline.customers import topic_outreach

    f, route = _finding_and_route(store, user, finding_id)
    ids = list(f.interaction_ids)[:200]
    inters = {i.id: i for i in store.interactions(ids=ids)} if ids else {}
    previews = web_views.contact_previews(store, ids)
    row = _finding_row(f, route, {i: x.external_id for i, x in inters.items()})
    row["contacts"] = [{"id": i, "visible_id": visible_id(inters[i].external_id, i), "channel": inters[i].channel.value,
                        "date": inters[i].business_date.isoformat(), "customer_id": inters[i].customer_id,
                        "preview": previews.get(i, "")} for i in ids if i in inters]
    outreach = topic_outreach(store, settings, f.topic_id, until=f.run_date) if f.topic_id else None
    row["outreach"] = outreach.to_dict() if outreach is not None else None
    row["details"] = dict(f.details)
    return row


def reroute(store: Store, settings: Settings, user: User, finding_id: str, department: str,
            reason: str | None) -> Route:
    """Confirm a finding's department (same department) or re-route it (another one, ``reason`` required), through
    the same code as ``voc findings confirm``. Raises NotVisible or RerouteError."""
    from voc.pipeline.routing import RouteReasonError, confirm_route

    if not can_route(user):
        raise NotVisible("only department owners and supervisors confirm or re-route findings", forbidden=True)
    _finding_and_route(store, user, finding_id)  # NotVisible unless the user may see it
    names = department_names(settings)
    if department not in names:
        raise RerouteError(f"unknown department {department!r}; expected one of: {', '.join(sorted(names))}")
    try:  # route, reason, route memory and training examples in one transaction
        return confirm_route(store, settings, finding_id, department, user.name, reason, reason_required=True)
    except RouteReasonError as exc:
        raise RerouteError(str(exc)) from None


def outreach_csv(outreach: dict[str, Any]) -> bytes:
    """An outreach list as CSV for spreadsheets: UTF-8 with a BOM (Excel reads the Chinese right), every cell
    spreadsheet-safe (:mod:`voc.csvsafe`); the columns of the report's ``*_outreach.csv`` files."""
    buf = io.StringIO()
    w = safe_writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(OUTREACH_COLUMNS)
    for e in outreach.get("entries", []):
        w.writerow([e.get("rank"), outreach["topic_id"], outreach["topic_label"], outreach["department"],
                    e["customer_id"], e.get("tier") or "", "" if e.get("value") is None else e["value"], e["weight"],
                    e["status"], e["match"], e.get("product") or "", e.get("batch") or "", e.get("region") or "",
                    e.get("reason") or ""])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def customer_page(store: Store, settings: Settings, customer_id: str) -> dict[str, Any]:
    """One customer's contacts across channels (visible ids, excerpts), repeat chains and risk reasons."""
    from voc.pipeline.customers import customer_timeline

    view = customer_timeline(store, settings, customer_id)
    if view is None:
        raise NotVisible(f"no contacts of customer {customer_id}")
    by_id = {c["interaction_id"]: c for c in view["contacts"]}
    previews = web_views.contact_previews(store, [i for i, c in by_id.items() if not c.get("excerpt")])
    for c in view["contacts"]:
        c["excerpt"] = c.get("excerpt") or previews.get(c["interaction_id"])
        c["visible_id"] = visible_id(c.get("external_id"), c["interaction_id"])
        prev = by_id.get(c.get("repeat_of") or "")
        c["repeat_of_visible"] = visible_id(prev.get("external_id"), prev["interaction_id"]) if prev else c.get("repeat_of")
    for ch in view["chains"]:
        ch["visible"] = [by_id[i]["visible_id"] if i in by_id else i for i in ch["contacts"]]
    return view


def at_risk(store: Store, settings: Settings, limit: int = 100) -> list[dict[str, Any]]:
    from voc.pipeline.customers import at_risk_customers

    return [r.to_dict(k) for k, r in enumerate(at_risk_customers(store, settings, limit=limit), start=1)]

"""`voc customers` (show, at-risk) and `voc outreach`: the customer view over the store."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from voc.cli.common import emit_json, err, fail, open_store, out, parse_date, settings
from voc.records import contact_label, visible_id

__all__ = ["COMMANDS", "customers_app"]


customers_app = typer.Typer(help="Customer view: timelines, repeat contacts, churn risk.", no_args_is_help=True)


def _until(value: str | None) -> dt.date | None:
    return parse_date(value, "--date") if value else None


@customers_app.command("show")
def customers_show(
    customer_id: Annotated[str, typer.Argument(help="customer id from calls.csv / the text channels, or the id of one of "
                                                    "the customer's contacts (C009, a chat's id)")],
    date: Annotated[str | None, typer.Option("--date", help="as of YYYY-MM-DD (default: latest business date)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON (shape: docs/customers.md)")] = False,
) -> None:
    """One customer's contacts across channels: dates, topics, sentiment, QA, repeat chain and risk."""
    from voc.pipeline import customer_timeline

    s = settings()
    store = open_store(s)
    try:
        view = customer_timeline(store, s, customer_id, _until(date))
        if view is None:  # not a customer id: the id of one of the customer's contacts (C009, a chat's id)?
            view = customer_timeline(store, s, _customer_of(store, customer_id), _until(date))
    except ValueError as exc:  # a broken departments file names itself
        raise fail(str(exc)) from None
    if view is None:
        raise fail(f"customer '{customer_id}': no contacts found (blank ids are unknown customers)", 1)
    _add_contact_ids(view)
    if json_out:
        emit_json(view)
        return
    out.print(f"{view['customer_id']} tier={view['tier'] or '-'} value={view['value'] or '-'} weight={view['weight']}",
              markup=False, soft_wrap=True)
    names = {c["interaction_id"]: contact_label(c["channel"], c["contact_id"]) for c in view["contacts"]}
    for c in view["contacts"]:
        parts = [c["date"], names[c["interaction_id"]],
                 " ".join(x for x in (f"topic {c['topic_id']}" if c["topic_id"] else None, c["topic_label"]) if x)
                 or "-", c["service_type"] or "-"]
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


def _customer_of(store, ref: str) -> str | None:
    """The customer of the contact ``ref`` names (None when no contact has that id); ambiguity is an error."""
    from voc.store.contacts import AmbiguousContact, find_contacts

    hits = find_contacts(store.db, ref)
    if len(hits) > 1 and len({h.customer_id for h in hits}) > 1:
        raise fail(str(AmbiguousContact(ref, hits)))
    if hits and not hits[0].customer_id:
        raise fail(f"{hits[0].describe()} has no customer id (an unknown customer)", 1)
    if hits:
        err.print(f"{ref}: {hits[0].label} of customer {hits[0].customer_id}", markup=False)
    return hits[0].customer_id if hits else None


def _add_contact_ids(view: dict) -> None:
    """JSON additions: each contact's visible id (``contact_id``), each repeat chain's (``contact_ids``)."""
    for c in view["contacts"]:
        c["contact_id"] = visible_id(c["external_id"], c["interaction_id"])
    names = {c["interaction_id"]: c["contact_id"] for c in view["contacts"]}
    for ch in view["chains"]:
        ch["contact_ids"] = [names.get(x, x) for x in ch["contacts"]]


@customers_app.command("at-risk")
def customers_at_risk(
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="default: customers.top_n")] = None,
    date: Annotated[str | None, typer.Option("--date", help="as of YYYY-MM-DD (default: latest business date)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON (shape: docs/customers.md)")] = False,
) -> None:
    """Customers ranked by churn risk (signals x customer value), with the reasons."""
    from voc.pipeline import at_risk_customers

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


def outreach(
    topic_id: Annotated[str, typer.Argument(help="topic id, e.g. T0007 (see the emerging topics in the digest)")],
    date: Annotated[str | None, typer.Option("--date", help="as of YYYY-MM-DD (default: latest business date)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON (shape: docs/customers.md)")] = False,
) -> None:
    """Customers to contact first about a topic: complainers and silent customers sharing batch/product."""
    from voc.pipeline import topic_outreach

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


COMMANDS = (outreach,)  # commands of the root app, registered in voc.cli in this order

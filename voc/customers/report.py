"""The customer view of a run date: FCR / repeat figures, the at-risk list and outreach lists, as one
:class:`CustomerReport` (what the report stage renders), CSV exports, and the CLI's views."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voc.customers import store as cstore
from voc.customers.model import Contact, CustomerRisk, OutreachList, RepeatStats
from voc.customers.outreach import build_outreach, shared_exposure
from voc.customers.repeats import GROUPINGS, find_repeats, repeat_chains, repeat_stats, timelines
from voc.customers.risk import customer_risk, rank_at_risk
from voc.routing.value import customer_weight

logger = logging.getLogger(__name__)

AT_RISK_COLUMNS = ("rank", "customer_id", "tier", "value", "weight", "score", "signals", "reasons")
OUTREACH_COLUMNS = ("rank", "topic_id", "topic_label", "department", "customer_id", "tier", "value", "weight",
                    "status", "match", "product", "batch", "region", "reason")
DIGEST_AT_RISK = 10
DIGEST_OUTREACH_TOP = 5  # per status: complainers to call back, silent exposed customers to reach first


@dataclass(frozen=True, slots=True)
class CustomerReport:
    """FCR and repeat-contact figures, customers at risk and outreach lists for one run date."""

    run_date: dt.date
    since: dt.date  # first business date of the figures (run_date - lookback_days + 1)
    overall: RepeatStats
    by_group: Mapping[str, Sequence[RepeatStats]]  # "queue" / "agent" / "department" / "topic" -> rows
    at_risk: Sequence[CustomerRisk]
    outreach: Sequence[OutreachList]
    unknown_contacts: int = 0  # contacts without a customer id (left out of FCR and risk)
    options: Mapping[str, Any] = field(default_factory=dict)  # resolved settings that produced it

    def to_digest(self) -> dict[str, Any]:
        """Plain data for ``DigestData.customers`` (templates render it; JSON-able)."""
        return {
            "run_date": self.run_date.isoformat(),
            "since": self.since.isoformat(),
            "window_days": self.options.get("repeat_window_days"),
            "overall": self.overall.to_dict() | {"unknown_contacts": self.unknown_contacts},
            "by": {k: [r.to_dict() for r in rows] for k, rows in self.by_group.items()},
            "at_risk": [r.to_dict(i) for i, r in enumerate(self.at_risk[:DIGEST_AT_RISK], start=1)],
            "at_risk_total": len(self.at_risk),
            "outreach": [
                {k: v for k, v in o.to_dict().items() if k != "entries"}
                | {"customers": len(o.entries)}
                | {f"top_{status}": [e.to_dict(i) for i, e in enumerate(o.entries, start=1) if e.status == status][:DIGEST_OUTREACH_TOP]
                   for status in ("complained", "exposed")}
                for o in self.outreach
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, for ``--json`` and tests: the digest shape with full lists."""
        return self.to_digest() | {
            "at_risk": [r.to_dict(i) for i, r in enumerate(self.at_risk, start=1)],
            "outreach": [o.to_dict() for o in self.outreach],
            "options": dict(self.options),
        }


class CustomerView:
    """Reads contacts for the customer view with departments resolved once (settings -> store)."""

    def __init__(self, store, settings, until: dt.date) -> None:
        from voc.routing import load_departments

        self.store, self.settings, self.until = store, settings, until
        self.cs = settings.customers
        self.topic_departments = cstore.topic_departments(store, until)
        self.service_departments = cstore.service_departments(load_departments(settings.routing.departments_file))
        self.fallback = settings.routing.fallback_department
        self.tier_weights = dict(settings.routing.tier_weights)

    def contacts(self, **filters) -> list[Contact]:
        return cstore.load_contacts(
            self.store, topic_departments=self.topic_departments, service_departments=self.service_departments,
            fallback_department=self.fallback, **filters)

    def risk_options(self, since: dt.date | None) -> dict[str, Any]:
        return {"since": since, "weights": self.cs.risk_weights.model_dump(),
                "negative_threshold": self.settings.sentiment.negative_threshold,
                "worsening_drop": self.cs.worsening_drop, "tier_weights": self.tier_weights}

    def outreach(self, topic_id: str, *, label: str | None = None, finding=None, department: str | None = None,
                 since: dt.date | None = None) -> OutreachList:
        """Complainers of ``topic_id`` in [since, until] (plus the finding's members) and exposed customers."""
        since = since or self.until - dt.timedelta(days=self.cs.lookback_days - 1)
        ids = set(cstore.topic_member_ids(self.store, topic_id, since, self.until))
        if finding is not None:
            ids |= set(finding.interaction_ids)
        complaints = self.contacts(interaction_ids=sorted(ids))
        exposure = shared_exposure(complaints, self.cs.outreach_match_keys, self.cs.outreach_min_complainers,
                                   self.cs.outreach_min_share)
        candidates = self.contacts(
            since=self.until - dt.timedelta(days=self.cs.outreach_metadata_days - 1), until=self.until,
            attribute_values=exposure) if exposure else []
        if label is None:
            label = cstore.topic_labels(self.store, [topic_id]).get(topic_id, topic_id)
        department = department or self.topic_departments.get(topic_id) or self.fallback
        return build_outreach(
            topic_id, label, complaints, candidates, finding_id=finding.id if finding is not None else None,
            department=department, match_keys=self.cs.outreach_match_keys,
            min_complainers=self.cs.outreach_min_complainers, min_share=self.cs.outreach_min_share,
            tier_weights=self.tier_weights,
            limit=self.cs.outreach_limit)


def build_customer_report(store, settings, run_date: dt.date) -> CustomerReport:
    """The report stage's hook: figures over the lookback period ending at ``run_date``, the ranked
    at-risk list, and one outreach list per emerging-topic finding of ``run_date``."""
    cs = settings.customers
    view = CustomerView(store, settings, run_date)
    since = run_date - dt.timedelta(days=cs.lookback_days - 1)
    # Contacts before the period are read too, so a contact on its first day can still be a repeat.
    contacts = view.contacts(since=since - dt.timedelta(days=cs.repeat_window_days), until=run_date)
    links = find_repeats(contacts, cs.repeat_window_days, cs.repeat_match)
    chains = repeat_chains(contacts, links)
    overall = repeat_stats(contacts, links, since=since, until=run_date)
    by_group = {name: repeat_stats(contacts, links, key, since=since, until=run_date) for name, key in GROUPINGS.items()}
    lines = timelines(contacts)
    at_risk = rank_at_risk(lines, links, chains, limit=cs.top_n, **view.risk_options(since))
    outreach = []
    for finding, department in cstore.emerging_findings(store, run_date):
        if not finding.topic_id:
            continue
        outreach.append(view.outreach(finding.topic_id, label=finding.title, finding=finding,
                                      department=department, since=since))
    unknown = sum(1 for c in contacts if not c.customer_id and since <= c.business_date <= run_date)
    report = CustomerReport(
        run_date=run_date, since=since, overall=overall[0] if overall else RepeatStats("all", 0, 0, 0, 0),
        by_group=by_group, at_risk=tuple(at_risk), outreach=tuple(outreach), unknown_contacts=unknown,
        options=cs.model_dump(mode="json"),
    )
    logger.info("customers %s: %d contacts, repeat rate %s, FCR %s, %d at risk, %d outreach lists",
                run_date, report.overall.contacts, report.overall.repeat_rate, report.overall.fcr,
                len(at_risk), len(outreach))
    return report


def customer_timeline(store, settings, customer_id: str, until: dt.date | None = None) -> dict[str, Any] | None:
    """One customer's contacts across channels with repeat links, chains and risk (``voc customers show``)."""
    cid = (customer_id or "").strip()
    if not cid:
        return None
    until = until or cstore.latest_business_date(store) or dt.date.today()
    view = CustomerView(store, settings, until)
    contacts = sorted(view.contacts(customer_id=cid), key=lambda c: (c.business_date, c.interaction_id))
    if not contacts:
        return None
    cs = settings.customers
    links = find_repeats(contacts, cs.repeat_window_days, cs.repeat_match)
    chains = repeat_chains(contacts, links)
    timeline = timelines(contacts).get(cid, [])
    risk = customer_risk(timeline, links, chains, **view.risk_options(until - dt.timedelta(days=cs.lookback_days - 1)))
    tier = next((c.customer_tier for c in reversed(timeline) if c.customer_tier), None)
    value = next((c.customer_value for c in reversed(timeline) if c.customer_value is not None), None)
    return {
        "customer_id": cid, "tier": tier, "value": value,
        "weight": round(customer_weight(tier, value, view.tier_weights), 3),
        "contacts": [_contact_json(c, links) for c in timeline],
        "chains": [{"contacts": list(ch.contacts), "first": ch.first.isoformat(), "last": ch.last.isoformat(),
                    "days": ch.days, "about": ch.about, "reason": ch.reason} for ch in chains],
        "risk": risk.to_dict() if risk else None,
    }


def _contact_json(c: Contact, links) -> dict[str, Any]:
    link = links.get(c.interaction_id)
    return {
        "interaction_id": c.interaction_id, "external_id": c.external_id, "channel": c.channel,
        "date": c.business_date.isoformat(), "started_at": c.started_at.isoformat() if c.started_at else None,
        "queue": c.queue, "agent_id": c.agent_id, "service_type": c.service_type, "topic_id": c.topic_id,
        "topic_label": c.topic_label, "department": c.department, "sentiment": c.sentiment,
        "trajectory": c.trajectory, "escalation": c.escalation, "qa_score": c.qa_score, "qa_review": c.qa_review,
        "repeat_of": link.previous if link else None, "repeat_days": link.days if link else None,
        "repeat_match": link.match if link else None, "attributes": dict(c.attributes), "excerpt": c.excerpt,
    }


def at_risk_customers(store, settings, until: dt.date | None = None, limit: int | None = None) -> list[CustomerRisk]:
    """The ranked at-risk list over the lookback period ending ``until`` (default: latest business date)."""
    cs = settings.customers
    until = until or cstore.latest_business_date(store) or dt.date.today()
    view = CustomerView(store, settings, until)
    since = until - dt.timedelta(days=cs.lookback_days - 1)
    contacts = view.contacts(since=since - dt.timedelta(days=cs.repeat_window_days), until=until)
    links = find_repeats(contacts, cs.repeat_window_days, cs.repeat_match)
    return rank_at_risk(timelines(contacts), links, repeat_chains(contacts, links), limit=limit,
                        **view.risk_options(since))


def topic_outreach(store, settings, topic_id: str, until: dt.date | None = None) -> OutreachList | None:
    """The outreach list of one topic (``voc outreach``); None when the topic is unknown."""
    until = until or cstore.latest_business_date(store) or dt.date.today()
    labels = cstore.topic_labels(store, [topic_id])
    found = cstore.latest_topic_finding(store, topic_id, until)
    if topic_id not in labels and found is None:
        return None
    view = CustomerView(store, settings, until)
    finding, department = found if found else (None, None)
    label = labels.get(topic_id) or (finding.title if finding else topic_id)
    return view.outreach(topic_id, label=label, finding=finding, department=department)


# ---- exports --------------------------------------------------------------------------------------

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def _file_name(text: str) -> str:
    return _SAFE_NAME.sub("_", text).strip("._") or "unnamed"


def _cell(value: Any) -> Any:
    """Spreadsheet-safe cell: text starting with = + - @ is prefixed with ' (CSV formula injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _write(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8-sig", newline="") as f:  # BOM: Excel opens Chinese text correctly
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
    return path


def _outreach_rows(o: OutreachList) -> list[list[Any]]:
    return [[i, o.topic_id, o.topic_label, o.department, e.customer_id, e.tier or "", e.value if e.value is not None else "",
             round(e.weight, 3), e.status, e.match, e.product, e.batch, e.region, e.reason]
            for i, e in enumerate(o.entries, start=1)]


def write_customer_exports(report: CustomerReport, out_dir: str | Path) -> list[Path]:
    """Write ``customers/at_risk.csv``, ``customers/outreach_<topic>.csv`` and
    ``departments/<dept>_outreach.csv`` under ``out_dir``. Customer ids, tiers and product/batch/region
    only: no phone numbers, names, addresses or texts."""
    out = Path(out_dir)
    written = [_write(out / "customers" / "at_risk.csv", AT_RISK_COLUMNS, [
        [i, r.customer_id, r.tier or "", r.value if r.value is not None else "", round(r.weight, 3), r.score,
         "; ".join(f"{k}={v:g}" for k, v in r.signals.items()), " | ".join(r.reasons)]
        for i, r in enumerate(report.at_risk, start=1)])]
    per_department: dict[str, list[list[Any]]] = {}
    for o in report.outreach:
        rows = _outreach_rows(o)
        written.append(_write(out / "customers" / f"outreach_{_file_name(o.topic_id)}.csv", OUTREACH_COLUMNS, rows))
        per_department.setdefault(o.department, []).extend(rows)
    for dept, rows in sorted(per_department.items()):
        written.append(_write(out / "departments" / f"{_file_name(dept)}_outreach.csv", OUTREACH_COLUMNS, rows))
    logger.info("wrote %d customer export files to %s", len(written), out)
    return written

"""The customer view of a run date as one :class:`CustomerReport` (what the report stage renders), its CSV exports,
and one customer's view as JSON. :mod:`voc.pipeline.customers` reads the contacts and builds them."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voc.csvsafe import safe_writer
from voc.customers.model import Contact, CustomerRisk, OutreachList, RepeatStats
from voc.value import customer_weight

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


def customer_json(cid: str, timeline: Sequence[Contact], links: Mapping[str, Any], chains: Sequence[Any],
                  risk: CustomerRisk | None, tier_weights: Mapping[str, float]) -> dict[str, Any]:
    """One customer's view as JSON (``voc customers show --json``)."""
    tier = next((c.customer_tier for c in reversed(timeline) if c.customer_tier), None)
    value = next((c.customer_value for c in reversed(timeline) if c.customer_value is not None), None)
    return {
        "customer_id": cid, "tier": tier, "value": value,
        "weight": round(customer_weight(tier, value, tier_weights), 3),
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


# ---- exports --------------------------------------------------------------------------------------

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def _file_name(text: str) -> str:
    return _SAFE_NAME.sub("_", text).strip("._") or "unnamed"


def _write(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8-sig", newline="") as f:  # BOM: Excel opens Chinese text correctly
        writer = safe_writer(f, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
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

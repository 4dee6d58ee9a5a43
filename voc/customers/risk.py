"""Explainable churn-risk score per customer: signal points x customer-value weight, with reasons.

Signals (points per occurrence from ``customers.risk_weights``): repeat contacts, contacts with negative
sentiment, calls whose sentiment worsened (and a fall across contacts), escalation flags, and QA reviews
still open. The sum is multiplied by :func:`voc.value.customer_weight` of the customer's tier
and value, so a VIP with the same troubles ranks above a normal customer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from voc.customers.model import Contact, CustomerRisk, RepeatChain, RepeatLink
from voc.records import contact_label, visible_id
from voc.value import DEFAULT_TIER_WEIGHTS, customer_weight

UNRESOLVED_REVIEW = frozenset({"open", "claimed", "appealed"})
DEFAULT_RISK_WEIGHTS: Mapping[str, float] = {
    "repeat": 2.0, "negative": 1.0, "worsening": 1.5, "escalation": 2.0, "unresolved_qa": 1.5,
}


def _name(c: Contact) -> str:
    return visible_id(c.external_id, c.interaction_id)


def _names(cs: Sequence[Contact], n: int = 3, *, kind: bool = False) -> str:
    """The first ``n`` contacts' visible ids; ``kind``: with the channel in front (``chat T01808``), for lists that mix
    channels, so a record id is not read as a topic id (``T0013``)."""
    shown = ", ".join(contact_label(c.channel, _name(c)) if kind else _name(c) for c in cs[:n])
    return shown + (f" +{len(cs) - n}" if len(cs) > n else "")


def customer_risk(
    timeline: Sequence[Contact],
    links: Mapping[str, RepeatLink],
    chains: Sequence[RepeatChain] = (),
    *,
    since: dt.date | None = None,
    weights: Mapping[str, float] = DEFAULT_RISK_WEIGHTS,
    negative_threshold: float = -0.35,
    worsening_drop: float = 0.3,
    tier_weights: Mapping[str, float] = DEFAULT_TIER_WEIGHTS,
) -> CustomerRisk | None:
    """Risk of one customer from their timeline (oldest first); None when no signal fired."""
    recent = [c for c in timeline if since is None or c.business_date >= since]
    if not recent or not recent[0].customer_id:
        return None
    counts: dict[str, int] = {}
    reasons: list[str] = []

    repeats = [c for c in recent if c.interaction_id in links]
    if repeats:
        counts["repeat"] = len(repeats)
        ids = {c.interaction_id for c in recent}
        shown = [ch for ch in chains if set(ch.contacts) & ids]
        reasons += [ch.reason for ch in shown] or [f"{len(repeats)} repeat contact(s)"]

    scored = [c for c in recent if c.sentiment is not None]
    negative = [c for c in scored if c.sentiment <= negative_threshold]
    if negative:
        counts["negative"] = len(negative)
        lowest = min(c.sentiment for c in negative)
        reasons.append(f"negative sentiment in {len(negative)} of {len(scored)} contacts (lowest {lowest:+.2f})")

    worsening = [c for c in recent if c.trajectory == "worsening"]
    fell = len(scored) >= 2 and scored[-1].sentiment - scored[0].sentiment <= -worsening_drop
    if worsening or fell:
        counts["worsening"] = len(worsening) + int(fell)
        if worsening:
            reasons.append(f"sentiment worsened during {len(worsening)} call(s): {_names(worsening)}")
        if fell:
            reasons.append(f"sentiment fell from {scored[0].sentiment:+.2f} to {scored[-1].sentiment:+.2f} across contacts")

    escalated = [c for c in recent if c.escalation]
    if escalated:
        counts["escalation"] = len(escalated)
        reasons.append(f"escalation flagged in {len(escalated)} contact(s): {_names(escalated, kind=True)}")

    open_qa = [c for c in recent if c.qa_review in UNRESOLVED_REVIEW]
    if open_qa:
        counts["unresolved_qa"] = len(open_qa)
        detail = ", ".join(
            f"{_name(c)} {c.qa_review}" + (f" score {c.qa_score:.0f}" if c.qa_score is not None else "") for c in open_qa[:3])
        reasons.append(f"QA review unresolved: {detail}")

    signals = {k: float(weights.get(k, 0.0)) * n for k, n in counts.items()}
    points = sum(signals.values())
    if points <= 0:
        return None
    latest = timeline[-1]
    tier = next((c.customer_tier for c in reversed(timeline) if c.customer_tier), None)
    value = next((c.customer_value for c in reversed(timeline) if c.customer_value is not None), None)
    return CustomerRisk(
        customer_id=latest.customer_id,
        tier=tier,
        value=value,
        weight=customer_weight(tier, value, tier_weights),
        points=points,
        signals=signals,
        reasons=tuple(reasons),
        contacts=len(recent),
        last_contact=latest.business_date,
    )


def rank_at_risk(
    timelines: Mapping[str, Sequence[Contact]],
    links: Mapping[str, RepeatLink],
    chains: Sequence[RepeatChain] = (),
    *,
    limit: int | None = None,
    **options,
) -> list[CustomerRisk]:
    """Customers with any risk signal, highest weighted score first (ties: more points, then id)."""
    by_customer: dict[str, list[RepeatChain]] = {}
    for ch in chains:
        by_customer.setdefault(ch.customer_id, []).append(ch)
    risks = []
    for cid, timeline in timelines.items():
        risk = customer_risk(timeline, links, by_customer.get(cid, ()), **options)
        if risk is not None:
            risks.append(risk)
    risks.sort(key=lambda r: (-r.score, -r.points, r.customer_id))
    return risks[:limit] if limit else risks

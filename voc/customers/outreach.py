"""Proactive outreach lists for a topic: the customers who complained, plus silent customers who share
the complainers' product / batch / region (pure functions; the store layer supplies the contacts)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence

from voc.customers.model import Contact, OutreachEntry, OutreachList
from voc.customers.repeats import contact_order
from voc.value import DEFAULT_TIER_WEIGHTS, customer_weight

PROFILE_KEYS = ("product", "batch", "region")


def key_parts(key: str) -> tuple[str, ...]:
    """'product+region' -> ('product', 'region'): a compound key needs every part to match."""
    return tuple(p.strip() for p in key.split("+") if p.strip())


def key_value(contact: Contact, key: str) -> tuple[str, ...] | None:
    values = tuple(str(contact.attributes.get(p, "")).strip() for p in key_parts(key))
    return values if values and all(values) else None


def shared_exposure(
    complaints: Sequence[Contact], match_keys: Sequence[str], min_complainers: int = 2, min_share: float = 0.0
) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Per match key, the values shared by at least ``min_complainers`` distinct complaining customers and
    by at least ``min_share`` of them (so a few complainers' unrelated product, or a stray member of a noisy
    topic, does not pull in a whole product line)."""
    out: dict[str, tuple[tuple[str, ...], ...]] = {}
    n_customers = len({c.customer_id for c in complaints if c.customer_id})
    need = max(min_complainers, math.ceil(min_share * n_customers - 1e-9))
    for key in match_keys:
        holders: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for c in complaints:
            value = key_value(c, key)
            if value and c.customer_id:
                holders[value].add(c.customer_id)
        shared = sorted(v for v, who in holders.items() if len(who) >= need)
        if shared:
            out[key] = tuple(shared)
    return out


def _profile(contacts: Sequence[Contact]) -> dict[str, str]:
    """Latest non-empty product / batch / region over a customer's contacts."""
    profile: dict[str, str] = {}
    for c in sorted(contacts, key=contact_order):
        for k in PROFILE_KEYS:
            if c.attributes.get(k):
                profile[k] = c.attributes[k]
    return profile


def contact_reason(label: str, status: str, product: str = "", batch: str = "",
                   facet: Mapping[str, object] | None = None) -> str:
    """A suggested opening for the agent who calls (Chinese, polite): from the finding's facet when it has one
    (product, batch and problem: "您购买的X3空调（批次B2311）漏水问题…"), else from the topic label."""
    if facet and (facet.get("aspect") or facet.get("product")):
        what = (product or str(facet.get("product") or "") or "产品")
        what += f"（批次{batch or facet.get('batch')}）" if (batch or facet.get("batch")) else ""
        problem = str(facet.get("aspect") or "质量")
        if status == "complained":
            return f"回访：您购买的{what}{problem}问题，跟进处理进展并致歉"
        return f"主动关怀：您购买的{what}可能存在{problem}问题，可为您优先安排免费检测"
    label = label or "近期集中反映的问题"
    if status == "complained":
        return f"回访：跟进您反馈的“{label}”问题，确认处理进展并致歉"
    what = (product or "产品") + (f"（批次{batch}）" if batch else "")
    return f"主动关怀：您购买的{what}可能受“{label}”问题影响，可为您优先安排免费检测"


def build_outreach(
    topic_id: str,
    topic_label: str,
    complaints: Sequence[Contact],
    candidates: Sequence[Contact] = (),
    *,
    finding_id: str | None = None,
    department: str = "customer_service",
    match_keys: Sequence[str] = ("batch", "product"),
    min_complainers: int = 2,
    min_share: float = 0.0,
    tier_weights: Mapping[str, float] = DEFAULT_TIER_WEIGHTS,
    limit: int | None = None,
    facet: Mapping[str, object] | None = None,
) -> OutreachList:
    """The outreach list of one topic, highest customer value first.

    ``complaints`` are the topic's member contacts (anonymous ones are counted, not listed);
    ``candidates`` are other contacts that may share a complainer's product / batch / region. Each
    customer appears once: complainers as "complained", others as "exposed" with the strongest match
    (the first key of ``match_keys`` they share). ``facet`` (a finding's ``details["facets"]``) words the
    suggested reasons from the product, batch and problem instead of the label.
    """
    by_customer: dict[str, list[Contact]] = defaultdict(list)
    for c in complaints:
        if c.customer_id:
            by_customer[c.customer_id].append(c)
    complainers = set(by_customer)
    exposure = shared_exposure(complaints, match_keys, min_complainers, min_share)
    matched: dict[str, str] = {}
    others: dict[str, list[Contact]] = defaultdict(list)
    seen: set[str] = set()
    for c in candidates:
        if not c.customer_id or c.customer_id in complainers or c.interaction_id in seen:
            continue
        seen.add(c.interaction_id)
        others[c.customer_id].append(c)
        for rank, key in enumerate(match_keys):
            value = key_value(c, key)
            if value and value in exposure.get(key, ()):
                label = f"{key}={'+'.join(value)}"
                best = matched.get(c.customer_id)
                if best is None or rank < match_keys.index(best.split("=", 1)[0]):
                    matched[c.customer_id] = label
                break
    entries = []
    for cid, cs in by_customer.items():
        entries.append(_entry(cid, cs, "complained", f"complained {len(cs)}x" if len(cs) > 1 else "complained",
                              topic_label, tier_weights, facet))
    for cid, match in matched.items():
        entries.append(_entry(cid, others[cid], "exposed", match, topic_label, tier_weights, facet))
    entries.sort(key=lambda e: (-e.weight, e.status != "complained", e.customer_id))
    return OutreachList(
        topic_id=topic_id,
        topic_label=topic_label,
        finding_id=finding_id,
        department=department,
        contact_reason=contact_reason(topic_label, "exposed", facet=facet),
        matched_on={k: tuple("+".join(v) for v in vals) for k, vals in exposure.items()},
        entries=tuple(entries[:limit] if limit else entries),
        anonymous_complaints=sum(1 for c in complaints if not c.customer_id),
    )


def _entry(cid: str, contacts: Sequence[Contact], status: str, match: str, label: str,
           tier_weights: Mapping[str, float], facet: Mapping[str, object] | None = None) -> OutreachEntry:
    latest = sorted(contacts, key=contact_order)
    tier = next((c.customer_tier for c in reversed(latest) if c.customer_tier), None)
    value = next((c.customer_value for c in reversed(latest) if c.customer_value is not None), None)
    profile = _profile(contacts)
    return OutreachEntry(
        customer_id=cid, tier=tier, value=value, weight=customer_weight(tier, value, tier_weights),
        status=status, match=match, product=profile.get("product", ""), batch=profile.get("batch", ""),
        region=profile.get("region", ""),
        reason=contact_reason(label, status, profile.get("product", ""), profile.get("batch", ""), facet),
    )

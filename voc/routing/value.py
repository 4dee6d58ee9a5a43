"""Customer-value weight of a set of interactions: affected customers x value tier (and CLV)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

from voc.records import Finding, Interaction

DEFAULT_TIER_WEIGHTS: Mapping[str, float] = {"vip": 5.0, "gold": 2.0, "normal": 1.0}


def customer_weight(
    tier: str | None,
    customer_value: float | None,
    tier_weights: Mapping[str, float] = DEFAULT_TIER_WEIGHTS,
    value_scale: float = 1000.0,
) -> float:
    """Weight of one customer = tier weight x (1 + ln(1 + CLV / value_scale)).

    The tier sets the base (unknown or missing tier = the ``normal`` weight, else 1); a CLV number
    multiplies it with diminishing returns so one whale cannot outweigh many affected customers:
    CLV 0 or missing -> x1, CLV = value_scale -> x1.69, 10 x value_scale -> x3.4.
    """
    base = tier_weights.get((tier or "").strip().lower(), tier_weights.get("normal", 1.0))
    if customer_value is None or customer_value <= 0 or value_scale <= 0:
        return float(base)
    return float(base) * (1.0 + math.log1p(customer_value / value_scale))


def value_weight(
    interactions: Sequence[Interaction],
    tier_weights: Mapping[str, float] = DEFAULT_TIER_WEIGHTS,
    value_scale: float = 1000.0,
) -> float:
    """Sum of customer weights over the distinct customers affected.

    A customer with several interactions counts once, at their highest weight; an interaction
    without a customer id counts as its own customer (an anonymous review is still a customer).
    """
    best: dict[str, float] = {}
    for interaction in interactions:
        key = interaction.customer_id or f"interaction:{interaction.id}"
        weight = customer_weight(interaction.customer_tier, interaction.customer_value, tier_weights, value_scale)
        best[key] = max(best.get(key, 0.0), weight)
    return round(sum(best.values()), 6)


def affected_customers(interactions: Sequence[Interaction]) -> int:
    return len({i.customer_id or f"interaction:{i.id}" for i in interactions})


def weigh_findings(
    findings: Sequence[Finding],
    interactions_by_finding: Mapping[str, Sequence[Interaction]],
    tier_weights: Mapping[str, float] = DEFAULT_TIER_WEIGHTS,
    value_scale: float = 1000.0,
) -> list[Finding]:
    """Copies of ``findings`` with ``customers`` and ``value_weight`` filled in, highest weight first."""
    out = []
    for finding in findings:
        members = interactions_by_finding.get(finding.id, ())
        if members:
            finding = dataclasses.replace(
                finding,
                customers=affected_customers(members),
                value_weight=value_weight(members, tier_weights, value_scale),
            )
        out.append(finding)
    return sorted(out, key=lambda f: (-f.value_weight, -f.count, f.id))

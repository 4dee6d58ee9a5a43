"""Customer-value weight of a set of interactions: affected customers x value tier (and CLV)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from voc.records import Finding, Interaction
from voc.value import DEFAULT_TIER_WEIGHTS, customer_weight

__all__ = ["DEFAULT_TIER_WEIGHTS", "affected_customers", "customer_weight", "value_weight", "weigh_findings"]

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

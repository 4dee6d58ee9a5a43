"""Customer value: the one weight of a customer that routing, the customer view and the review queue share.

A base module like :mod:`voc.records` and :mod:`voc.config`: stages import it, it imports nothing of voc.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["DEFAULT_TIER_WEIGHTS", "customer_weight"]

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

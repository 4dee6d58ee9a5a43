"""A topic's department from its members' decisions, with hysteresis: the standing route changes only when the
members' distribution clearly moves to another department, and the reason says so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_SWITCH_MARGIN", "PreviousRoute", "TopicDecision", "decide_topic_route"]

# The share of member probability a challenger needs above the standing department before the route moves.
DEFAULT_SWITCH_MARGIN = 0.2


@dataclass(frozen=True, slots=True)
class PreviousRoute:
    """The route of a topic's latest finding before tonight."""

    department: str
    run_date: dt.date
    finding_id: str = ""
    confirmed: bool = False
    triaged: bool = False  # that night's members were not clear enough: the fallback held it, nothing to keep


@dataclass(frozen=True, slots=True)
class TopicDecision:
    department: str
    confidence: float
    reason: str
    changed_from: str | None = None  # the standing department this decision replaced


def _top(labels: Sequence[str], share: np.ndarray, n: int = 3) -> str:
    order = np.argsort(-share, kind="stable")[:n]
    return ", ".join(f"{labels[j]} {share[j]:.2f}" for j in order if share[j] > 0.005)


def decide_topic_route(
    labels: Sequence[str],
    share: np.ndarray,
    members: int,
    previous: PreviousRoute | None,
    *,
    min_confidence: float,
    fallback: str,
    switch_margin: float = DEFAULT_SWITCH_MARGIN,
) -> TopicDecision:
    """Department of a topic from ``share`` (mean member probability per department, sums to 1; ``members`` = 0
    when it comes from the finding's own text).

    Without a standing route the leader wins, or triage when it is below ``min_confidence``. With one, the standing
    department stays unless the leader's share beats it by ``switch_margin`` (and passes ``min_confidence``).
    """
    share = np.asarray(share, dtype=np.float64)
    order = np.argsort(-share, kind="stable")
    best = labels[order[0]]
    basis = f"{members} member text{'s' if members != 1 else ''}" if members else "finding text"
    what = f"{basis}: {_top(labels, share)}"
    if previous is not None and previous.department in labels and not previous.triaged:
        standing = previous.department
        have = float(share[list(labels).index(standing)])
        since = f"route of {previous.run_date.isoformat()}"
        if best == standing:
            return TopicDecision(standing, have, f"{what}; same as the {since}")
        lead = float(share[order[0]]) - have
        if lead >= switch_margin and share[order[0]] >= min_confidence:
            return TopicDecision(best, float(share[order[0]]),
                                 f"changed from {standing} ({since}): {what}; {best} leads by {lead:.2f} "
                                 f"(a change needs {switch_margin:.2f})", changed_from=standing)
        return TopicDecision(standing, have,
                             f"kept {standing} ({since}): {what}; {best} leads by only {lead:.2f} "
                             f"(a change needs {switch_margin:.2f})")
    if share[order[0]] < min_confidence:
        runner = labels[order[1]] if len(order) > 1 else None
        two = f"{best} {share[order[0]]:.2f}" + (f", runner-up {runner} {share[order[1]]:.2f}" if runner else "")
        return TopicDecision(fallback, float(share[order[0]]),
                             f"triage: {what}; best {two} below min confidence {min_confidence}")
    return TopicDecision(best, float(share[order[0]]), what)

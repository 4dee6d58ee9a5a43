"""What the QA results of a night mean for people: the review-queue priority of a call, and rules failed by several
calls as findings for whoever owns the agents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from voc.qa.scorer import FORBIDDEN_RULE
from voc.records import Finding


def review_priority(score: float, reasons: Sequence[str], tier: str | None, tier_weights: Mapping[str, float]) -> float:
    """Higher first: low scores, more reasons, valuable customers."""
    weight = tier_weights.get((tier or "normal").lower(), tier_weights.get("normal", 1.0))
    bonus = 25.0 if "forbidden_phrase" in reasons else 0.0
    return round((100.0 - score) + bonus + 10.0 * len(reasons) + 5.0 * weight, 2)


def qa_pattern_findings(qa_rows: Sequence[Mapping[str, Any]], run_date: dt.date, calls_scored: int,
                        min_calls: int) -> list[Finding]:
    """Rules failed by at least ``min_calls`` of the date's calls (forbidden phrases: by any) as findings.

    ``qa_rows``: stored QA results (``interaction_id`` and ``outcomes`` with ``rule_id``, ``name``, ``passed``,
    ``evidence``) of the ``calls_scored`` calls of the date."""
    failed: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    examples: dict[str, list[str]] = {}
    for r in qa_rows:
        for o in r["outcomes"]:
            if o.get("passed", True):
                continue
            rid = str(o.get("rule_id"))
            failed.setdefault(rid, []).append(r["interaction_id"])
            names[rid] = str(o.get("name") or rid)
            for ev in o.get("evidence") or ():
                if ev.get("candidate"):  # the closest turn to a missing step, not an example of the failure
                    continue
                if ev.get("text") and len(examples.setdefault(rid, [])) < 3:
                    examples[rid].append(str(ev["text"]))
    out = []
    for rid, ids in sorted(failed.items()):
        if len(ids) < min_calls and rid != FORBIDDEN_RULE:
            continue
        out.append(Finding(
            id=f"qa:{run_date}:{rid}", kind="qa_pattern", run_date=run_date,
            title=f"QA: {names[rid]} failed in {len(ids)} of {calls_scored} calls",
            summary=f"script rule {rid} ({names[rid]}) failed in {len(ids)} calls", count=len(ids),
            examples=tuple(examples.get(rid, ())), interaction_ids=tuple(sorted(set(ids))),
            details={"rule_id": rid, "calls_scored": calls_scored}))
    return out

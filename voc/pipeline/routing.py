"""Routing boundary: service types of the date's contacts; QA-pattern findings; every finding of the date weighed by
customer value and routed to its owning department."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from voc.config import Settings
from voc.pipeline.runner import ProgressFn, stage, timed
from voc.records import Finding, Interaction, StageResult
from voc.store import Store


def _member_facts(f: Finding, members: Sequence[Interaction]) -> dict[str, Any]:
    """Who a finding touches: customers by tier, VIP customers, call ids (for the digests)."""
    tiers: dict[str, int] = {}
    for i in members:
        tier = (i.customer_tier or "unknown").lower()
        tiers[tier] = tiers.get(tier, 0) + 1
    return {"tiers": tiers,
            "vip_customers": len({i.customer_id for i in members
                                  if i.customer_id and (i.customer_tier or "").lower() == "vip"}),
            "call_ids": sorted(i.external_id or i.id for i in members if i.channel.value == "call")[:20]}


@stage("routing", per_item=False)
def run(store: Store, settings: Settings, run_date: dt.date, batch: Sequence[str] | None = None,
        progress: ProgressFn | None = None, *, now: dt.datetime | None = None) -> StageResult:
    """Service type per interaction; findings weighted by customer value and routed to owning departments."""
    from voc.qa import qa_pattern_findings
    from voc.routing import (
        RouteMemory,
        build_router,
        classify_service_type,
        contact_text,
        route_findings,
        weigh_findings,
    )

    t0 = time.perf_counter()
    items = store.interactions(run_date=run_date)
    by_id = {i.id: i for i in items}
    utts = store.utterances_for([i.id for i in items if i.channel.value == "call"])
    texts = {i.id: contact_text(i, utts.get(i.id, ())) for i in items}
    service = {iid: classify_service_type(t).label for iid, t in texts.items()}
    store.set_service_types(service)

    calls = [i for i in items if i.channel.value == "call"]
    patterns = qa_pattern_findings(store.qa_results([c.id for c in calls]), run_date, len(calls),
                                   settings.routing.qa_pattern_min_calls)
    store.replace_findings(run_date, ["qa_pattern"], patterns)
    findings = store.findings(run_date=run_date)
    missing = {iid for f in findings for iid in f.interaction_ids if iid not in by_id}
    if missing:  # a finding may point at items re-dated by reprocessing
        by_id.update({i.id: i for i in store.interactions(ids=sorted(missing))})
    members = {f.id: [by_id[i] for i in f.interaction_ids if i in by_id] for f in findings}
    weighed = weigh_findings(findings, members, settings.routing.tier_weights, settings.routing.value_scale)
    for f in weighed:
        f.details.update(_member_facts(f, members.get(f.id, [])))
    store.update_findings(weighed)
    router = build_router(settings.routing)
    memory = RouteMemory.from_dict(store.route_memory())
    member_texts = {f.id: [texts.get(i) or "" for i in f.interaction_ids[:20]] for f in weighed}
    routes = route_findings(weighed, router, memory, member_texts)
    written = store.replace_routes(routes)
    by_dept: dict[str, int] = {}
    for r in store.routes([f.id for f in weighed]):
        by_dept[r.department] = by_dept.get(r.department, 0) + 1
    types: dict[str, int] = {}
    for v in service.values():
        types[v] = types.get(v, 0) + 1
    return timed("routing", run_date, t0, processed=len(weighed), skipped=len(routes) - written,
                 details={"findings": len(weighed), "by_department": by_dept, "service_types": types,
                          "confirmed_kept": len(routes) - written, "memory_topics": len(memory.to_dict())})

"""Report boundary: the date's department digests, overview and customer exports written to files, and sent to the
configured webhooks when the date is recent enough."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from voc.config import Settings
from voc.pipeline.runner import ProgressFn, stage, timed, utcnow
from voc.records import StageResult
from voc.store import Store
from voc.store.contacts import contact_refs

log = logging.getLogger(__name__)


def _sentiment_summary(store: Store, settings: Settings, items: Sequence[Any]) -> dict[str, float]:
    sums = store.call_sentiments([i.id for i in items])
    if not sums:
        return {}
    vals = [s.score for s in sums.values()]
    out: dict[str, float] = {
        "scored": len(vals), "mean": round(sum(vals) / len(vals), 3),
        "negative_share": round(sum(v < settings.sentiment.negative_threshold for v in vals) / len(vals), 3),
        "escalations": sum(s.escalation for s in sums.values())}
    call_ids = {i.id for i in items if i.channel.value == "call"}
    for s in sums.values():
        if s.interaction_id in call_ids:
            key = f"calls_{s.trajectory}"
            out[key] = out.get(key, 0) + 1
    return out


def _qa_summary(store: Store, settings: Settings, items: Sequence[Any]) -> dict[str, float]:
    rows = store.qa_results([i.id for i in items if i.channel.value == "call"])
    if not rows:
        return {}
    scores = [r["score"] for r in rows]
    return {"scored": len(scores), "mean_score": round(sum(scores) / len(scores), 1),
            "below_threshold": sum(s < settings.qa.review_score_below for s in scores),
            "sent_to_review": sum(bool(r["review_reasons"]) for r in rows)}


def digest_data(store: Store, settings: Settings, run_date: dt.date) -> Any:
    """Everything the date's digests show, read from the store."""
    from voc.report import DigestData
    from voc.routing import load_departments

    findings = store.findings(run_date=run_date)
    routes = store.routes([f.id for f in findings])
    items = store.interactions(run_date=run_date)
    volumes: dict[str, int] = {}
    for i in items:
        volumes[i.channel.value] = volumes.get(i.channel.value, 0) + 1
    names = {d.id: d.display_name for d in load_departments(settings.routing.departments_file)}
    refs = contact_refs(store.db, [i for f in findings for i in f.interaction_ids])
    return DigestData(run_date=run_date, findings=findings, routes=routes, department_names=names, volumes=volumes,
                      sentiment=_sentiment_summary(store, settings, items), qa=_qa_summary(store, settings, items),
                      top_n=settings.report.top_n,
                      contacts={iid: (r.channel, r.contact_id) for iid, r in refs.items()})


def _send(store: Store, settings: Settings, run_date: dt.date,
          data: Any) -> tuple[int, int, int, tuple[dict[str, str], ...]]:
    """Digests to the configured webhooks, each at most once per content; (sent, failed, unchanged, errors)."""
    from voc.report import build_notifiers, deliver_digests
    from voc.routing import load_departments

    notifiers = build_notifiers(settings.report)
    if not notifiers:
        return 0, 0, 0, ()
    dept_hooks = {d.id: d.webhooks for d in load_departments(settings.routing.departments_file)}
    try:
        deliveries = deliver_digests(data, notifiers, dept_hooks, delivered=store.delivered_digests(run_date))
    finally:
        for n in notifiers:
            n.close()
    # A digest counts as delivered (and is not sent again) only when every part of it arrived.
    incomplete = {(d.department, d.webhook, d.content_hash) for d in deliveries if d.status == "failed"}
    store.add_deliveries(run_date, [
        {"department": d.department, "target": d.webhook, "kind": d.kind, "status": d.status,
         "attempts": d.attempts, "error": d.error or None, "is_update": d.update,
         "content_hash": None if (d.department, d.webhook, d.content_hash) in incomplete else d.content_hash or None,
         "location": f"part {d.part}/{d.parts}, HTTP {d.http_status}" if d.status != "unchanged" else "not sent again"}
        for d in deliveries])
    sent = sum(d.status == "delivered" for d in deliveries)
    failed = sum(d.status == "failed" for d in deliveries)
    errors = tuple({"id": f"webhook:{d.webhook}:{d.department}", "reason": f"webhook {d.webhook} ({d.department}): {d.error}"}
                   for d in deliveries if d.status == "failed" and d.error)
    return sent, failed, len(deliveries) - sent - failed, errors


@stage("report", per_item=False)
def run(store: Store, settings: Settings, run_date: dt.date, batch: Sequence[str] | None = None,
        progress: ProgressFn | None = None, *, now: dt.datetime | None = None) -> StageResult:
    """Write the department digests and the management overview; send them to the configured webhooks."""
    from voc.customers import write_customer_exports
    from voc.pipeline.customers import build_customer_report
    from voc.report import write_digests

    t0 = time.perf_counter()
    out_dir = Path(settings.exports_dir) / run_date.isoformat()
    if out_dir.is_dir():  # the date's digests are regenerated whole: no stale department files from a rerun
        shutil.rmtree(out_dir)
    errors: tuple[dict[str, str], ...] = ()
    extra: list[Path] = []
    data = digest_data(store, settings, run_date)
    try:  # the customer view is one section: when it cannot be built, the digests go out without it
        customers = build_customer_report(store, settings, run_date)
        extra = list(write_customer_exports(customers, out_dir))
        data = replace(data, customers=customers.to_digest())
    except Exception as exc:  # noqa: BLE001 - reported in the stage result, the rest of the report goes on
        log.exception("report %s: customer view failed", run_date)
        errors += ({"id": "customers", "reason": f"customer view not built: {type(exc).__name__}: {exc}"},)
    paths = write_digests(data, out_dir, settings.report.formats) + extra
    store.add_deliveries(run_date, [{"department": "", "target": "files", "kind": "files", "status": "written",
                                     "attempts": 1, "location": str(out_dir)}])
    sent = failed = unchanged = 0
    age = ((now or utcnow()).astimezone(ZoneInfo(settings.timezone)).date() - run_date).days
    too_old = age > settings.report.webhook_max_age_days
    if settings.report.webhooks and too_old:
        log.info("report %s: %d days old, digests written but not sent (report.webhook_max_age_days=%d)",
                 run_date, age, settings.report.webhook_max_age_days)
    elif settings.report.webhooks:
        sent, failed, unchanged, webhook_errors = _send(store, settings, run_date, data)
        errors += webhook_errors
    return timed("report", run_date, t0, processed=len(paths), failed=failed, errors=errors[:20],
                 details={"dir": str(out_dir), "files": len(paths), "findings": len(data.findings),
                          "webhooks_sent": sent, "webhooks_failed": failed, "webhooks_unchanged": unchanged})

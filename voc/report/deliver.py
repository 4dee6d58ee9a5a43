"""Send the run's digests to the configured webhooks: each department's digest to its subscribers."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from voc.report.digest import OVERVIEW, DigestData, department_items, render_department, render_overview
from voc.report.webhooks import Delivery, Notifier

logger = logging.getLogger(__name__)


def subscribers(notifier: Notifier, department: str, department_webhooks: Mapping[str, Sequence[str]]) -> bool:
    """A webhook gets a department's digest when it lists the department, the department lists the
    webhook by name (departments.yaml ``webhooks``), or it lists no departments at all (= all)."""
    return (
        not notifier.departments
        or department in notifier.departments
        or notifier.name in department_webhooks.get(department, ())
    )


UPDATE_MARK = "【更新 update】"


def content_hash(title: str, markdown: str) -> str:
    return hashlib.sha256(f"{title}\n{markdown}".encode()).hexdigest()


def deliver_digests(
    data: DigestData,
    notifiers: Sequence[Notifier],
    department_webhooks: Mapping[str, Sequence[str]] | None = None,
    delivered: Mapping[tuple[str, str], str] | None = None,
) -> list[Delivery]:
    """Send each department's Markdown digest (and the overview) to its subscribers; one Delivery per part.

    ``delivered``: (department, webhook name) -> content hash of the digest already delivered for this date. The
    same digest is not sent again (one ``unchanged`` Delivery says so); a changed one is sent once, its title
    marked as an update."""
    department_webhooks = department_webhooks or {}
    delivered = delivered or {}
    deliveries: list[Delivery] = []
    title_date = data.run_date.isoformat()
    for notifier in notifiers:
        messages = []
        if subscribers(notifier, OVERVIEW, department_webhooks):
            messages.append((OVERVIEW, f"客户之声 overview {title_date}", render_overview(data, "md")))
        for department in department_items(data):
            if subscribers(notifier, department, department_webhooks):
                name = data.department_names.get(department, department)
                messages.append((department, f"{name} {title_date}", render_department(data, department, "md")))
        for department, title, body in messages:
            digest = content_hash(title, body)
            before = delivered.get((department, notifier.name))
            if before == digest:
                deliveries.append(Delivery(notifier.name, notifier.kind, department, 1, 1, "unchanged", 0,
                                           content_hash=digest))
                continue
            update = before is not None
            sent = notifier.send(UPDATE_MARK + title if update else title, body, department)
            deliveries += [replace(d, content_hash=digest, update=update) for d in sent]
    failed = sum(d.status == "failed" for d in deliveries)
    unchanged = sum(d.status == "unchanged" for d in deliveries)
    logger.info("webhook deliveries: %d sent, %d failed, %d unchanged (not sent again)",
                len(deliveries) - failed - unchanged, failed, unchanged)
    return deliveries

"""Send the run's digests to the configured webhooks: each department's digest to its subscribers."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

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


def deliver_digests(
    data: DigestData,
    notifiers: Sequence[Notifier],
    department_webhooks: Mapping[str, Sequence[str]] | None = None,
) -> list[Delivery]:
    """Send each department's Markdown digest (and the overview) to its subscribers; one Delivery per part."""
    department_webhooks = department_webhooks or {}
    deliveries: list[Delivery] = []
    title_date = data.run_date.isoformat()
    for notifier in notifiers:
        if subscribers(notifier, OVERVIEW, department_webhooks):
            deliveries += notifier.send(f"客户之声 overview {title_date}", render_overview(data, "md"), OVERVIEW)
        for department in department_items(data):
            if subscribers(notifier, department, department_webhooks):
                name = data.department_names.get(department, department)
                deliveries += notifier.send(f"{name} {title_date}", render_department(data, department, "md"), department)
    failed = sum(d.status != "delivered" for d in deliveries)
    logger.info("webhook deliveries: %d sent, %d failed", len(deliveries) - failed, failed)
    return deliveries

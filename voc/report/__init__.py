"""Reports: department digests (Markdown/HTML/CSV), management overview and webhook delivery."""

from voc.report.deliver import deliver_digests
from voc.report.digest import (
    OVERVIEW,
    DigestData,
    DigestItem,
    department_items,
    render_csv,
    render_department,
    render_overview,
    write_digests,
)
from voc.report.webhooks import (
    Delivery,
    DingTalkNotifier,
    FeishuNotifier,
    GenericNotifier,
    Notifier,
    RateLimiter,
    WeComNotifier,
    build_notifiers,
    dingtalk_sign,
    feishu_sign,
    split_markdown,
)

__all__ = [
    "OVERVIEW",
    "Delivery",
    "DigestData",
    "DigestItem",
    "DingTalkNotifier",
    "FeishuNotifier",
    "GenericNotifier",
    "Notifier",
    "RateLimiter",
    "WeComNotifier",
    "build_notifiers",
    "deliver_digests",
    "department_items",
    "dingtalk_sign",
    "feishu_sign",
    "render_csv",
    "render_department",
    "render_overview",
    "split_markdown",
    "write_digests",
]

"""Customer view: timelines across channels, repeat contacts and FCR, churn-risk and proactive outreach lists.

Pure functions over :class:`Contact` records (``repeats``, ``risk``, ``outreach``); ``store`` reads them from
the existing tables; ``report`` builds the run's :class:`CustomerReport` and its CSV exports.
"""

from voc.customers.model import (
    Contact,
    CustomerRisk,
    OutreachEntry,
    OutreachList,
    RepeatChain,
    RepeatLink,
    RepeatStats,
    safe_attributes,
)
from voc.customers.outreach import build_outreach, shared_exposure
from voc.customers.repeats import find_repeats, repeat_chains, repeat_stats, timelines
from voc.customers.report import (
    CustomerReport,
    at_risk_customers,
    build_customer_report,
    customer_timeline,
    topic_outreach,
    write_customer_exports,
)
from voc.customers.risk import customer_risk, rank_at_risk

__all__ = [
    "Contact",
    "CustomerReport",
    "CustomerRisk",
    "OutreachEntry",
    "OutreachList",
    "RepeatChain",
    "RepeatLink",
    "RepeatStats",
    "at_risk_customers",
    "build_customer_report",
    "build_outreach",
    "customer_risk",
    "customer_timeline",
    "find_repeats",
    "rank_at_risk",
    "repeat_chains",
    "repeat_stats",
    "safe_attributes",
    "shared_exposure",
    "timelines",
    "topic_outreach",
    "write_customer_exports",
]

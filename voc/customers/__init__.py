"""Customer view: timelines across channels, repeat contacts and FCR, churn-risk and proactive outreach lists.

Pure functions over :class:`Contact` records (``repeats``, ``risk``, ``outreach``); ``report`` holds the run's
:class:`CustomerReport` and writes its CSV exports. :mod:`voc.pipeline.customers` reads the contacts from the store.
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
from voc.customers.report import CustomerReport, customer_json, write_customer_exports
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
    "build_outreach",
    "customer_json",
    "customer_risk",
    "find_repeats",
    "rank_at_risk",
    "repeat_chains",
    "repeat_stats",
    "safe_attributes",
    "shared_exposure",
    "timelines",
    "write_customer_exports",
]

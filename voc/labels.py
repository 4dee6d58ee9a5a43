"""Words for the keys the pipeline writes into summaries (``negative_share``, ``sent_to_review``, finding kinds):
one map that the digests (:mod:`voc.report`) and the web app share, so people read "negative share 35.0%" and
"sent to review" wherever a number is shown. Machine interfaces (CSV columns, ``--json`` fields) keep the keys.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FINDING_KINDS", "SHARES", "SUMMARY_LABELS", "kind_label", "summary_label", "summary_value"]

# sentiment and QA summaries of a night (voc.pipeline.report) and the channel table of the overview
SUMMARY_LABELS = {
    "scored": "scored", "mean": "mean sentiment (-1 … +1)", "negative_share": "negative share",
    "escalations": "escalations", "calls_improving": "calls improving", "calls_stable": "calls stable",
    "calls_worsening": "calls worsening", "mean_score": "mean QA score", "below_threshold": "below the QA threshold",
    "sent_to_review": "sent to review", "in_review": "in review",
}
SHARES = frozenset({"negative_share"})  # fractions 0 … 1, shown as percentages
FINDING_KINDS = {
    "emerging_topic": "emerging topic", "emerging_terms": "emerging terms", "topic_trend": "topic trend",
    "qa_pattern": "QA pattern",
}


def summary_label(key: str) -> str:
    """``negative_share`` -> ``negative share``; a key without an entry reads with spaces for underscores."""
    return SUMMARY_LABELS.get(key) or str(key).replace("_", " ")


def summary_value(key: str, value: Any) -> str:
    """A summary value as text: shares as percentages (0.6 -> ``60.0%``), counts with thousands separators,
    other numbers with as many decimals as they carry (at most 3)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if key in SHARES:
        return f"{value * 100:.1f}%"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def kind_label(kind: str) -> str:
    """``emerging_topic`` -> ``emerging topic``."""
    return FINDING_KINDS.get(kind) or str(kind).replace("_", " ")

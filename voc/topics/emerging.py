"""Emerging complaint topics: new topics with enough documents, and daily counts far above their baseline."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from voc.config import TopicSettings

# A topic first seen within this many days (today included) counts as new.
NEW_TOPIC_DAYS = 2
# A spike needs this many days of history; younger topics are judged by the 'new' rule only.
MIN_HISTORY_DAYS = 3
# Today must also be this many times the baseline: large topics wobble by more than Poisson noise.
MIN_GROWTH = 1.5
# A spike is judged against at least this many days of the topic's own history: a topic a few days old (often one
# just split off or founded on a small night) has a baseline too short to say what is unusual for it.
SPIKE_HISTORY_DAYS = 7
# Chance of one false spike a night across all the topics tested (Bonferroni over them): with 30-50 active topics
# z >= 3 alone raised 1-2 false alarms a week on a stable stream (bench/topics/README.md, issue 17).
SPIKE_FAMILY_ALPHA = 0.05


@dataclass(frozen=True, slots=True)
class EmergingTopic:
    topic_id: str
    kind: str  # new / spike
    run_date: dt.date
    count: int  # documents today
    baseline: float  # mean daily count over the history window (0 for a new topic)
    growth: float  # count / max(baseline, 1)
    z: float  # (count - baseline) / sqrt(max(baseline, variance, 1))
    p_value: float  # Poisson upper tail P(X >= count | baseline)
    first_seen: dt.date
    history_days: int
    label: str = ""
    examples: tuple[str, ...] = ()


def daily_counts(rows: Iterable[tuple[str, dt.date]]) -> dict[str, dict[dt.date, int]]:
    """(topic_id, date) pairs, e.g. from stored assignments, to counts per topic per day."""
    out: dict[str, dict[dt.date, int]] = {}
    for topic_id, day in rows:
        per_day = out.setdefault(topic_id, {})
        per_day[day] = per_day.get(day, 0) + 1
    return out


def _poisson_sf(count: int, lam: float) -> float:
    """P(X >= count) for X ~ Poisson(lam)."""
    from scipy.stats import poisson

    return float(poisson.sf(count - 1, max(lam, 1e-9)))


def detect_emerging(
    daily_counts: Mapping[str, Mapping[dt.date, int]],
    run_date: dt.date,
    settings: TopicSettings,
    labels: Mapping[str, str] | None = None,
    examples: Mapping[str, Sequence[str]] | None = None,
) -> list[EmergingTopic]:
    """Flag topics that are new today (>= ``emerging_min_count`` docs) or spike over their baseline.

    Baseline = mean daily count over the ``window_days`` before ``run_date`` (days without documents count
    as 0, days before the topic existed do not count). A spike needs count >= ``emerging_min_count``,
    z >= ``emerging_z`` with the larger of the Poisson and the observed variance, growth >= 1.5, at least
    ``SPIKE_HISTORY_DAYS`` days of the topic's history, and a Poisson tail below ``SPIKE_FAMILY_ALPHA`` divided by
    the number of topics tested tonight, so low counts, young topics and the normal wobble of big topics raise no
    alarm. In the first ``NEW_TOPIC_DAYS`` days with any data
    nothing is flagged "new" (cold start: every topic is new then). Sorted by z, strongest first.
    """
    labels = labels or {}
    examples = examples or {}
    # In the first days with any data every topic is "new": that is a cold start, not news.
    first_day = min((d for per_day in daily_counts.values() for d, c in per_day.items() if c > 0), default=run_date)
    cold_start = (run_date - first_day).days < NEW_TOPIC_DAYS
    start = run_date - dt.timedelta(days=settings.window_days)
    out: list[EmergingTopic] = []
    spikes: list[EmergingTopic] = []
    tested = 0  # topics judged by the spike rule tonight
    for topic_id in sorted(daily_counts):
        per_day = daily_counts[topic_id]
        count = int(per_day.get(run_date, 0))
        if count < settings.emerging_min_count:
            continue
        seen = [d for d, c in per_day.items() if c > 0 and d <= run_date]
        first_seen = min(seen) if seen else run_date
        hist_start = max(start, first_seen)
        days = [hist_start + dt.timedelta(days=k) for k in range((run_date - hist_start).days)]
        hist = [int(per_day.get(d, 0)) for d in days]
        common = dict(topic_id=topic_id, run_date=run_date, count=count, first_seen=first_seen,
                      history_days=len(hist), label=labels.get(topic_id, ""),
                      examples=tuple(examples.get(topic_id, ())))
        if (run_date - first_seen).days < NEW_TOPIC_DAYS and len(hist) < MIN_HISTORY_DAYS:
            if cold_start:
                continue
            base = sum(hist) / len(hist) if hist else 0.0
            out.append(EmergingTopic(kind="new", baseline=round(base, 3), growth=round(count / max(base, 1.0), 3),
                                     z=round((count - base) / math.sqrt(max(base, 1.0)), 3),
                                     p_value=_poisson_sf(count, max(base, 0.5)), **common))
            continue
        if len(hist) < SPIKE_HISTORY_DAYS:
            continue
        base = sum(hist) / len(hist)
        var = sum((h - base) ** 2 for h in hist) / max(len(hist) - 1, 1)
        z = (count - base) / math.sqrt(max(base, var, 1.0))
        growth = count / max(base, 1.0)
        if z >= settings.emerging_z and growth >= MIN_GROWTH:
            spikes.append(EmergingTopic(kind="spike", baseline=round(base, 3), growth=round(growth, 3), z=round(z, 3),
                                        p_value=_poisson_sf(count, max(base, 0.5)), **common))
        tested += 1
    out += [e for e in spikes if e.p_value <= SPIKE_FAMILY_ALPHA / max(tested, 1)]
    out.sort(key=lambda e: (-e.z, e.topic_id))
    return out

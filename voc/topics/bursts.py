"""Bursting terms: words that suddenly appear in many more complaints than their history predicts.

Topic counts react late when a new problem lands inside a broad existing topic (a faulty batch of one model is
first filed under "air conditioner maintenance"). Term bursts catch it on its first night: the product code
and the symptom word jump together. Each burst is a group of co-occurring terms with the documents that carry
them, so it can be routed and reviewed like any other finding.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from voc.config import TopicSettings

MIN_HISTORY_DAYS = 3  # days with documents before a term can burst (cold start)
MIN_TERM_GROWTH = 3.0  # today's share must be this many times the term's historical share
FAMILY_ALPHA = 0.01  # chance of one false burst a night across all terms tested (Bonferroni)
GROUP_JACCARD = 0.3  # bursting terms whose documents overlap this much form one burst
PSEUDO_DOCS = 1.0  # prior: a term never seen before counts as this many historical documents


@dataclass(frozen=True, slots=True)
class TermBurst:
    terms: tuple[str, ...]  # strongest first
    run_date: dt.date
    count: int  # today's documents with any of the terms
    expected: float  # documents the history predicts for the lead term tonight
    growth: float  # lead term: count / max(expected, 1)
    z: float
    p_value: float
    doc_ids: tuple[str, ...]
    history_days: int


def _poisson_sf(count: int, lam: float) -> float:
    from scipy.stats import poisson

    return float(poisson.sf(count - 1, max(lam, 1e-9)))


@dataclass(frozen=True, slots=True)
class BurstHistory:
    """What term bursts need of the history window: its documents, the days with any, and document frequencies.

    ``df`` must hold every term tested tonight (:func:`burst_candidates`); other terms may be missing. The nightly
    stage builds it from per-day counts stored once per day (``voc.store.term_counts``) instead of tokenizing the
    window again; :func:`history_counts` builds it from tokens (``voc watch``, tests, benchmarks)."""

    docs: int
    days: int
    df: Mapping[str, int]


def history_counts(history: Mapping[dt.date, Sequence[Sequence[str]]], run_date: dt.date,
                   settings: TopicSettings) -> BurstHistory:
    """The window's :class:`BurstHistory` from earlier nights' document tokens (days outside
    ``[run_date - window_days, run_date)`` and days without documents are left out)."""
    start = run_date - dt.timedelta(days=settings.window_days)
    days = {d: docs for d, docs in history.items() if start <= d < run_date and docs}
    df: Counter[str] = Counter()
    for docs in days.values():
        for toks in docs:
            df.update(set(toks))
    return BurstHistory(sum(len(docs) for docs in days.values()), len(days), df)


def burst_candidates(today: Mapping[str, Sequence[str]], settings: TopicSettings) -> list[str]:
    """The terms a night tests: those in at least ``burst_min_count`` (else ``emerging_min_count``) of tonight's
    documents, sorted."""
    df: Counter[str] = Counter()
    for toks in today.values():
        df.update(set(toks))
    min_count = settings.burst_min_count or settings.emerging_min_count
    return sorted(t for t, c in df.items() if c >= min_count)


def detect_term_bursts(
    today: Mapping[str, Sequence[str]],
    history: Mapping[dt.date, Sequence[Sequence[str]]] | BurstHistory,
    run_date: dt.date,
    settings: TopicSettings,
) -> list[TermBurst]:
    """Groups of terms whose document frequency tonight is far above their history.

    ``today`` maps document ids to their tokens; ``history`` holds the tokens of earlier nights' documents
    (only days within ``settings.window_days`` before ``run_date`` are used), or their counts already summed
    (:class:`BurstHistory`, the same result). A term bursts when it is in at least
    ``emerging_min_count`` documents, at least ``MIN_TERM_GROWTH`` times its historical share predicts, and its
    Poisson tail probability beats ``FAMILY_ALPHA`` divided by the number of terms tested (so a night with many
    words raises no more false alarms than a quiet one).
    """
    if not isinstance(history, BurstHistory):
        history = history_counts(history, run_date, settings)
    if history.days < MIN_HISTORY_DAYS or not today:
        return []
    hist_docs, hist_df = history.docs, history.df
    sets = {doc_id: set(toks) for doc_id, toks in today.items()}
    df: Counter[str] = Counter()
    for toks in sets.values():
        df.update(toks)
    n_today = len(sets)
    min_count = settings.burst_min_count or settings.emerging_min_count
    candidates = [t for t, c in df.items() if c >= min_count]
    if not candidates:
        return []
    alpha = FAMILY_ALPHA / len(candidates)
    hits: dict[str, tuple[float, float, float, float]] = {}
    for term in candidates:
        share = (hist_df.get(term, 0) + PSEUDO_DOCS) / (hist_docs + PSEUDO_DOCS)
        lam = share * n_today
        count = df[term]
        growth = count / max(lam, 1.0)
        if growth < MIN_TERM_GROWTH:
            continue
        p = _poisson_sf(count, lam)
        if p > alpha:
            continue
        hits[term] = (lam, growth, (count - lam) / math.sqrt(max(lam, 1.0)), p)
    if not hits:
        return []
    docs_of = {t: {d for d, toks in sets.items() if t in toks} for t in hits}
    order = sorted(hits, key=lambda t: (-hits[t][2], t))
    groups: list[list[str]] = []
    for term in order:  # greedy single-link grouping, strongest term first
        for group in groups:
            if any(len(docs_of[term] & docs_of[o]) / len(docs_of[term] | docs_of[o]) >= GROUP_JACCARD for o in group):
                group.append(term)
                break
        else:
            groups.append([term])
    out = []
    for group in groups:
        lead = group[0]
        lam, growth, z, p = hits[lead]
        members = sorted(set().union(*(docs_of[t] for t in group)))
        if len(members) < min_count:
            continue
        out.append(TermBurst(tuple(group), run_date, len(members), round(lam, 3), round(growth, 3), round(z, 3), p,
                             tuple(members), history.days))
    return sorted(out, key=lambda b: (-b.z, b.terms))


def dominant_topic(doc_ids: Sequence[str], topic_of: Mapping[str, str]) -> str | None:
    """The topic holding at least half of a burst's documents (ties: smallest id), else None."""
    votes: Counter[str] = Counter(topic_of[d] for d in doc_ids if d in topic_of)
    if not votes:
        return None
    main = max(sorted(votes), key=lambda k: votes[k])
    return main if votes[main] * 2 >= len(doc_ids) else None

"""Term-burst history kept incrementally: each business date's complaints are tokenized once and their term counts
stored (``voc.store.term_counts``); a night reads the window's sums for the terms it tests. A date is counted
again only when its interactions or their transcribe/text/sentiment results changed since it was counted (late
arrivals, reprocessing) or the complaint rule's settings did, so the history equals a recount of the window from
scratch (:func:`history_from_scratch`, which the tests compare it with)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from voc.config import Settings
from voc.store import Store

if TYPE_CHECKING:
    from voc.topics.bursts import BurstHistory

COUNTS_VERSION = 1  # bump when the topic tokens or what counts as a document change: every date is counted again


def _salt(settings: Settings) -> list[object]:
    """What the stored counts depend on besides the store's rows: the complaint rule's settings and the tokens."""
    return [COUNTS_VERSION, settings.topics.min_chars, settings.topics.review_max_score,
            settings.sentiment.positive_threshold]


def _window(settings: Settings, run_date: dt.date) -> tuple[dt.date, dt.date]:
    return run_date - dt.timedelta(days=settings.topics.window_days), run_date - dt.timedelta(days=1)


def source_key(store: Store, settings: Settings, day: dt.date) -> str | None:
    """The date's source key now (None: no interactions): taken before the date's complaints are read, so a write
    between the two makes the stored key stale rather than the counts wrong."""
    return store.complaint_sources(day, day, _salt(settings)).get(day)


def day_counts(tokens: Sequence[Sequence[str]]) -> Counter[str]:
    """Document frequency of each term over one date's complaint tokens."""
    df: Counter[str] = Counter()
    for toks in tokens:
        df.update(set(toks))
    return df


def record_day(store: Store, day: dt.date, key: str | None, tokens: Sequence[Sequence[str]]) -> None:
    """Store a date's counts from its complaints' tokens (all of the date's complaints), counted from ``key``."""
    if key is not None:
        store.replace_complaint_days([(day, key, len(tokens), day_counts(tokens))])


def _stale_dates(store: Store, settings: Settings, since: dt.date,
                 until: dt.date) -> tuple[dict[dt.date, str], dict[dt.date, tuple[int, str]], list[dt.date], list[dt.date]]:
    """(source keys now, stored (docs, key) per date, dates whose stored counts are missing or stale, dates stored
    whose interactions are gone) for the dates in [since, until]."""
    keys = store.complaint_sources(since, until, _salt(settings))
    stored = store.complaint_days(since, until)
    stale = sorted(d for d, key in keys.items() if stored.get(d, (0, None))[1] != key)
    gone = sorted(d for d, row in stored.items() if d not in keys and row != (0, ""))  # its interactions deleted
    return keys, stored, stale, gone


def _day_tokens(store: Store, settings: Settings, days: Sequence[dt.date]) -> dict[dt.date, list[list[str]]]:
    """The topic tokens of the complaints of each of ``days`` (sorted), read in one range."""
    from voc.pipeline.topics import complaint_docs
    from voc.topics.findings import tokens_by_day

    if not days:
        return {}
    docs = complaint_docs(store, settings, days[0], days[-1])
    wanted = set(days)
    return tokens_by_day([(i, t) for i, t in docs if i.business_date in wanted])


def refresh_window(store: Store, settings: Settings, run_date: dt.date) -> list[dt.date]:
    """Count the window's dates that have no counts or stale ones (their key changed); returns those dates."""
    since, until = _window(settings, run_date)
    keys, _stored, stale, gone = _stale_dates(store, settings, since, until)
    if not stale and not gone:
        return []
    tokens = _day_tokens(store, settings, stale)
    store.replace_complaint_days([(d, keys.get(d, ""), len(tokens.get(d, [])), day_counts(tokens.get(d, [])))
                                  for d in stale + gone])
    return stale + gone


def burst_history(store: Store, settings: Settings, run_date: dt.date, today: Mapping[str, Sequence[str]]) -> BurstHistory:
    """The :class:`voc.topics.bursts.BurstHistory` of ``run_date``'s window for tonight's documents ``today``
    (document id -> tokens): stale dates counted again first, then the sums read for the terms tonight tests."""
    from voc.topics.bursts import BurstHistory, burst_candidates

    refresh_window(store, settings, run_date)
    since, until = _window(settings, run_date)
    days = store.complaint_days(since, until)
    terms = burst_candidates(today, settings.topics)
    return BurstHistory(docs=sum(n for n, _k in days.values()), days=sum(1 for n, _k in days.values() if n),
                        df=store.complaint_term_docs(since, until, terms) if terms else {})


# date -> (source key, complaints, term -> complaints with it): dates a watcher counted itself (see live_history)
LiveCounts = dict[dt.date, tuple[str, int, Counter[str]]]


def live_history(store: Store, settings: Settings, run_date: dt.date, today: Mapping[str, Sequence[str]],
                 counted: LiveCounts) -> BurstHistory:
    """:func:`burst_history` for ``voc watch``, reading the counts the nightly path stored and writing none: a date
    whose stored counts are missing or stale (today's live items landed on yesterday, the nightly run has not
    counted it yet) is counted in memory into ``counted`` (kept by the watcher across cycles, so it is tokenized
    again only when its source key changes). Equal to :func:`burst_history` and to :func:`history_from_scratch`
    (tests/integration/test_term_counts.py, tests/integration/test_watch.py); the nightly path stays the only
    writer of the counts."""
    from voc.topics.bursts import BurstHistory, burst_candidates

    since, until = _window(settings, run_date)
    keys, stored, stale, gone = _stale_dates(store, settings, since, until)
    todo = [d for d in stale if counted.get(d, ("",))[0] != keys[d]]
    tokens = _day_tokens(store, settings, todo)
    for d in todo:
        counted[d] = (keys[d], len(tokens.get(d, [])), day_counts(tokens.get(d, [])))
    for d in [d for d in counted if d < since - dt.timedelta(days=1)]:  # out of any window this watcher reads
        del counted[d]
    docs = {d: n for d, (n, _k) in stored.items() if d in keys and d not in stale}
    docs.update({d: counted[d][1] for d in stale})
    terms = burst_candidates(today, settings.topics)
    df: Counter[str] = Counter()
    if terms:
        df.update(store.complaint_term_docs(since, until, terms))
        for d in stale + gone:  # the stored rows of these dates are replaced by the live counts (gone: by none)
            if d in stored:
                df.subtract(store.complaint_term_docs(d, d, terms))
            if d in counted and d in keys:
                df.update({t: counted[d][2][t] for t in terms if counted[d][2][t]})
    return BurstHistory(docs=sum(docs.values()), days=sum(1 for n in docs.values() if n),
                        df={t: n for t, n in df.items() if n})


def history_from_scratch(store: Store, settings: Settings, run_date: dt.date) -> BurstHistory:
    """The same history recounted from the window's complaints (what the nightly stage did before the counts)."""
    from voc.pipeline.topics import complaint_docs
    from voc.topics.bursts import history_counts
    from voc.topics.findings import tokens_by_day

    since, until = _window(settings, run_date)
    return history_counts(tokens_by_day(complaint_docs(store, settings, since, until)), run_date, settings.topics)

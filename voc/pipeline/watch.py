"""Near-real-time topics (``voc watch``): place arriving complaints in the current topics and alert within seconds.

Assign-only (:func:`voc.topics.assign.assign_to_topics`): no clustering, no new topics, no registry change; the
nightly topics stage later replaces the date's assignments with its own. The complaint rule, the embedding cache
and the emerging/term-burst detection are the nightly ones (:mod:`voc.pipeline.topics`,
:func:`voc.topics.findings.emerging_signals`): new text items go through the text, embed and sentiment stages
(so their vectors are in the store's cache under the keys the nightly jobs look up, and the night's embed stage
finds them done), and the term-burst history is the nightly per-day counts
(:func:`voc.pipeline.term_counts.live_history`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from voc.config import Settings
from voc.pipeline.embed import embed_key
from voc.pipeline.ingest import ingest_inbox
from voc.pipeline.runner import STAGES
from voc.pipeline.term_counts import LiveCounts
from voc.pipeline.topics import Doc, complaint_docs, embed_texts
from voc.records import Interaction
from voc.store import Store

log = logging.getLogger(__name__)

ALERT_KIND = "alert"  # deliveries.kind of a sent (or printed) alert; deliveries.location holds the alert key
TEXT_CHANNELS = ("chat", "email", "other", "review", "ticket")  # calls wait for the nightly run (transcription)


@dataclass(frozen=True, slots=True)
class Alert:
    """One near-real-time alert: ``voc watch --json`` prints :meth:`to_dict` as a line."""

    at: str  # ISO time the alert was raised (UTC)
    kind: str  # new / spike (a topic) or terms (a term burst)
    topic_id: str | None
    label: str
    count: int  # documents today
    baseline: float  # topic: mean daily count over its history; terms: documents the history predicts
    latency_s: float  # from the earliest of this cycle's documents behind the alert landing in the inbox
    key: str = ""  # once-per-day identity: topic:<id> or terms:<lead term>
    run_date: dt.date | None = None
    examples: tuple[str, ...] = ()
    department: str | None = None
    facets: str = ""  # what the alert's documents are about: "X3空调 · 漏水 · 批次 B2311" ("" when nothing dominates)

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "kind": self.kind, "topic_id": self.topic_id, "label": self.label, "count": self.count,
                "baseline": self.baseline, "latency_s": self.latency_s, "facets": self.facets}

    def markdown(self) -> str:
        head = {"new": "新话题", "spike": "话题激增", "terms": "热词激增"}.get(self.kind, self.kind)
        lines = [f"**{head}** {self.facets + ' · ' if self.facets else ''}{self.label}"
                 + (f" ({self.topic_id})" if self.topic_id else ""),
                 f"- 今日 {self.count} 条, 基线 {self.baseline:.1f}/天",
                 f"- 日期 {self.run_date}" + (f", 部门 {self.department}" if self.department else "")]
        lines += [f"> {e}" for e in self.examples[:3]]
        return "\n".join(lines)


@dataclass(slots=True)
class WatchState:
    """What a running watcher keeps between cycles: per date the tokens of its complaints so far, the term counts of
    dates it counted itself (:func:`voc.pipeline.term_counts.live_history`), the warnings given."""

    counts: LiveCounts = field(default_factory=dict)
    today_tokens: dict[dt.date, dict[str, list[str]]] = field(default_factory=dict)
    warned: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class WatchResult:
    ingested: int
    processed: int  # text items run through the text and sentiment stages this cycle
    complaints: int
    assigned: int
    alerts: tuple[Alert, ...]
    seconds: float
    registry_date: dt.date | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"ingested": self.ingested, "processed": self.processed, "complaints": self.complaints,
                "assigned": self.assigned, "alerts": [a.to_dict() for a in self.alerts], "seconds": self.seconds,
                "registry_date": self.registry_date.isoformat() if self.registry_date else None,
                "notes": list(self.notes)}


@dataclass(slots=True)
class _Cycle:
    """One cycle's working set: the new complaints, where they came from and when, and where they went."""

    store: Store
    settings: Settings
    state: WatchState
    now: Callable[[], float]
    docs: list[Doc]
    arrival: dict[str, float]
    registry: Any
    topic_of: dict[str, str] = field(default_factory=dict)

    def alert(self, kind: str, topic_id: str | None, label: str, count: int, baseline: float, members: Sequence[str],
              key: str, day: dt.date) -> Alert:
        from voc.topics.facets import extract_facets, summarise_facets

        items = {i.id: (i, t) for i, t in self.docs}
        facets = summarise_facets([extract_facets(items[m][1], items[m][0].attributes) for m in members if m in items])
        return Alert(dt.datetime.fromtimestamp(self.now(), dt.UTC).isoformat(timespec="seconds"), kind, topic_id,
                     label, count, baseline, round(self.now() - min(self.arrival[m] for m in members), 3), key, day,
                     tuple(items[m][1] for m in members[: self.settings.topics.examples]),
                     _department(self.store, topic_id), str(facets["name"]))


def _arrival(settings: Settings, item: Interaction, fallback: float) -> float:
    """When the item's source file landed in the inbox (its mtime); ``fallback`` when unknown."""
    if item.source_path:
        path = Path(item.source_path)
        try:
            return min(os.stat(path if path.is_absolute() else Path(settings.inbox) / path).st_mtime, fallback)
        except OSError:
            pass
    return fallback


def _warn(state: WatchState, key: str, message: str) -> None:
    if key not in state.warned:
        state.warned.add(key)
        log.warning(message)


def _embed(store: Store, settings: Settings, registry: Any, texts: Sequence[str], state: WatchState) -> np.ndarray | None:
    """Vectors of ``texts`` by the registry's embedder (through the store's cache); None when it cannot match."""
    from voc.pipeline.topics import configured_topic_embedder

    embedder = configured_topic_embedder(settings)  # e5 loads only for texts the embed stage did not cache
    if not embedder.fitted:
        _warn(state, "tfidf", "live topic assignment needs an embedder fixed across nights (e5 or "
              "sentence-transformers); the tfidf embedder is fitted per night, so arriving texts are not assigned")
        return None
    if registry.embedder and embedder.name != registry.embedder:
        _warn(state, "embedder", f"the topic registry was built with {registry.embedder}, not {embedder.name}: "
              "arriving texts are not assigned (set topics.embedder back)")
        return None
    return embed_texts(store, embedder, [embed_key(t, settings) for t in texts])[0]


def _day_tokens(store: Store, settings: Settings, day: dt.date, state: WatchState) -> None:
    """Load (once per date) the tokens of the date's complaints already in the store."""
    from voc.topics.findings import tokens_by_id

    if day in state.today_tokens:
        return
    for old in [d for d in state.today_tokens if d < day - dt.timedelta(days=1)]:
        state.today_tokens.pop(old, None)
    state.today_tokens[day] = tokens_by_id(complaint_docs(store, settings, day))


def _history(store: Store, settings: Settings, day: dt.date, today_tokens: dict[str, list[str]],
             state: WatchState) -> Any:
    """The date's term-burst history: the nightly per-day counts, read only (see live_history)."""
    from voc.pipeline.term_counts import live_history

    return live_history(store, settings, day, today_tokens, state.counts)


def _department(store: Store, topic_id: str | None) -> str | None:
    if not topic_id:
        return None
    f = store.latest_topic_finding(topic_id)
    if f is None:
        return None
    routes = store.routes([f.id])
    return routes[0].department if routes else None


def _send(store: Store, alerts: Sequence[Alert], notifiers: Sequence[Any]) -> None:
    """Send each alert to the webhooks that take its department, and remember it in ``deliveries``."""
    for a in alerts:
        rows = []
        for n in notifiers:
            if n.departments and (a.department or "") not in n.departments:
                continue
            title = f"客户之声 alert {a.run_date}: {a.label}"
            for d in n.send(title, a.markdown(), a.department or ""):
                rows.append({"department": a.department or "", "target": d.webhook, "kind": ALERT_KIND,
                             "status": d.status, "attempts": d.attempts, "error": d.error or None, "location": a.key})
        if not rows:  # printed only: still remembered, so it is raised once a day
            rows.append({"department": a.department or "", "target": "stdout", "kind": ALERT_KIND,
                         "status": "printed", "attempts": 1, "location": a.key})
        store.add_deliveries(a.run_date, rows)


def _assign(cycle: _Cycle, today: dt.date) -> None:
    """Place the cycle's complaints in the registry's active topics and store the assignments."""
    store, settings = cycle.store, cycle.settings
    if not cycle.docs:
        return
    if not cycle.registry.active:
        _warn(cycle.state, "registry", "no topic registry yet (the nightly topics stage has not run): term bursts only")
        return
    from voc.topics.assign import assign_to_topics

    vectors = _embed(store, settings, cycle.registry, [t for _i, t in cycle.docs], cycle.state)
    if vectors is None:
        return
    placed = assign_to_topics(cycle.registry, vectors, settings.topics)
    rows = [(i.id, tid, sim, i.business_date) for (i, _t), (tid, sim) in zip(cycle.docs, placed, strict=True) if tid]
    store.add_topic_assignments(rows, assigned_on=today)
    cycle.topic_of = {r[0]: r[1] for r in rows}


def _day_alerts(cycle: _Cycle, day: dt.date, folded: list[tuple[dt.date, str]]) -> list[Alert]:
    """Alerts of one business date: topics above their history and bursting terms, each once a day."""
    from voc.topics import daily_counts
    from voc.topics.findings import emerging_signals, tokens_by_id

    store, settings, registry = cycle.store, cycle.settings, cycle.registry
    day_docs = [(i, t) for i, t in cycle.docs if i.business_date == day]
    sent = {r["location"] for r in store.deliveries(day) if r["kind"] == ALERT_KIND}
    _day_tokens(store, settings, day, cycle.state)
    today_tokens = cycle.state.today_tokens[day]
    today_tokens.update(tokens_by_id(day_docs))
    rows = []  # today's stored counts (tonight's earlier live rows included) against their history
    for tid, d in store.topic_counts(day - dt.timedelta(days=settings.topics.window_days), day):
        try:
            rows.append((registry.resolve(tid), d))
        except KeyError:
            continue
    touched: dict[str, list[str]] = {}
    for i, _t in day_docs:
        if i.id in cycle.topic_of:
            touched.setdefault(registry.resolve(cycle.topic_of[i.id]), []).append(i.id)
    history = _history(store, settings, day, today_tokens, cycle.state)
    flagged, bursts = emerging_signals(daily_counts(rows), day, settings.topics, {t.id: t.label for t in registry.topics},
                                       today_tokens, history, cycle.topic_of)
    alerts = []
    for e in flagged:
        key = f"topic:{e.topic_id}"
        if e.topic_id in touched and key not in sent:
            alerts.append(cycle.alert(e.kind, e.topic_id, e.label, e.count, e.baseline, touched[e.topic_id], key, day))
            sent.add(key)
    new_ids = {i.id for i, _t in day_docs}
    for b, tid in bursts:
        key = f"terms:{b.terms[0]}"
        mine = [d for d in b.doc_ids if d in new_ids]
        if not mine or key in sent:
            continue
        sent.add(key)
        if tid is not None and f"topic:{tid}" in sent:  # mostly inside a topic already alerted today
            folded.append((day, key))
            continue
        alerts.append(cycle.alert("terms", tid, " / ".join(b.terms[:4]), b.count, b.expected, mine, key, day))
    return alerts


LIVE_STAGES = ("text", "embed", "sentiment")  # in the nightly order (DEFAULT_ORDER)


def _new_texts(store: Store, settings: Settings, today: dt.date) -> tuple[list[Interaction], list[str]]:
    """Text items of today and yesterday still waiting for the text or sentiment stage, run through the text, embed
    and sentiment stages: the embed stage puts every vector the nightly jobs will look up
    (:func:`voc.pipeline.embed.job_texts`) in the store's cache, the ones this cycle assigns with included, and marks
    the items embedded (an item waiting for the embed stage alone is left to the nightly run)."""
    since = today - dt.timedelta(days=1)
    pending = {i.id: i for name in ("text", "sentiment")
               for i in store.interactions(since=since, channels=list(TEXT_CHANNELS), pending_stage=name)}
    items = sorted(pending.values(), key=lambda i: (i.business_date, i.id))
    notes = []
    if items:
        for name in LIVE_STAGES:
            res = STAGES[name].fn(store, settings, today, [i.id for i in items], None)
            if res.failed:
                notes.append(f"{name}: {res.failed} item(s) failed")
    return items, notes


def watch_once(store: Store, settings: Settings, *, state: WatchState | None = None, notifiers: Sequence[Any] = (),
               now: Callable[[], float] = time.time) -> WatchResult:
    """One cycle of ``voc watch``: ingest, text + sentiment on the new text items, assign, alert.

    Calls are left to the nightly run (they need transcription first). Alerts already raised for a topic (or a
    lead term) on a date are not raised again that date (deliveries rows of kind ``alert``).
    """
    from voc.topics import TopicRegistry

    state = state if state is not None else WatchState()
    t0 = now()
    today = dt.datetime.fromtimestamp(t0, ZoneInfo(settings.timezone)).date()
    scan = ingest_inbox(store, settings)
    items, notes = _new_texts(store, settings, today)
    if not items:
        return WatchResult(scan["ingested"], 0, 0, 0, (), round(now() - t0, 3), None, tuple(scan["notes"]))
    dates = sorted({i.business_date for i in items})
    docs = complaint_docs(store, settings, dates[0], dates[-1], ids=sorted(i.id for i in items))
    reg_date, snap = store.topic_registry_before(today + dt.timedelta(days=1))
    cycle = _Cycle(store, settings, state, now, docs, {i.id: _arrival(settings, i, t0) for i in items},
                   TopicRegistry.from_dict(snap) if snap else TopicRegistry())
    _assign(cycle, today)
    alerts: list[Alert] = []
    folded: list[tuple[dt.date, str]] = []
    for day in dates:
        if any(i.business_date == day for i, _t in docs):
            alerts += _day_alerts(cycle, day, folded)
    if alerts:
        _send(store, alerts, notifiers)
    for day, key in folded:  # remembered, so the burst does not come back as its own alert later today
        store.add_deliveries(day, [{"department": "", "target": "-", "kind": ALERT_KIND, "status": "folded",
                                    "attempts": 0, "location": key}])
    return WatchResult(scan["ingested"], len(items), len(docs), len(cycle.topic_of), tuple(alerts),
                       round(now() - t0, 3), reg_date, tuple(scan["notes"]) + tuple(notes))


def watch(store: Store, settings: Settings, *, interval: float = 10.0, once: bool = False,
          on_alert: Callable[[Alert], None] = lambda a: None,
          on_cycle: Callable[[WatchResult], None] = lambda r: None,
          stop: threading.Event | None = None) -> int:
    """Run :func:`watch_once` every ``interval`` seconds until ``stop`` is set (or once); returns cycles run.

    Webhooks (``report.webhooks``) are built once and closed on the way out, Ctrl-C included.
    """
    from voc.report import build_notifiers

    stop = stop or threading.Event()
    state = WatchState()
    notifiers = build_notifiers(settings.report) if settings.report.webhooks else []
    cycles = 0
    try:
        while True:
            started = time.monotonic()
            result = watch_once(store, settings, state=state, notifiers=notifiers)
            cycles += 1
            for a in result.alerts:
                on_alert(a)
            on_cycle(result)
            if once or stop.wait(max(0.0, interval - (time.monotonic() - started))):
                return cycles
    finally:
        for n in notifiers:
            n.close()

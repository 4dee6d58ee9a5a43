"""Near-real-time topics (``voc watch``): place arriving complaints in the current topics and alert within seconds.

Assign-only: no clustering, no new topics, no registry change. Each arriving complaint joins the nearest topic of
the latest nightly registry snapshot when it clears the same join threshold, in the same similarity space, that
:func:`voc.topics.update_topics` uses; the nightly topics stage later replaces the date's assignments with its own.
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

from voc.config import Settings, TopicSettings

# _Space/_unit: the registry's own similarity space, so live and nightly numbers agree
from voc.topics.registry import ACTIVE, TopicRegistry, _Space, _unit

log = logging.getLogger(__name__)

ALERT_KIND = "alert"  # deliveries.kind of a sent (or printed) alert; deliveries.location holds the alert key


# ---- pure: assignment against a registry snapshot ------------------------------------------------
def assign_to_topics(registry: TopicRegistry, vectors: np.ndarray, settings: TopicSettings) -> list[tuple[str | None, float]]:
    """(topic id or None, similarity) per row of ``vectors``, against the registry's active topics.

    Mirrors step 1 of :func:`voc.topics.update_topics` on the stored registry: rows are unit-normalised; once the
    registry is calibrated (centred space) cosines are taken after subtracting its running mean (and its removed
    components) and a document must reach the median calibration (or the topic's own, higher, bar); before that,
    raw cosine >= ``settings.assign_threshold``. The night's own documents are not folded into the mean here, so a
    similarity can differ from the nightly one by the shift one night's documents give the running mean.
    """
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    active = [t for t in registry.topics if t.status == ACTIVE]
    if not len(vectors) or not active:
        return [(None, 0.0)] * len(vectors)
    units = _unit(vectors.copy())
    pool = list(registry.calibration) if settings.centre else []
    threshold = float(np.median(pool)) if pool and registry.mean is not None else None
    if threshold is not None:
        comps = np.asarray(registry.components, dtype=np.float64) if registry.components else None
        space = _Space(np.asarray(registry.mean, dtype=np.float64), comps)
        limits = np.asarray([max(threshold, t.threshold) if t.threshold is not None else threshold for t in active])
    else:
        space = _Space()
        limits = np.full(len(active), settings.assign_threshold)
    cents = space(np.stack([np.asarray(t.centroid, dtype=np.float64) for t in active]))
    sim = space(units) @ cents.T
    best = np.argmax(sim, axis=1)
    out: list[tuple[str | None, float]] = []
    for i, b in enumerate(best):
        s = float(sim[i, b])
        out.append((active[b].id, round(s, 4)) if s >= limits[b] else (None, round(s, 4)))
    return out


# ---- alerts -------------------------------------------------------------------------------------
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

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "kind": self.kind, "topic_id": self.topic_id, "label": self.label, "count": self.count,
                "baseline": self.baseline, "latency_s": self.latency_s}

    def markdown(self) -> str:
        head = {"new": "新话题", "spike": "话题激增", "terms": "热词激增"}.get(self.kind, self.kind)
        lines = [f"**{head}** {self.label}" + (f" ({self.topic_id})" if self.topic_id else ""),
                 f"- 今日 {self.count} 条, 基线 {self.baseline:.1f}/天",
                 f"- 日期 {self.run_date}" + (f", 部门 {self.department}" if self.department else "")]
        lines += [f"> {e}" for e in self.examples[:3]]
        return "\n".join(lines)


@dataclass(slots=True)
class WatchState:
    """What a running watcher keeps between cycles (term-burst history and today's tokens, per date)."""

    history: dict[dt.date, dict[dt.date, list[list[str]]]] = field(default_factory=dict)
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


def _arrival(settings: Settings, item: Any, fallback: float) -> float:
    """When the item's source file landed in the inbox (its mtime); ``fallback`` when unknown."""
    if item.source_path:
        path = Path(item.source_path)
        try:
            return min(os.stat(path if path.is_absolute() else Path(settings.inbox) / path).st_mtime, fallback)
        except OSError:
            pass
    return fallback


def _embed(store: Any, settings: Settings, registry: TopicRegistry, texts: Sequence[str], state: WatchState) -> np.ndarray | None:
    """Vectors of ``texts`` by the registry's embedder (through the store's cache); None when it cannot match."""
    from voc.topics.embedders import TfidfSvdEmbedder, get_embedder

    embedder = get_embedder(settings.topics, settings.seed)
    if isinstance(embedder, TfidfSvdEmbedder) and not embedder.fitted:
        _warn(state, "tfidf", "live topic assignment needs an embedder fixed across nights (e5 or "
              "sentence-transformers); the tfidf embedder is fitted per night, so arriving texts are not assigned")
        return None
    if registry.embedder and embedder.name != registry.embedder:
        _warn(state, "embedder", f"the topic registry was built with {registry.embedder}, not {embedder.name}: "
              "arriving texts are not assigned (set topics.embedder back)")
        return None
    from voc.pipeline import embed_texts

    return embed_texts(store, embedder, texts)[0]


def _warn(state: WatchState, key: str, message: str) -> None:
    if key not in state.warned:
        state.warned.add(key)
        log.warning(message)


def _day_tokens(store: Any, settings: Settings, day: dt.date, state: WatchState) -> None:
    """Load (once per date) the term-burst history and the date's complaints already in the store."""
    from voc.pipeline import complaint_docs
    from voc.topics.tokens import tokenize_many

    if day in state.history:
        return
    for old in [d for d in state.history if d < day - dt.timedelta(days=1)]:
        state.history.pop(old, None)
        state.today_tokens.pop(old, None)
    hist_docs = complaint_docs(store, settings, day - dt.timedelta(days=settings.topics.window_days),
                               day - dt.timedelta(days=1))
    history: dict[dt.date, list[list[str]]] = {}
    for (item, _t), toks in zip(hist_docs, tokenize_many([t for _i, t in hist_docs]), strict=True):
        history.setdefault(item.business_date, []).append(toks)
    today = complaint_docs(store, settings, day)
    state.history[day] = history
    state.today_tokens[day] = {i.id: toks for (i, _t), toks in zip(today, tokenize_many([t for _i, t in today]),
                                                                    strict=True)}


def _department(store: Any, topic_id: str | None) -> str | None:
    if not topic_id:
        return None
    f = store.latest_topic_finding(topic_id)
    if f is None:
        return None
    routes = store.routes([f.id])
    return routes[0].department if routes else None


def _send(store: Any, alerts: Sequence[Alert], notifiers: Sequence[Any]) -> None:
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


def watch_once(store: Any, settings: Settings, *, state: WatchState | None = None, notifiers: Sequence[Any] = (),
               now: Callable[[], float] = time.time) -> WatchResult:
    """One cycle of ``voc watch``: ingest, text + sentiment on the new text items, assign, alert.

    Calls are left to the nightly run (they need transcription first). Alerts already raised for a topic (or a
    lead term) on a date are not raised again that date (deliveries rows of kind ``alert``).
    """
    from voc.pipeline import STAGES, complaint_docs, ingest_inbox
    from voc.topics.bursts import detect_term_bursts, dominant_topic
    from voc.topics.emerging import daily_counts, detect_emerging
    from voc.topics.tokens import tokenize_many

    state = state if state is not None else WatchState()
    t0 = now()
    tz = ZoneInfo(settings.timezone)
    today = dt.datetime.fromtimestamp(t0, tz).date()
    notes: list[str] = []
    scan = ingest_inbox(store, settings)
    channels = sorted({"chat", "ticket", "review", "email", "other"})
    since = today - dt.timedelta(days=1)
    pending = {i.id: i for stage in ("text", "sentiment")
               for i in store.interactions(since=since, channels=channels, pending_stage=stage)}
    items = sorted(pending.values(), key=lambda i: (i.business_date, i.id))
    if not items:
        return WatchResult(scan["ingested"], 0, 0, 0, (), round(now() - t0, 3), None, tuple(scan["notes"]))
    arrival = {i.id: _arrival(settings, i, t0) for i in items}
    ids = [i.id for i in items]
    for name in ("text", "sentiment"):
        res = STAGES[name].fn(store, settings, today, ids, None)
        if res.failed:
            notes.append(f"{name}: {res.failed} item(s) failed")
    by_id = set(ids)
    dates = sorted({i.business_date for i in items})
    docs = complaint_docs(store, settings, dates[0], dates[-1], ids=sorted(by_id)) if dates else []

    reg_date, snap = store.topic_registry_before(today + dt.timedelta(days=1))
    registry = TopicRegistry.from_dict(snap) if snap else TopicRegistry()
    topic_of: dict[str, str] = {}
    if docs and registry.active:
        vectors = _embed(store, settings, registry, [t for _i, t in docs], state)
        if vectors is not None:
            placed = assign_to_topics(registry, vectors, settings.topics)
            rows = [(i.id, tid, sim, i.business_date) for (i, _t), (tid, sim) in zip(docs, placed, strict=True) if tid]
            store.add_topic_assignments(rows, assigned_on=today)
            topic_of = {r[0]: r[1] for r in rows}
    elif docs:
        _warn(state, "registry", "no topic registry yet (the nightly topics stage has not run): term bursts only")

    labels = {t.id: t.label for t in registry.topics}
    texts = {i.id: t for i, t in docs}
    alerts: list[Alert] = []
    folded: list[tuple[dt.date, str]] = []
    for day in dates:
        day_docs = [(i, t) for i, t in docs if i.business_date == day]
        if not day_docs:
            continue
        sent = {r["location"] for r in store.deliveries(day) if r["kind"] == ALERT_KIND}
        _day_tokens(store, settings, day, state)
        today_tokens = state.today_tokens[day]
        today_tokens.update({i.id: toks for (i, _t), toks in zip(day_docs, tokenize_many([t for _i, t in day_docs]),
                                                                  strict=True)})
        # topics: today's stored counts (tonight's earlier live rows included) against their history
        rows = []
        for tid, d in store.topic_counts(day - dt.timedelta(days=settings.topics.window_days), day):
            try:
                rows.append((registry.resolve(tid), d))
            except KeyError:
                continue
        touched: dict[str, list[str]] = {}
        for i, _t in day_docs:
            if i.id in topic_of:
                touched.setdefault(registry.resolve(topic_of[i.id]), []).append(i.id)
        for e in detect_emerging(daily_counts(rows), day, settings.topics, labels):
            key = f"topic:{e.topic_id}"
            if e.topic_id not in touched or key in sent:
                continue
            members = touched[e.topic_id]
            alerts.append(Alert(
                dt.datetime.fromtimestamp(now(), dt.UTC).isoformat(timespec="seconds"), e.kind, e.topic_id, e.label,
                e.count, e.baseline, round(now() - min(arrival[m] for m in members), 3), key, day,
                tuple(texts[m] for m in members[: settings.topics.examples]), _department(store, e.topic_id)))
            sent.add(key)
        # terms: today's complaints so far against the history's document frequencies
        new_ids = {i.id for i, _t in day_docs}
        for b in detect_term_bursts(today_tokens, state.history[day], day, settings.topics):
            key = f"terms:{b.terms[0]}"
            mine = [d for d in b.doc_ids if d in new_ids]
            if not mine or key in sent:
                continue
            tid = dominant_topic(b.doc_ids, topic_of)
            if tid is not None and f"topic:{tid}" in sent:  # mostly inside a topic already alerted today
                folded.append((day, key))
                sent.add(key)
                continue
            alerts.append(Alert(
                dt.datetime.fromtimestamp(now(), dt.UTC).isoformat(timespec="seconds"), "terms", tid,
                " / ".join(b.terms[:4]), b.count, b.expected, round(now() - min(arrival[m] for m in mine), 3), key, day,
                tuple(texts[m] for m in mine[: settings.topics.examples]), _department(store, tid)))
            sent.add(key)
    if alerts:
        _send(store, alerts, notifiers)
    for day, key in folded:  # remembered, so the burst does not come back as its own alert later today
        store.add_deliveries(day, [{"department": "", "target": "-", "kind": ALERT_KIND, "status": "folded",
                                    "attempts": 0, "location": key}])
    return WatchResult(scan["ingested"], len(items), len(docs), len(topic_of), tuple(alerts), round(now() - t0, 3),
                       reg_date, tuple(scan["notes"]) + tuple(notes))


def watch(store: Any, settings: Settings, *, interval: float = 10.0, once: bool = False,
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

"""Topics boundary: tonight's complaints (with earlier nights' noise) placed in the stable topic registry, then the
night's emerging topics, busy topics and term bursts stored as findings."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from voc.config import Settings
from voc.pipeline.embed import embed_key
from voc.pipeline.runner import ProgressFn, noop_progress, stage, timed
from voc.records import Interaction, StageResult
from voc.semantic import Embedder
from voc.store import Store

Doc = tuple[Interaction, str]


def complaint_docs(store: Store, settings: Settings, since: dt.date, until: dt.date | None = None,
                   exclude_assigned_before: dt.date | None = None, ids: Sequence[str] | None = None) -> list[Doc]:
    """Complaints of the date range as (interaction, redacted text), by :func:`voc.topics.is_complaint`.

    ``exclude_assigned_before`` drops items that had a topic before that night (the noise pool of a night);
    ``ids`` keeps only those interactions (``voc watch``: the items that just arrived).
    """
    from voc.topics.complaints import complaint_text, is_complaint

    items = store.interactions(since=since, until=until or since, ids=ids)
    if exclude_assigned_before is not None and items:
        assigned = store.assigned_before([i.id for i in items], exclude_assigned_before)
        items = [i for i in items if i.id not in assigned]
    scores = store.call_sentiments([i.id for i in items])
    utts = store.utterances_for([i.id for i in items if i.channel.value == "call"])
    out = []
    for item in items:
        summary = scores.get(item.id)
        text = complaint_text(item, utts.get(item.id, ()))
        if is_complaint(item, text, summary.score if summary is not None else 0.0, settings):
            out.append((item, text.strip()))
    return out


def embed_texts(store: Store, embedder: Embedder, texts: Sequence[str],
                max_chars: int | None = None) -> tuple[np.ndarray, int]:
    """``(len(texts), dim)`` float32 vectors through the store's embeddings cache, and how many were new.

    ``max_chars`` (``limits.embed_max_chars``): each text is embedded by its first max_chars characters; e5 costs
    seconds per thousand characters and looks at 512 tokens, so a long chat adds time and nothing else."""
    if max_chars is not None:
        texts = [t[:max_chars] for t in texts]
    cached = store.cached_embeddings(embedder.name, texts)
    missing = sorted({t for t in texts if t not in cached})
    if missing:
        vectors = np.asarray(embedder.embed(missing), dtype=np.float32)
        store.put_embeddings(embedder.name, missing, vectors)
        cached.update(zip(missing, vectors, strict=True))
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32), 0
    return np.stack([cached[t] for t in texts]), len(missing)


def configured_topic_embedder(settings: Settings) -> Embedder:
    """The configured topic embedder; e5 as a :class:`voc.pipeline.lazy_embedder.LazyEmbedder`, whose model loads
    only when a vector is missing from the store's cache (after the embed stage: never)."""
    from voc.pipeline.lazy_embedder import lazy_embedder
    from voc.semantic import get_embedder, resolve_embedder_name

    return lazy_embedder(resolve_embedder_name(settings.topics),
                         lambda: get_embedder(settings.topics, settings.seed, settings.models_dir))


def topic_embedder(settings: Settings, texts: Sequence[str]) -> Embedder:
    """The configured embedder (:func:`configured_topic_embedder`), fitted on ``texts`` when its vector space is
    fitted per run (tfidf)."""
    embedder = configured_topic_embedder(settings)
    if not embedder.fitted:
        embedder.fit(list(texts))
    return embedder


def _registry_before(store: Store, run_date: dt.date) -> tuple[dt.date | None, Any]:
    from voc.topics import TopicRegistry

    prev_date, state = store.topic_registry_before(run_date)
    return prev_date, TopicRegistry.from_dict(state) if state else TopicRegistry()


def _tonight_docs(store: Store, settings: Settings, run_date: dt.date) -> tuple[list[Doc], list[Doc]]:
    """Tonight's complaints plus the pool: earlier nights' noise gets another chance to form a topic with tonight's."""
    docs = complaint_docs(store, settings, run_date)
    pool: list[Doc] = []
    if settings.topics.pool_days:
        pool = complaint_docs(store, settings, run_date - dt.timedelta(days=settings.topics.pool_days),
                              run_date - dt.timedelta(days=1), exclude_assigned_before=run_date)
    return docs + pool, pool


def _per_day_counts(store: Store, registry: Any, settings: Settings, run_date: dt.date) -> dict[str, dict[dt.date, int]]:
    """Daily counts per topic over the window; merged topics count for their survivor."""
    from voc.topics import daily_counts

    rows = []
    for tid, day in store.topic_counts(run_date - dt.timedelta(days=settings.topics.window_days), run_date):
        try:
            rows.append((registry.resolve(tid), day))
        except KeyError:  # assignments of a topic from a registry that was reset
            continue
    return daily_counts(rows)


def _findings(store: Store, settings: Settings, run_date: dt.date, docs: list[Doc], result: Any,
              dates: dict[str, dt.date], tonight_key: str | None = None) -> tuple[list[Any], list[Any], list[Any]]:
    """(findings, term-burst findings, flagged emerging topics) of the night. Term-burst history comes from the
    per-day counts (:mod:`voc.pipeline.term_counts`); tonight's are stored under ``tonight_key``."""
    from voc.pipeline.term_counts import burst_history, record_day
    from voc.topics.findings import (
        emerging_signals,
        night_findings,
        tokens_by_id,
        tonight_labels,
    )

    final = result.registry
    per_day = _per_day_counts(store, final, settings, run_date)
    labels = {t.id: t.label for t in final.topics}
    members: dict[str, list[str]] = {}  # tonight's documents per topic (pool documents keep their own date)
    for a in result.assignments:
        if dates[a.interaction_id] == run_date:
            members.setdefault(a.topic_id, []).append(a.interaction_id)
    tonight = [(i, t) for i, t in docs if i.business_date == run_date]
    today_tokens = tokens_by_id(tonight)
    history = burst_history(store, settings, run_date, today_tokens) if tonight else {}
    record_day(store, run_date, tonight_key, list(today_tokens.values()))
    topic_of = {iid: tid for tid, ids in members.items() for iid in ids}
    flagged, bursts = emerging_signals(per_day, run_date, settings.topics, labels, today_tokens, history, topic_of,
                                       result.examples_today)
    if not tonight:
        bursts = []
    findings, burst_findings = night_findings(
        run_date, settings.topics, flagged, bursts, members, result.examples_today, labels,
        {t.id: t.keywords for t in final.topics}, tonight_labels(today_tokens, members), {i.id: t for i, t in tonight}, per_day)
    findings = name_facets(findings, {i.id: (i, t) for i, t in docs})
    burst_findings = [f for f in findings if f.kind == "emerging_terms"]
    return findings, burst_findings, flagged


def name_facets(findings: list[Any], docs: dict[str, Doc]) -> list[Any]:
    """Each finding with its members' facets (``details["facets"]``: product, aspect, batch, counts by batch and
    region) and, when a product or aspect dominates, a title that starts with them ("X3空调 · 漏水 · 批次 B2311")."""
    from dataclasses import replace

    from voc.topics.facets import extract_facets, summarise_facets

    out = []
    for f in findings:
        members = [docs[i] for i in f.interaction_ids if i in docs]
        if not members:
            out.append(f)
            continue
        summary = summarise_facets([extract_facets(text, item.attributes) for item, text in members])
        f.details["facets"] = summary
        name = str(summary["name"])
        out.append(replace(f, title=f"{name} · {f.title}") if name and name not in f.title else f)
    return out


@stage("topics", per_item=False)
def run(store: Store, settings: Settings, run_date: dt.date, batch: Sequence[str] | None = None,
        progress: ProgressFn | None = None, *, now: dt.datetime | None = None) -> StageResult:
    """Place the date's complaints in stable topics (new ones clustered), then flag emerging topics."""
    from voc.pipeline.term_counts import source_key
    from voc.topics import TopicDoc, update_topics

    t0 = time.perf_counter()
    progress = progress or noop_progress
    prev_date, registry = _registry_before(store, run_date)
    tonight_key = source_key(store, settings, run_date)  # before tonight's complaints are read
    docs, pool = _tonight_docs(store, settings, run_date)
    progress("topics", 0, len(docs))
    new_vectors, vectors, embedder = 0, [], None
    if docs:
        texts = [t for _i, t in docs]
        embedder = topic_embedder(settings, texts)
        matrix, new_vectors = embed_texts(store, embedder, [embed_key(t, settings) for t in texts])
        vectors = list(matrix)
    topic_docs = [TopicDoc(i.id, text, i.business_date, vec) for (i, text), vec in zip(docs, vectors, strict=True)]
    dates = {i.id: i.business_date for i, _t in docs}
    result = update_topics(registry, topic_docs, settings.topics, run_date, seed=settings.seed, embedder=embedder,
                           merge_threshold=settings.topics.merge_threshold)
    final = result.registry
    store.save_topic_run(run_date, final.to_dict(), final.topics, [e for e in final.events if e.date == run_date])
    store.replace_topic_assignments(run_date, [(a.interaction_id, a.topic_id, a.similarity, dates[a.interaction_id])
                                              for a in result.assignments])
    progress("topics", len(docs), len(docs))
    findings, bursts, flagged = _findings(store, settings, run_date, docs, result, dates, tonight_key)
    store.replace_findings(run_date, ["emerging_topic", "emerging_terms", "topic_trend"], findings)
    tonight = sum(dates[a.interaction_id] == run_date for a in result.assignments)
    details = {**result.stats, "pool_docs": len(pool), "pool_assigned": sum(dates[a.interaction_id] != run_date
                                                                           for a in result.assignments),
               "embedded_new": new_vectors, "registry_from": prev_date.isoformat() if prev_date else None,
               "active_topics": len(final.active), "term_bursts": [f.title for f in bursts], "emerging": [
                   {"topic_id": e.topic_id, "kind": e.kind, "label": e.label, "count": e.count, "z": e.z} for e in flagged]}
    return timed("topics", run_date, t0, processed=tonight, skipped=len(docs) - len(pool) - tonight, details=details)


def registry_as_of(store: Store, day: dt.date | None = None) -> tuple[dt.date | None, Any]:
    """(snapshot date, registry) as of ``day`` (default: the latest topics run); (None, None) before any run."""
    from voc.topics import TopicRegistry

    day = day or store.latest_topic_date()
    if day is None:
        return None, None
    reg_date, state = store.topic_registry_before(day + dt.timedelta(days=1))
    return (reg_date, TopicRegistry.from_dict(state)) if state else (None, None)

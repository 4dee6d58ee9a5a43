"""Routing boundary: the routing model (refitted when people's corrections changed the examples), service types of
the date's contacts, QA-pattern findings, and every finding of the date weighed by customer value and routed to its
owning department from its members' decisions (topic routes keep their department unless the members clearly move).

Also the learning side: a confirmation or correction (``voc findings confirm``) stores the finding's member texts as
labelled examples; ``voc route retrain`` refits at once; ``voc route`` routes with the latest model.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Sequence
from typing import Any

from voc.config import Settings
from voc.pipeline.runner import ProgressFn, stage, timed
from voc.records import Finding, Interaction, Route, StageResult
from voc.store import Store

logger = logging.getLogger(__name__)

__all__ = ["MAX_REASON", "RouteReasonError", "confirm_route", "contact_texts", "import_route_memory", "reference_mean",
           "retrain", "route_router", "routing_embed", "routing_embedder", "routing_model", "run"]

MODEL_NAMES = ("departments", "service_types")
CONFIRM_MAX_TEXTS = 30  # member texts a confirmation teaches (a topic's members say much the same)
MAX_REASON = 500  # characters of a person's reason for a confirmation or correction


def _member_facts(f: Finding, members: Sequence[Interaction]) -> dict[str, Any]:
    """Who a finding touches: customers by tier, VIP customers, call ids (for the digests)."""
    tiers: dict[str, int] = {}
    for i in members:
        tier = (i.customer_tier or "unknown").lower()
        tiers[tier] = tiers.get(tier, 0) + 1
    return {"tiers": tiers,
            "vip_customers": len({i.customer_id for i in members
                                  if i.customer_id and (i.customer_tier or "").lower() == "vip"}),
            "call_ids": sorted(i.external_id or i.id for i in members if i.channel.value == "call")[:20]}


def contact_texts(store: Store, items: Sequence[Interaction]) -> dict[str, str]:
    """What each contact is about (a call's customer side, a text's body), stripped: for a complaint the text the
    topics stage embeds, so routing and repeat matching find its vectors in the store's cache (the embed stage puts
    them there first: ``job_texts("routing", ...)``)."""
    from voc.routing import contact_text

    utts = store.utterances_for([i.id for i in items if i.channel.value == "call"])
    return {i.id: contact_text(i, utts.get(i.id, ())).strip() for i in items}


def _embedder_model(settings: Settings) -> str | None:
    """The model argument of the routing embedder: the sentence-transformers model, the e5-static table (as topics
    finds it), else None."""
    from voc.semantic.embedders import static_table_for

    kind = settings.routing.embedder
    if kind == "e5-static":
        return static_table_for(settings.topics, settings.models_dir)
    return settings.topics.st_model if kind == "sentence-transformers" else None


def routing_embedder(settings: Settings) -> Any:
    """The configured routing embedder (loaded once per process), or None for ``routing.embedder: none``; e5 as a
    :class:`voc.pipeline.lazy_embedder.LazyEmbedder`, whose model loads only when a vector is missing from the
    store's cache (after the embed stage: never)."""
    from voc.pipeline.lazy_embedder import lazy_embedder
    from voc.semantic import load_embedder

    kind = settings.routing.embedder
    if kind == "none":
        return None
    return lazy_embedder(kind, lambda: load_embedder(kind, _embedder_model(settings), settings.seed))


def routing_embed(store: Store | None, settings: Settings, write: bool = True) -> tuple[Any, str]:
    """The routing embedder as ``embed(texts)``: shipped example vectors first, then the store's cache (when given;
    new vectors are added to it only when ``write``). Texts are looked up as :func:`voc.pipeline.embed.contact_key`
    forms them: with e5, cut like the topics stage's (same vectors: e5 reads no further), so both share them."""
    import numpy as np

    from voc.routing import SeededEmbed, default_embed

    kind = settings.routing.embedder
    if kind == "none":
        return None, ""
    if store is None:
        return default_embed(kind, _embedder_model(settings), settings.seed)
    from voc.pipeline.embed import contact_key
    from voc.pipeline.topics import embed_texts

    embedder = routing_embedder(settings)

    def read_only(texts: Sequence[str]) -> Any:
        keys = [contact_key(t, settings) for t in texts]
        cached = store.cached_embeddings(embedder.name, keys)
        missing = sorted({t for t in keys if t not in cached})
        if missing:
            cached.update(zip(missing, np.asarray(embedder.embed(missing), dtype=np.float32), strict=True))
        return np.stack([cached[t] for t in keys]) if keys else np.zeros((0, embedder.dim), dtype=np.float32)

    def writing(texts: Sequence[str]) -> Any:
        return embed_texts(store, embedder, [contact_key(t, settings) for t in texts])[0]

    return SeededEmbed(writing if write else read_only, embedder.name), embedder.name


def contact_vectors(store: Store, settings: Settings, items: Sequence[Interaction], texts: dict[str, str]) -> Any:
    """Vectors for the service types of ``texts`` (interaction id -> contact text, in order), or None without a routing
    embedder. A text contact whose stored sentiment reads as praise (>= ``sentiment.positive_threshold``) gets the
    average praise text (:func:`praise_reference`), whether or not a vector of its own is cached (so a rerun types it
    the same), and the classifier reads it as the praise its sentiment says it is; the embed stage skips the vectors
    of those it knows ahead (:func:`voc.pipeline.embed.reads_as_praise`). Every other contact gets its own vector,
    from the cache or embedded now."""
    import numpy as np

    ids = list(texts)
    if settings.routing.embedder == "none" or not ids:
        return None
    embed, name = routing_embed(store, settings)
    mean = praise_reference(name)
    texts_of = {i.id: i for i in items}
    praise: set[str] = set()
    if mean is not None:
        summaries = store.call_sentiments([i for i in ids if texts_of[i].channel.value != "call"])
        praise = {i for i, s in summaries.items() if s.score >= settings.sentiment.positive_threshold}
    own = [i for i in ids if i not in praise]
    rows = np.asarray(embed([texts[i] for i in own]), dtype=np.float32) if own else None
    out = np.empty((len(ids), len(mean) if mean is not None else rows.shape[1]), dtype=np.float32)
    where = {iid: k for k, iid in enumerate(own)}
    for k, iid in enumerate(ids):
        out[k] = mean if iid in praise else rows[where[iid]]
    return out


@functools.lru_cache(maxsize=4)
def _shipped_examples(embedder_name: str) -> Any:
    """The shipped routing example vectors (an EmbeddingCache) when they are ``embedder_name``'s, else None."""
    from voc.routing.model import DEFAULT_EXAMPLE_VECTORS
    from voc.semantic import EmbeddingCache

    if not embedder_name or not DEFAULT_EXAMPLE_VECTORS.is_file():
        return None
    cache = EmbeddingCache.load(DEFAULT_EXAMPLE_VECTORS)
    return cache if cache.embedder_name == embedder_name and len(cache) else None


@functools.lru_cache(maxsize=4)
def praise_reference(embedder_name: str) -> Any:
    """The average praise text for ``embedder_name``: the mean vector of the shipped examples of the 'praise' service
    type (voc/routing/service_types.yaml) in the shipped example vectors, or None when they are not there. What a
    contact that reads as praise gets in place of its own vector (:func:`contact_vectors`); the mean of every example
    reads as a complaint (most examples are) and cost praise its type (bench/routing/README.md, "Praise without e5")."""
    import numpy as np

    from voc.routing.service_type import load_service_types

    cache = _shipped_examples(embedder_name)
    if cache is None:
        return None
    examples = [e for spec in load_service_types() if spec.id == "praise" for e in spec.examples]
    rows = [v for v in (cache.get(e) for e in examples) if v is not None]
    return np.mean(np.stack(rows), axis=0).astype(np.float32) if rows else None


@functools.lru_cache(maxsize=4)
def reference_mean(embedder_name: str) -> Any:
    """The mean vector of the shipped routing examples (customer-service texts) for ``embedder_name``, or None:
    the centre that makes cosines of contextual embeddings comparable (raw e5 puts any two texts near 0.9)."""
    import numpy as np

    from voc.routing.model import DEFAULT_EXAMPLE_VECTORS

    if _shipped_examples(embedder_name) is None:
        return None
    with np.load(DEFAULT_EXAMPLE_VECTORS, allow_pickle=False) as data:
        return data["vectors"].astype(np.float32).mean(axis=0)


def _learned(store: Store) -> tuple[list[Any], list[Any]]:
    from voc.routing import Example
    from voc.store import routing_examples as rx

    dep, st = [], []
    for e in rx.examples(store):
        ex = Example(e.text, e.labels, e.weight, e.source)
        (dep if e.task == "department" else st).append(ex)
    return dep, st


def routing_model(store: Store | None, settings: Settings, *, force: bool = False,
                  save: bool = True) -> tuple[Any, Any, dict[str, Any]]:
    """``(model, embed, info)``: the stored model when it was fitted on exactly today's examples (shipped files +
    learned rows), else a fresh fit (saved when ``save``). ``force`` refits regardless."""
    from voc.routing import (
        RoutingModel,
        TextClassifier,
        fit_routing_model,
        load_departments,
        load_service_types,
    )
    from voc.routing.model import training_fingerprints
    from voc.store import routing_examples as rx

    deps = load_departments(settings.routing.departments_file)
    specs = load_service_types(settings.routing.service_types_file)
    embed, name = routing_embed(store, settings, write=save)
    learned_dep, learned_st = _learned(store) if store is not None else ([], [])
    wanted = training_fingerprints(deps, specs, name, learned_dep, learned_st)
    info: dict[str, Any] = {"learned_examples": len(learned_dep) + len(learned_st), "refit": False}
    stored = rx.load_models(store) if store is not None else {}
    if not force and all(n in stored for n in MODEL_NAMES) and \
            (stored["departments"].fingerprint, stored["service_types"].fingerprint) == wanted:
        model = RoutingModel(TextClassifier.from_bytes(stored["departments"].state),
                             TextClassifier.from_bytes(stored["service_types"].state))
        if list(model.departments.labels) == [d.id for d in deps]:
            info["fitted_at"] = stored["departments"].fitted_at.isoformat() if stored["departments"].fitted_at else None
            return model, embed, info | {"model": model.fingerprint}
    t0 = time.perf_counter()
    model = fit_routing_model(deps, specs, embed, name, learned_dep, learned_st)
    info |= {"refit": True, "fit_seconds": round(time.perf_counter() - t0, 2), "model": model.fingerprint}
    if store is not None and save:
        from voc.pipeline.runner import utcnow

        now = utcnow()
        rx.save_models(store, {
            n: rx.StoredModel(n, clf.fingerprint, clf.embedder, clf.trained_on, clf.to_bytes(), clf.describe(), now)
            for n, clf in (("departments", model.departments), ("service_types", model.service_types))})
        info["fitted_at"] = now.isoformat()
    logger.info("routing model fitted on %d examples (%d learned)", model.departments.trained_on, len(learned_dep))
    return model, embed, info


def route_router(store: Store | None, settings: Settings, *, save: bool = True) -> tuple[Any, dict[str, Any]]:
    """A :class:`voc.routing.Router` with the latest model (see :func:`routing_model`) and its info."""
    from voc.routing import build_router

    model, embed, info = routing_model(store, settings, save=save)
    return build_router(settings.routing, model=model, embed=embed), info


def _texts_for(store: Store, ids: Sequence[str], known: dict[str, str]) -> dict[str, str]:
    missing = [i for i in dict.fromkeys(ids) if i not in known]
    if missing:
        known.update(contact_texts(store, store.interactions(ids=missing)))
    return {i: known.get(i, "") for i in ids}


def _member_texts(store: Store, settings: Settings, findings: Sequence[Finding], run_date: dt.date,
                  known: dict[str, str]) -> dict[str, list[str]]:
    """Per finding, the texts it is routed on: its own members, then the topic's other members of the last
    ``routing.topic_member_days`` days (most recent first)."""
    from voc.routing.router import MAX_MEMBER_TEXTS
    from voc.store import routing_examples as rx

    since = run_date - dt.timedelta(days=settings.routing.topic_member_days - 1)
    recent = rx.recent_topic_members(store, [f.topic_id for f in findings if f.topic_id], since, run_date,
                                     limit=MAX_MEMBER_TEXTS)
    out = {}
    for f in findings:
        ids = list(dict.fromkeys([*f.interaction_ids, *recent.get(f.topic_id or "", [])]))[:MAX_MEMBER_TEXTS]
        texts = _texts_for(store, ids, known)
        out[f.id] = [texts[i] for i in ids if texts[i]]
    return out


@stage("routing", per_item=False)
def run(store: Store, settings: Settings, run_date: dt.date, batch: Sequence[str] | None = None,
        progress: ProgressFn | None = None, *, now: dt.datetime | None = None) -> StageResult:
    """Service types per interaction; findings weighted by customer value and routed to owning departments."""
    from voc.qa import qa_pattern_findings
    from voc.routing import PreviousRoute, RouteMemory, route_findings, weigh_findings
    from voc.store import routing_examples as rx

    t0 = time.perf_counter()
    imported = import_route_memory(store, settings)
    router, model_info = route_router(store, settings)
    items = store.interactions(run_date=run_date)
    by_id = {i.id: i for i in items}
    texts = contact_texts(store, items)
    ids = list(texts)
    results = router.service_types([texts[i] for i in ids], contact_vectors(store, settings, items, texts))
    store.set_service_types({iid: r.label for iid, r in zip(ids, results, strict=True)})
    rx.set_service_type_sets(store, {iid: (r.labels, dict(r.probabilities)) for iid, r in zip(ids, results, strict=True)})

    calls = [i for i in items if i.channel.value == "call"]
    patterns = qa_pattern_findings(store.qa_results([c.id for c in calls]), run_date, len(calls),
                                   settings.routing.qa_pattern_min_calls)
    store.replace_findings(run_date, ["qa_pattern"], patterns)
    findings = store.findings(run_date=run_date)
    missing = {iid for f in findings for iid in f.interaction_ids if iid not in by_id}
    if missing:  # a finding may point at items re-dated by reprocessing
        by_id.update({i.id: i for i in store.interactions(ids=sorted(missing))})
    members = {f.id: [by_id[i] for i in f.interaction_ids if i in by_id] for f in findings}
    weighed = weigh_findings(findings, members, settings.routing.tier_weights, settings.routing.value_scale)
    for f in weighed:
        f.details.update(_member_facts(f, members.get(f.id, [])))
    store.update_findings(weighed)
    memory = RouteMemory.from_dict(store.route_memory())
    member_texts = _member_texts(store, settings, weighed, run_date, dict(texts))
    previous = {t: PreviousRoute(p["department"], p["run_date"], p["finding_id"], p["confirmed"], p["triaged"])
                for t, p in rx.previous_topic_routes(store, [f.topic_id for f in weighed], run_date).items()}
    routes = route_findings(weighed, router, memory, member_texts, previous)
    written = store.replace_routes(routes)
    by_dept: dict[str, int] = {}
    for r in store.routes([f.id for f in weighed]):
        by_dept[r.department] = by_dept.get(r.department, 0) + 1
    types: dict[str, int] = {}
    for r in results:
        types[r.label] = types.get(r.label, 0) + 1
    multi = sum(1 for r in results if len(r.labels) > 1)
    changes = [{"finding": r.finding_id, "department": r.department, "reason": r.reason}
               for r in routes if r.reason.startswith("changed from")]
    return timed("routing", run_date, t0, processed=len(weighed), skipped=len(routes) - written,
                 details={"findings": len(weighed), "by_department": by_dept, "service_types": types,
                          "multi_service_type": multi, "confirmed_kept": len(routes) - written,
                          "memory_topics": len(memory.to_dict()), "memory_examples_imported": imported,
                          "route_changes": changes, "model": model_info, "router": router.options})


# ---- learning -----------------------------------------------------------------------------------------

def _example_rows(store: Store, finding: Finding, department: str, source: str, by: str | None,
                  at: dt.datetime | None) -> list[dict[str, Any]]:
    from voc.routing import finding_text
    from voc.routing.model import LEARNED_WEIGHT

    ids = list(finding.interaction_ids)[:CONFIRM_MAX_TEXTS]
    texts = [t for t in _texts_for(store, ids, {}).values() if t] or [finding_text(finding).strip()]
    return [{"task": "department", "text": t, "labels": [department], "source": source, "weight": LEARNED_WEIGHT,
             "finding_id": finding.id, "topic_id": finding.topic_id, "created_by": by, "created_at": at}
            for t in texts if t]


class RouteReasonError(ValueError):
    """A correction without a reason (where one is required), or a reason longer than :data:`MAX_REASON`."""


def confirm_route(store: Store, settings: Settings, finding_id: str, department: str, by: str | None = None,
                  reason: str | None = None, *, reason_required: bool = False) -> Route:
    """A person confirms or corrects a finding's department: the route is fixed (and its topic remembered, as
    before), their ``reason`` is added to the route's reason, and the finding's member texts become labelled
    examples the next fit learns from, all in one transaction. With ``reason_required`` (``voc findings confirm``,
    the web app) a department other than the routed one (or any, for a finding not routed yet) without a reason
    raises RouteReasonError; confirming the routed department needs none. Unknown finding: KeyError."""
    from voc.pipeline.runner import utcnow
    from voc.store import routing_examples as rx

    note = " ".join((reason or "").split())
    if len(note) > MAX_REASON:
        raise RouteReasonError(f"the reason is too long ({len(note)} characters; at most {MAX_REASON})")
    found = store.findings(ids=[finding_id])
    if not found:
        raise KeyError(f"unknown finding {finding_id}")
    [before] = store.routes([finding_id]) or [None]
    if reason_required and not note and (before is None or before.department != department):
        raise RouteReasonError(f"re-routing {finding_id} from {before.department if before else 'no department'} "
                               f"to {department} needs a reason (what makes it {department}'s?)")
    rows = _example_rows(store, found[0], department, "confirm", by, utcnow())  # source decided in the write
    route, source, added = rx.confirm_route(store, finding_id, department, by, note or None, rows)
    logger.info("%s of %s -> %s: %d labelled examples", source, finding_id, department, added)
    return route


def import_route_memory(store: Store, settings: Settings) -> int:
    """Topics people confirmed before examples were recorded (route memory without examples): their latest
    finding's member texts become examples (source 'memory'). Returns how many were added."""
    from voc.pipeline.runner import utcnow
    from voc.store import routing_examples as rx

    memory = store.route_memory()
    todo = sorted(set(memory) - rx.topics_with_examples(store))
    if not todo:
        return 0
    latest: dict[str, Finding] = {}
    for f in store.findings(since=dt.date(1900, 1, 1)):
        if f.topic_id in todo and f.kind != "qa_pattern":
            latest[f.topic_id] = f  # ordered by run date: the last one wins
    rows = []
    for topic in todo:
        if topic in latest:
            dept = max(memory[topic], key=lambda d: (memory[topic][d], d))
            rows += _example_rows(store, latest[topic], dept, "memory", None, utcnow())
    return rx.add_examples(store, rows)


def retrain(store: Store, settings: Settings) -> dict[str, Any]:
    """``voc route retrain``: import route memory, refit both classifiers on every example and store them."""
    t0 = time.perf_counter()
    imported = import_route_memory(store, settings)
    model, _embed_fn, info = routing_model(store, settings, force=True)
    return {"memory_examples_imported": imported, **info, "seconds": round(time.perf_counter() - t0, 2),
            **model.describe()}

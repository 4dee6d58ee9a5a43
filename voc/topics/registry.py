"""Topic registry with stable IDs across nightly runs: assign to known centroids, cluster the rest, merge near twins.

Pure data in, data out: :func:`update_topics` returns a new :class:`TopicRegistry` and never touches its input;
the pipeline persists the registry (``to_dict``/``from_dict``) and the assignments in the store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voc.config import TopicSettings
from voc.records import TopicAssignment
from voc.topics.clustering import (
    NOISE,
    centroid_of,
    cluster_vectors,
    group_indices,
    label_clusters,
    representative_texts,
    topic_label,
)
from voc.topics.embedders import Embedder, EmbeddingCache, embed_with_cache

log = logging.getLogger(__name__)

ACTIVE = "active"
MERGED = "merged"
# A new cluster whose centroid is this close to a known topic joins it instead of getting a new ID;
# two known topics this close merge. Centroids are means, so they sit closer together than single docs
# do; calibrated with bench/topics (e5: see README). Used when update_topics gets no merge_threshold.
DEFAULT_MERGE_MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class TopicDoc:
    """One complaint text to place in a topic; ``vector`` is an optional precomputed embedding."""

    interaction_id: str
    text: str
    date: dt.date
    vector: tuple[float, ...] | np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    label: str
    keywords: tuple[str, ...]
    centroid: tuple[float, ...]  # running mean of member embeddings (not normalised)
    size: int  # documents ever assigned
    created: dt.date
    last_seen: dt.date
    status: str = ACTIVE  # active / merged
    merged_into: str | None = None
    version: int = 1  # +1 each run that moves the centroid, merges or relabels
    examples: tuple[str, ...] = ()
    embedder: str = ""

    def unit_centroid(self) -> np.ndarray:
        c = np.asarray(self.centroid, dtype=np.float32)
        return c / (np.linalg.norm(c) or 1.0)


@dataclass(frozen=True, slots=True)
class TopicEvent:
    """History entry: created, updated, absorbed (a new cluster joined a known topic), merged."""

    date: dt.date
    kind: str
    topic_id: str
    other_id: str | None = None  # merged: the topic it went into; absorbed: none
    size: int = 0  # documents involved
    similarity: float | None = None
    version: int = 1


@dataclass(frozen=True, slots=True)
class TopicRegistry:
    topics: tuple[Topic, ...] = ()
    next_number: int = 1  # IDs are never reused: T0001, T0002, ...
    events: tuple[TopicEvent, ...] = ()
    embedder: str = ""  # centroids only compare within one embedding space

    def get(self, topic_id: str) -> Topic:
        for t in self.topics:
            if t.id == topic_id:
                return t
        raise KeyError(f"no topic {topic_id!r} in the registry")

    def resolve(self, topic_id: str) -> str:
        """Follow ``merged_into`` to the active topic that now holds ``topic_id``'s documents."""
        seen = set()
        t = self.get(topic_id)
        while t.status == MERGED and t.merged_into and t.id not in seen:
            seen.add(t.id)
            t = self.get(t.merged_into)
        return t.id

    @property
    def active(self) -> tuple[Topic, ...]:
        return tuple(t for t in self.topics if t.status == ACTIVE)

    def to_dict(self) -> dict[str, Any]:
        def enc(obj: Any) -> Any:
            if isinstance(obj, dt.date):
                return obj.isoformat()
            if isinstance(obj, tuple | list):
                return [enc(v) for v in obj]
            return obj

        return {
            "next_number": self.next_number,
            "embedder": self.embedder,
            "topics": [{f.name: enc(getattr(t, f.name)) for f in dataclasses.fields(Topic)} for t in self.topics],
            "events": [{f.name: enc(getattr(e, f.name)) for f in dataclasses.fields(TopicEvent)} for e in self.events],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopicRegistry:
        try:
            topics = tuple(
                Topic(
                    **{
                        **t,
                        "keywords": tuple(t["keywords"]),
                        "centroid": tuple(float(v) for v in t["centroid"]),
                        "examples": tuple(t.get("examples", ())),
                        "created": dt.date.fromisoformat(t["created"]),
                        "last_seen": dt.date.fromisoformat(t["last_seen"]),
                    }
                )
                for t in data.get("topics", [])
            )
            events = tuple(TopicEvent(**{**e, "date": dt.date.fromisoformat(e["date"])}) for e in data.get("events", []))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"topic registry data is malformed ({exc}); was it written by TopicRegistry.to_dict?") from exc
        return cls(topics, int(data.get("next_number", 1)), events, str(data.get("embedder", "")))


@dataclass(frozen=True, slots=True)
class TopicRunResult:
    assignments: list[TopicAssignment]
    new_topics: list[Topic]
    registry: TopicRegistry
    unassigned: list[str]  # interaction ids left as noise
    examples_today: dict[str, tuple[str, ...]]  # per topic: today's texts nearest its centroid
    counts_today: dict[str, int]
    stats: dict[str, Any] = field(default_factory=dict)


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    n[n == 0] = 1.0
    return x / n


def _doc_vectors(
    docs: Sequence[TopicDoc], embedder: Embedder | None, cache: EmbeddingCache | None
) -> np.ndarray:
    missing = [i for i, d in enumerate(docs) if d.vector is None]
    if missing and embedder is None:
        raise ValueError(
            f"{len(missing)} TopicDoc(s) have no vector (first: {docs[missing[0]].interaction_id}); "
            "pass an embedder or precomputed vectors"
        )
    dims = {len(d.vector) for d in docs if d.vector is not None}
    if len(dims) > 1:
        raise ValueError(f"TopicDoc vectors have different lengths: {sorted(dims)}")
    embedded = embed_with_cache(embedder, [docs[i].text for i in missing], cache) if missing else None
    dim = dims.pop() if dims else embedded.shape[1]
    if embedded is not None and embedded.shape[1] != dim:
        raise ValueError(f"precomputed vectors have {dim} dims but {embedder.name} makes {embedded.shape[1]}")
    out = np.zeros((len(docs), dim), dtype=np.float32)
    if embedded is not None:
        out[missing] = embedded
    for i, d in enumerate(docs):
        if d.vector is not None:
            out[i] = np.asarray(d.vector, dtype=np.float32)
    return _unit(out)


def update_topics(
    registry: TopicRegistry,
    docs: Sequence[TopicDoc],
    settings: TopicSettings,
    run_date: dt.date,
    seed: int = 42,
    embedder: Embedder | None = None,
    cache: EmbeddingCache | None = None,
    merge_threshold: float | None = None,
) -> TopicRunResult:
    """Place one night's complaint docs into the registry and return the new registry.

    1. each doc joins the most similar active topic when cosine(doc, centroid) >= ``assign_threshold``;
    2. the rest is clustered with PCA + HDBSCAN; a cluster whose centroid is >= ``merge_threshold`` to a
       known topic joins it, every other cluster becomes a new topic with the next never-used ID;
    3. centroids move as running means; active topics that grew into each other merge (history kept).

    Docs without ``vector`` are embedded with ``embedder`` (through ``cache`` if given). Deterministic for
    the same registry, docs (in any order), settings and seed.
    """
    merge_at = settings.assign_threshold + DEFAULT_MERGE_MARGIN if merge_threshold is None else merge_threshold
    docs = sorted(docs, key=lambda d: (d.date, d.interaction_id))
    vectors = _doc_vectors(docs, embedder, cache) if docs else np.zeros((0, 0), dtype=np.float32)
    emb_name = embedder.name if embedder is not None else registry.embedder
    if registry.embedder and emb_name and registry.embedder != emb_name and registry.topics:
        raise ValueError(
            f"the registry's centroids come from {registry.embedder}, not {emb_name}: keep topics.embedder "
            "fixed, or start a new registry when changing it"
        )

    topics = {t.id: t for t in registry.topics}
    active = [t for t in registry.topics if t.status == ACTIVE]
    n = len(docs)
    owner: list[str | None] = [None] * n
    sims = np.zeros(n, dtype=np.float32)

    # 1. assignment to known topics
    if active and n:
        cents = np.stack([t.unit_centroid() for t in active])
        sim = vectors @ cents.T
        best = np.argmax(sim, axis=1)
        for i in range(n):
            if sim[i, best[i]] >= settings.assign_threshold:
                owner[i] = active[best[i]].id
                sims[i] = sim[i, best[i]]
    n_assigned_known = sum(o is not None for o in owner)

    # 2. cluster the residue
    residue = [i for i in range(n) if owner[i] is None]
    clusters = cluster_vectors(vectors[residue], settings, seed) if residue else None
    if clusters is not None and clusters.n_clusters == 0 and len(residue) >= settings.min_cluster_size:
        # HDBSCAN never returns its root as a cluster, so a night whose residue is one new theme would find
        # nothing. Retry allowing one cluster, and keep it only if it is cohesive enough that its own
        # members would join it tomorrow (median similarity to its centroid >= assign_threshold).
        single = cluster_vectors(vectors[residue], settings, seed, allow_single_cluster=True)
        if single.n_clusters == 1:
            members = vectors[residue][single.labels == 0]
            cohesion = float(np.median(members @ _unit(centroid_of(members)[None, :])[0]))
            if cohesion >= settings.assign_threshold:
                clusters = single
            log.debug("single-cluster fallback: cohesion %.3f (%s)", cohesion,
                      "kept" if clusters is single else "dropped")
    from voc.topics.tokens import tokenize_many

    tokens = tokenize_many([d.text for d in docs])
    events: list[TopicEvent] = list(registry.events)
    next_number = registry.next_number
    new_ids: list[str] = []
    absorbed = 0
    if clusters is not None and clusters.n_clusters:
        by_cluster = group_indices(list(clusters.labels))
        # Largest first, ties by first doc: IDs do not depend on HDBSCAN's label numbering.
        order = sorted(
            (c for c in by_cluster if c != NOISE),
            key=lambda c: (-len(by_cluster[c]), docs[residue[by_cluster[c][0]]].interaction_id),
        )
        # Labels over every doc of the night: known topics and noise serve as background for c-TF-IDF.
        groups: list[Any] = [o if o is not None else NOISE for o in owner]
        for c in order:
            for j in by_cluster[c]:
                groups[residue[j]] = ("new", c)
        keywords = label_clusters(tokens, groups, top_n=8)
        for c in order:
            members = [residue[j] for j in by_cluster[c]]
            cent = centroid_of(vectors[members])
            ucent = cent / (np.linalg.norm(cent) or 1.0)
            live = [t for t in topics.values() if t.status == ACTIVE]
            best_t, best_s = None, -1.0
            for t in live:
                s = float(t.unit_centroid() @ ucent)
                if s > best_s:
                    best_t, best_s = t, s
            if best_t is not None and best_s >= merge_at:
                absorbed += 1
                events.append(TopicEvent(run_date, "absorbed", best_t.id, None, len(members), round(best_s, 4),
                                         best_t.version))
                for i in members:
                    owner[i] = best_t.id
                    sims[i] = float(vectors[i] @ best_t.unit_centroid())
                continue
            tid = f"T{next_number:04d}"
            next_number += 1
            kws = tuple(keywords.get(("new", c), []))
            topics[tid] = Topic(
                id=tid, label=topic_label(kws), keywords=kws, centroid=(0.0,) * vectors.shape[1], size=0,
                created=run_date, last_seen=run_date, examples=(), embedder=emb_name, version=0,
            )
            new_ids.append(tid)
            events.append(TopicEvent(run_date, "created", tid, None, len(members), None, 1))
            for i in members:
                owner[i] = tid
                sims[i] = float(vectors[i] @ ucent)

    # 3. running-mean centroids, sizes, examples
    members_of = group_indices(owner)
    examples_today: dict[str, tuple[str, ...]] = {}
    for tid, idx in members_of.items():
        if tid is None:
            continue
        t = topics[tid]
        old = np.asarray(t.centroid, dtype=np.float64)
        total = t.size + len(idx)
        cent = (old * t.size + vectors[idx].astype(np.float64).sum(axis=0)) / total
        ex = tuple(representative_texts([docs[i].text for i in idx], vectors[idx], cent, settings.examples))
        examples_today[tid] = ex
        topics[tid] = dataclasses.replace(
            t, centroid=tuple(float(v) for v in cent), size=total, last_seen=run_date, version=t.version + 1,
            examples=ex if tid in new_ids or not t.examples else t.examples,
        )
        if tid not in new_ids:
            events.append(TopicEvent(run_date, "updated", tid, None, len(idx), None, t.version + 1))
    # Known topics that drifted into each other merge: the smaller goes into the larger (older on ties).
    merged = 0
    changed = True
    while changed:
        changed = False
        live = sorted((t for t in topics.values() if t.status == ACTIVE), key=lambda t: (-t.size, t.id))
        for a_i, a in enumerate(live):
            for b in live[a_i + 1 :]:
                s = float(a.unit_centroid() @ b.unit_centroid())
                if s >= merge_at:
                    cent = (np.asarray(a.centroid) * a.size + np.asarray(b.centroid) * b.size) / (a.size + b.size)
                    topics[a.id] = dataclasses.replace(
                        a, centroid=tuple(float(v) for v in cent), size=a.size + b.size, version=a.version + 1,
                        last_seen=max(a.last_seen, b.last_seen),
                    )
                    topics[b.id] = dataclasses.replace(b, status=MERGED, merged_into=a.id, version=b.version + 1)
                    events.append(TopicEvent(run_date, "merged", b.id, a.id, b.size, round(s, 4), b.version + 1))
                    merged += 1
                    changed = True
                    break
            if changed:
                break
    # Docs of a topic merged tonight belong to its survivor.
    final = TopicRegistry(tuple(sorted(topics.values(), key=lambda t: t.id)), next_number, tuple(events),
                          registry.embedder or emb_name)
    assignments: list[TopicAssignment] = []
    unassigned: list[str] = []
    counts: dict[str, int] = {}
    for i, d in enumerate(docs):
        if owner[i] is None:
            unassigned.append(d.interaction_id)
            continue
        tid = final.resolve(owner[i])
        assignments.append(TopicAssignment(d.interaction_id, tid, round(float(sims[i]), 4)))
        counts[tid] = counts.get(tid, 0) + 1
    for tid in list(examples_today):
        survivor = final.resolve(tid)
        if survivor != tid:
            examples_today.setdefault(survivor, examples_today.pop(tid))
    stats = {
        "docs": n,
        "assigned_known": n_assigned_known,
        "residue": len(residue),
        "clusters": clusters.n_clusters if clusters else 0,
        "new_topics": len(new_ids),
        "absorbed_clusters": absorbed,
        "merged_topics": merged,
        "unassigned": len(unassigned),
        "noise_share_residue": round(clusters.noise_share, 4) if clusters else 0.0,
        "options": {
            "embedder": emb_name,
            "assign_threshold": settings.assign_threshold,
            "merge_threshold": merge_at,
            "reduce_dim": settings.reduce_dim,
            "min_cluster_size": settings.min_cluster_size,
            "min_samples": settings.min_samples,
            "seed": seed,
        },
    }
    log.info("topics %s: %d docs, %d to known topics, %d new topics, %d unassigned",
             run_date, n, n_assigned_known, len(new_ids), len(unassigned))
    return TopicRunResult(assignments, [final.get(t) for t in new_ids], final, unassigned, examples_today,
                          counts, stats)

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
from voc.semantic.embedders import Embedder, EmbeddingCache
from voc.topics.clustering import (
    NOISE,
    centroid_of,
    cluster_vectors,
    group_indices,
    label_clusters,
    representative_texts,
    topic_label,
)
from voc.topics.space import (
    CALIBRATION_NIGHTS,
    _doc_vectors,
    _loo_similarity,
    _null_threshold,
    _Space,
)
from voc.topics.splitting import radius_for, split_modes

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
    # Own join threshold in the registry's centred space (a percentile of the founding members' leave-one-out
    # similarity, see TopicSettings.topic_percentile); None: only the registry's threshold applies.
    threshold: float | None = None

    def unit_centroid(self) -> np.ndarray:
        c = np.asarray(self.centroid, dtype=np.float32)
        return c / (np.linalg.norm(c) or 1.0)


@dataclass(frozen=True, slots=True)
class TopicEvent:
    """History entry: created, updated, absorbed (a new cluster joined a known topic), merged, split (a mode of
    the topic's members left for the new topic ``other_id``; ``similarity``: that mode's centroid to the topic's)."""

    date: dt.date
    kind: str
    topic_id: str
    other_id: str | None = None  # merged: the topic it went into; split: the new topic; absorbed: none
    size: int = 0  # documents involved
    similarity: float | None = None
    version: int = 1


@dataclass(frozen=True, slots=True)
class TopicRegistry:
    topics: tuple[Topic, ...] = ()
    next_number: int = 1  # IDs are never reused: T0001, T0002, ...
    events: tuple[TopicEvent, ...] = ()
    embedder: str = ""  # centroids only compare within one embedding space
    # Centred similarity space (see TopicSettings.centre): the running mean of every document vector this
    # registry has seen and how many; centroids stay raw means, so cosines are taken after subtracting it.
    mean: tuple[float, ...] | None = None
    mean_count: int = 0
    # Calibration of the centred space, one value a night (the last CALIBRATION_NIGHTS): the percentile
    # TopicSettings.assign_percentile of documents' similarity to the centroid of a random group of
    # min_cluster_size other documents, i.e. what a topic made of unrelated documents would score. The join
    # threshold is their median. Empty: not calibrated, documents join by raw cosine >= assign_threshold.
    calibration: tuple[float, ...] = ()
    # Top principal directions of the centred vectors, projected out before cosines ("all-but-the-top";
    # TopicSettings.remove_components), fixed on the first night the mean exists.
    components: tuple[tuple[float, ...], ...] = ()

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
            "mean": list(self.mean) if self.mean is not None else None,
            "mean_count": self.mean_count,
            "calibration": list(self.calibration),
            "components": [list(c) for c in self.components],
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
        mean = data.get("mean")  # absent in registries written before the centred space existed
        return cls(topics, int(data.get("next_number", 1)), events, str(data.get("embedder", "")),
                   tuple(float(v) for v in mean) if mean else None, int(data.get("mean_count", 0) or 0),
                   tuple(float(v) for v in data.get("calibration") or ()),
                   tuple(tuple(float(v) for v in c) for c in data.get("components") or ()))


@dataclass(frozen=True, slots=True)
class TopicRunResult:
    assignments: list[TopicAssignment]
    new_topics: list[Topic]
    registry: TopicRegistry
    unassigned: list[str]  # interaction ids left as noise
    examples_today: dict[str, tuple[str, ...]]  # per topic: today's texts nearest its centroid
    counts_today: dict[str, int]
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Night:
    """One night's working state while :func:`update_topics` runs its phases (never escapes the function)."""

    docs: list[TopicDoc]
    vectors: np.ndarray
    settings: TopicSettings
    run_date: dt.date
    seed: int
    emb_name: str
    space: _Space
    threshold: float | None
    merge_threshold: float | None
    topics: dict[str, Topic]
    events: list[TopicEvent]
    next_number: int
    owner: list[str | None] = field(default_factory=list)
    sims: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    new_ids: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # stats: absorbed / rejected / merged

    def join_threshold(self, t: Topic) -> float:
        if not self.space.centred:
            return self.settings.assign_threshold
        return max(self.threshold, t.threshold) if t.threshold is not None else self.threshold

    def merge_at(self) -> float:
        if self.merge_threshold is not None:
            return self.merge_threshold
        if self.space.centred:
            return self.threshold + (1.0 - self.threshold) / 2
        return self.settings.assign_threshold + DEFAULT_MERGE_MARGIN

    def live(self) -> list[Topic]:
        return [t for t in self.topics.values() if t.status == ACTIVE]


def _similarity_space(registry: TopicRegistry, docs: Sequence[TopicDoc], vectors: np.ndarray, settings: TopicSettings,
                      run_date: dt.date, seed: int) -> tuple[Any, int, list[float], Any, float | None, _Space]:
    """Phase 0: the running mean over every night's own documents (a registry written before the centred space
    existed starts from its topics' size-weighted centroids), the removed components, tonight's calibration and
    the join threshold. Returns (mean, mean_count, calibration pool, components, threshold, space)."""
    mean = np.asarray(registry.mean, dtype=np.float64) if registry.mean is not None else None
    mean_count = registry.mean_count
    if settings.centre and mean is None and registry.topics:
        sized = [t for t in registry.topics if t.status == ACTIVE and t.size > 0]
        if sized:
            weights = np.asarray([t.size for t in sized], dtype=np.float64)
            mean = (np.stack([np.asarray(t.centroid, dtype=np.float64) for t in sized]) * weights[:, None]).sum(0)
            mean_count = int(weights.sum())
            mean /= mean_count
    # Only the night's own documents move the mean and calibrate: pooled documents of earlier nights were
    # counted on their night, and a rerun of the night (whose pool may differ) must see the same space.
    own_rows = [i for i, d in enumerate(docs) if d.date == run_date] or list(range(len(docs)))
    if settings.centre and own_rows:
        total = vectors[own_rows].astype(np.float64).sum(axis=0)
        mean = (total / len(own_rows) if mean is None
                else (mean * mean_count + total) / (mean_count + len(own_rows)))
        mean_count += len(own_rows)
    pool = list(registry.calibration) if settings.centre else []
    components = np.asarray(registry.components, dtype=np.float64) if registry.components else None
    if settings.centre and mean is not None and components is None and settings.remove_components \
            and len(own_rows) > 2 * settings.remove_components:
        _u, _s, vt = np.linalg.svd(vectors[own_rows].astype(np.float64) - mean, full_matrices=False)
        components = vt[: settings.remove_components]
    if settings.centre and mean is not None:
        null = _null_threshold(vectors[own_rows], _Space(mean, components), settings.min_cluster_size,
                               settings.assign_percentile, seed)
        if null is not None:
            pool = [*pool, round(null, 4)][-CALIBRATION_NIGHTS:]
    threshold = float(np.median(pool)) if pool else None
    return mean, mean_count, pool, components, threshold, _Space(mean, components) if threshold is not None else _Space()


def _assign_known(night: _Night) -> int:
    """Phase 1: each doc joins the most similar active topic that it clears the join threshold of."""
    active = night.live()
    n = len(night.docs)
    if active and n:
        cents = night.space(np.stack([np.asarray(t.centroid, dtype=np.float64) for t in active]))
        sim = night.space(night.vectors) @ cents.T
        best = np.argmax(sim, axis=1)
        limits = np.asarray([night.join_threshold(t) for t in active])
        for i in range(n):
            if sim[i, best[i]] >= limits[best[i]]:
                night.owner[i] = active[best[i]].id
                night.sims[i] = sim[i, best[i]]
    return sum(o is not None for o in night.owner)


def _cluster_residue(night: _Night, residue: list[int]) -> Any:
    """Phase 2a: HDBSCAN over the docs no known topic took (None when there are none)."""
    settings, space = night.settings, night.space
    if not residue:
        return None
    vectors = night.vectors[residue]
    clusters = cluster_vectors(vectors, settings, night.seed)
    if clusters.n_clusters == 0 and len(residue) >= settings.min_cluster_size:
        # HDBSCAN never returns its root as a cluster, so a night whose residue is one new theme would find
        # nothing. Retry allowing one cluster, and keep it only if it is cohesive enough that its own
        # members would join it tomorrow (median similarity to its centroid >= the join threshold).
        single = cluster_vectors(vectors, settings, night.seed, allow_single_cluster=True)
        if single.n_clusters == 1:
            members = vectors[single.labels == 0]
            if space.centred:  # leave-one-out, like the calibration
                cohesion = float(np.median(_loo_similarity(members, space)))
            else:
                cohesion = float(np.median(space(members) @ space(centroid_of(members))[0]))
            if cohesion >= (night.threshold if space.centred else settings.assign_threshold):
                clusters = single
            log.debug("single-cluster fallback: cohesion %.3f (%s)", cohesion,
                      "kept" if clusters is single else "dropped")
    return clusters


def _closest_live(night: _Night, ucent: np.ndarray) -> tuple[Topic | None, float]:
    best_t, best_s = None, -1.0
    for t in night.live():
        s = float(night.space(np.asarray(t.centroid))[0] @ ucent)
        if s > best_s:
            best_t, best_s = t, s
    return best_t, best_s


def _found_topics(night: _Night, clusters: Any, residue: list[int]) -> None:
    """Phase 2b: each new cluster (largest first) joins a known topic it is as close to as a merge, is rejected
    when it is no tighter than a random group (centred space), or becomes a topic with the next never-used ID."""
    from voc.semantic.tokens import tokenize_many

    if clusters is None or not clusters.n_clusters:
        return
    docs, vectors, space = night.docs, night.vectors, night.space
    by_cluster = group_indices(list(clusters.labels))
    # Largest first, ties by first doc: IDs do not depend on HDBSCAN's label numbering.
    order = sorted((c for c in by_cluster if c != NOISE),
                   key=lambda c: (-len(by_cluster[c]), docs[residue[by_cluster[c][0]]].interaction_id))
    # Labels over every doc of the night: known topics and noise serve as background for c-TF-IDF.
    groups: list[Any] = [o if o is not None else NOISE for o in night.owner]
    for c in order:
        for j in by_cluster[c]:
            groups[residue[j]] = ("new", c)
    keywords = label_clusters(tokenize_many([d.text for d in docs]), groups, top_n=8)
    for c in order:
        members = [residue[j] for j in by_cluster[c]]
        ucent = space(centroid_of(vectors[members]))[0]
        best_t, best_s = _closest_live(night, ucent)
        if best_t is not None and best_s >= night.merge_at():
            night.counts["absorbed"] += 1
            night.events.append(TopicEvent(night.run_date, "absorbed", best_t.id, None, len(members),
                                           round(best_s, 4), best_t.version))
            ubest = space(np.asarray(best_t.centroid))[0]
            for i in members:
                night.owner[i] = best_t.id
                night.sims[i] = float(space(vectors[i])[0] @ ubest)
            continue
        _new_topic(night, members, tuple(keywords.get(("new", c), [])), space(vectors[members]) @ ucent)


def _new_topic(night: _Night, members: list[int], kws: tuple[str, ...], member_sim: np.ndarray) -> None:
    tid = f"T{night.next_number:04d}"
    night.next_number += 1
    own = None
    if night.space.centred:
        # A cluster whose members are no closer to each other than to a random group is not a
        # topic (HDBSCAN on a small night often glues themes together): its docs stay unassigned.
        loo_sim = _loo_similarity(night.vectors[members], night.space)
        if float(np.median(loo_sim)) < night.threshold:
            night.counts["rejected"] += 1
            return
        own = radius_for(night, members)
    night.topics[tid] = Topic(
        id=tid, label=topic_label(kws), keywords=kws, centroid=(0.0,) * night.vectors.shape[1], size=0,
        created=night.run_date, last_seen=night.run_date, examples=(), embedder=night.emb_name, version=0,
        threshold=own,
    )
    night.new_ids.append(tid)
    night.events.append(TopicEvent(night.run_date, "created", tid, None, len(members), None, 1))
    for k, i in enumerate(members):
        night.owner[i] = tid
        night.sims[i] = float(member_sim[k])


def _update_centroids(night: _Night) -> dict[str, tuple[str, ...]]:
    """Phase 3a: running-mean centroids, sizes and examples of every topic that got docs; tonight's examples."""
    examples_today: dict[str, tuple[str, ...]] = {}
    for tid, idx in group_indices(night.owner).items():
        if tid is None:
            continue
        t = night.topics[tid]
        old = np.asarray(t.centroid, dtype=np.float64)
        total_n = t.size + len(idx)
        cent = (old * t.size + night.vectors[idx].astype(np.float64).sum(axis=0)) / total_n
        ex = tuple(representative_texts([night.docs[i].text for i in idx], night.space(night.vectors[idx]),
                                        night.space(cent)[0], night.settings.examples))
        examples_today[tid] = ex
        night.topics[tid] = dataclasses.replace(
            t, centroid=tuple(float(v) for v in cent), size=total_n, last_seen=night.run_date, version=t.version + 1,
            examples=ex if tid in night.new_ids or not t.examples else t.examples,
        )
        if tid not in night.new_ids:
            night.events.append(TopicEvent(night.run_date, "updated", tid, None, len(idx), None, t.version + 1))
    return examples_today


def _merge_pass(night: _Night) -> bool:
    """One merge of two active topics that drifted into each other (the smaller into the larger, older on ties)."""
    live = sorted(night.live(), key=lambda t: (-t.size, t.id))
    if len(live) < 2:
        return False
    units = night.space(np.stack([np.asarray(t.centroid, dtype=np.float64) for t in live]))
    pair = units @ units.T
    for a_i, a in enumerate(live):
        for b_i in range(a_i + 1, len(live)):
            b = live[b_i]
            s = float(pair[a_i, b_i])
            if s < night.merge_at():
                continue
            cent = (np.asarray(a.centroid) * a.size + np.asarray(b.centroid) * b.size) / (a.size + b.size)
            night.topics[a.id] = dataclasses.replace(
                a, centroid=tuple(float(v) for v in cent), size=a.size + b.size, version=a.version + 1,
                last_seen=max(a.last_seen, b.last_seen),
            )
            night.topics[b.id] = dataclasses.replace(b, status=MERGED, merged_into=a.id, version=b.version + 1)
            night.events.append(TopicEvent(night.run_date, "merged", b.id, a.id, b.size, round(s, 4), b.version + 1))
            night.counts["merged"] += 1
            return True
    return False


def _stats(night: _Night, n_assigned_known: int, residue: list[int], clusters: Any, unassigned: int) -> dict[str, Any]:
    settings, space = night.settings, night.space
    return {
        "docs": len(night.docs),
        "assigned_known": n_assigned_known,
        "residue": len(residue),
        "clusters": clusters.n_clusters if clusters else 0,
        "new_topics": len(night.new_ids),
        "absorbed_clusters": night.counts["absorbed"],
        "rejected_clusters": night.counts["rejected"],
        "merged_topics": night.counts["merged"],
        "split_topics": night.counts.get("split", 0),
        "unassigned": unassigned,
        "noise_share_residue": round(clusters.noise_share, 4) if clusters else 0.0,
        "options": {
            "embedder": night.emb_name,
            "space": "centred" if space.centred else "raw",
            "assign_threshold": round(float(night.threshold), 4) if space.centred else settings.assign_threshold,
            "merge_threshold": round(float(night.merge_at()), 4),
            "reduce_dim": settings.reduce_dim,
            "min_cluster_size": settings.min_cluster_size,
            "min_samples": settings.min_samples,
            "seed": night.seed,
        },
    }


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

    1. each doc joins the most similar active topic when cosine(doc, centroid) reaches the join threshold;
    2. the rest is clustered with PCA + HDBSCAN; a cluster whose centroid is close enough to a known topic
       joins it, every other cluster becomes a new topic with the next never-used ID;
    3. centroids move as running means; active topics that grew into each other merge (history kept).

    Similarity space (``settings.centre``, on by default): the registry keeps the running mean of every
    night's own document vectors, and cosines are taken after subtracting it (raw e5 cosines of any two
    texts sit at 0.92-0.96, so the mean of mixed documents would otherwise be "similar" to everything). The
    join threshold is calibrated, not configured: each night adds the ``settings.assign_percentile``
    percentile of its documents' cosine to the centroid of ``min_cluster_size`` random other documents (what
    a topic of unrelated complaints scores), and the median of the last ``CALIBRATION_NIGHTS`` values
    (tonight's included) applies. A new cluster whose median leave-one-out cosine is below it is not a
    topic (its docs stay unassigned, for ``pool_days`` to retry). Optional: a per-topic bar
    (``settings.topic_percentile``) and all-but-the-top (``settings.remove_components``). Until a night has
    ``min_cluster_size + 5`` own documents to calibrate on, and with ``centre`` off, raw cosine >= ``settings.assign_threshold`` decides, as before; a
    registry written before the centred space existed seeds its mean from its topics' centroids.
    Merging needs ``merge_threshold`` (or ``settings.merge_threshold``) if given, else the join threshold
    plus ``DEFAULT_MERGE_MARGIN`` (raw) or halfway from the join threshold to 1 (centred).

    Docs without ``vector`` are embedded with ``embedder`` (through ``cache`` if given). Deterministic for
    the same registry, docs (in any order), settings and seed.
    """
    docs = sorted(docs, key=lambda d: (d.date, d.interaction_id))
    vectors = _doc_vectors(docs, embedder, cache) if docs else np.zeros((0, 0), dtype=np.float32)
    emb_name = embedder.name if embedder is not None else registry.embedder
    if registry.embedder and emb_name and registry.embedder != emb_name and registry.topics:
        raise ValueError(
            f"the registry's centroids come from {registry.embedder}, not {emb_name}: keep topics.embedder "
            "fixed, or start a new registry when changing it"
        )
    mean, mean_count, pool, components, threshold, space = _similarity_space(registry, docs, vectors, settings,
                                                                             run_date, seed)
    night = _Night(docs, vectors, settings, run_date, seed, emb_name, space, threshold,
                   settings.merge_threshold if merge_threshold is None else merge_threshold,
                   {t.id: t for t in registry.topics}, list(registry.events), registry.next_number,
                   [None] * len(docs), np.zeros(len(docs), dtype=np.float32),
                   counts={"absorbed": 0, "rejected": 0, "merged": 0})
    n_assigned_known = _assign_known(night)
    residue = [i for i in range(len(docs)) if night.owner[i] is None]
    clusters = _cluster_residue(night, residue)
    _found_topics(night, clusters, residue)
    split_modes(night)
    examples_today = _update_centroids(night)
    while _merge_pass(night):
        pass
    final = TopicRegistry(
        tuple(sorted(night.topics.values(), key=lambda t: t.id)), night.next_number, tuple(night.events),
        registry.embedder or emb_name, tuple(float(v) for v in mean) if mean is not None else None, mean_count,
        tuple(pool), tuple(tuple(float(v) for v in c) for c in components) if components is not None else (),
    )
    # Docs of a topic merged tonight belong to its survivor.
    assignments: list[TopicAssignment] = []
    unassigned: list[str] = []
    counts: dict[str, int] = {}
    for i, d in enumerate(docs):
        if night.owner[i] is None:
            unassigned.append(d.interaction_id)
            continue
        tid = final.resolve(night.owner[i])
        assignments.append(TopicAssignment(d.interaction_id, tid, round(float(night.sims[i]), 4)))
        counts[tid] = counts.get(tid, 0) + 1
    for tid in list(examples_today):
        survivor = final.resolve(tid)
        if survivor != tid:
            examples_today.setdefault(survivor, examples_today.pop(tid))
    log.info("topics %s: %d docs, %d to known topics, %d new topics, %d unassigned",
             run_date, len(docs), n_assigned_known, len(night.new_ids), len(unassigned))
    return TopicRunResult(assignments, [final.get(t) for t in night.new_ids], final, unassigned, examples_today,
                          counts, _stats(night, n_assigned_known, residue, clusters, len(unassigned)))

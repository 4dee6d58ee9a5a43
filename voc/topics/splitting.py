"""Nightly purity phase of :func:`voc.topics.update_topics`: a topic whose members of the night form two modes
gives the mode that is not its own to a new topic (``split`` event), so a new problem that shares words with an
old topic is not absorbed into it."""

from __future__ import annotations

from typing import Any

import numpy as np

from voc.topics.clustering import group_indices, label_clusters, topic_label
from voc.topics.purity import find_split, own_radius


def radius_for(night: Any, members: list[int]) -> float | None:
    """Own join threshold of a topic founded on ``members`` (indices into the night's vectors), or None when the
    space is not centred or ``topic_percentile`` is off; bounded below by the registry's threshold and above
    halfway to the merge threshold."""
    from voc.topics.space import _loo_similarity

    settings = night.settings
    if not night.space.centred or settings.topic_percentile is None:
        return None
    loo = _loo_similarity(night.vectors[members], night.space)
    ceiling = night.threshold + (night.merge_at() - night.threshold) / 2
    return own_radius(loo, settings.topic_percentile, night.threshold, ceiling)


def split_modes(night: Any) -> int:
    """Phase 2c: check every topic that got documents tonight for two modes; split them off. Returns the count.

    Runs only in the centred space (the thresholds it compares with are calibrated there) and when
    ``settings.split_min_size`` is set. Only topics known before tonight are checked (against their centroid
    before tonight); a topic founded tonight was just judged by HDBSCAN and the cohesion test."""
    from voc.semantic.tokens import tokenize_many
    from voc.topics.registry import Topic, TopicEvent

    settings, space = night.settings, night.space
    if not space.centred or not settings.split_min_size or not len(night.docs):
        return 0
    splits: list[tuple[str, list[int], Any]] = []
    for tid, idx in sorted(((k, v) for k, v in group_indices(night.owner).items() if k is not None)):
        t = night.topics[tid]
        if t.size == 0:  # founded tonight: HDBSCAN and the cohesion test just judged these members
            continue
        parent = space(np.asarray(t.centroid, dtype=np.float64))[0]
        found = find_split(space(night.vectors[idx]), parent, min_size=settings.split_min_size,
                           cohesion_floor=night.threshold, separate_below=night.merge_at(),
                           min_gain=settings.split_min_gain, seed=night.seed)
        if found is not None:
            splits.append((tid, [idx[k] for k in found.part], found))
    if not splits:
        return 0
    groups: list[Any] = [o if o is not None else -1 for o in night.owner]
    for tid, members, _f in splits:
        for i in members:
            groups[i] = ("split", tid)
    keywords = label_clusters(tokenize_many([d.text for d in night.docs]), groups, top_n=8)
    for tid, members, found in splits:
        child = f"T{night.next_number:04d}"
        night.next_number += 1
        kws = tuple(keywords.get(("split", tid), []))
        night.topics[child] = Topic(
            id=child, label=topic_label(kws), keywords=kws, centroid=(0.0,) * night.vectors.shape[1], size=0,
            created=night.run_date, last_seen=night.run_date, examples=(), embedder=night.emb_name, version=0,
            threshold=radius_for(night, members))
        night.new_ids.append(child)
        night.events.append(TopicEvent(night.run_date, "created", child, None, len(members), None, 1))
        night.events.append(TopicEvent(night.run_date, "split", tid, child, len(members), found.to_parent,
                                       night.topics[tid].version))
        cent = space(night.vectors[members].astype(np.float64).mean(axis=0))[0]
        for i in members:
            night.owner[i] = child
            night.sims[i] = float(space(night.vectors[i])[0] @ cent)
    night.counts["split"] = night.counts.get("split", 0) + len(splits)
    return len(splits)

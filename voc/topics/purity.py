"""Purity checks for topics: each topic's own radius, and the split of a topic whose members form two modes.

Pure functions over vectors already in the registry's similarity space (unit rows, centred when the registry is);
:mod:`voc.topics.registry` decides when to call them and records the ``split`` events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voc.topics.space import _unit  # one row normaliser for the topic space

# Spherical 2-means: restarts from different seeds; the lowest within-mode spread wins.
KMEANS_RESTARTS = 4
KMEANS_ITERATIONS = 25


def own_radius(loo_similarity: np.ndarray, percentile: float, floor: float, ceiling: float) -> float:
    """A topic's own join threshold: the ``percentile`` of its members' leave-one-out similarity to the centroid
    (a low percentile of similarity = a high percentile of distance), kept within ``[floor, ceiling]``.

    ``floor`` is the registry's calibrated threshold (no topic accepts what a random group would); ``ceiling``
    keeps a very tight founding night from closing the topic to its own later members."""
    if not len(loo_similarity):
        return floor
    value = float(np.percentile(loo_similarity, percentile))
    return round(min(max(value, floor), max(ceiling, floor)), 4)


def two_means(units: np.ndarray, seed: int) -> np.ndarray:
    """Labels 0/1 of a spherical 2-means over unit rows (deterministic for a seed; farthest-point start)."""
    n = len(units)
    if n < 4:
        return np.zeros(n, dtype=int)
    rng = np.random.default_rng(seed)
    best, best_cost = np.zeros(n, dtype=int), np.inf
    for _ in range(KMEANS_RESTARTS):
        first = int(rng.integers(n))
        second = int(np.argmin(units @ units[first]))  # the member least like the first
        cents = units[[first, second]].copy()
        labels = np.zeros(n, dtype=int)
        for _it in range(KMEANS_ITERATIONS):
            new = np.argmax(units @ cents.T, axis=1)
            if _it and np.array_equal(new, labels):
                break
            labels = new
            for k in (0, 1):
                if np.any(labels == k):
                    cents[k] = _unit(units[labels == k].sum(axis=0))
        cost = float(np.sum(1.0 - np.sum(units * cents[labels], axis=1)))
        if cost < best_cost - 1e-9:
            best, best_cost = labels.copy(), cost
    return best


def _loo(units: np.ndarray) -> np.ndarray:
    """Each row's cosine to the (unit) mean of the other rows."""
    if len(units) < 2:
        return np.ones(len(units))
    others = _unit(units.sum(axis=0, keepdims=True) - units)
    return np.sum(units * others, axis=1)


@dataclass(frozen=True, slots=True)
class Split:
    """A topic's members that form their own mode: ``part`` indexes the rows given to :func:`find_split`."""

    part: np.ndarray  # indices (into the rows given) of the mode that leaves
    stay: np.ndarray  # indices of the rows that stay
    separation: float  # cosine between the two modes' centroids
    to_parent: float  # cosine between the leaving mode's centroid and the topic's centroid before tonight
    cohesion: float  # median leave-one-out cosine inside the leaving mode
    gain: float  # median over the leaving rows of cos(row, own mode) - cos(row, parent centroid)


def find_split(units: np.ndarray, parent: np.ndarray | None, *, min_size: int, cohesion_floor: float,
               separate_below: float, min_gain: float, seed: int) -> Split | None:
    """Two modes among a topic's members, or None when they are one population.

    ``units``: the members (unit rows, the registry's space); ``parent``: the topic's unit centroid before tonight
    (None for a topic founded tonight). The rows split when 2-means finds a part of at least ``min_size`` rows that

    - is a topic on its own (median leave-one-out cosine >= ``cohesion_floor``, the registry's join threshold);
    - is apart from the rest: the two modes' centroids are below ``separate_below`` (what two topics merge at)
      and, for a known topic, so is the part's centroid against the topic's centroid before tonight;
    - is better described by its own centroid than by the parent's (median gain >= ``min_gain``): a homogeneous
      topic cut in two by 2-means leaves halves that the parent centroid still describes almost as well.

    The leaving part is the one farther from the parent centroid (a known topic keeps its established mode), or
    the smaller one for a topic founded tonight."""
    n = len(units)
    if parent is not None and n >= max(min_size, 4):  # LOO cohesion means little on fewer
        whole = _whole_night_leaves(units, parent, min_size=min_size, cohesion_floor=cohesion_floor,
                                    separate_below=separate_below, min_gain=min_gain)
        if whole is not None:
            return whole
    if n < 2 * min_size if parent is None else n < min_size + 2:
        return None
    labels = two_means(units, seed)
    sizes = np.bincount(labels, minlength=2)
    if sizes.min() == 0:
        return None
    cents = _unit(np.stack([units[labels == k].sum(axis=0) for k in (0, 1)]))
    if parent is not None:
        leave = int(np.argmin(cents @ parent))
    else:
        leave = int(np.argmin(sizes)) if sizes[0] != sizes[1] else 1
    part, stay = np.flatnonzero(labels == leave), np.flatnonzero(labels != leave)
    if len(part) < min_size or (parent is None and len(stay) < min_size) or not len(stay):
        return None
    separation = float(cents[0] @ cents[1])
    ref = parent if parent is not None else cents[1 - leave]
    to_parent = float(cents[leave] @ ref)
    if separation >= separate_below or to_parent >= separate_below:
        return None
    tested = _leaving_part(units[part], ref, min_size=min_size, cohesion_floor=cohesion_floor, min_gain=min_gain)
    if tested is None:
        return None
    leaving, cohesion, gain = tested
    stay = np.sort(np.concatenate([stay, part[~leaving]]))
    return Split(part[leaving], stay, round(separation, 4), round(to_parent, 4), round(cohesion, 4), round(gain, 4))


def _leaving_part(units: np.ndarray, ref: np.ndarray, *, min_size: int, cohesion_floor: float,
                  min_gain: float) -> tuple[np.ndarray, float, float] | None:
    """The tests a leaving part must pass: a topic on its own (median leave-one-out cosine >= ``cohesion_floor``) and
    better described by its own centroid than by ``ref`` (median gain >= ``min_gain``); (the rows that leave, the
    cohesion, the gain), or None. Only the rows the part describes better than ``ref`` leave; its fringe stays."""
    loo = _loo(units)
    cohesion = float(np.median(loo))
    if cohesion < cohesion_floor:
        return None
    own_gain = loo - units @ ref
    gain = float(np.median(own_gain))
    if gain < min_gain:
        return None
    leaving = own_gain > 0
    if leaving.sum() < min_size:
        return None
    return leaving, cohesion, gain


def _whole_night_leaves(units: np.ndarray, parent: np.ndarray, *, min_size: int, cohesion_floor: float,
                        separate_below: float, min_gain: float) -> Split | None:
    """One mode, not the topic's: every member of the night is about something new that landed in an old topic
    (a faulty batch assigned wholesale to an installation topic: 2-means has no second mode to find). The night's
    members leave when, as one group, they pass the tests of a leaving part: a topic on their own, apart from the
    topic's centroid before tonight, and better described by their own centroid by ``min_gain``."""
    cent = _unit(units.sum(axis=0, keepdims=True))[0]
    to_parent = float(cent @ parent)
    if to_parent >= separate_below:
        return None
    tested = _leaving_part(units, parent, min_size=min_size, cohesion_floor=cohesion_floor, min_gain=min_gain)
    if tested is None:
        return None
    leaving, cohesion, gain = tested
    idx = np.arange(len(units))
    return Split(idx[leaving], idx[~leaving], round(to_parent, 4), round(to_parent, 4), round(cohesion, 4),
                 round(gain, 4))

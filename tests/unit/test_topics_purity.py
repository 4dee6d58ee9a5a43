"""Topic purity without a model: own radius bounds, 2-means split test, and the split phase of update_topics on
synthetic vectors (two themes that share a direction, then a third mode hiding inside a known topic)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from voc.config import TopicSettings
from voc.topics import TopicDoc, TopicRegistry, update_topics
from voc.topics.purity import find_split, own_radius, two_means

DIM = 48


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _blob(rng: np.random.Generator, centre: np.ndarray, n: int, spread: float) -> np.ndarray:
    return _unit(centre + spread * rng.standard_normal((n, len(centre))))


def _directions(rng: np.random.Generator, k: int) -> np.ndarray:
    return _unit(rng.standard_normal((k, DIM)))


def test_own_radius_is_a_low_percentile_kept_between_floor_and_ceiling() -> None:
    sims = np.linspace(0.3, 0.9, 61)
    assert own_radius(sims, 10, 0.2, 0.8) == round(float(np.percentile(sims, 10)), 4)
    assert own_radius(sims, 10, 0.5, 0.8) == 0.5  # never below the registry's threshold
    assert own_radius(sims, 90, 0.2, 0.6) == 0.6  # never above the ceiling
    assert own_radius(np.array([]), 10, 0.25, 0.6) == 0.25


def test_two_means_separates_two_blobs_and_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    a, b = _directions(rng, 2)
    x = np.vstack([_blob(rng, a, 20, 0.1), _blob(rng, b, 12, 0.1)])
    labels = two_means(x, seed=3)
    assert len(set(labels[:20])) == 1 and len(set(labels[20:])) == 1 and labels[0] != labels[-1]
    assert np.array_equal(labels, two_means(x, seed=3))


def test_find_split_takes_the_mode_far_from_the_parent_and_leaves_one_population_alone() -> None:
    rng = np.random.default_rng(2)
    a, b = _directions(rng, 2)
    kwargs = {"min_size": 6, "cohesion_floor": 0.3, "separate_below": 0.6, "min_gain": 0.1, "seed": 0}
    mixed = np.vstack([_blob(rng, a, 10, 0.12), _blob(rng, b, 9, 0.12)])
    found = find_split(mixed, a, **kwargs)
    assert found is not None and sorted(found.part.tolist()) == list(range(10, 19))
    assert found.to_parent < 0.6 and found.cohesion > 0.3 and found.gain >= 0.1
    one = _blob(rng, a, 40, 0.12)
    assert find_split(one, a, **kwargs) is None
    assert find_split(one, None, **kwargs) is None
    small = np.vstack([_blob(rng, a, 10, 0.12), _blob(rng, b, 4, 0.12)])
    assert find_split(small, a, **kwargs) is None  # the other mode is too small to be a topic


def test_a_night_whose_members_are_all_new_leaves_as_one_mode() -> None:
    """A faulty batch assigned wholesale to an old topic: no second mode tonight for 2-means, yet every member is
    far from the topic's centroid before tonight and close to each other: they leave together."""
    rng = np.random.default_rng(4)
    a, b = _directions(rng, 2)
    kwargs = {"min_size": 6, "cohesion_floor": 0.3, "separate_below": 0.6, "min_gain": 0.1, "seed": 0}
    new = _blob(rng, b, 9, 0.12)
    found = find_split(new, a, **kwargs)
    assert found is not None and sorted(found.part.tolist()) == list(range(9)) and not len(found.stay)
    assert found.to_parent < 0.6 and found.gain >= 0.1
    assert find_split(_blob(rng, a, 9, 0.12), a, **kwargs) is None  # an ordinary night of the topic stays
    assert find_split(_blob(rng, b, 5, 0.12), a, **kwargs) is None  # too few to be a topic
    loose = _unit(rng.standard_normal((12, DIM)))  # far from the topic, but not one population either
    assert find_split(loose, a, **kwargs) is None


def _docs(day: dt.date, blocks: list[tuple[str, np.ndarray]]) -> list[TopicDoc]:
    return [TopicDoc(f"{day:%m%d}-{name}-{k:03d}", name, day, v) for name, x in blocks for k, v in enumerate(x)]


def _leak_night(split_min_size: int) -> tuple[set[str], object]:
    """Five nights of five themes, then a night where a new theme close to theme 0 (a new problem told in the words
    of an old one) arrives: (the topic ids known before, that night's result)."""
    rng = np.random.default_rng(5)
    base = _unit(rng.standard_normal(DIM)) * 3  # the embedder's common direction
    themes = _directions(rng, 5)
    leak = _unit(0.8 * themes[0] + 0.6 * _directions(rng, 1)[0])
    settings = TopicSettings(reduce_dim=5, min_cluster_size=6, min_samples=2, split_min_size=split_min_size,
                             pool_days=0)
    reg = TopicRegistry()
    start = dt.date(2026, 11, 1)
    for d in range(5):
        day = start + dt.timedelta(days=d)
        blocks = [(f"t{k}", _unit(base + _blob(rng, th, 12, 0.15))) for k, th in enumerate(themes)]
        reg = update_topics(reg, _docs(day, blocks), settings, day, seed=1).registry
    day = start + dt.timedelta(days=6)
    blocks = [(f"t{k}", _unit(base + _blob(rng, th, 12, 0.15))) for k, th in enumerate(themes)]
    blocks.append(("leak", _unit(base + _blob(rng, leak, 10, 0.15))))
    return {t.id for t in reg.active}, update_topics(reg, _docs(day, blocks), settings, day, seed=1)


def _leak_topics(res) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in res.assignments:
        if "-leak-" in a.interaction_id:
            out[a.topic_id] = out.get(a.topic_id, 0) + 1
    return out


def test_without_the_split_check_the_new_mode_hides_in_a_known_topic() -> None:
    known, res = _leak_night(0)
    leak = _leak_topics(res)
    assert sum(leak.values()) >= 6 and set(leak) <= known and res.stats["split_topics"] == 0


def test_a_new_mode_inside_a_known_topic_is_split_off_with_history() -> None:
    known, res = _leak_night(6)
    leak = _leak_topics(res)
    main = max(leak, key=leak.get)
    assert main not in known and leak[main] >= 6, leak
    members = [a for a in res.assignments if a.topic_id == main]
    assert sum("-leak-" in a.interaction_id for a in members) / len(members) >= 0.8
    day = res.registry.get(main).created
    split = [e for e in res.registry.events if e.kind == "split" and e.date == day]
    assert [(e.topic_id in known, e.other_id) for e in split] == [(True, main)]
    assert res.stats["split_topics"] == 1 and main in {t.id for t in res.new_topics}
    assert res.registry.get(main).threshold is None or res.registry.get(main).threshold >= res.stats["options"]["assign_threshold"]


def test_one_shot_fit_finds_uneven_themes_and_refines_them() -> None:
    from voc.topics.oneshot import fit_once, one_shot_labels

    rng = np.random.default_rng(11)
    base = _unit(rng.standard_normal(DIM)) * 3
    themes = _directions(rng, 4)
    sizes = [120, 60, 30, 15]
    x = np.vstack([_unit(base + _blob(rng, th, n, 0.18)) for th, n in zip(themes, sizes, strict=True)])
    truth = np.repeat(np.arange(4), sizes)
    settings = TopicSettings(min_cluster_size=8)
    labels, options = one_shot_labels(x, settings, seed=3)
    assert options["min_cluster_size"] == 8 and options["reduce_dim"] == 10
    before, _opts = one_shot_labels(x, settings, seed=3, reassign=False)
    assert labels.max() <= before.max() and np.mean(labels == -1) < 0.2
    assert options["outlier_threshold"] is not None
    for k in range(4):  # each theme's placed documents land in one topic of its own
        got = labels[truth == k]
        got = got[got >= 0]
        top = np.bincount(got).argmax()
        assert len(got) >= 0.6 * sizes[k] and np.mean(got == top) >= 0.9
        assert np.mean(labels[truth != k] == top) < 0.05
    ids = [f"L{i:07d}" for i in range(len(x))]
    res = fit_once(ids, ["快递太慢"] * len(x), x, settings, dt.date(2026, 1, 1), seed=3)
    assert [t.id for t in res.registry.active] == [f"T{i:04d}" for i in range(1, len(res.registry.active) + 1)]
    assert [t.size for t in res.registry.active] == sorted((t.size for t in res.registry.active), reverse=True)
    assert len(res.assignments) + len(res.unassigned) == len(x) and res.stats["noise_share"] == round(float(np.mean(labels == -1)), 4)

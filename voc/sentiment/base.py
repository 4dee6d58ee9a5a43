"""The scorer contract every sentiment backend meets, and the score -> label mapping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

NEGATIVE = "negative"
NEUTRAL = "neutral"
POSITIVE = "positive"

# Scores inside (-band, +band) read as neutral when no settings say otherwise.
DEFAULT_POSITIVE_THRESHOLD = 0.35


@runtime_checkable
class Scorer(Protocol):
    """Scores a batch of texts: one float per text in [-1, 1] (negative .. positive)."""

    name: str

    def score(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class SentimentPrediction:
    """One text's sentiment with how sure the scorer is and what decided it.

    ``score`` in [-1, 1] is 2 * P(positive) - 1 of a calibrated model (or a rule's value); ``confidence`` in
    [0.5, 1] is the calibrated probability that the polarity is right (max(p, 1 - p)); rules report a fixed
    confidence (see ``ServiceDomainScorer``); ``reason`` is "model" or the customer-service rule that set the score.
    """

    score: float
    confidence: float
    reason: str = "model"


def predict(scorer: Scorer, texts: Sequence[str]) -> list[SentimentPrediction]:
    """Predictions of any scorer: its own ``predict`` when it has one, else confidence from the score alone."""
    own = getattr(scorer, "predict", None)
    if callable(own):
        return list(own(texts))
    scores = np.clip(np.asarray(scorer.score(list(texts)), dtype=np.float64), -1.0, 1.0)
    return [SentimentPrediction(float(s), (1.0 + abs(float(s))) / 2.0) for s in scores]


def probability_to_score(p_positive: np.ndarray) -> np.ndarray:
    """P(positive) in [0, 1] -> score in [-1, 1]; 0.5 maps to 0."""
    return np.clip(2.0 * np.asarray(p_positive, dtype=np.float64) - 1.0, -1.0, 1.0)


def label_for(score: float, negative_threshold: float = -DEFAULT_POSITIVE_THRESHOLD,
              positive_threshold: float = DEFAULT_POSITIVE_THRESHOLD) -> str:
    """negative / neutral / positive with a neutral band between the two thresholds."""
    if score < negative_threshold:
        return NEGATIVE
    if score > positive_threshold:
        return POSITIVE
    return NEUTRAL

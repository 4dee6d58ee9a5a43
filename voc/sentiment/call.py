"""Per-call sentiment: customer turn scores -> call score, start/end trajectory and escalation flag."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from voc.records import CallSentiment, Role, SentimentScore, Utterance
from voc.sentiment.base import Scorer, label_for
from voc.sentiment.domain import escalation_words_in

if TYPE_CHECKING:
    from voc.config import SentimentSettings

TRAJECTORY_DELTA = 0.3  # end - start beyond this is improving / worsening
MAX_TURN_CHARS = 40  # a long monologue should not drown every other turn
LATE_WEIGHT = 1.0  # the last turn weighs (1 + LATE_WEIGHT) times the first, length aside


def _labels(scores: np.ndarray, settings: SentimentSettings) -> list[str]:
    # The neutral band is symmetric around 0; SentimentSettings only names the negative side.
    return [label_for(float(s), settings.negative_threshold, settings.positive_threshold) for s in scores]


def _weighted(scores: np.ndarray, weights: np.ndarray) -> float:
    return float(np.average(scores, weights=weights)) if len(scores) and weights.sum() > 0 else 0.0


def customer_turns(utterances: Sequence[Utterance]) -> list[Utterance]:
    """Customer turns in time order; when no turn has a known role (mono audio, chat logs), all turns."""
    ordered = sorted(utterances, key=lambda u: (u.start, u.idx))
    customer = [u for u in ordered if u.role == Role.CUSTOMER]
    if customer:
        return customer
    return [u for u in ordered if u.role == Role.UNKNOWN]


def score_call(
    utterances: Sequence[Utterance], scorer: Scorer, settings: SentimentSettings
) -> tuple[list[SentimentScore], CallSentiment]:
    """Score the customer's turns of one call (one batch) and summarise them.

    Call score: mean weighted by turn length (capped) and position (later turns weigh more).
    Start/end: the first and last third of the customer's turns. Escalation: a sharp drop below
    ``settings.escalation_threshold`` after a better start, a strongly negative end, or escalation words.
    """
    if not utterances:
        raise ValueError("score_call needs at least one utterance; skip calls without speech before calling it")
    interaction_id = utterances[0].interaction_id
    turns = customer_turns(utterances)
    if not turns:
        return [], CallSentiment(interaction_id, 0.0, 0.0, 0.0, "stable", False, (), scorer.name)

    scores = np.clip(np.asarray(scorer.score([u.text for u in turns]), dtype=np.float64), -1.0, 1.0)
    labels = _labels(scores, settings)
    records = [
        SentimentScore(u.interaction_id, u.idx, float(s), lab) for u, s, lab in zip(turns, scores, labels, strict=True)
    ]

    n = len(turns)
    lengths = np.array([max(1, min(len(u.text.strip()), MAX_TURN_CHARS)) for u in turns], dtype=np.float64)
    position = np.arange(n) / (n - 1) if n > 1 else np.ones(1)
    call_score = _weighted(scores, lengths * (1.0 + LATE_WEIGHT * position))
    third = max(1, n // 3)
    start_score = _weighted(scores[:third], lengths[:third])
    end_score = _weighted(scores[-third:], lengths[-third:])
    delta = end_score - start_score
    trajectory = "improving" if delta > TRAJECTORY_DELTA else "worsening" if delta < -TRAJECTORY_DELTA else "stable"

    reasons: list[str] = []
    if start_score > settings.negative_threshold:
        drops = [(u, s) for u, s in zip(turns[third:], scores[third:], strict=True) if s < settings.escalation_threshold]
        if drops:
            u, s = drops[0]
            reasons.append(f"sharp drop: turn {u.idx} scores {s:.2f} after a start of {start_score:.2f}")
    if end_score < settings.escalation_threshold:
        reasons.append(f"strongly negative end: {end_score:.2f}")
    for u in turns:
        words = escalation_words_in(u.text)
        if words:
            reasons.append(f"escalation words in turn {u.idx}: {', '.join(words)}")
    summary = CallSentiment(
        interaction_id=interaction_id,
        score=round(call_score, 4),
        start_score=round(start_score, 4),
        end_score=round(end_score, 4),
        trajectory=trajectory,
        escalation=bool(reasons),
        reasons=tuple(reasons),
        scorer=scorer.name,
    )
    return records, summary


def score_text(
    interaction_id: str, text: str, scorer: Scorer, settings: SentimentSettings
) -> tuple[SentimentScore, CallSentiment]:
    """Text channels (chat, ticket, review): one score for the whole text, recorded with idx -1."""
    score = float(np.clip(scorer.score([text])[0], -1.0, 1.0))
    label = _labels(np.array([score]), settings)[0]
    words = escalation_words_in(text)
    reasons = []
    if score < settings.escalation_threshold:
        reasons.append(f"strongly negative text: {score:.2f}")
    if words:
        reasons.append(f"escalation words: {', '.join(words)}")
    summary = CallSentiment(interaction_id, round(score, 4), round(score, 4), round(score, 4), "stable",
                            bool(reasons), tuple(reasons), scorer.name)
    return SentimentScore(interaction_id, -1, score, label), summary


def score_texts(
    items: Sequence[tuple[str, str]], scorer: Scorer, settings: SentimentSettings
) -> list[tuple[SentimentScore, CallSentiment]]:
    """Batched :func:`score_text` over ``(interaction_id, text)`` pairs (one scorer call)."""
    if not items:
        return []
    scores = np.clip(np.asarray(scorer.score([t for _, t in items]), dtype=np.float64), -1.0, 1.0)
    out = []
    for (iid, text), s in zip(items, scores, strict=True):
        out.append(score_text(iid, text, _Fixed(scorer.name, float(s)), settings))
    return out


class _Fixed:
    """A scorer that returns an already computed score (lets score_texts reuse score_text's rules)."""

    def __init__(self, name: str, value: float) -> None:
        self.name = name
        self.value = value

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return np.full(len(texts), self.value)

"""Sentiment scorers (hashed n-gram model, lexicon, SnowNLP, sentence-transformers) and per-call sentiment."""

from voc.sentiment.base import (
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    Scorer,
    SentimentPrediction,
    label_for,
    predict,
    probability_to_score,
)
from voc.sentiment.call import customer_turns, score_call, score_text, score_texts
from voc.sentiment.domain import ServiceDomainScorer, complaint_form_in, escalation_words_in, is_procedural
from voc.sentiment.lexicon import LexiconScorer
from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel
from voc.sentiment.scorers import get_scorer
from voc.sentiment.snownlp_scorer import SnowNLPScorer
from voc.sentiment.st import SentenceTransformerScorer, StHead

__all__ = [
    "NEGATIVE",
    "NEUTRAL",
    "POSITIVE",
    "SHIPPED_MODEL",
    "LexiconScorer",
    "LinearSentimentModel",
    "Scorer",
    "SentimentPrediction",
    "SentenceTransformerScorer",
    "ServiceDomainScorer",
    "SnowNLPScorer",
    "StHead",
    "complaint_form_in",
    "customer_turns",
    "escalation_words_in",
    "get_scorer",
    "is_procedural",
    "label_for",
    "predict",
    "probability_to_score",
    "score_call",
    "score_text",
    "score_texts",
]

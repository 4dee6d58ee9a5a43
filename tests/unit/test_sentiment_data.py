"""Sentiment accuracy floors on a seeded slice of the shared test split (skips without shared data)."""

from __future__ import annotations

import random

import pytest

from voc.sentiment.lexicon import LexiconScorer
from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel
from voc.sentiment.train import evaluate, load_corpora

SEED = 42  # the seed the shipped model's splits were made with: its test split was never trained on


@pytest.fixture(scope="module")
def test_slice(shared_data):
    corpora = load_corpora(shared_data / "sentiment", SEED)
    rows = [r for name in ("waimai", "hotel", "shopping") for r in corpora[name] if r.split == "test"]
    sample = random.Random(SEED).sample(rows, 300)
    return [r.text for r in sample], [r.label for r in sample]


def test_splits_keep_shared_hotel_reviews_on_one_side(shared_data):
    corpora = load_corpora(shared_data / "sentiment", SEED)
    hotel = {r.text: r.split for r in corpora["hotel"]}
    shared = [(r.split, hotel[r.text]) for r in corpora["shopping"] if r.text in hotel]
    assert shared, "expected the documented hotel overlap between the two sets"
    assert all(a == b for a, b in shared)


def test_shipped_model_accuracy_floor(test_slice):
    texts, labels = test_slice
    result = evaluate(LinearSentimentModel.load(SHIPPED_MODEL), texts, labels)
    assert result["accuracy"] >= 0.87, result
    lexicon = evaluate(LexiconScorer(), texts, labels)
    assert lexicon["accuracy"] >= 0.65, lexicon
    assert result["accuracy"] > lexicon["accuracy"]

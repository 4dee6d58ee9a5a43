"""Sentiment accuracy floors on a seeded slice of the shared test split (skips without shared data)."""

from __future__ import annotations

import random

import pytest

from voc.sentiment.lexicon import LexiconScorer
from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel
from voc.sentiment.train import evaluate, load_corpora

SEED = 42
# Since issue 21 the shipped model is trained on ALL rows of the three sets, so this slice is in-sample: the
# floor below is a sanity check that the file is the trained model. Generalisation is measured by
# bench/sentiment/lodo.py and checked in miniature by test_recipe_generalises_to_an_unseen_domain.


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
    assert result["accuracy"] >= 0.90, result
    lexicon = evaluate(LexiconScorer(), texts, labels)
    assert lexicon["accuracy"] >= 0.65, lexicon
    assert result["accuracy"] > lexicon["accuracy"]


@pytest.mark.slow  # ~14 s: fits the recipe on two shared sets; make test-all
def test_recipe_generalises_to_an_unseen_domain(shared_data):
    # LODO in miniature (bench/sentiment/lodo.py does it at full size): train on 2,000 waimai + 2,000 shopping
    # texts (not its 酒店 category), test on 1,000 hotel reviews. The shipped recipe (label-balanced LR + lexicon
    # calibrator) must beat the pre-issue-21 recipe (plain LR, C=8) there; measured 0.82 vs 0.72 here, full
    # size 0.842 vs 0.775.
    import csv

    import numpy as np

    from voc.sentiment.features import FeatureConfig
    from voc.sentiment.train import balanced_weights, fit_calibrated_hashlr, fit_hashlr

    corpora = load_corpora(shared_data / "sentiment", SEED)
    with open(shared_data / "sentiment" / "online_shopping_10cats_sample10k.tsv", encoding="utf-8", newline="") as f:
        hotel = {row[1] for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if row[2] == "酒店"}
    hotel |= {r.text for r in corpora["hotel"]}
    rng = random.Random(SEED)
    train = (rng.sample(corpora["waimai"], 2000)
             + rng.sample([r for r in corpora["shopping"] if r.text not in hotel], 2000))
    test = rng.sample(corpora["hotel"], 1000)
    texts, labels = [r.text for r in train], [r.label for r in train]
    config = FeatureConfig(n_features_log2=18, char_ngrams=(1, 4))
    new = fit_calibrated_hashlr(texts, labels, config, grid=(8.0,), folds=3,
                                sample_weight=balanced_weights(labels, [r.dataset for r in train]), lexicon=True).model
    old = fit_hashlr(texts, labels, config, c=8.0, nb=False)
    y = np.array([r.label for r in test])
    acc_new = float(((new.score([r.text for r in test]) >= 0) == y).mean())
    acc_old = float(((old.score([r.text for r in test]) >= 0) == y).mean())
    assert acc_new >= 0.80 and acc_new > acc_old + 0.02, (acc_new, acc_old)

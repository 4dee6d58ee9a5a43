"""In-domain held-out estimate (what the issue-21 check measures: unseen rows of a source the model trained on).

3-fold out-of-fold accuracy per shared set, folds by text hash (duplicates share a fold), for
  - the default recipe (hashlr + lexicon stacker, label-balanced, C=32 as train.py chose),
  - the issue's baseline (sklearn char 1-3 + jieba word tf-idf, LR C=2) on the same folds,
  - with --e5 (needs `e5_cache.py --datasets shopping` first): an e5 head on the shopping vectors and the
    logistic stack (n-gram decision, e5 decision, lexicon) - the `e5-stack` option - on shopping only.
Example (about 15 CPU-minutes here without --e5):
    OMP_NUM_THREADS=1 .venv/bin/python bench/sentiment/indomain.py [--e5]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from e5_cache import cached_vectors  # noqa: E402
from train import DEFAULT_CONFIG  # noqa: E402

from voc.sentiment.lexicon import default_lexicon_scorer  # noqa: E402
from voc.sentiment.train import balanced_weights, fit_calibrated_hashlr, load_corpora  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "sentiment"
NAMES = ("waimai", "hotel", "shopping")


def baseline_oof(texts: list[str], y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    import jieba
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion

    jieba.setLogLevel(60)
    toks = {t: jieba.lcut(t) for t in set(texts)}
    oof = np.zeros(len(y))
    for k in range(int(folds.max()) + 1):
        tr, te = np.flatnonzero(folds != k), np.flatnonzero(folds == k)
        union = FeatureUnion([
            ("char", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)),
            ("word", TfidfVectorizer(tokenizer=toks.__getitem__, token_pattern=None, lowercase=False,
                                     sublinear_tf=True, min_df=2)),
        ])
        clf = LogisticRegression(C=2.0, max_iter=2000).fit(union.fit_transform([texts[i] for i in tr]), y[tr])
        oof[te] = clf.decision_function(union.transform([texts[i] for i in te]))
    return oof


def e5_stack(corpus, y, folds, ngram, polarity) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    x = cached_vectors("shopping", [r.text for r in corpus], compute=False)
    if x is None:
        raise SystemExit("no cached e5 vectors of shopping: run bench/sentiment/e5_cache.py --datasets shopping")
    head = np.zeros(len(y))
    for k in range(int(folds.max()) + 1):
        tr, te = folds != k, folds == k
        head[te] = LogisticRegression(C=4.0, max_iter=3000).fit(x[tr], y[tr]).decision_function(x[te])
    stacked = cross_val_predict(LogisticRegression(C=1e4, max_iter=1000), np.column_stack([ngram, head, polarity]),
                                y, cv=5, method="decision_function")
    return {"e5_head": float(((head >= 0) == y).mean()), "e5_stack": float(((stacked >= 0) == y).mean())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DATA)
    ap.add_argument("--e5", action="store_true", help="also the e5 head and stack on shopping (cached vectors)")
    args = ap.parse_args(argv)
    corpora = load_corpora(args.data_dir, 42, NAMES)
    rows = [r for n in NAMES for r in corpora[n]]
    texts, y = [r.text for r in rows], np.array([r.label for r in rows])
    ds = np.array([r.dataset for r in rows])
    cv = fit_calibrated_hashlr(texts, y, DEFAULT_CONFIG, grid=(32.0,), folds=3, sample_weight=balanced_weights(y, ds),
                               seed=42, lexicon=True)
    a, b = cv.model.calibration
    polarity = np.asarray(default_lexicon_scorer().score(texts))
    stacked = a * cv.oof_decision + cv.model.lexicon_weight * polarity + b
    base = baseline_oof(texts, y, cv.folds)
    out = {}
    for n in NAMES:
        m = ds == n
        out[n] = {"default_raw": float(((cv.oof_decision[m] >= 0) == y[m]).mean()),
                  "default": float(((stacked[m] >= 0) == y[m]).mean()),
                  "tfidf_lr": float(((base[m] >= 0) == y[m]).mean()), "n": int(m.sum())}
    if args.e5:
        m = ds == "shopping"
        out["shopping"].update(e5_stack(corpora["shopping"], y[m], cv.folds[m], cv.oof_decision[m], polarity[m]))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

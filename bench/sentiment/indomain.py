"""In-domain held-out estimate (what the issue-21 check measures: unseen rows of a source the model trained on).

3-fold out-of-fold accuracy per shared set, folds by text hash (duplicates share a fold), for
  - the default recipe (hashlr + lexicon stacker, label-balanced, C=32 as train.py chose),
  - the issue's baseline (sklearn char 1-3 + jieba word tf-idf, LR C=2) on the same folds,
  - with --e5 (vectors from the precomputed EmbeddingCache, e5_cache.py SHARED_CACHE): the e5 head (trained on all
    three sets' training folds, balanced, C by inner CV) and the logistic stack (n-gram decision, e5 decision,
    lexicon; fitted on out-of-fold features) - the `e5-stack` recipe; with --mlp also an MLP head and its stacks.
Example (about 15 CPU-minutes here without --e5):
    OMP_NUM_THREADS=1 .venv/bin/python bench/sentiment/indomain.py [--e5 [--mlp] [--e5-form cut]] [--no-baseline]
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

from e5_cache import FORMS, SHARED_CACHE, shared_vectors  # noqa: E402
from train import DEFAULT_CONFIG  # noqa: E402

from voc.sentiment.lexicon import default_lexicon_scorer  # noqa: E402
from voc.sentiment.train import balanced_weights, fit_calibrated_hashlr, fold_of, load_corpora  # noqa: E402

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


def _stack_oof(features: list[np.ndarray], y: np.ndarray, folds: np.ndarray, sw: np.ndarray) -> np.ndarray:
    """The logistic stacker's out-of-fold decisions: fitted on the other folds' (out-of-fold) features."""
    from sklearn.linear_model import LogisticRegression

    z = np.column_stack(features)
    out = np.zeros(len(y))
    for k in range(int(folds.max()) + 1):
        tr, te = folds != k, folds == k
        out[te] = LogisticRegression(C=1e4, max_iter=1000).fit(z[tr], y[tr], sample_weight=sw[tr]).decision_function(z[te])
    return out


def e5_heads(x: np.ndarray, y: np.ndarray, folds: np.ndarray, inner_folds: np.ndarray, sw: np.ndarray,
             mlp: bool) -> dict[str, np.ndarray]:
    """Out-of-fold decisions of the e5 heads, each trained on all three sets' other folds (balanced weights):
    the linear head with C from stack_e5.py's grid chosen by an inner 3-fold CV on each training part, and
    (``mlp``) the one-hidden-layer MLP of lodo.py 'e5-mlp' (alpha 1e-3)."""
    from sklearn.linear_model import LogisticRegression

    grid = (1.0, 4.0, 16.0)  # stack_e5.py E5_GRID (lodo.py e5-head)
    out = {"e5": np.zeros(len(y))}
    if mlp:
        out["e5-mlp"] = np.zeros(len(y))
    chosen = []
    for k in range(int(folds.max()) + 1):
        tr, te = np.flatnonzero(folds != k), np.flatnonzero(folds == k)
        inner = inner_folds[tr]  # by text hash with another seed: duplicates stay together
        acc = {}
        for c in grid:
            hits = 0.0
            for j in range(3):
                a, b = tr[inner != j], tr[inner == j]
                d = LogisticRegression(C=c, max_iter=3000).fit(x[a], y[a], sample_weight=sw[a]).decision_function(x[b])
                hits += float(np.sum(sw[b] * ((d >= 0) == y[b])))
            acc[c] = round(hits / sw[tr].sum(), 4)
        best = max(grid, key=lambda c: (acc[c], -c))
        chosen.append(best)
        out["e5"][te] = LogisticRegression(C=best, max_iter=3000).fit(x[tr], y[tr], sample_weight=sw[tr]).decision_function(x[te])
        if mlp:
            from sklearn.neural_network import MLPClassifier

            clf = MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, early_stopping=True, max_iter=200,
                                n_iter_no_change=8, random_state=42).fit(x[tr], y[tr], sample_weight=sw[tr])
            p = np.clip(clf.predict_proba(x[te])[:, 1], 1e-6, 1 - 1e-6)
            out["e5-mlp"][te] = np.log(p / (1 - p))
    print(f"e5 head C per fold: {chosen}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DATA)
    ap.add_argument("--e5", action="store_true", help="also the e5 heads and stacks (vectors from --e5-cache)")
    ap.add_argument("--e5-form", default="cut", choices=FORMS, help="e5 text form ('cut': what the shipped head reads)")
    ap.add_argument("--e5-cache", type=Path, default=SHARED_CACHE)
    ap.add_argument("--mlp", action="store_true", help="with --e5: also the MLP head and its stacks")
    ap.add_argument("--no-baseline", action="store_true", help="skip the tf-idf baseline (minutes of CPU)")
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
    decisions = {"default_raw": cv.oof_decision, "default": stacked}
    if not args.no_baseline:
        decisions["tfidf_lr"] = baseline_oof(texts, y, cv.folds)
    if args.e5:
        x = shared_vectors(texts, args.e5_form, args.e5_cache)
        if x is None:
            raise SystemExit(f"{args.e5_cache}: no e5 vector cache")
        sw = balanced_weights(y, ds)
        inner = np.array([fold_of(t, 3, 43) for t in texts])
        heads = e5_heads(x, y, cv.folds, inner, sw, args.mlp)
        decisions["e5_head"] = heads["e5"]
        decisions["e5_stack"] = _stack_oof([cv.oof_decision, heads["e5"], polarity], y, cv.folds, sw)
        if args.mlp:
            decisions["e5_mlp"] = heads["e5-mlp"]
            decisions["e5_mlp_stack"] = _stack_oof([cv.oof_decision, heads["e5-mlp"], polarity], y, cv.folds, sw)
            decisions["e5_both_stack"] = _stack_oof([cv.oof_decision, heads["e5"], heads["e5-mlp"], polarity], y,
                                                    cv.folds, sw)
    out = {}
    for n in NAMES:
        m = ds == n
        out[n] = {k: round(float(((d[m] >= 0) == y[m]).mean()), 4) for k, d in decisions.items()}
        out[n]["n"] = int(m.sum())
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

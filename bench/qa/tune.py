"""Choose the step model's regularisation and view weights by grouped cross-validation on the TRAINING examples only
(folds split by example line, so a line's placeholder fillings stay together); the held-out set is not used.

    .venv/bin/python bench/qa/tune.py [--C 1 2 4] [--ngram-weight 0.5 1]

Prints, per setting, the mean over labels of average precision and of F1 at p >= 0.5 on the held-out folds.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--C", type=float, nargs="+", default=[1.0, 4.0])
    ap.add_argument("--ngram-weight", type=float, nargs="+", default=[1.0])
    ap.add_argument("--vector-weight", type=float, nargs="+", default=[1.0])
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from gold import CachedVectors
    from sklearn.metrics import average_precision_score

    from voc.qa import load_scripts
    from voc.qa.steps import TurnClassifier, example_vectors

    book = load_scripts()
    vec = CachedVectors()
    for name, ts in book.training.items():
        ex = list(ts.agent)
        X = example_vectors(ex, vec)
        # group = the example line before filling: texts equal after removing the fill values share a group
        groups = np.array([zlib.crc32((e.line or e.text).encode()) % args.folds for e in ex])
        for C in args.C:
            for nw in args.ngram_weight:
                for vw in args.vector_weight:
                    probs = np.zeros((len(ex), len(ts.agent_labels)))
                    for f in range(args.folds):
                        tr, te = groups != f, groups == f
                        clf = TurnClassifier.fit([e for e, m in zip(ex, tr, strict=True) if m], ts.agent_labels, X[tr], C=C,
                                                 ngram_weight=nw, vector_weight=vw)
                        probs[te] = clf.predict([e.text for e, m in zip(ex, te, strict=True) if m], X[te])
                    aps, f1s, rows = [], [], []
                    for k, label in enumerate(ts.agent_labels):
                        y = np.array([label in e.labels for e in ex])
                        p = probs[:, k]
                        ap_ = average_precision_score(y, p)
                        pred = p >= 0.5
                        tp, fp, fn = (pred & y).sum(), (pred & ~y).sum(), (~pred & y).sum()
                        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
                        aps.append(ap_)
                        f1s.append(f1)
                        rows.append(f"{label}:{ap_:.2f}/{f1:.2f}")
                    print(f"{name} C={C} ngram={nw} vec={vw}: AP {np.mean(aps):.3f} F1@0.5 {np.mean(f1s):.3f}  "
                          + " ".join(rows))
    vec.save()


if __name__ == "__main__":
    main()

"""Train the shipped sentiment model (or a sentence-transformers head) on the shared review sets.

Default recipe (chosen by bench/sentiment/lodo.py, issue 21, candidate 'lr-bal+lex': best worst-domain accuracy
of the fast candidates): hashed char 1-4 + jieba word 1-2 gram tf-idf, logistic regression with label-balanced
weights per data set, C by 3-fold CV, then a logistic calibrator on the out-of-fold decision plus the voc lexicon's
polarity; trained on ALL rows of the three sets. Deterministic: fixed hash folds, liblinear
without sampling. Example:
    .venv/bin/python bench/sentiment/train.py --data-dir ../shared/data/sentiment
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from voc.sentiment.features import FeatureConfig  # noqa: E402
from voc.sentiment.model import SHIPPED_MODEL  # noqa: E402
from voc.sentiment.train import (  # noqa: E402
    DATASETS,
    balanced_weights,
    fit_calibrated_hashlr,
    fit_hashlr,
    load_corpora,
)

DEFAULT_DATA = REPO.parent / "shared" / "data" / "sentiment"
DEFAULT_CONFIG = FeatureConfig(n_features_log2=20, char_ngrams=(1, 4), words=True, word_bigrams=True)
DEFAULT_C = 8.0  # the pre-issue-21 recipe ('--recipe hashlr'); the default recipe picks C by CV from GRID
GRID = (2.0, 8.0, 32.0)
CV_FOLDS = 3
MODEL_NAME = "hashlr+lex"
OOF_CACHE = REPO / "bench" / "sentiment" / "results" / "train_oof.npz"


def oof_key(texts: list[str], labels: list[int]) -> str:
    """Identifies the training set behind cached out-of-fold decisions."""
    import hashlib

    return hashlib.sha256(("\x1f".join(texts) + repr(list(labels))).encode("utf-8")).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="folder with the three sentiment TSVs")
    ap.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated subset of: " + ", ".join(DATASETS))
    ap.add_argument("--seed", type=int, default=42, help="split seed (keep 42 to reproduce the shipped model)")
    ap.add_argument("--splits", default="train,dev,test",
                    help="hash splits to train on (default: all rows; 'train,dev' keeps the seed-42 test split out)")
    ap.add_argument("--recipe", choices=("balanced", "hashlr"), default="balanced",
                    help="balanced: LR with label-balanced weights, C by CV, calibrated with the lexicon (default); "
                         "hashlr: the pre-issue-21 LR, C=--c, uncalibrated")
    ap.add_argument("--nb-balanced", action="store_true", help="--recipe balanced with NB scaling (lodo.py 'nblr-bal+lex')")
    ap.add_argument("--c", type=float, default=DEFAULT_C, help="C of --recipe hashlr and --st-model")
    ap.add_argument("--nb", action="store_true", help="naive-Bayes feature scaling for --recipe hashlr")
    ap.add_argument("--st-model", help="train a sentence-transformers head on this encoder (name or local path) instead")
    ap.add_argument("--limit", type=int, default=0, help="use at most N training texts (quick runs)")
    ap.add_argument("--out", type=Path, default=SHIPPED_MODEL)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    splits = set(args.splits.split(","))
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    corpora = load_corpora(args.data_dir, args.seed, names)
    rows = [r for name in names for r in corpora[name] if r.split in splits]
    if args.limit:
        rows = rows[:: max(1, len(rows) // args.limit)][: args.limit]
    texts, labels = [r.text for r in rows], [r.label for r in rows]
    meta = {
        "trained_on": names,
        "splits": sorted(splits),
        "seed": args.seed,
        "source": "SophonPlus/ChineseNlpCorpus @ a0b781d72158bde242c0626c9e354d2b328865ff (no licence stated)",
    }
    if args.st_model:
        from voc.sentiment.st import fit_st_head

        head = fit_st_head(args.st_model, texts, labels, c=args.c)
        head.meta.update(meta)
        head.save(args.out)
    elif args.recipe == "hashlr":
        model = fit_hashlr(texts, labels, DEFAULT_CONFIG, c=args.c, nb=args.nb, meta=meta)
        model.save(args.out)
    else:
        weights = balanced_weights(labels, [r.dataset for r in rows])
        meta.update({"recipe": f"{'NB-' if args.nb_balanced else ''}LR, label-balanced per data set, C by CV; logistic "
                               "calibration on the out-of-fold decision and the voc lexicon's polarity",
                     "selected_by": "bench/sentiment/lodo.py (worst leave-one-domain-out accuracy)"})
        cv = fit_calibrated_hashlr(texts, labels, DEFAULT_CONFIG, grid=GRID, folds=CV_FOLDS, nb=args.nb_balanced,
                                   sample_weight=weights, seed=args.seed, meta=meta, lexicon=True)
        cv.model.name = MODEL_NAME
        cv.model.save(args.out)
        # stack_e5.py stacks on these out-of-fold decisions (git-ignored cache; recomputed when absent)
        OOF_CACHE.parent.mkdir(parents=True, exist_ok=True)
        np.savez(OOF_CACHE, oof=cv.oof_decision, folds=cv.folds, key=np.array(oof_key(texts, labels)))
    print(json.dumps({"out": str(args.out), "n_train": len(texts), "bytes": args.out.stat().st_size}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

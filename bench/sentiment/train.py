"""Train the shipped sentiment model (or a sentence-transformers head) on the shared review sets.

Deterministic: fixed hash splits (seed), liblinear without sampling. Example:
    .venv/bin/python bench/sentiment/train.py --data-dir ../shared/data/sentiment
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from voc.sentiment.features import FeatureConfig  # noqa: E402
from voc.sentiment.model import SHIPPED_MODEL  # noqa: E402
from voc.sentiment.train import DATASETS, fit_hashlr, load_corpora  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "sentiment"
# Chosen on the dev split (see bench/sentiment/README.md).
DEFAULT_CONFIG = FeatureConfig(n_features_log2=20, char_ngrams=(1, 4), words=True, word_bigrams=True)
DEFAULT_C = 8.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="folder with the three sentiment TSVs")
    ap.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated subset of: " + ", ".join(DATASETS))
    ap.add_argument("--seed", type=int, default=42, help="split seed (keep 42 to reproduce the shipped model)")
    ap.add_argument("--splits", default="train,dev", help="splits to train on; never 'test'")
    ap.add_argument("--c", type=float, default=DEFAULT_C)
    ap.add_argument("--nb", action="store_true", help="naive-Bayes feature scaling (NB-LR)")
    ap.add_argument("--st-model", help="train a sentence-transformers head on this encoder (name or local path) instead")
    ap.add_argument("--limit", type=int, default=0, help="use at most N training texts (quick runs)")
    ap.add_argument("--out", type=Path, default=SHIPPED_MODEL)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    splits = set(args.splits.split(","))
    if "test" in splits:
        ap.error("--splits must not include 'test': the test split is for evaluation only")
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
    else:
        model = fit_hashlr(texts, labels, DEFAULT_CONFIG, c=args.c, nb=args.nb, meta=meta)
        model.save(args.out)
    print(json.dumps({"out": str(args.out), "n_train": len(texts), "bytes": args.out.stat().st_size}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

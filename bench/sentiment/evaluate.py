"""Accuracy / macro-F1 / throughput of every sentiment scorer on the shared test splits, in- and cross-domain.

Since issue 21 the shipped model is trained on ALL rows (its test split included), so its in-domain rows here are
in-sample (marked in the output); the model is selected and measured by bench/sentiment/lodo.py instead.

    .venv/bin/python bench/sentiment/evaluate.py --out bench/sentiment/results.json
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train import DEFAULT_C, DEFAULT_CONFIG, DEFAULT_DATA  # noqa: E402

from voc.sentiment.base import label_for  # noqa: E402
from voc.sentiment.domain import ServiceDomainScorer  # noqa: E402
from voc.sentiment.lexicon import LexiconScorer  # noqa: E402
from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel  # noqa: E402
from voc.sentiment.snownlp_scorer import SnowNLPScorer  # noqa: E402
from voc.sentiment.train import DATASETS, evaluate, fit_hashlr, load_corpora  # noqa: E402

CS_SET = REPO / "bench" / "sentiment" / "cs_utterances.tsv"


def cs_sanity(scorer, path: Path = CS_SET) -> dict:
    """3-class accuracy on the hand-written customer-service utterances (label -1/0/1)."""
    with open(path, encoding="utf-8") as f:
        rows = [r for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if r and not r[0].startswith("#")]
    rows = rows[1:]
    gold = {"-1": "negative", "0": "neutral", "1": "positive"}
    scores = scorer.score([r[1] for r in rows])
    pred = [label_for(float(s)) for s in scores]
    ok = [p == gold[r[0]] for p, r in zip(pred, rows, strict=True)]
    errors = [{"text": r[1], "gold": gold[r[0]], "pred": p, "score": round(float(s), 3)}
              for r, p, s, k in zip(rows, pred, scores, ok, strict=True) if not k]
    return {"n": len(rows), "accuracy3": float(np.mean(ok)), "errors": errors}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--model", type=Path, default=SHIPPED_MODEL)
    ap.add_argument("--skip-cross", action="store_true")
    ap.add_argument("--skip-snownlp", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "sentiment" / "results.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    corpora = load_corpora(args.data_dir, args.seed)
    tests = {n: ([r.text for r in rows if r.split == "test"], [r.label for r in rows if r.split == "test"])
             for n, rows in corpora.items()}
    model = LinearSentimentModel.load(args.model)
    in_sample = "test" in model.meta.get("splits", [])
    if in_sample:
        logging.warning("%s was trained on the test splits too: its in-domain numbers are in-sample", args.model)
    scorers = {
        f"{model.name} (shipped{', in-sample' if in_sample else ''})": model,
        f"{model.name}+cs (default 'auto'{', in-sample' if in_sample else ''})": ServiceDomainScorer(model),
        "lexicon (voc lists)": LexiconScorer(),
    }
    if not args.skip_snownlp:
        scorers["snownlp"] = SnowNLPScorer()
    results: dict = {"in_domain": {}, "cross_domain": {}, "cs_sanity": {}}
    for sname, scorer in scorers.items():
        for dname, (texts, labels) in tests.items():
            results["in_domain"].setdefault(sname, {})[dname] = evaluate(scorer, texts, labels)
            print(sname, dname, results["in_domain"][sname][dname], flush=True)
        results["cs_sanity"][sname] = cs_sanity(scorer)
        print(sname, "cs", results["cs_sanity"][sname]["accuracy3"], flush=True)

    if not args.skip_cross:
        for train_name in DATASETS:
            rows = [r for r in corpora[train_name] if r.split in ("train", "dev")]
            t0 = time.perf_counter()
            single = fit_hashlr([r.text for r in rows], [r.label for r in rows], DEFAULT_CONFIG, c=DEFAULT_C)
            fit_s = time.perf_counter() - t0
            for test_name, (texts, labels) in tests.items():
                res = evaluate(single, texts, labels)
                res["fit_seconds"] = fit_s
                results["cross_domain"].setdefault(train_name, {})[test_name] = res
                print("train", train_name, "test", test_name, res, flush=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

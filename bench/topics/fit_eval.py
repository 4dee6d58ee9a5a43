"""`voc topics fit` quality: the one-shot path (voc.topics.oneshot) against the nightly path on a fresh registry
(what `voc topics fit` ran before issue 17), with the same cached e5 vectors.

Sets (read in place from ../shared/data, research-only, never copied here): shopping_neg (a seeded sample of the
negative online_shopping_10cats reviews, truth = product category), ccks (1,500 telecom queries, truth = first
intent attribute), waimai_neg (negative food-delivery reviews; no topic labels: noise share and clusters only).
NMI counts noise as one cluster (a document called noise gets no topic).

Run:  OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/topics/fit_eval.py [--shopping 2500] [--grid]
Writes bench/topics/results_fit.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import time

import numpy as np
from scale_data import HERE, ccks, e5_vectors, shopping_neg, waimai_neg
from sklearn.metrics import normalized_mutual_info_score as nmi

from voc.config import TopicSettings
from voc.topics import TopicDoc, TopicRegistry, update_topics
from voc.topics.oneshot import one_shot_labels

DAY = dt.date(2026, 1, 1)


def nightly_labels(vectors: np.ndarray, settings: TopicSettings) -> np.ndarray:
    """What `voc topics fit` did before: one night of update_topics on an empty registry."""
    docs = [TopicDoc(f"L{i:07d}", "", DAY, vectors[i]) for i in range(len(vectors))]
    res = update_topics(TopicRegistry(), docs, settings, DAY, seed=42)
    of = {a.interaction_id: a.topic_id for a in res.assignments}
    names = {t: k for k, t in enumerate(sorted(set(of.values())))}
    return np.asarray([names[of[d.interaction_id]] if d.interaction_id in of else -1 for d in docs])


def score(labels: np.ndarray, truth: list[str] | None, seconds: float) -> dict:
    out = {"noise": round(float(np.mean(labels == -1)), 3), "clusters": int(labels.max() + 1),
           "seconds": round(seconds, 2)}
    if truth is not None:
        out["nmi"] = round(float(nmi(truth, labels)), 3)
        kept = labels != -1
        out["nmi_clustered"] = round(float(nmi(np.asarray(truth)[kept], labels[kept])), 3) if kept.any() else 0.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shopping", type=int, default=2500, help="sample of negative shopping reviews (seed 1)")
    ap.add_argument("--waimai", type=int, default=1000)
    ap.add_argument("--grid", action="store_true", help="also try other dims / sizes / selections")
    args = ap.parse_args()
    s = shopping_neg()
    idx = list(range(len(s.texts)))
    random.Random(1).shuffle(idx)
    idx = idx[: args.shopping]
    sets = {"shopping_neg": ([s.texts[i] for i in idx], [s.labels[i] for i in idx])}
    c = ccks()
    sets["ccks"] = (c.texts, c.labels)
    sets["waimai_neg"] = (waimai_neg(n=args.waimai), None)
    settings = TopicSettings()
    variants = {"nightly path (before)": None, "one-shot (default)": {}}
    if args.grid:
        for dim in (5, 10):
            for share in (0.005, 0.01, 0.02):
                for sel in ("eom", "leaf"):
                    for reassign in (False, True):
                        variants[f"pca{dim} share{share} {sel}{' +outliers' if reassign else ''}"] = {
                            "dim": dim, "size_share": share, "selection": sel, "reassign": reassign}
    results: dict[str, dict] = {}
    for name, (texts, truth) in sets.items():
        vectors = e5_vectors(texts)
        for vname, kw in variants.items():
            t0 = time.perf_counter()
            labels = nightly_labels(vectors, settings) if kw is None else one_shot_labels(vectors, settings, 42, **kw)[0]
            results.setdefault(vname, {})[name] = score(labels, truth, time.perf_counter() - t0)
            print(name, vname, results[vname][name], flush=True)
    (HERE / "results_fit.json").write_text(json.dumps({"sizes": {k: len(v[0]) for k, v in sets.items()},
                                                       "results": results}, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()

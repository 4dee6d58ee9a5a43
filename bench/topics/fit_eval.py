"""`voc topics fit` quality: the one-shot path (voc.topics.oneshot) against real BERTopic and the nightly path on a
fresh registry (what `voc topics fit` ran before issue 17), all on the same cached e5 vectors.

Sets (read in place from ../shared/data, research-only, never copied here):

- shopping_neg: seeded samples (``--shopping-seeds``) of ``--shopping`` (2,784) of the 4,945 negative
  online_shopping_10cats reviews, truth = product category (10); "balanced": seeded samples of at most 300 a
  category (2,493: other class shares); "all": the 4,945;
- ccks: ``--ccks`` CCKS-2021 telecom queries (seeded samples of the 5,000, ``--ccks-seeds``), truth = first intent
  attribute (19);
- waimai_neg: negative food-delivery reviews; no topic labels: noise share and topics only.

Every method runs on every sample with every seed of ``--seeds`` (the UMAP / PCA random_state: BERTopic's UMAP and
voc's); rows report the mean and the minimum over samples x seeds. NMI counts noise as one cluster (a document
called noise gets no topic), as the issue does.

BERTopic 0.17: ``BERTopic(embedding_model=None, umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0,
metric="cosine", random_state=seed), min_topic_size=15)`` on raw e5 vectors, docs as voc's jieba tokens joined by
spaces (tokenising not timed).

Run:
  OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/topics/fit_eval.py                 # writes results_fit.json
  OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/topics/fit_eval.py --grid --no-bertopic --out /tmp/grid.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import json
import logging
import random
import time
import warnings
from pathlib import Path

import numpy as np
from scale_data import HERE, ccks, e5_vectors, machine_note, shopping_neg, waimai_neg
from sklearn.metrics import normalized_mutual_info_score as nmi

from voc.config import TopicSettings
from voc.topics import TopicDoc, TopicRegistry, oneshot, update_topics

DAY = dt.date(2026, 1, 1)
log = logging.getLogger("fit_eval")


def nightly_labels(vectors: np.ndarray, settings: TopicSettings, seed: int = 42) -> np.ndarray:
    """What `voc topics fit` did before issue 17: one night of update_topics on an empty registry."""
    docs = [TopicDoc(f"L{i:07d}", "", DAY, vectors[i]) for i in range(len(vectors))]
    res = update_topics(TopicRegistry(), docs, settings, DAY, seed=seed)
    of = {a.interaction_id: a.topic_id for a in res.assignments}
    names = {t: k for k, t in enumerate(sorted(set(of.values())))}
    return np.asarray([names[of[d.interaction_id]] if d.interaction_id in of else -1 for d in docs])


def bertopic_labels(texts: list[str], vectors: np.ndarray, seed: int, min_topic_size: int = 15) -> np.ndarray:
    """Topics of a fresh BERTopic fit (outliers -1)."""
    from bertopic import BERTopic
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    from voc.semantic.tokens import tokenize_many

    docs = [" ".join(t) or "。" for t in tokenize_many(texts)]
    model = BERTopic(embedding_model=None, min_topic_size=min_topic_size, calculate_probabilities=False,
                     umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                                     random_state=seed),
                     vectorizer_model=CountVectorizer(tokenizer=str.split, token_pattern=None, lowercase=False))
    topics, _ = model.fit_transform(docs, np.asarray(vectors, dtype=np.float32))
    return np.asarray(topics, dtype=int)


def score(labels: np.ndarray, truth: list[str] | None, seconds: float) -> dict:
    out = {"noise": round(float(np.mean(labels == -1)), 3), "topics": len(set(labels.tolist()) - {-1}),
           "seconds": round(seconds, 2)}
    if truth is not None:
        out["nmi"] = round(float(nmi(truth, labels)), 3)
        kept = labels != -1
        out["nmi_assigned"] = round(float(nmi(np.asarray(truth)[kept], labels[kept])), 3) if kept.any() else 0.0
    return out


def memoise_umap() -> None:
    """The grid varies HDBSCAN and the outlier step on the same reduction: compute each UMAP once."""
    raw = oneshot._umap

    @functools.lru_cache(maxsize=64)
    def cached(key: str, dim: int, n_neighbors: int, seed: int, x_bytes: bytes, shape: tuple) -> np.ndarray:
        return raw(np.frombuffer(x_bytes).reshape(shape), dim, n_neighbors, seed)

    def umap(x: np.ndarray, dim: int, n_neighbors: int, seed: int):
        x = np.ascontiguousarray(x, dtype=np.float64)
        return cached(hashlib.sha1(x.tobytes()).hexdigest(), dim, n_neighbors, seed, x.tobytes(), x.shape)

    oneshot._umap = umap


GRID = {  # name -> one_shot_labels keyword arguments (tuning on the shared sets; see README)
    "pca10 leaf 0.5% +refine (default)": {"reducer": "pca"},
    "pca10 leaf 0.5% +refine +merge 0.5": {"reducer": "pca", "merge": 0.5},
    "umap5 leaf 0.5% +refine (fit_reducer umap)": {},
    "umap5 leaf 0.5% no refine": {"reassign": False},
    "umap5 leaf 0.5% 1 pass": {"refine_rounds": 1},
    "umap5 leaf 0.5% ms2 +refine": {"min_samples": 2},
    "umap5 leaf 0.5% ms10 +refine": {"min_samples": 10},
    "umap5 leaf 0.5% +refine +merge 0.3": {"merge": 0.3},
    "umap5 leaf 0.5% +refine +merge 0.5": {"merge": 0.5},
    "umap5 leaf 0.5% +refine +merge 0.7": {"merge": 0.7},
    "umap5 eom mcs15 ms=mcs +refine": {"selection": "eom", "min_cluster_size": 15, "min_samples": None},
    "umap5 eom mcs15 ms=mcs no refine": {"selection": "eom", "min_cluster_size": 15, "min_samples": None,
                                         "reassign": False},
    "umap5 eom 0.5% ms5 +refine": {"selection": "eom"},
    "umap5 eom 1% ms5 +refine": {"selection": "eom", "size_share": 0.01},
    "umap5 leaf 1% +refine": {"size_share": 0.01},
    "umap5 leaf 1% ms=mcs +refine": {"size_share": 0.01, "min_samples": None},
    "umap5 leaf 1% ms=mcs +refine +merge 0.5": {"size_share": 0.01, "min_samples": None, "merge": 0.5},
    "umap5 leaf mcs15 ms=mcs +refine": {"min_cluster_size": 15, "min_samples": None},
    "umap5 leaf 0.5% raw input +refine": {"centre_input": False},
    "umap5 eom mcs15 ms=mcs raw input +refine": {"selection": "eom", "min_cluster_size": 15, "min_samples": None,
                                                 "centre_input": False},
    "umap5 nn30 leaf 0.5% +refine": {"n_neighbors": 30},
    "umap10 leaf 0.5% +refine": {"dim": 10},
}


def _voc(texts: list[str], vectors: np.ndarray, seed: int, settings: TopicSettings, kw: dict) -> np.ndarray:
    return oneshot.one_shot_labels(vectors, settings, seed, **{"reducer": "umap", **kw})[0]


def samples(args) -> dict[str, list[tuple[str, list[str], list[str] | None]]]:
    """set name -> [(sample name, texts, truth)]."""
    s = shopping_neg()
    out: dict[str, list] = {"shopping_neg": [], "shopping_neg balanced": [], "shopping_neg all": [], "ccks": [],
                            "waimai_neg": []}
    for seed in [int(x) for x in args.shopping_seeds.split(",") if x]:
        idx = list(range(len(s.texts)))
        random.Random(seed).shuffle(idx)
        idx = idx[: args.shopping]
        out["shopping_neg"].append((f"sample {seed}", [s.texts[i] for i in idx], [s.labels[i] for i in idx]))
    for seed in [int(x) for x in args.balanced_seeds.split(",") if x]:  # other class shares: at most 300 a class
        idx = list(range(len(s.texts)))
        random.Random(seed).shuffle(idx)
        per: dict[str, int] = {}
        keep = []
        for i in idx:
            if per.get(s.labels[i], 0) < 300:
                per[s.labels[i]] = per.get(s.labels[i], 0) + 1
                keep.append(i)
        out.setdefault("shopping_neg balanced", []).append(
            (f"sample {seed}", [s.texts[i] for i in keep], [s.labels[i] for i in keep]))
    if args.all:
        out.setdefault("shopping_neg all", []).append(("all", s.texts, s.labels))
    for seed in [int(x) for x in args.ccks_seeds.split(",") if x]:
        c = ccks(n=args.ccks, seed=seed)
        out["ccks"].append((f"sample {seed}", c.texts, c.labels))
    if args.waimai:
        out["waimai_neg"].append(("sample 7", waimai_neg(n=args.waimai), None))
    return {k: v for k, v in out.items() if v}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shopping", type=int, default=2784, help="documents in each shopping sample (the issue's hold-out size)")
    ap.add_argument("--shopping-seeds", default="1,2,3")
    ap.add_argument("--balanced-seeds", default="1,2,3", help="shopping samples of at most 300 a category")
    ap.add_argument("--all", action=argparse.BooleanOptionalAction, default=True, help="all 4,945 shopping negatives")
    ap.add_argument("--ccks", type=int, default=1500)
    ap.add_argument("--ccks-seeds", default="0,1,2")
    ap.add_argument("--waimai", type=int, default=1000)
    ap.add_argument("--seeds", default="42,7", help="UMAP/PCA random_state of every method")
    ap.add_argument("--grid", action="store_true", help="voc one-shot variants of GRID instead of the shipped default")
    ap.add_argument("--no-bertopic", action="store_true")
    ap.add_argument("--no-nightly", action="store_true", help="skip the nightly path (before issue 17)")
    ap.add_argument("--out", default=str(HERE / "results_fit.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in ("voc", "BERTopic", "numba"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    settings = TopicSettings()
    seeds = [int(x) for x in args.seeds.split(",")]
    methods: dict[str, object] = {}
    if not args.no_nightly:
        methods["voc nightly path on one night (before)"] = lambda t, v, seed: nightly_labels(v, settings, seed)
    if args.grid:
        memoise_umap()
        for name, kw in GRID.items():
            methods[f"voc {name}"] = functools.partial(_voc, settings=settings, kw=kw)
    else:
        methods["voc one-shot, PCA 10 (default)"] = lambda t, v, seed: oneshot.one_shot_labels(
            v, settings, seed, reducer="pca")[0]
        methods["voc one-shot, UMAP 5 (fit_reducer umap)"] = lambda t, v, seed: oneshot.one_shot_labels(
            v, settings, seed, reducer="umap")[0]
        methods["voc one-shot, UMAP 5, min_cluster_size 1 %, min_samples = it"] = \
            lambda t, v, seed: oneshot.one_shot_labels(v, settings, seed, reducer="umap", size_share=0.01,
                                                       min_samples=None)[0]
    if not args.no_bertopic:
        methods["BERTopic (UMAP 5 + HDBSCAN, min_topic_size 15)"] = lambda t, v, seed: bertopic_labels(t, v, seed)
    runs: list[dict] = []
    for set_name, items in samples(args).items():
        for sample, texts, truth in items:
            vectors = e5_vectors(texts)
            for method, fn in methods.items():
                for seed in seeds:
                    t0 = time.perf_counter()
                    labels = fn(texts, vectors, seed)
                    runs.append({"set": set_name, "sample": sample, "docs": len(texts), "method": method,
                                 "seed": seed, **score(labels, truth, time.perf_counter() - t0)})
                    log.info("%s", runs[-1])
    summary = summarise(runs)
    Path(args.out).write_text(json.dumps({"command": "bench/topics/fit_eval.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out"), "machine": machine_note(),
        "summary": summary, "runs": runs}, ensure_ascii=False, indent=1) + "\n")
    print("| set | method | NMI mean | NMI min | noise mean | topics mean | seconds mean | runs |")
    print("|---|---|---|---|---|---|---|---|")
    for r in summary:
        print(f"| {r['set']} | {r['method']} | {r.get('nmi_mean', '–')} | {r.get('nmi_min', '–')} | "
              f"{r['noise_mean']} | {r['topics_mean']} | {r['seconds_mean']} | {r['runs']} |")


def summarise(runs: list[dict]) -> list[dict]:
    out = []
    for key in dict.fromkeys((r["set"], r["method"]) for r in runs):
        rows = [r for r in runs if (r["set"], r["method"]) == key]
        row = {"set": key[0], "method": key[1], "runs": len(rows)}
        for m in ("nmi", "noise", "topics", "seconds"):
            vals = [r[m] for r in rows if m in r]
            if vals:
                row[f"{m}_mean"] = round(float(np.mean(vals)), 3 if m != "topics" else 1)
                if m in ("nmi",):
                    row[f"{m}_min"] = round(float(np.min(vals)), 3)
        out.append(row)
    return out


if __name__ == "__main__":
    main()

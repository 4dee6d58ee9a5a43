"""voc topics against BERTopic with the same precomputed e5 vectors: quality on labelled sets, nightly cost at scale.

Quality (labelled sets: shopping_neg = every negative online_shopping_10cats review, truth ``cat``; ccks = 1,500
CCKS-2021 telecom queries, truth = first attribute):

- BERTopic 0.17 (``embedding_model=None``; ``fit_transform(docs, embeddings)``) with its default UMAP
  (n_neighbors 15, 5 components, min_dist 0, cosine; random_state fixed) + HDBSCAN (min_topic_size 10), docs
  given as jieba tokens joined by spaces (voc's tokenizer and stopwords) so its c-TF-IDF can read Chinese;
  tokenisation time is *not* counted for BERTopic;
- voc, one night: ``update_topics`` on an empty registry with every document at once;
- voc, 10 nights: the set split into 10 nights (seeded shuffle) through the registry, pooled residue included,
  the way the pipeline runs; each document's final topic (merges followed) is scored.

Scale: BERTopic has no incremental update, so a nightly update is a refit on history + the night. It is timed
on the synthetic documents of scale.py (same resampling, same seed) at 10k / 50k / 100k history + a 1,000
document night, and set against voc's measured 1,000-document nightly update from results_scale.json.

Metrics: NMI / ARI with outliers or unassigned documents as one cluster (strict), NMI over assigned ones only,
coverage (share given a topic), topics.

Run:  .venv/bin/python bench/topics/bertopic_compare.py [--parts quality,scale] [--scale 10000,50000,100000]
Writes bench/topics/results_bertopic.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import random
import time
from pathlib import Path

import numpy as np
from scale import metrics, run_night
from scale_data import (
    DATA,
    HERE,
    ccks,
    e5_vectors,
    machine_note,
    peak_rss_mib,
    real_pool,
    shopping_neg,
    swap_kib,
    synthetic,
)

from voc.config import TopicSettings
from voc.semantic.tokens import tokenize_many
from voc.topics import TopicDoc, TopicRegistry, update_topics

log = logging.getLogger("bertopic_compare")
START = dt.date(2026, 1, 1)


def bertopic_fit(texts: list[str], vectors: np.ndarray, reducer: str, seed: int = 42,
                 min_topic_size: int = 10) -> tuple[list[int], float]:
    """Topics of a fresh BERTopic fit and its wall time (fit_transform only)."""
    from bertopic import BERTopic
    from sklearn.feature_extraction.text import CountVectorizer

    docs = [" ".join(t) or "。" for t in tokenize_many(texts)]
    if reducer == "umap":
        from umap import UMAP

        dim = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    else:
        from sklearn.decomposition import PCA

        dim = PCA(n_components=5, random_state=seed)
    model = BERTopic(embedding_model=None, umap_model=dim, min_topic_size=min_topic_size, vectorizer_model=CountVectorizer(
        tokenizer=str.split, token_pattern=None, lowercase=False), calculate_probabilities=False)
    t0 = time.perf_counter()
    topics, _ = model.fit_transform(docs, np.asarray(vectors, dtype=np.float32))
    return [int(t) for t in topics], time.perf_counter() - t0


def voc_one_night(texts: list[str], vectors: np.ndarray, settings: TopicSettings) -> tuple[list[str], float]:
    docs = [TopicDoc(f"d{k:06d}", t, START, v) for k, (t, v) in enumerate(zip(texts, vectors, strict=True))]
    t0 = time.perf_counter()
    res = update_topics(TopicRegistry(), docs, settings, START, seed=42)
    secs = time.perf_counter() - t0
    topic = {a.interaction_id: a.topic_id for a in res.assignments}
    return [topic.get(d.interaction_id, "-1") for d in docs], secs


def voc_nights(texts: list[str], vectors: np.ndarray, settings: TopicSettings, nights: int = 10,
               seed: int = 0) -> tuple[list[str], float]:
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    night_of = {k: n * nights // len(order) for n, k in enumerate(order)}
    registry = TopicRegistry()
    topic: dict[str, str] = {}
    unassigned: dict[str, TopicDoc] = {}
    total = 0.0
    for night in range(nights):
        date = START + dt.timedelta(days=night)
        docs = [TopicDoc(f"d{k:06d}", texts[k], date, vectors[k]) for k in order if night_of[k] == night]
        pool = [d for d in unassigned.values() if (date - d.date).days <= settings.pool_days]
        res, secs, _ = run_night(registry, docs, pool, date, settings)
        total += secs
        registry = res.registry
        topic.update((a.interaction_id, a.topic_id) for a in res.assignments)
        unassigned = {d.interaction_id: d for d in [*pool, *docs] if d.interaction_id not in topic}
    return [registry.resolve(topic[f"d{k:06d}"]) if f"d{k:06d}" in topic else "-1"
            for k in range(len(texts))], total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--parts", default="quality,scale", help="quality, scale; none: only refresh voc's times and print")
    ap.add_argument("--scale", default="10000,50000,100000", help="history sizes for the refit timing")
    ap.add_argument("--night", type=int, default=1000)
    ap.add_argument("--scale-reducer", default="umap", choices=["umap", "pca"])
    ap.add_argument("--seeds", default="42,7", help="quality: BERTopic's UMAP random_state(s)")
    ap.add_argument("--min-topic-size", default="10,15", help="quality: BERTopic min_topic_size(s)")
    ap.add_argument("--night-seeds", default="0,1,2,3", help="quality: seeds of the shuffle that splits a set into nights")
    ap.add_argument("--methods", default="", help="quality: only methods whose name contains one of these (comma list)")
    ap.add_argument("--out", default=str(HERE / "results_bertopic.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in ("voc", "BERTopic", "numba"):
        logging.getLogger(name).setLevel(logging.WARNING)
    settings = TopicSettings()
    out_path = Path(args.out)
    out = json.loads(out_path.read_text()) if out_path.exists() else {}
    parts = args.parts.split(",")
    if "quality" in parts:
        rows = []
        umap_settings = settings.model_copy(update={"reducer": "umap"})
        umap5_settings = settings.model_copy(update={"reducer": "umap", "reduce_dim": 5})
        methods = []
        for mts in [int(x) for x in args.min_topic_size.split(",")]:
            for seed in [int(x) for x in args.seeds.split(",")]:
                methods.append((f"BERTopic (UMAP+HDBSCAN, min_topic_size {mts}, seed {seed})",
                                lambda t, v, mts=mts, seed=seed: bertopic_fit(t, v, "umap", seed, mts)))
        methods += [("BERTopic (PCA 5+HDBSCAN)", lambda t, v: bertopic_fit(t, v, "pca")),
                    ("voc, one night", lambda t, v: voc_one_night(t, v, settings))]
        for ns in [int(x) for x in args.night_seeds.split(",")]:
            tail = f" (nights shuffled with seed {ns})" if ns else ""
            methods += [(f"voc, 10 nights{tail}", lambda t, v, ns=ns: voc_nights(t, v, settings, seed=ns)),
                        (f"voc, 10 nights, residue by UMAP 10 (topics.reducer umap){tail}",
                         lambda t, v, ns=ns: voc_nights(t, v, umap_settings, seed=ns)),
                        (f"voc, 10 nights, residue by UMAP 5 (reducer umap, reduce_dim 5){tail}",
                         lambda t, v, ns=ns: voc_nights(t, v, umap5_settings, seed=ns))]
        wanted = [m for m in args.methods.split(",") if m]
        for ls in (shopping_neg(args.data), ccks(args.data)):
            vecs = e5_vectors(ls.texts)
            for method, fn in methods:
                if wanted and not any(w in method for w in wanted):
                    continue
                labels, secs = fn(ls.texts, vecs)
                rows.append({"set": ls.name, "docs": len(ls.texts), "classes": len(set(ls.labels)), "method": method,
                             **metrics(ls.labels, labels), "seconds": round(secs, 1)})
                log.info("%s", rows[-1])
        out["quality"] = rows
    if "scale" in parts:
        texts, classes, vectors = real_pool(args.data)
        sizes = [int(s) for s in args.scale.split(",")]
        h_texts, h_cls, h_vecs = synthetic(texts, classes, vectors, max(sizes), 0)  # scale.py's history
        p_texts, p_cls, p_vecs = synthetic(texts, classes, vectors, args.night, 1)  # a night drawn like scale.py's probes (seed 1)
        rows = []
        for n in sizes:
            all_texts, all_cls = h_texts[:n] + p_texts, h_cls[:n] + p_cls
            labels, secs = bertopic_fit(all_texts, np.concatenate([h_vecs[:n], p_vecs]), args.scale_reducer)
            rows.append({"history_docs": n, "night_docs": args.night, "bertopic_reducer": args.scale_reducer,
                         "bertopic_refit_s": round(secs, 1), **{f"bertopic_{k}": v for k, v in
                                                                metrics(all_cls, labels).items()},
                         "peak_rss_mib": round(peak_rss_mib()), "swap_kib": swap_kib()})
            log.info("%s", rows[-1])
        out["scale"] = rows
    if out.get("scale"):  # voc's side: the latest scale.py measurement of the same night size
        scale_json = HERE / "results_scale.json"
        probes = json.loads(scale_json.read_text())["probes"] if scale_json.exists() else []
        for r in out["scale"]:
            voc = next((p for p in probes if p["history_docs"] == r["history_docs"]
                        and p["night_docs"] == r["night_docs"]), None)
            r["voc_update_s"] = voc["seconds"] if voc else None
            r["speedup"] = round(r["bertopic_refit_s"] / voc["seconds"], 1) if voc else None
    out.update({"command": "bench/topics/bertopic_compare.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("out", "data")),
        "bertopic_version": __import__("bertopic").__version__, "machine": machine_note()})
    out_path.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    if out.get("quality"):
        print("| set | method | NMI | ARI | NMI assigned | coverage | topics | seconds |")
        print("|---|---|---|---|---|---|---|---|")
        for r in out["quality"]:
            print(f"| {r['set']} ({r['docs']:,}, {r['classes']} classes) | {r['method']} | {r['nmi']} | {r['ari']} | "
                  f"{r['nmi_assigned']} | {r['coverage']} | {r['topics']} | {r['seconds']} |")
    if out.get("scale"):
        print()
        print("| history | BERTopic refit s | BERTopic NMI | voc nightly update s | speed-up |")
        print("|---|---|---|---|---|")
        for r in out["scale"]:
            print(f"| {r['history_docs']:,} + {r['night_docs']:,} | {r['bertopic_refit_s']} ({r['bertopic_reducer']}) "
                  f"| {r['bertopic_nmi']} | {r['voc_update_s']} | {r['speedup']} |")
    print(machine_note())


if __name__ == "__main__":
    main()

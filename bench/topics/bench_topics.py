"""Topic clustering benchmark on real Chinese complaints: embedder x reduction x HDBSCAN, registry stability, emerging.

Run:  .venv/bin/python bench/topics/bench_topics.py [--n 1500] [--data ../shared/data] [--cache /tmp/voc-bench-topics]
Writes bench/topics/results.json and prints markdown tables (copied into README.md).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import logging
import random
import time
from collections import Counter
from pathlib import Path

import numpy as np

from voc.config import TopicSettings
from voc.topics import (
    E5Embedder,
    EmbeddingCache,
    SentenceTransformerEmbedder,
    TfidfSvdEmbedder,
    TopicDoc,
    TopicRegistry,
    cluster_vectors,
    detect_emerging,
    embed_with_cache,
    minilm_model_path,
    update_topics,
)

HERE = Path(__file__).resolve().parent
log = logging.getLogger("bench_topics")


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def load_sets(data: Path, n: int, seed: int) -> dict[str, tuple[list[str], list[str]]]:
    rng = random.Random(seed)
    shop = [r for r in read_tsv(data / "sentiment/online_shopping_10cats_sample10k.tsv") if r["label"] == "0"]
    ccks = read_tsv(data / "intent/ccks2021_telecom_kgqa_train.tsv")
    waimai = [r for r in read_tsv(data / "sentiment/waimai_10k.tsv") if r["label"] == "0"]
    out = {}
    for name, rows, key in (("shopping_neg", shop, "cat"), ("ccks", ccks, "attribute"), ("waimai_neg", waimai, None)):
        rows = [r for r in rows if r["text"].strip()]
        rng.shuffle(rows)
        rows = rows[: (n if name != "waimai_neg" else n // 2)]
        texts = [r["text"].strip()[:128] for r in rows]  # long hotel reviews: the opening carries the topic
        labels = [r[key].split("|")[0] if key else "" for r in rows]
        out[name] = (texts, labels)
    return out


def metrics(truth: list[str], labels: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    lab = np.asarray(labels)
    # Noise as singletons would inflate nothing useful; count it as one "noise" cluster (the strict view).
    keep = lab >= 0
    res = {
        "nmi": normalized_mutual_info_score(truth, lab),
        "ari": adjusted_rand_score(truth, lab),
        "noise": float(1 - keep.mean()),
        "clusters": int(lab.max() + 1),
    }
    if keep.sum() > 1:
        t = [x for x, k in zip(truth, keep, strict=True) if k]
        res["nmi_clustered"] = normalized_mutual_info_score(t, lab[keep])
    else:
        res["nmi_clustered"] = 0.0
    return {k: round(float(v), 3) if isinstance(v, float) else v for k, v in res.items()}


def embed_all(embedder, texts: list[str], cache_dir: Path, tag: str) -> tuple[np.ndarray, float]:
    path = cache_dir / f"{tag}.npz"
    cache = EmbeddingCache.load(path, embedder.name) if path.exists() else EmbeddingCache(embedder.name, embedder.dim)
    missing = sum(t not in cache for t in set(texts))
    t0 = time.perf_counter()
    for i in range(0, len(texts), 250):  # save as we go: embedding is the slow part on a shared machine
        embed_with_cache(embedder, texts[i : i + 250], cache)
        cache.save(path)
    vecs = embed_with_cache(embedder, texts, cache)
    secs = time.perf_counter() - t0
    rate = missing / secs if missing and secs > 0 else float("nan")
    return vecs, rate


def grid(vectors: np.ndarray, truth: list[str], seed: int, dims, sizes, samples, selections) -> list[dict]:
    rows = []
    for d in dims:
        for mcs in sizes:
            for ms in samples:
                for sel in selections:
                    s = TopicSettings(reduce_dim=d, min_cluster_size=mcs, min_samples=ms)
                    t0 = time.perf_counter()
                    res = cluster_vectors(vectors, s, seed, selection=sel)
                    secs = time.perf_counter() - t0
                    rows.append({"reduce_dim": d, "min_cluster_size": mcs, "min_samples": ms, "selection": sel,
                                 **metrics(truth, res.labels), "seconds": round(secs, 2)})
    return rows


def kmeans_ref(vectors: np.ndarray, truth: list[str], seed: int) -> dict:
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    k = len(set(truth))
    lab = KMeans(n_clusters=k, random_state=seed, n_init=4).fit_predict(vectors)
    return {"k": k, "nmi": round(float(normalized_mutual_info_score(truth, lab)), 3)}


def similarity_profile(vectors: np.ndarray, truth: list[str], seed: int) -> dict:
    """Cosine of a doc to its own class centroid vs the nearest other class centroid (for assign_threshold)."""
    classes = sorted(set(truth))
    t = np.asarray(truth)
    cents = np.stack([vectors[t == c].mean(0) for c in classes])
    cents /= np.linalg.norm(cents, axis=1, keepdims=True)
    sim = vectors @ cents.T
    own = sim[np.arange(len(t)), [classes.index(x) for x in t]]
    other = np.where(np.eye(len(classes), dtype=bool)[[classes.index(x) for x in t]], -1, sim).max(1)
    cc = cents @ cents.T
    np.fill_diagonal(cc, -1)
    q = lambda a: [round(float(x), 3) for x in np.percentile(a, [10, 50, 90])]  # noqa: E731
    return {"own_p10_50_90": q(own), "other_p10_50_90": q(other), "centroid_centroid_max": round(float(cc.max()), 3),
            "own_beats_other": round(float((own > other).mean()), 3)}


def nightly(texts, truth, vectors, settings: TopicSettings, seed: int, inject: str | None, merge_threshold=None):
    """Split into 5 nights by a seeded shuffle; ``inject``'s docs all arrive on night 4."""
    rng = random.Random(seed)
    idx = list(range(len(texts)))
    rng.shuffle(idx)
    nights: list[list[int]] = [[] for _ in range(5)]
    for k, i in enumerate(idx):
        nights[3 if truth[i] == inject else k % 5].append(i)
    start = dt.date(2026, 11, 1)
    reg = TopicRegistry()
    counts: dict[str, dict[dt.date, int]] = {}
    topic_docs: dict[str, list[int]] = {}
    per_night = []
    flags = []
    created_on: dict[str, int] = {}
    for night, members in enumerate(nights):
        day = start + dt.timedelta(days=night)
        docs = [TopicDoc(str(i), texts[i], day, vectors[i]) for i in members]
        t0 = time.perf_counter()
        res = update_topics(reg, docs, settings, day, seed, merge_threshold=merge_threshold)
        secs = time.perf_counter() - t0
        reg = res.registry
        for t in res.new_topics:
            created_on[t.id] = night
        for a in res.assignments:
            topic_docs.setdefault(a.topic_id, []).append(int(a.interaction_id))
        for tid, c in res.counts_today.items():
            counts.setdefault(tid, {})[day] = c
        # topics merged tonight: fold their history into the survivor
        for tid in list(counts):
            surv = reg.resolve(tid)
            if surv != tid:
                for d, c in counts.pop(tid).items():
                    counts.setdefault(surv, {})[d] = counts[surv].get(d, 0) + c
                topic_docs.setdefault(surv, []).extend(topic_docs.pop(tid, []))
        em = detect_emerging(counts, day, settings, examples=res.examples_today)
        for e in em:
            maj = Counter(truth[i] for i in topic_docs.get(e.topic_id, [])).most_common(1)[0][0]
            flags.append({"night": night + 1, "topic": e.topic_id, "kind": e.kind, "count": e.count,
                          "z": e.z, "majority_class": maj})
        per_night.append({"night": night + 1, "docs": len(members), **{k: res.stats[k] for k in (
            "assigned_known", "new_topics", "absorbed_clusters", "merged_topics", "unassigned")},
            "seconds": round(secs, 2)})
    # consistency: a topic's class = majority of the docs it got on the night it was created;
    # a later doc is consistent when its own class equals that.
    birth_class = {}
    for tid, night in created_on.items():
        surv = reg.resolve(tid)
        born = [i for i in topic_docs.get(surv, []) if i in set(nights[night])]
        if born and surv not in birth_class:
            birth_class[surv] = Counter(truth[i] for i in born).most_common(1)[0][0]
    later = [(i, tid) for tid, ds in topic_docs.items() for i in ds
             if tid in birth_class and i not in set(nights[created_on.get(tid, 0)])]
    consistent = sum(truth[i] == birth_class[tid] for i, tid in later) / max(len(later), 1)
    assigned = sum(len(v) for v in topic_docs.values())
    purity = sum(Counter(truth[i] for i in ds).most_common(1)[0][1] for ds in topic_docs.values()) / max(assigned, 1)
    result = {
        "topics_created": len(created_on), "active_topics": len(reg.active),
        "assigned_share": round(assigned / len(texts), 3), "purity": round(purity, 3),
        "later_consistency": round(consistent, 3), "later_docs": len(later), "per_night": per_night,
    }
    if inject:
        inj_flags = [f for f in flags if f["majority_class"] == inject]
        result["inject"] = inject
        result["inject_docs"] = len(nights[3])
        result["flagged_on_night4"] = any(f["night"] == 4 for f in inj_flags)
        result["false_alarms"] = [f for f in flags if f["majority_class"] != inject]
        result["flags"] = flags
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=HERE.parents[2] / "shared" / "data")
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/voc-bench-topics"))
    ap.add_argument("--quick", action="store_true", help="smaller grid")
    ap.add_argument("--night-dim", type=int, default=10)
    ap.add_argument("--night-mcs", type=int, default=8)
    ap.add_argument("--night-ms", type=int, default=2)
    ap.add_argument("--only-nightly", action="store_true", help="registry experiment only (cached e5 vectors)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.cache.mkdir(parents=True, exist_ok=True)
    sets = load_sets(args.data, args.n, args.seed)
    if args.only_nightly:
        texts, truth = sets["shopping_neg"]
        v, _ = embed_all(E5Embedder(prefix="query"), texts, args.cache, f"e5q_shopping_neg_{args.n}")
        res = {}
        for thr in (0.93, 0.94, 0.95):
            s = TopicSettings(assign_threshold=thr, reduce_dim=args.night_dim, min_cluster_size=args.night_mcs,
                              min_samples=args.night_ms)
            res[f"e5:thr={thr}:dim={args.night_dim}:mcs={args.night_mcs}:ms={args.night_ms}"] = nightly(
                texts, truth, v, s, args.seed, inject="蒙牛")
        path = HERE / "results_nightly.json"
        old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        path.write_text(json.dumps({**old, **res}, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        return
    out: dict = {"n": args.n, "seed": args.seed, "embed_rate": {}, "grid": {}, "kmeans": {}, "sim": {}}
    e5q = E5Embedder(prefix="query")
    e5p = E5Embedder(prefix="passage")
    vecs: dict[tuple[str, str], np.ndarray] = {}
    for name, (texts, _) in sets.items():
        vecs[("e5", name)], out["embed_rate"][f"e5:{name}"] = embed_all(e5q, texts, args.cache, f"e5q_{name}_{args.n}")
        tf = TfidfSvdEmbedder(dim=128, seed=args.seed).fit(texts)
        t0 = time.perf_counter()
        vecs[("tfidf", name)] = tf.embed(texts)
        out["embed_rate"][f"tfidf:{name}"] = round(len(texts) / (time.perf_counter() - t0), 1)
    texts, truth = sets["shopping_neg"]
    # passage: vs query: prefix, compared on the same 600 texts (embedding all again costs minutes)
    vecs[("e5-passage", "shopping_neg600")], _ = embed_all(e5p, texts[:600], args.cache, f"e5p_shopping_neg_{args.n}")
    vecs[("e5-query", "shopping_neg600")] = vecs[("e5", "shopping_neg")][:600]
    st = SentenceTransformerEmbedder(minilm_model_path())
    sub = texts[:300]
    t0 = time.perf_counter()
    vecs[("minilm", "shopping_neg300")] = st.embed(sub)
    out["embed_rate"]["minilm:shopping_neg300"] = round(len(sub) / (time.perf_counter() - t0), 1)

    dims = (0, 5, 10, 20) if not args.quick else (0, 10)
    sizes = (8, 15) if not args.quick else (15,)
    samples = (1, 3, None) if not args.quick else (1, None)
    for (emb, name), v in vecs.items():
        truth = sets[name if name in sets else "shopping_neg"][1][: len(v)]
        if name == "waimai_neg":
            rows = []
            for d in (0, 10):
                for ms in (2, None):
                    r = cluster_vectors(v, TopicSettings(reduce_dim=d, min_cluster_size=15, min_samples=ms), args.seed)
                    rows.append({"reduce_dim": d, "min_cluster_size": 15, "min_samples": ms,
                                 "clusters": r.n_clusters, "noise": round(r.noise_share, 3)})
            out["grid"][f"{emb}:{name}"] = rows
            continue
        full = emb in ("e5", "tfidf")
        out["grid"][f"{emb}:{name}"] = grid(v, truth, args.seed, dims if full else (0, 10), sizes if full else (8,),
                                           samples if full else (2, None), ("eom", "leaf") if full else ("eom",))
        out["kmeans"][f"{emb}:{name}"] = kmeans_ref(v, truth, args.seed)
        out["sim"][f"{emb}:{name}"] = similarity_profile(v, truth, args.seed)
        print(emb, name, "done", flush=True)

    # Registry over 5 nights (shopping negatives; 蒙牛 dairy complaints held back until night 4).
    out["nightly"] = {}
    texts, truth = sets["shopping_neg"]
    for emb in ("e5", "tfidf"):
        v = vecs[(emb, "shopping_neg")]
        for thr in ((0.93, 0.94, 0.95) if emb == "e5" else (0.3, 0.4, 0.5)):
            s = TopicSettings(assign_threshold=thr, reduce_dim=args.night_dim, min_cluster_size=args.night_mcs,
                              min_samples=args.night_ms)
            out["nightly"][f"{emb}:thr={thr}"] = nightly(texts, truth, v, s, args.seed, inject="蒙牛")
            print("nightly", emb, thr, flush=True)
    (HERE / "results.json").write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    print(json.dumps({k: out[k] for k in ("embed_rate", "kmeans", "sim")}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()

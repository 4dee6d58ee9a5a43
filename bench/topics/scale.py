"""Nightly topic update cost against history size: registries built from 10k / 50k / 100k documents.

Documents: ``scale_data.synthetic`` resamples the ~7.9k real e5 vectors (shopping_neg + waimai_neg + ccks) into
as many documents as needed (same-class mixes, see its docstring): embedding 100k texts with e5 at ~15-90/s on
this machine would take hours, and the point here is the registry's cost, not the embedder's.

The history is fed night by night (``--night`` documents a night) through ``update_topics`` with the shipped
TopicSettings, the pool of earlier nights' unassigned documents included as the pipeline does. At each
checkpoint (10k / 50k / 100k documents of history) the *same* probe nights (``--probe`` sizes, fresh documents)
are run against that registry and measured: wall time, tracemalloc peak of the call, and the process's peak
RSS and swap. Cost should follow the probe night's size, not the history.

Run:  .venv/bin/python bench/topics/scale.py [--checkpoints 10000,50000,100000] [--night 2000] [--probe 1000,5000]
Writes bench/topics/results_scale.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import time
import tracemalloc
from pathlib import Path

import numpy as np
from scale_data import DATA, HERE, machine_note, peak_rss_mib, real_pool, swap_kib, synthetic, topic_settings

from voc.config import TopicSettings
from voc.topics import TopicDoc, TopicRegistry, update_topics

log = logging.getLogger("scale")
START = dt.date(2026, 1, 1)


def run_night(registry: TopicRegistry, docs: list[TopicDoc], pool: list[TopicDoc], date: dt.date,
              settings: TopicSettings, trace: bool = False) -> tuple[object, float, float]:
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    res = update_topics(registry, docs + pool, settings, date, seed=42, merge_threshold=settings.merge_threshold)
    secs = time.perf_counter() - t0
    peak = 0.0
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return res, secs, peak


def metrics(truth: list[str], labels: list) -> dict:
    """NMI/ARI with unassigned documents (label "-1" / -1) as one cluster (strict) and over assigned ones only."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    lab = [str(x) for x in labels]
    keep = [i for i, x in enumerate(lab) if x != "-1"]
    kt, kl = [truth[i] for i in keep], [lab[i] for i in keep]
    return {"nmi": round(float(normalized_mutual_info_score(truth, lab)), 3),
            "ari": round(float(adjusted_rand_score(truth, lab)), 3),
            "nmi_assigned": round(float(normalized_mutual_info_score(kt, kl)), 3) if len(keep) > 1 else 0.0,
            "coverage": round(len(keep) / max(len(lab), 1), 3), "topics": len(set(kl))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--checkpoints", default="10000,50000,100000")
    ap.add_argument("--night", type=int, default=2000, help="documents a history night")
    ap.add_argument("--probe", default="1000,5000", help="sizes of the measured nights")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each probe night; the median time is reported")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a TopicSettings field")
    ap.add_argument("--out", default=str(HERE / "results_scale.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("voc").setLevel(logging.WARNING)
    t_all = time.perf_counter()
    texts, classes, vectors = real_pool(args.data)
    checkpoints = [int(c) for c in args.checkpoints.split(",")]
    probes = [int(p) for p in args.probe.split(",")]
    settings = topic_settings(args.set)
    h_texts, h_cls, h_vecs = synthetic(texts, classes, vectors, max(checkpoints), args.seed)
    p_texts, _p_cls, p_vecs = synthetic(texts, classes, vectors, sum(probes), args.seed + 1)
    log.info("synthetic: %d history + %d probe documents from %d real texts; RSS peak %.0f MiB",
             len(h_texts), len(p_texts), len(texts), peak_rss_mib())
    registry = TopicRegistry()
    unassigned: dict[str, TopicDoc] = {}
    fed = 0
    night = 0
    build_s = 0.0
    rows = []
    history_nights = []
    topic_of: dict[str, str] = {}
    quality = []
    for target in checkpoints:
        while fed < target:
            date = START + dt.timedelta(days=night)
            hi = min(fed + args.night, target)
            docs = [TopicDoc(f"h{k:06d}", h_texts[k], date, h_vecs[k]) for k in range(fed, hi)]
            pool = [d for d in unassigned.values() if (date - d.date).days <= settings.pool_days]
            res, secs, _ = run_night(registry, docs, pool, date, settings)
            registry = res.registry
            build_s += secs
            done = {a.interaction_id for a in res.assignments}
            topic_of.update((a.interaction_id, a.topic_id) for a in res.assignments)
            unassigned = {d.interaction_id: d for d in [*pool, *docs] if d.interaction_id not in done}
            history_nights.append({"night": night, "docs": len(docs), "pool": len(pool), "seconds": round(secs, 2),
                                   "active_topics": len(registry.active)})
            log.info("history night %d: %d docs + %d pool -> %.1f s, %d active topics, %d fed",
                     night, len(docs), len(pool), secs, len(registry.active), hi)
            fed = hi
            night += 1
        quality.append({"history_docs": fed, **metrics(
            h_cls[:fed], [registry.resolve(topic_of[f"h{k:06d}"]) if f"h{k:06d}" in topic_of else "-1"
                          for k in range(fed)])})
        log.info("quality: %s", quality[-1])
        date = START + dt.timedelta(days=night)  # the probe night (not kept: the registry is immutable)
        offset = 0
        for size in probes:
            docs = [TopicDoc(f"p{k:06d}", p_texts[k], date, p_vecs[k]) for k in range(offset, offset + size)]
            offset += size
            pool = [d for d in unassigned.values() if (date - d.date).days <= settings.pool_days]
            times = []
            for _ in range(args.repeat):
                res, secs, _ = run_night(registry, docs, pool, date, settings)
                times.append(secs)
            secs = float(np.median(times))
            _res, _secs2, traced = run_night(registry, docs, pool, date, settings, trace=True)
            state = json.dumps(registry.to_dict())
            row = {"history_docs": fed, "night_docs": size, "pool_docs": len(pool), "seconds": round(secs, 2),
                   "seconds_runs": [round(t, 2) for t in times], "docs_per_s": round((size + len(pool)) / secs, 1), "tracemalloc_peak_mib": round(traced, 1),
                   "process_peak_rss_mib": round(peak_rss_mib()), "swap_kib": swap_kib(),
                   "active_topics": len(registry.active), "topics_ever": len(registry.topics),
                   "registry_events": len(registry.events), "registry_json_kib": round(len(state) / 1024),
                   "assigned_known": res.stats["assigned_known"], "new_topics": res.stats["new_topics"]}
            rows.append(row)
            log.info("probe: %s", row)
    out = {"command": "bench/topics/scale.py " + " ".join(
               f"--{k} {v}" for k, v in vars(args).items() if k not in ("out", "data", "set"))
           + "".join(f" --set {o}" for o in args.set),
           "resampling": synthetic.__doc__.strip().splitlines()[2:], "real_texts": len(texts),
           "settings": settings.model_dump(mode="json"), "history_build_s": round(build_s, 1),
           "history_nights": history_nights, "probes": rows, "quality": quality, "wall_s": round(time.perf_counter() - t_all, 1),
           "peak_rss_mib": round(peak_rss_mib()), "swap_kib": swap_kib(), "machine": machine_note()}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
    print("| history docs | night docs | + pool | seconds | docs/s | tracemalloc peak MiB | process peak RSS MiB | "
          "active topics | registry JSON KiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['history_docs']:,} | {r['night_docs']:,} | {r['pool_docs']:,} | {r['seconds']} | {r['docs_per_s']} "
              f"| {r['tracemalloc_peak_mib']} | {r['process_peak_rss_mib']} | {r['active_topics']} | "
              f"{r['registry_json_kib']} |")
    print()
    print("| history docs | NMI (unassigned = 1 cluster) | ARI | NMI assigned | coverage | topics |")
    print("|---|---|---|---|---|---|")
    for q in quality:
        print(f"| {q['history_docs']:,} | {q['nmi']} | {q['ari']} | {q['nmi_assigned']} | {q['coverage']} | {q['topics']} |")
    print(f"history build {out['history_build_s']} s over {len(history_nights)} nights; wall {out['wall_s']} s; "
          f"peak RSS {out['peak_rss_mib']} MiB, swap {out['swap_kib']} KiB; {out['machine']}")


if __name__ == "__main__":
    main()

"""Night-by-night evaluation of the topic registry (voc.topics.update_topics) against reference themes.

Documents arrive over N nights; each night goes through ``update_topics`` with the registry of the night
before, exactly as the pipeline's topics stage does. Reported per data set and setting:

- NMI: over all complaints, unassigned ones counted as one "no topic" cluster (strict), and over assigned
  complaints only (what a reader of the topic list sees);
- coverage: share of complaints that got a topic;
- largest topic: its share of the assigned complaints and its purity (share of its majority theme);
- purity: share of assigned complaints in their topic's majority theme; topics: active at the end;
- late theme: a theme that only starts on a later night; flagged = ``detect_emerging`` flags (new or spike),
  on that first night, a topic whose majority theme tonight is the late theme.

Data sets: ``demo`` (demo/inbox/text, themes from demo/reference/complaint_themes.csv; every text whose theme
is not praise/neutral_enquiry, by its local date: 30 nights; the late theme is x3_leak), ``shopping_neg``
(negative online_shopping_10cats reviews, truth ``cat``; 蒙牛 held back to the last 4 nights) and ``ccks``
(CCKS-2021 telecom queries, truth = first attribute; 档位介绍-上线时间 held back), both split into 10 nights
by a seeded shuffle. The real sets are read in place from /work/shared/data (research-only: never copied).

Run:  .venv/bin/python bench/topics/nightly_eval.py [--sets demo,shopping_neg,ccks] [--variants legacy,default]
e5 vectors are cached per text in ``--cache`` (npz), so reruns only cluster (about a minute per variant).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import logging
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from voc.config import TopicSettings
from voc.topics import E5Embedder, EmbeddingCache, TopicDoc, TopicRegistry, detect_emerging, update_topics

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
log = logging.getLogger("nightly_eval")
NOT_COMPLAINTS = ("praise", "neutral_enquiry")
START = dt.date(2026, 11, 1)

# Settings compared (fields of TopicSettings; anything not named keeps its default).
LEGACY = {"centre": False, "assign_threshold": 0.94, "pool_days": 0}
VARIANTS: dict[str, dict] = {
    "legacy": LEGACY,  # the defaults before this change: raw e5 cosine, one threshold 0.94, no pooling
    "legacy_pool3": {**LEGACY, "pool_days": 3},  # ... with 3 days of pooled residue
    "default": {},  # whatever TopicSettings ships now (centred, p95, no pooling)
    # the measured best: the default with 3 days of pooled residue; the rows below are it with one change
    "recommended": {"pool_days": 3},
    "topic_p25": {"pool_days": 3, "topic_percentile": 25},  # + per-topic thresholds (p25 of founding members)
    "abtt1": {"pool_days": 3, "remove_components": 1},  # + all-but-the-top, 1 component
    "abtt3": {"pool_days": 3, "remove_components": 3},
    "p90": {"pool_days": 3, "assign_percentile": 90},  # join threshold percentile below / above 95
    "p98": {"pool_days": 3, "assign_percentile": 98},
    "p99": {"pool_days": 3, "assign_percentile": 99},
}


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def load_demo(root: Path) -> tuple[list[str], list[str], list[int], str]:
    """Demo texts (redacted as ingest does), their theme and night index (local date - first date)."""
    from voc.text.redact import redact

    theme = {r["id"]: r["theme"] for r in csv.DictReader((root / "reference/complaint_themes.csv").open(encoding="utf-8"))}
    rows: list[dict] = []
    text_dir = root / "inbox/text"
    for path in sorted(text_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            rows += [json.loads(line) for line in f if line.strip()]
    for path in sorted(text_dir.glob("*.csv")):
        with path.open(encoding="utf-8") as f:
            rows += list(csv.DictReader(f))
    docs = []
    for r in rows:
        th = theme.get(r["id"])
        if th is None or th in NOT_COMPLAINTS or not (r.get("text") or "").strip():
            continue
        day = dt.datetime.fromisoformat(r["created_at"]).date()  # local (+08:00) date = business date
        docs.append((day, r["id"], redact(r["text"].strip()).text, th))
    docs.sort()
    first = docs[0][0]
    return [d[2] for d in docs], [d[3] for d in docs], [(d[0] - first).days for d in docs], "x3_leak"


def load_real(data: Path, name: str, n: int, nights: int, late_nights: int, seed: int
              ) -> tuple[list[str], list[str], list[int], str]:
    """``n`` texts of a labelled shared set over ``nights`` nights; the late class only in the last ``late_nights``."""
    rng = random.Random(seed)
    if name == "shopping_neg":
        rows = [r for r in _read_tsv(data / "sentiment/online_shopping_10cats_sample10k.tsv") if r["label"] == "0"]
        key, late = "cat", "蒙牛"
    elif name == "ccks":
        rows = _read_tsv(data / "intent/ccks2021_telecom_kgqa_train.tsv")
        key, late = "attribute", "档位介绍-上线时间"
    else:
        raise ValueError(f"unknown data set {name!r}")
    rows = [r for r in rows if r["text"].strip()]
    rng.shuffle(rows)
    rows = rows[:n]
    texts = [r["text"].strip()[:128] for r in rows]  # long reviews: the opening carries the topic
    truth = [r[key].split("|")[0] for r in rows]
    night = []
    for k, t in enumerate(truth):
        if t == late:
            night.append(nights - late_nights + rng.randrange(late_nights))
        else:
            night.append(k % nights)
    return texts, truth, night, late


def embed_cached(texts: list[str], cache_dir: Path, tag: str) -> np.ndarray:
    """e5 (query:) vectors through an npz cache; embeds only texts not seen before, saving as it goes."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"nightly_{tag}.npz"
    name = "e5-small-q4:original:query"
    cache = EmbeddingCache.load(path, name) if path.exists() else EmbeddingCache(name, 384)
    missing = sorted({t for t in texts if t not in cache})
    if missing:
        emb = E5Embedder(prefix="query")
        t0 = time.perf_counter()
        for i in range(0, len(missing), 200):
            chunk = missing[i : i + 200]
            cache.put(chunk, emb.embed(chunk))
            cache.save(path)
            print(f"  {tag}: embedded {i + len(chunk)}/{len(missing)} ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
    return np.stack([cache.get(t) for t in texts])


def evaluate(texts: list[str], truth: list[str], night: list[int], late: str, vectors: np.ndarray,
             settings: TopicSettings, seed: int = 42) -> dict:
    from sklearn.metrics import normalized_mutual_info_score

    n_nights = max(night) + 1
    reg = TopicRegistry()
    topic_of: dict[int, str] = {}
    counts: dict[str, dict[dt.date, int]] = {}
    late_first = min(k for k, t in zip(night, truth, strict=True) if t == late)
    late_flag: dict = {"first_night": late_first + 1, "flagged": False}
    per_night = []
    false_flags: list[int] = []
    t0 = time.perf_counter()
    for k in range(n_nights):
        day = START + dt.timedelta(days=k)
        idx = [i for i in range(len(texts)) if night[i] == k]
        # topics.pool_days, as the pipeline does it: earlier nights' unassigned docs get another chance
        pool = [i for i in range(len(texts)) if k - settings.pool_days <= night[i] < k and i not in topic_of]
        docs = [TopicDoc(str(i), texts[i], START + dt.timedelta(days=night[i]), vectors[i]) for i in idx + pool]
        res = update_topics(reg, docs, settings, day, seed)
        reg = res.registry
        tonight: dict[str, list[int]] = {}
        for a in res.assignments:
            topic_of[int(a.interaction_id)] = a.topic_id
            if night[int(a.interaction_id)] == k:
                tonight.setdefault(a.topic_id, []).append(int(a.interaction_id))
        for i, tid in list(topic_of.items()):  # merged topics: their docs now count for the survivor
            topic_of[i] = reg.resolve(tid)
        counts = {}
        for i, tid in topic_of.items():
            d = START + dt.timedelta(days=night[i])
            counts.setdefault(tid, {})[d] = counts.setdefault(tid, {}).get(d, 0) + 1
        flags = detect_emerging(counts, day, settings)
        for e in flags:  # false alarm: a flagged topic whose documents tonight are mostly not the late theme
            members = tonight.get(e.topic_id, [])
            if not members or Counter(truth[i] for i in members).most_common(1)[0][0] != late:
                false_flags.append(k + 1)
        if k >= late_first and "flag_night" not in late_flag:
            for e in flags:
                members = tonight.get(e.topic_id, [])
                if members and Counter(truth[i] for i in members).most_common(1)[0][0] == late:
                    late_flag["flag_night"] = k + 1
        if k == late_first:
            for e in flags:
                members = tonight.get(e.topic_id, [])
                maj = Counter(truth[i] for i in members).most_common(1)[0][0] if members else None
                if maj == late:
                    late_flag.update(flagged=True, kind=e.kind, count=e.count)
            late_flag.setdefault("late_docs_tonight", sum(truth[i] == late for i in idx))
        per_night.append({"night": k + 1, "docs": len(idx), "pool": len(pool), "assigned": len(res.assignments),
                          "new_topics": len(res.new_topics), "flags": len(flags)})
    secs = time.perf_counter() - t0
    all_ids = list(range(len(texts)))
    labels = [topic_of.get(i, "-") for i in all_ids]
    assigned = [i for i in all_ids if i in topic_of]
    by_topic: dict[str, list[int]] = {}
    for i in assigned:
        by_topic.setdefault(topic_of[i], []).append(i)
    purity = sum(Counter(truth[i] for i in m).most_common(1)[0][1] for m in by_topic.values()) / max(len(assigned), 1)
    big = max(by_topic.values(), key=len) if by_topic else []
    late_ids = [i for i in all_ids if truth[i] == late]
    late_topic = Counter(topic_of.get(i, "-") for i in late_ids).most_common(1)[0]
    if late_topic[0] != "-":
        held = by_topic[late_topic[0]]
        late_flag["topic_purity"] = round(sum(truth[i] == late for i in held) / len(held), 3)
        late_flag["topic_created_night"] = (reg.get(late_topic[0]).created - START).days + 1
    return {
        "docs": len(texts), "nights": n_nights,
        "nmi_all": round(float(normalized_mutual_info_score(truth, labels)), 3),
        "nmi_assigned": round(float(normalized_mutual_info_score([truth[i] for i in assigned],
                                                                  [topic_of[i] for i in assigned])), 3)
        if assigned else 0.0,
        "coverage": round(len(assigned) / len(texts), 3),
        "largest_share": round(len(big) / max(len(assigned), 1), 3),
        "largest_size": len(big),
        "largest_purity": round(Counter(truth[i] for i in big).most_common(1)[0][1] / len(big), 3) if big else 0.0,
        "purity": round(purity, 3),
        "topics": len(reg.active),
        "join_threshold": round(float(np.median(reg.calibration)), 3) if reg.calibration else settings.assign_threshold,
        "topics_created": reg.next_number - 1,
        "late": late, "late_flag": late_flag,
        "false_alarms": len(false_flags), "false_alarm_nights": sorted(set(false_flags)),
        "late_in_own_topic": round(late_topic[1] / len(late_ids), 3) if late_topic[0] != "-" else 0.0,
        "seconds": round(secs, 1),
        "per_night": per_night,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default="demo,shopping_neg,ccks")
    ap.add_argument("--variants", default="legacy,default",
                    help=f"comma list of: {', '.join(VARIANTS)}; or ';'-separated names and JSON objects of "
                    "TopicSettings fields with a \"name\" key")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--demo", type=Path, default=ROOT / "demo")
    ap.add_argument("--n", type=int, default=1500, help="texts per real set")
    ap.add_argument("--nights", type=int, default=10, help="nights for the real sets")
    ap.add_argument("--late-nights", type=int, default=4, help="the late class arrives over this many last nights")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/voc-bench-topics"))
    ap.add_argument("--embed-only", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    variants: dict[str, dict] = {}
    for v in args.variants.split(";" if "{" in args.variants else ","):
        if v.strip().startswith("{"):
            spec = json.loads(v)
            variants[spec.pop("name", v)] = spec
        else:
            if v not in VARIANTS:
                raise SystemExit(f"unknown variant {v!r}; known: {', '.join(VARIANTS)}")
            variants[v] = VARIANTS[v]
    results: dict[str, dict] = {}
    for name in args.sets.split(","):
        if name == "demo":
            texts, truth, night, late = load_demo(args.demo)
        else:
            if not args.data.is_dir():
                print(f"skip {name}: {args.data} not found", file=sys.stderr)
                continue
            texts, truth, night, late = load_real(args.data, name, args.n, args.nights, args.late_nights, args.seed)
        vectors = embed_cached(texts, args.cache, f"{name}_{args.n}" if name != "demo" else "demo")
        if args.embed_only:
            continue
        for vname, spec in variants.items():
            settings = TopicSettings(**spec)
            r = evaluate(texts, truth, night, late, vectors, settings, args.seed)
            results[f"{name}:{vname}"] = {"settings": spec, **r}
            lf = r["late_flag"]
            print(f"| {name} | {vname} | {r['nmi_all']} | {r['nmi_assigned']} | {r['coverage']} | "
                  f"{r['largest_share']} ({r['largest_size']}) | {r['largest_purity']} | {r['purity']} | "
                  f"{r['topics']} | {'yes' if lf['flagged'] else 'no'} (night {lf['first_night']}) | "
                  f"{lf.get('flag_night', '-')} | {r['false_alarms']} | "
                  f"{r['late_in_own_topic']} / {lf.get('topic_purity', '-')} | "
                  f"{r['seconds']} |", flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()

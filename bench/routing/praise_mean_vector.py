"""What the reference mean vector costs service types (issue 22, commit 8c06db9).

A text contact whose sentiment the n-gram model is sure reads as praise gets no e5 vector; the routing stage gives its
service-type classifier the reference mean (``voc.pipeline.routing.reference_mean``: the mean of the shipped routing
example vectors) in its place, so the character n-grams and cue evidence decide (``contact_vectors``). Measured here:

(a) the held-out complaints (``heldout_complaints.tsv``) with their own e5 vectors vs the mean vector for every row:
    a worst-case bound (a complaint is never gated in the stage), as eval_routing.py reports service types;
(b) a seeded sample of positive reviews (label 1) from ``shared/data/sentiment/*.tsv``, read in place: how often the
    primary type with the mean vector equals the one with the real vector, and both type distributions; also on the
    part the praise gate (``voc.pipeline.embed.reads_as_praise``, default settings) actually sends without a vector.

The model is the routing stage's without a store (``voc.pipeline.routing.route_router(None, settings)``: the shipped
examples fitted with e5); the real vector of a text is the one the stage would look up (``contact_key`` form).

    OMP_NUM_THREADS=1 .venv/bin/python bench/routing/praise_mean_vector.py [--data ../shared/data] [--per-file 100]
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime as dt
import json
import random
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_routing import HELDOUT, read_tsv, service_type_metrics  # noqa: E402

from voc.config import Settings  # noqa: E402
from voc.pipeline.embed import contact_key, reads_as_praise  # noqa: E402
from voc.pipeline.routing import praise_reference, reference_mean, route_router  # noqa: E402
from voc.records import Channel, Interaction  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 22  # the praise sample
FILES = ("chnsenticorp_htl.tsv", "online_shopping_10cats_sample10k.tsv", "waimai_10k.tsv")


def as_decisions(results) -> list[SimpleNamespace]:
    """ServiceTypeResults in the shape eval_routing.service_type_metrics reads (a RouteDecision's fields)."""
    return [SimpleNamespace(service_type=r.label, service_types=r.labels) for r in results]


def both_ways(router, settings: Settings, mean: np.ndarray, texts: list[str]) -> tuple[list, list]:
    """Service types of ``texts`` with their own vectors and with the reference mean for every row."""
    own = np.asarray(router.embed([contact_key(t, settings) for t in texts]), dtype=np.float32)
    means = np.repeat(mean[None, :], len(texts), axis=0)
    return router.service_types(texts, own), router.service_types(texts, means)


def praise_sample(data: Path, per_file: int) -> list[tuple[str, str]]:
    rng = random.Random(SEED)
    out = []
    for name in FILES:
        with (data / "sentiment" / name).open(encoding="utf-8") as f:
            rows = [r["text"].strip() for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
                    if r["label"] == "1" and (r["text"] or "").strip()]
        rows = sorted(set(rows))
        out += [(name.split("_")[0], t) for t in rng.sample(rows, per_file)]
    return out


def gated(settings: Settings, texts: list[str]) -> list[bool]:
    """Whether the embed stage's praise gate skips each text's routing vector (a review contact)."""
    day = dt.date(2026, 11, 20)
    return [reads_as_praise(Interaction(id=f"p{k}", channel=Channel.REVIEW, business_date=day, content_hash=f"h{k}",
                                        text=t), settings) for k, t in enumerate(texts)]


def agreement(own: list, mean: list) -> dict:
    n = len(own)
    if not n:
        return {"rows": 0}
    return {"rows": n,
            "primary_agreement": round(sum(a.label == b.label for a, b in zip(own, mean, strict=True)) / n, 4),
            "set_agreement": round(sum(set(a.labels) == set(b.labels) for a, b in zip(own, mean, strict=True)) / n, 4),
            "primary_own_vector": dict(collections.Counter(r.label for r in own).most_common()),
            "primary_mean_vector": dict(collections.Counter(r.label for r in mean).most_common()),
            # the most likely type whether or not it reaches the 0.5 threshold, and its mean probability
            "top_ranked_mean_vector": dict(collections.Counter(r.probabilities[0][0] for r in mean).most_common()),
            "top_probability_own_vector": round(float(np.mean([r.probabilities[0][1] for r in own])), 3),
            "top_probability_mean_vector": round(float(np.mean([r.probabilities[0][1] for r in mean])), 3),
            "changes": dict(collections.Counter(f"{a.label} -> {b.label}" for a, b in zip(own, mean, strict=True)
                                                if a.label != b.label).most_common(8))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HERE.parents[2] / "shared" / "data")
    parser.add_argument("--per-file", type=int, default=100, help="positive reviews sampled from each of the 3 files")
    parser.add_argument("--reference", choices=("mean", "praise"), default="praise",
                        help="the vector in place of a gated contact's own: the mean of every shipped example "
                             "(reference_mean, 8c06db9) or of the praise examples (praise_reference, what the stage uses)")
    args = parser.parse_args()
    settings = Settings()
    t0 = time.perf_counter()
    router, info = route_router(None, settings, save=False)
    pick_ref = praise_reference if args.reference == "praise" else reference_mean
    mean = pick_ref(router.model.service_types.embedder)
    if mean is None:
        raise SystemExit(f"no reference mean for routing embedder {router.model.service_types.embedder!r}")
    result: dict = {"router": {"embedder": router.options["embedder"], "fit_seconds": info.get("fit_seconds"),
                               "trained_on": router.options["trained_on"]},
                    "positive_threshold": settings.sentiment.positive_threshold, "e5_band": settings.sentiment.e5_band,
                    "reference": args.reference}

    rows = read_tsv(HELDOUT)
    gold = [set(r["service_types"].split(",")) for r in rows]
    own, with_mean = both_ways(router, settings, mean, [r["text"] for r in rows])
    result["heldout_complaints"] = {
        "own_vector": service_type_metrics(gold, as_decisions(own)),
        "mean_vector": service_type_metrics(gold, as_decisions(with_mean)),
        "primary_agreement": agreement(own, with_mean)["primary_agreement"]}

    sample = praise_sample(args.data, args.per_file)
    texts = [t for _, t in sample]
    own, with_mean = both_ways(router, settings, mean, texts)
    gate = gated(settings, texts)
    praise: dict = {"all": agreement(own, with_mean),
                    "gated": {"share": round(sum(gate) / len(gate), 4),
                              **agreement([r for r, g in zip(own, gate, strict=True) if g],
                                          [r for r, g in zip(with_mean, gate, strict=True) if g])}}
    for src in dict.fromkeys(s for s, _ in sample):
        pick = [k for k, (s, _) in enumerate(sample) if s == src]
        a = agreement([own[k] for k in pick], [with_mean[k] for k in pick])
        praise[src] = {"rows": a["rows"], "gated": sum(gate[k] for k in pick),
                       "primary_agreement": a["primary_agreement"], "primary_own_vector": a["primary_own_vector"],
                       "primary_mean_vector": a["primary_mean_vector"]}
    result["praise_sample"] = praise
    result["seconds"] = round(time.perf_counter() - t0, 1)
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

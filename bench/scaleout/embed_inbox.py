"""An inbox for measuring the mapped ``embed`` tasks on Celery (``VOC_SCALEOUT_INBOX`` of run.sh): the demo inbox's
transcribed-elsewhere calls (no ASR model load, so the DAG's time goes to embedding) and texts, plus ``--texts`` real
Chinese reviews and chats from ../shared/data (research-only, read in place) dated ``--date``, written under
``--out`` (outside the repository)::

    .venv/bin/python bench/scaleout/embed_inbox.py --out /tmp/voc-embed-inbox --texts 800
    VOC_SCALEOUT_INBOX=/tmp/voc-embed-inbox VOC_SCALEOUT_WORKERS=1 VOC_SCALEOUT_EMBED_BATCH=100 bash bench/scaleout/run.sh
    VOC_SCALEOUT_INBOX=/tmp/voc-embed-inbox VOC_SCALEOUT_WORKERS=2 VOC_SCALEOUT_EMBED_BATCH=100 bash bench/scaleout/run.sh
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import random
import shutil
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "inbox"


def _throughput():
    spec = importlib.util.spec_from_file_location("voc_bench_throughput", REPO / "bench" / "throughput" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/voc-embed-inbox"))
    ap.add_argument("--texts", type=int, default=800)
    ap.add_argument("--date", default="2026-11-20")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)
    out = args.out.resolve()
    if REPO in out.parents or out == REPO:
        raise SystemExit("--out must lie outside the repository (the inbox holds research-only texts)")
    shutil.rmtree(out, ignore_errors=True)
    (out / "text").mkdir(parents=True)
    shutil.copytree(DEMO / "transcripts", out / "transcripts")
    for f in (DEMO / "text").iterdir():
        shutil.copy(f, out / "text" / f.name)
    with (DEMO / "calls.csv").open(encoding="utf-8") as src, (out / "calls.csv").open("w", encoding="utf-8",
                                                                                      newline="") as dst:
        rows = [r for r in csv.DictReader(src) if r["file"].startswith("transcripts/")]
        w = csv.DictWriter(dst, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    reviews, chats = _throughput().load_texts(args.shared)
    rng = random.Random(args.seed)
    pool = [("review", t) for t in reviews] + [("chat", t) for t in chats]
    picked = rng.sample(pool, args.texts)
    with (out / "text" / f"bench-{args.date}.jsonl").open("w", encoding="utf-8") as fh:
        for k, (channel, text) in enumerate(picked):
            fh.write(json.dumps({"id": f"E{k:06d}", "channel": channel, "text": text,
                                 "created_at": f"{args.date}T{8 + k % 12:02d}:00:00+08:00",
                                 "customer_id": f"U{rng.randrange(args.texts // 3 + 1):05d}"}, ensure_ascii=False) + "\n")
    old = time.time() - 3600
    for p in out.rglob("*"):
        os.utime(p, (old, old))
    print(f"{out}: {len(rows)} transcribed calls, demo texts + {args.texts} texts dated {args.date}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

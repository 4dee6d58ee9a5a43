"""Stages of one night rerun in a fresh process over a copy of a ``run.py`` store: CPU-s, wall s and peak RSS per
stage, and whether an embedder model was loaded. A fresh process is how the nightly DAG runs each stage (one
Airflow task each); ``run.py`` runs a whole night in one process, where the embed stage has loaded e5 before
topics and routing start, so it cannot show what those stages load themselves.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/throughput/run.py --records 1000 --nights 2 --library-n 0 \\
        --embed-n 0 --work /tmp/lazy_bench/base
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/throughput/fresh_stages.py --work /tmp/lazy_bench/base \\
        --night 2 --stages topics,routing --out results.json

The store is copied first (``--work``/voc.db stays as it was), so repeated runs, and runs of another tree's code
(copy this file and run.py into it), measure the same night.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import FIRST_DAY, PeakRss, rss_mb, settings_for  # noqa: E402  (puts this tree's voc on sys.path)


def _models_loaded() -> list[str]:
    """Names of the embedder models alive in this process (e5, sentence-transformers instances)."""
    import warnings

    from voc.semantic import embedders

    kinds = tuple(t for t in (getattr(embedders, "E5Embedder", None), getattr(embedders, "SentenceTransformerEmbedder", None))
                  if isinstance(t, type))
    with warnings.catch_warnings():  # isinstance on every live object touches torch's deprecated module attributes
        warnings.simplefilter("ignore")
        return sorted({str(o.name) for o in gc.get_objects() if kinds and isinstance(o, kinds)})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="a run.py --work folder (voc.db, inbox)")
    ap.add_argument("--night", type=int, default=2, help="1-based night of that run")
    ap.add_argument("--stages", default="topics,routing")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="fresh-stages-"))
    try:
        shutil.copy(args.work / "voc.db", tmp / "voc.db")
        settings = settings_for(tmp, args.work / "inbox", f"sqlite:///{tmp / 'voc.db'}", "default")
        from voc import pipeline
        from voc.store import Store

        day = FIRST_DAY + dt.timedelta(days=args.night - 1)
        now = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(2, 0), tzinfo=dt.UTC)
        store = Store.open(settings.db_url)
        peak = PeakRss()
        rows = []
        try:
            gc.collect()
            start = rss_mb()
            for name in args.stages.split(","):
                peak.reset()
                c0, w0 = time.process_time(), time.perf_counter()
                summary = pipeline.run(store, settings, day, [name], trigger="bench", now=now)
                rows.append({"stage": name, "status": summary.status, "cpu_s": round(time.process_time() - c0, 3),
                             "wall_s": round(time.perf_counter() - w0, 3), "peak_rss_mb": round(peak.peak, 1),
                             "models_loaded": _models_loaded()})
                print(rows[-1], flush=True)
        finally:
            peak.stop()
            store.close()
        result = {"work": str(args.work), "night": args.night, "date": day.isoformat(), "start_rss_mb": round(start, 1),
                  "stages": rows, "cpu_s": round(sum(r["cpu_s"] for r in rows), 3),
                  "peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
                  "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
        print(json.dumps({k: v for k, v in result.items() if k != "stages"}), flush=True)
        if args.out:
            args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

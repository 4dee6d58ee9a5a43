"""The report's customer view on a store that ``run.py`` filled: for each night asked, CPU seconds of the view kept
across nights (built on the night before, then brought up to the night) against the report from scratch (every
contact of the period and the repeat window before it), and whether the two reports are equal::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/throughput/customer_view.py --work /tmp/vbt-flat \\
        --nights 5,10,20,30 --env VOC_ROUTING__EMBEDDER=none

Each night runs on a copy of ``<work>/voc.db`` (the copy is left in ``--tmp``); ``--env`` adds the settings the
benchmark ran with (``run.py``'s own are applied first).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    from run import FIRST_DAY

    from voc.config import load_settings
    from voc.pipeline import customers as pc
    from voc.store import Store

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="run.py's --work (holds voc.db)")
    ap.add_argument("--nights", default="5,10,20,30", help="1-based nights, comma-separated")
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE settings besides run.py's")
    ap.add_argument("--tmp", type=Path, default=Path("/tmp/voc-bench-customer-view"))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    args.tmp.mkdir(parents=True, exist_ok=True)
    db = args.tmp / "voc.db"
    env = {"VOC_DATABASE_URL": f"sqlite:///{db}", "VOC_INBOX": str(args.work / "inbox"),
           "VOC_EXPORTS_DIR": str(args.tmp / "exports"), "VOC_ID_SECRET": "bench-throughput"}
    env |= dict(e.split("=", 1) for e in args.env)
    out = []
    for night in (int(n) for n in args.nights.split(",")):
        shutil.copy(args.work / "voc.db", db)
        store, settings = Store.open(env["VOC_DATABASE_URL"]), load_settings(environ=env)
        day = FIRST_DAY + dt.timedelta(days=night - 1)
        try:
            store.start_run(day - dt.timedelta(days=1), ["report"], "bench")
            pc.build_customer_report(store, settings, day - dt.timedelta(days=1))  # the view as the night before left it
            store.start_run(day, ["report"], "bench")
            t = time.process_time()
            kept = pc.build_customer_report(store, settings, day)
            kept_s = time.process_time() - t
            t = time.process_time()
            scratch = pc.build_customer_report_from_scratch(store, settings, day)
            scratch_s = time.process_time() - t
        finally:
            store.close()
        row = {"night": night, "date": day.isoformat(), "kept_cpu_s": round(kept_s, 3),
               "scratch_cpu_s": round(scratch_s, 3), "equal": kept.to_dict() == scratch.to_dict(),
               "contacts": kept.overall.contacts}
        print(json.dumps(row), flush=True)
        out.append(row)
    if args.out:
        args.out.write_text(json.dumps(out, indent=1), encoding="utf-8")
    return 0 if all(r["equal"] for r in out) else 1


if __name__ == "__main__":
    raise SystemExit(main())

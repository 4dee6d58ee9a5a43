"""End-to-end nightly cost of the sentiment default: N shopping test-split reviews as chats in a fresh SQLite store,
run through `ingest,text`, then `embed` (one e5 vector per text and job key, shared by topics, routing and sentiment;
with the default cascade the sentiment job asks only for the texts the n-gram model is unsure of), then `sentiment`
(vectors from the store's cache); prints each step's wall and CPU time and the stages' details.
``--sentiment-only``: topics fitted per night (tfidf, nothing ahead) and routing without vectors, so the embed stage
computes only what sentiment needs. ``--backend e5-stack``: e5 for every text (the previous default).

    OMP_NUM_THREADS=2 .venv/bin/python bench/sentiment/nightly_throughput.py [--n 400] [--sentiment-only] [--backend auto]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from voc import pipeline  # noqa: E402
from voc.config import load_settings  # noqa: E402
from voc.sentiment.train import load_corpora  # noqa: E402
from voc.store import Store  # noqa: E402

DAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)
KEYS = ("texts", "embedded", "texts_per_job", "scorer", "e5_vectors", "e5_embedded")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--backend", default="auto", help="sentiment.backend (auto = the cascade; e5-stack; model)")
    ap.add_argument("--sentiment-only", action="store_true", help="no e5 for topics and routing (see the docstring)")
    ap.add_argument("--file", type=Path, help="one text per line instead of the shopping test split (first --n lines)")
    ap.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "sentiment")
    args = ap.parse_args(argv)
    if args.file:
        texts = [line.strip() for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()][: args.n]
    else:  # note: rows the shipped n-gram model was trained on, so it is surer of them than of unseen text
        texts = [r.text for r in load_corpora(args.data_dir, 42, ["shopping"])["shopping"] if r.split == "test"][: args.n]
    tmp = Path(tempfile.mkdtemp(prefix="voc-sentiment-nightly-"))
    inbox = tmp / "inbox"
    (inbox / "text").mkdir(parents=True)
    with open(inbox / "text" / "chat.jsonl", "w", encoding="utf-8") as f:
        for i, text in enumerate(texts):
            f.write(json.dumps({"id": f"T{i}", "created_at": "2026-11-20T09:00:00+08:00", "customer_id": f"U{i}",
                                "text": " ".join(text.split())}, ensure_ascii=False) + "\n")
    settings = load_settings(environ={"VOC_DATABASE_URL": f"sqlite:///{tmp / 'voc.db'}", "VOC_INBOX": str(inbox),
                                      "VOC_EXPORTS_DIR": str(tmp / "exports"), "VOC_ID_SECRET": "bench",
                                      "VOC_SENTIMENT__BACKEND": args.backend})
    if args.sentiment_only:
        settings = settings.model_copy(update={"topics": settings.topics.model_copy(update={"embedder": "tfidf"}),
                                               "routing": settings.routing.model_copy(update={"embedder": "none"})})
    store = Store.open(settings.db_url)
    try:
        for stages in (["ingest", "text"], ["embed"], ["sentiment"]):
            t0, c0 = time.perf_counter(), time.process_time()
            res = pipeline.run(store, settings, DAY, stages, now=NOW)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            last = res.stages[-1]
            details = {k: v for k, v in (last.get("details") or {}).items() if k in KEYS}
            n = last.get("processed", 0) or 0
            print(f"{','.join(stages)}: {seconds:.1f} s wall, {cpu:.1f} s CPU, {n} items ({n / seconds:.1f} items/s, "
                  f"{1000 * cpu / max(n, 1):.1f} CPU-ms/item) {details}")
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

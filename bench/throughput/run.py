"""End-to-end throughput: ingest + the nightly stages over an inbox of real Chinese texts, night after night.

Builds an inbox under ``--work`` (default /tmp/voc-bench-throughput; never inside the repository) from the
research-only texts in ../shared/data (reviews: waimai_10k, chnsenticorp_htl, online_shopping_10cats_sample10k;
chats: CCKS-2021 telecom queries and the MobileCS customer turns), read in place. ``--records`` texts are spread
over ``--nights`` business days (a JSONL review file and a CSV chat file per day, about 1 in 3 texts extended with
a varying suffix so the inbox holds more distinct texts than the corpora). Each night the day's files are added
to the inbox and one process runs ``voc.pipeline.run`` for that date (ingest included, as ``voc run`` does), so
the inbox grows as it does in production.

Reported per night and stage: CPU seconds of the process (all threads), items, records per CPU-second, peak RSS;
then the raw library cost of the same work (``process_text`` per text, the sentiment scorer per text, the topic
embedder per text) and a re-ingest of the whole unchanged inbox (CPU s, wall s, peak RSS)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/throughput/run.py --records 6000 --nights 3
    .venv/bin/python bench/throughput/run.py --ingest-only --records 100000   # ingest + unchanged re-ingest

Prints a table and writes JSON to ``--out`` (default <work>/results.json).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gc
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

DEFAULT_SHARED = REPO.parent / "shared" / "data"
FIRST_DAY = dt.date(2026, 10, 5)
SUFFIXES = ("，麻烦尽快处理", "，第二次反映了", "。谢谢", "，希望改进", "！！", "，订单还没解决", "，客服态度一般", "。")


# ---- memory -----------------------------------------------------------------------------------------
def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRss:
    """Samples this process's RSS every 20 ms in a thread; ``peak`` since the last :meth:`reset`."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb())

    def reset(self) -> float:
        self.peak = rss_mb()
        return self.peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def cpu_clock() -> Iterator[dict[str, float]]:
    out: dict[str, float] = {}
    c0, w0 = time.process_time(), time.perf_counter()
    yield out
    out["cpu_s"] = round(time.process_time() - c0, 3)
    out["wall_s"] = round(time.perf_counter() - w0, 3)


# ---- the inbox ----------------------------------------------------------------------------------------
def read_tsv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise SystemExit(f"{path}: not found (give --shared, the folder MANIFEST.md describes)")
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def load_texts(shared: Path) -> tuple[list[str], list[str]]:
    """(reviews, chats): distinct non-empty texts of the corpora."""
    reviews: list[str] = []
    for name in ("waimai_10k.tsv", "chnsenticorp_htl.tsv", "online_shopping_10cats_sample10k.tsv"):
        reviews += [r["text"].strip() for r in read_tsv(shared / "sentiment" / name) if (r.get("text") or "").strip()]
    chats = [r["text"].strip() for r in read_tsv(shared / "intent" / "ccks2021_telecom_kgqa_train.tsv")
             if (r.get("text") or "").strip()]
    dialog = shared / "dialog" / "mobilecs_example.jsonl"
    if dialog.is_file():
        for line in dialog.read_text(encoding="utf-8").splitlines():
            for turn in (json.loads(line).get("turns") or []) if line.strip() else []:
                text = str(turn.get("text") or turn.get("utterance") or "").strip() if isinstance(turn, dict) else ""
                if text and str(turn.get("role", turn.get("speaker", ""))).lower() in ("user", "customer", "用户"):
                    chats.append(text)
    return list(dict.fromkeys(reviews)), list(dict.fromkeys(chats))


def day_records(reviews: list[str], chats: list[str], records: int, nights: int, seed: int,
                suffix_share: float = 0.33) -> list[list[dict[str, Any]]]:
    """``records`` rows spread evenly over ``nights`` days; about ``suffix_share`` of the texts (1 in 3) get a
    varying suffix (every text past the corpora's size does)."""
    rng = random.Random(seed)
    pool = [("review", t) for t in reviews] + [("chat", t) for t in chats]
    rng.shuffle(pool)
    days: list[list[dict[str, Any]]] = [[] for _ in range(nights)]
    for k in range(records):
        channel, text = pool[k % len(pool)]
        if k >= len(pool) or rng.random() < suffix_share:
            text = text + SUFFIXES[rng.randrange(len(SUFFIXES))] + (str(k // len(pool)) if k >= len(pool) else "")
        day = FIRST_DAY + dt.timedelta(days=k % nights)
        at = dt.datetime.combine(day, dt.time(8 + rng.randrange(12), rng.randrange(60)))
        days[k % nights].append({"id": f"{channel[0].upper()}{k:07d}", "channel": channel, "text": text,
                                 "created_at": at.isoformat() + "+08:00", "customer_id": f"U{rng.randrange(records // 3 + 1):06d}",
                                 "queue": "retail_after_sales" if channel == "review" else "telecom"})
    return days


def write_day(inbox: Path, day: dt.date, rows: list[dict[str, Any]]) -> None:
    """Reviews as JSONL, chats as CSV (both formats ingest reads)."""
    folder = inbox / "text"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"reviews-{day.isoformat()}.jsonl").open("w", encoding="utf-8") as fh:
        for r in rows:
            if r["channel"] == "review":
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    with (folder / f"chats-{day.isoformat()}.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "channel", "text", "created_at", "customer_id", "queue"])
        w.writeheader()
        w.writerows(r for r in rows if r["channel"] == "chat")
    old = time.time() - 3600  # dropped during the day, hours before the nightly run
    for name in (f"reviews-{day.isoformat()}.jsonl", f"chats-{day.isoformat()}.csv"):
        os.utime(folder / name, (old, old))


# ---- measuring -----------------------------------------------------------------------------------------
def instrument_stages(peak: PeakRss, log: list[dict[str, Any]], profile: Path | None = None,
                      profile_stages: frozenset[str] = frozenset()) -> Callable[[], None]:
    """Wrap every registered stage so each call records its CPU s, wall s and peak RSS; returns an undo.
    ``profile``: the stages named in ``profile_stages`` also run under cProfile, stats written to
    ``<profile>-<stage>.pstats``."""
    import cProfile

    from voc import pipeline

    originals = {n: s for n, s in pipeline.STAGES.items()}
    for name, st in originals.items():
        def wrapped(*a: Any, _fn: Any = st.fn, _name: str = name, **kw: Any) -> Any:
            peak.reset()
            prof = cProfile.Profile(time.process_time) if profile is not None and _name in profile_stages else None
            with library_clock(_name) as lib, cpu_clock() as c:
                if prof is not None:
                    prof.enable()
                try:
                    result = _fn(*a, **kw)
                finally:
                    if prof is not None:
                        prof.disable()
            if prof is not None:
                prof.dump_stats(f"{profile}-{_name}.pstats")
            row = {"stage": _name, **c, "peak_rss_mb": round(peak.peak, 1), "processed": result.processed,
                   "failed": result.failed, "skipped": result.skipped}
            if _name in LIBRARY_CALLS:
                row["library_cpu_s"] = round(lib["cpu_s"], 3)
                row["x_library"] = round(c["cpu_s"] / lib["cpu_s"], 2) if lib["cpu_s"] else None
            log.append(row)
            return result
        pipeline.STAGES[name] = type(st)(st.name, wrapped, st.per_item, st.doc)

    def undo() -> None:
        pipeline.STAGES.update(originals)
    return undo


LIBRARY_CALLS = {"text": [("voc.text", "process_text")],
                 "sentiment": [("voc.sentiment", "score_texts"), ("voc.sentiment", "score_call")]}


@contextmanager
def library_clock(stage: str) -> Iterator[dict[str, float]]:
    """CPU seconds spent inside the stage's library calls (``LIBRARY_CALLS``) while the block runs: what the stage
    would cost with no store around it, measured on the same texts in the same process state."""
    import importlib

    spent = {"cpu_s": 0.0}
    patched = []
    for module_name, attr in LIBRARY_CALLS.get(stage, []):
        module = importlib.import_module(module_name)
        real = getattr(module, attr)

        def timed(*a: Any, _real: Any = real, **kw: Any) -> Any:
            c0 = time.process_time()
            try:
                return _real(*a, **kw)
            finally:
                spent["cpu_s"] += time.process_time() - c0
        setattr(module, attr, timed)
        patched.append((module, attr, real))
    try:
        yield spent
    finally:
        for module, attr, real in patched:
            setattr(module, attr, real)


def library_costs(settings: Any, texts: list[str], embed_n: int) -> dict[str, float]:
    """Milliseconds of CPU per text of the stage libraries alone (models loaded before timing)."""
    from voc.semantic import get_embedder
    from voc.sentiment import get_scorer, score_texts
    from voc.text import get_tokenizer, process_text

    out: dict[str, float] = {"texts": len(texts)}
    get_tokenizer(settings.text)
    process_text(texts[0], settings.text)
    with cpu_clock() as c:
        for t in texts:
            process_text(t, settings.text)
    out["process_text_ms"] = round(1000 * c["cpu_s"] / len(texts), 4)
    scorer = get_scorer(settings.sentiment)
    score_texts([("w", texts[0])], scorer, settings.sentiment)
    with cpu_clock() as c:
        score_texts([(str(i), t) for i, t in enumerate(texts)], scorer, settings.sentiment)
    out["sentiment_scorer_ms"] = round(1000 * c["cpu_s"] / len(texts), 4)
    if embed_n:
        emb = get_embedder(settings.topics)
        emb.embed(texts[:8])
        sample = [t[: settings.limits.embed_max_chars] for t in texts[8 : 8 + embed_n]]
        with cpu_clock() as c:
            for k in range(0, len(sample), 64):
                emb.embed(sample[k : k + 64])
        out["embedder"] = getattr(emb, "name", type(emb).__name__)
        out["embedder_ms"] = round(1000 * c["cpu_s"] / max(1, len(sample)), 3)
    return out


def use_e5_cache(path: Path) -> dict[str, int]:
    """Make the e5 embedder take its vectors from a precomputed :class:`voc.semantic.EmbeddingCache` (the exact
    vectors it would compute) and run the model only for texts the file lacks; returns hit/miss counters."""
    import numpy as np

    from voc.semantic import embedders

    cache = embedders.EmbeddingCache.load(path)
    real = embedders.E5Embedder.embed
    counts = {"cached": 0, "embedded": 0}

    def embed(self: Any, texts: Any) -> Any:
        if cache.embedder_name != self.name:
            return real(self, texts)
        keys = [t[: embedders.E5_MAX_CHARS] if t.strip() else "。" for t in texts]
        found = [cache.get(k) for k in keys]
        missing = sorted({k for k, v in zip(keys, found, strict=True) if v is None})
        if missing:
            cache.put(missing, real(self, missing))
        counts["cached"] += len(keys) - len(missing)
        counts["embedded"] += len(missing)
        return np.stack([cache.get(k) for k in keys]) if keys else real(self, [])

    embedders.E5Embedder.embed = embed
    return counts


def summarise(stage_log: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for row in stage_log:
        agg = out.setdefault(row["stage"], {"cpu_s": 0.0, "processed": 0, "peak_rss_mb": 0.0})
        agg["cpu_s"] = round(agg["cpu_s"] + row["cpu_s"], 3)
        if "library_cpu_s" in row:
            agg["library_cpu_s"] = round(agg.get("library_cpu_s", 0.0) + row["library_cpu_s"], 3)
        agg["processed"] += row["processed"]
        agg["peak_rss_mb"] = max(agg["peak_rss_mb"], row["peak_rss_mb"])
    for agg in out.values():
        if agg.get("library_cpu_s"):
            agg["x_library"] = round(agg["cpu_s"] / agg["library_cpu_s"], 2)
        agg["ms_per_record"] = round(1000 * agg["cpu_s"] / agg["processed"], 3) if agg["processed"] else None
    return out


def settings_for(work: Path, inbox: Path, db_url: str | None, embedder: str) -> Any:
    from voc.config import load_settings

    env = {"VOC_DATABASE_URL": db_url or f"sqlite:///{work / 'voc.db'}", "VOC_INBOX": str(inbox),
           "VOC_EXPORTS_DIR": str(work / "exports"), "VOC_ID_SECRET": "bench-throughput"}
    if embedder != "default":
        env["VOC_TOPICS__EMBEDDER"] = embedder
    return load_settings(environ=env)


def run_nights(args: argparse.Namespace, days: list[list[dict[str, Any]]], settings: Any, peak: PeakRss) -> dict[str, Any]:
    from voc import pipeline
    from voc.store import Store

    stages = args.stages.split(",") if args.stages else None
    if args.keep_memory:
        from voc.pipeline import runner

        if hasattr(runner, "release_memory"):
            runner.release_memory = lambda: None
    nights: list[dict[str, Any]] = []
    store = Store.open(settings.db_url)
    try:
        for k, rows in enumerate(days):
            day = FIRST_DAY + dt.timedelta(days=k)
            write_day(settings.inbox, day, rows)
            gc.collect()
            start_rss = rss_mb()
            stage_log: list[dict[str, Any]] = []
            profile = args.work / f"profile-night{k + 1}" if k + 1 in args.profile_nights else None
            undo = instrument_stages(peak, stage_log, profile, frozenset(args.profile_stages.split(",")))
            now = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(2, 0), tzinfo=dt.UTC)
            try:
                with cpu_clock() as c:
                    summary = pipeline.run(store, settings, day, stages, trigger="bench", now=now)
            finally:
                undo()
            night = {"night": k + 1, "date": day.isoformat(), "records": len(rows), "status": summary.status,
                     "start_rss_mb": round(start_rss, 1), **c,
                     "peak_rss_mb": max((s["peak_rss_mb"] for s in stage_log), default=0.0), "stages": stage_log}
            night["records_per_cpu_s"] = round(len(rows) / c["cpu_s"], 2) if c["cpu_s"] else None
            nights.append(night)
            print(f"night {k + 1} {day}: {len(rows)} records, {c['cpu_s']:.1f} CPU-s, "
                  f"{night['records_per_cpu_s']} rec/CPU-s, RSS {start_rss:.0f} -> peak {night['peak_rss_mb']:.0f} MB; "
                  + ", ".join(f"{s['stage']} {s['cpu_s']:.1f}" + (f" ({s['x_library']}x library)" if s.get("x_library") else "")
                              for s in stage_log), flush=True)
    finally:
        store.close()
    return {"nights": nights}


def reingest(settings: Any, peak: PeakRss) -> dict[str, Any]:
    from voc.pipeline import ingest_inbox
    from voc.store import Store

    store = Store.open(settings.db_url)
    try:
        gc.collect()
        peak.reset()
        with cpu_clock() as c:
            out = ingest_inbox(store, settings, now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        return {**c, "peak_rss_mb": round(peak.peak, 1), "ingested": out["ingested"], "duplicates": out["duplicates"]}
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=6000)
    ap.add_argument("--nights", type=int, default=3)
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--work", type=Path, default=Path("/tmp/voc-bench-throughput"))
    ap.add_argument("--db-url", help="default: SQLite in --work (PostgreSQL: postgresql://...)")
    ap.add_argument("--embedder", default="default", help="topics embedder: default (the shipped setting), e5, tfidf")
    ap.add_argument("--stages", help="comma-separated stages (default: every stage of voc run)")
    ap.add_argument("--library-n", type=int, default=2000, help="texts timed for the raw library costs (0 = skip)")
    ap.add_argument("--embed-n", type=int, default=200, help="texts timed through the embedder (0 = skip)")
    ap.add_argument("--ingest-only", action="store_true", help="ingest the whole inbox once, then again unchanged")
    ap.add_argument("--keep-memory", action="store_true",
                    help="skip voc.pipeline.runner.release_memory between nights (to measure what it gives back)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--profile-nights", type=lambda v: {int(x) for x in v.split(",") if x}, default=set(),
                    help="nights (1-based, comma-separated) whose --profile-stages run under cProfile (<work>/profile-night*.pstats)")
    ap.add_argument("--profile-stages", default="topics,report")
    ap.add_argument("--suffix-share", type=float, default=0.33,
                    help="share of texts given a varying suffix (0: every text as in the corpora, so --e5-cache holds it)")
    ap.add_argument("--e5-cache", type=Path,
                    help="precomputed e5 vectors (EmbeddingCache npz): the e5 embedder runs only for texts it lacks")
    ap.add_argument("--library-only", action="store_true", help=argparse.SUPPRESS)  # the fresh child process
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.library_only:  # cold caches, models loaded before the clock starts; JSON on stdout
        reviews, chats = load_texts(args.shared)
        sample = [r["text"] for rows in day_records(reviews, chats, args.records, args.nights, args.seed, args.suffix_share) for r in rows]
        settings = settings_for(args.work, args.work / "inbox", args.db_url, args.embedder)
        print(json.dumps(library_costs(settings, sample[: args.library_n], args.embed_n)))
        return 0
    if REPO in args.work.resolve().parents or args.work.resolve() == REPO:
        raise SystemExit("--work must lie outside the repository (the inbox holds research-only texts)")
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    inbox = args.work / "inbox"
    reviews, chats = load_texts(args.shared)
    days = day_records(reviews, chats, args.records, args.nights, args.seed, args.suffix_share)
    settings = settings_for(args.work, inbox, args.db_url, args.embedder)
    e5_counts = use_e5_cache(args.e5_cache) if args.e5_cache else None
    peak = PeakRss()
    result: dict[str, Any] = {"records": args.records, "nights": args.nights, "distinct_corpus_texts": len(reviews) + len(chats),
                              "embedder": args.embedder, "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                              "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    if args.ingest_only:
        for k, rows in enumerate(days):
            write_day(inbox, FIRST_DAY + dt.timedelta(days=k), rows)
        result["ingest_first"] = reingest(settings, peak)
        print(f"first ingest: {result['ingest_first']}", flush=True)
    else:
        result |= run_nights(args, days, settings, peak)
        result["per_stage"] = summarise([s for n in result["nights"] for s in n["stages"]])
        total_cpu = sum(n["cpu_s"] for n in result["nights"])
        result["records_per_cpu_s"] = round(args.records / total_cpu, 2) if total_cpu else None
    if e5_counts is not None:
        result["e5_cache"] = {"path": str(args.e5_cache), **e5_counts}
    result["ingest_unchanged"] = reingest(settings, peak)
    print(f"re-ingest of the unchanged inbox: {result['ingest_unchanged']}", flush=True)
    if args.library_n:  # in a fresh process: this one's memos are warm with these very texts
        cmd = [sys.executable, __file__, "--library-only", "--records", str(args.records), "--nights", str(args.nights),
               "--seed", str(args.seed), "--shared", str(args.shared), "--work", str(args.work), "--embedder",
               args.embedder, "--library-n", str(args.library_n), "--embed-n", str(args.embed_n)]
        child = subprocess.run(cmd, capture_output=True, text=True, check=True)
        result["library"] = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"library costs (fresh process): {result['library']}", flush=True)
    result["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    peak.stop()
    for name, agg in result.get("per_stage", {}).items():
        print(f"  {name:<10} {agg['cpu_s']:>9.2f} CPU-s {agg['processed']:>7} items "
              f"{agg['ms_per_record'] if agg['ms_per_record'] is not None else '-':>8} ms/item  peak {agg['peak_rss_mb']:.0f} MB"
              + (f"  {agg['x_library']}x its library calls" if agg.get("x_library") else ""))
    out = args.out or args.work / "results.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

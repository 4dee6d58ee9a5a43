"""Latency of ``voc watch``: from a text file landing in the inbox to its alert (printed, and at the webhook).

The demo's complaints (demo/generate.py: an X3 air-conditioner leak starts on 2026-11-18) are shifted so that the
leak day is today. The nights before it run through the nightly stages; then a real ``voc watch --json`` process
runs while the leak day's chats land in the inbox in chunks, in their own order, each once the one before was
processed (so every alert has exactly one trigger file). Each alert's latency is measured
three ways: the alert's own ``latency_s`` (from the file's mtime), the time until the JSON line is read from the
watcher's stdout, and the time until a local HTTP webhook receives it. Ctrl-C (SIGINT) then stops the watcher and
its exit code is recorded.

    .venv/bin/python bench/watch/latency.py [--history-days 14] [--chunks 8] [--gap 6] [--interval 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[2]
LEAK_DAY = dt.date(2026, 11, 18)
TZ = "Asia/Shanghai"


def _shift(rows: list[dict], delta: dt.timedelta) -> list[dict]:
    out = []
    for r in rows:
        when = dt.datetime.fromisoformat(r["created_at"]) + delta
        out.append({**r, "created_at": when.isoformat()})
    return out


def _land(path: Path, rows: list[dict]) -> float:
    """Write rows atomically (a watcher never sees half a file); returns the landing time (epoch s)."""
    tmp = path.with_suffix(".part")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)
    return time.time()


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[float, dict]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        type(self).received.append((time.time(), body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


def _reader(stream, sink: list[tuple[float, str]]) -> None:
    for line in iter(stream.readline, ""):
        sink.append((time.time(), line.rstrip("\n")))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--history-days", type=int, default=14, help="nights before the leak day run nightly first")
    ap.add_argument("--chunks", type=int, default=8, help="files the leak day's chats arrive in")
    ap.add_argument("--gap", type=float, default=6.0, help="seconds after a file was processed before the next lands")
    ap.add_argument("--interval", type=float, default=10.0, help="voc watch --interval")
    ap.add_argument("--out", type=Path, default=None, help="write the results JSON here")
    args = ap.parse_args()

    sys.path.insert(0, str(REPO))
    from voc import pipeline
    from voc.config import load_settings
    from voc.store import Store

    rows = [json.loads(line) for line in (REPO / "demo/inbox/text/complaints.jsonl").read_text("utf-8").splitlines()]
    today = dt.datetime.now(ZoneInfo(TZ)).date()
    delta = dt.timedelta(days=(today - LEAK_DAY).days)
    first = LEAK_DAY - dt.timedelta(days=args.history_days)
    history = [r for r in rows if first <= dt.date.fromisoformat(r["created_at"][:10]) < LEAK_DAY]
    leak_day = sorted((r for r in rows if r["created_at"][:10] == LEAK_DAY.isoformat()), key=lambda r: r["created_at"])

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="voc-watch-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = {"VOC_DATABASE_URL": f"sqlite:///{tmp / 'voc.db'}", "VOC_INBOX": str(tmp / "inbox"),
               "VOC_EXPORTS_DIR": str(tmp / "exports"), "VOC_TIMEZONE": TZ,
               "VOC_REPORT__WEBHOOKS": json.dumps([{"name": "bench", "kind": "generic",
                                                    "url": f"http://127.0.0.1:{server.server_address[1]}/"}])}
        (tmp / "inbox" / "text").mkdir(parents=True)
        _land(tmp / "inbox" / "text" / "history.jsonl", _shift(history, delta))
        settings = load_settings(environ=env)
        store = Store.open(settings.db_url)
        t0 = time.perf_counter()
        day = first + delta
        while day < today:
            s = pipeline.run(store, settings, day, ["ingest", "text", "sentiment", "topics", "routing"])
            if s.status != "done":
                raise SystemExit(f"nightly run of {day} failed: {s.to_dict()}")
            day += dt.timedelta(days=1)
        nightly_s = time.perf_counter() - t0
        topics = len(store.topics(status="active"))
        store.close()
        print(f"nightly history: {args.history_days} nights, {len(history)} complaints, {topics} topics, "
              f"{nightly_s:.1f} s", file=sys.stderr)

        proc = subprocess.Popen([str(REPO / ".venv/bin/voc"), "watch", "--json", "--interval", str(args.interval)],
                                cwd=tmp, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, encoding="utf-8")
        out_lines: list[tuple[float, str]] = []
        err_lines: list[tuple[float, str]] = []
        threading.Thread(target=_reader, args=(proc.stdout, out_lines), daemon=True).start()
        threading.Thread(target=_reader, args=(proc.stderr, err_lines), daemon=True).start()

        # warm-up: one ordinary chat of the day, so the embedder is loaded before the measured arrivals
        warm, live = leak_day[:1], leak_day[1:]
        _land(tmp / "inbox" / "text" / "live-00.jsonl", _shift(warm, delta))
        deadline = time.time() + 180
        while not any("watch: 1 new" in line for _t, line in err_lines):
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit("watcher did not start: " + "\n".join(x for _t, x in err_lines[-20:]))
            time.sleep(0.2)

        landed: list[tuple[float, int]] = []
        size = -(-len(live) // args.chunks)
        for k in range(args.chunks):
            chunk = live[k * size : (k + 1) * size]
            if not chunk:
                break
            seen = len(err_lines)
            at = _land(tmp / "inbox" / "text" / f"live-{k + 1:02d}.jsonl", _shift(chunk, delta))
            landed.append((at, len(chunk)))
            # the next file lands only once this one was processed, so each alert has exactly one trigger file
            while not any(f"watch: {len(chunk)} new" in line for _t, line in err_lines[seen:]):
                if time.time() > at + 120 or proc.poll() is not None:
                    raise SystemExit(f"file {k + 1} was not processed within 120 s")
                time.sleep(0.05)
            time.sleep(args.gap)
        time.sleep(args.interval * 2 + 5)
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "killed"
        time.sleep(0.5)
    server.shutdown()

    alerts = []
    for read_at, line in out_lines:
        if not line.startswith("{"):
            continue
        a = json.loads(line)
        trigger = max((t for t, _n in landed if t <= read_at), default=None)  # the one file not yet processed
        hook = next((t for t, body in _Hook.received if a["label"] in body.get("title", "")), None)
        alerts.append({**a, "stdout_latency_s": round(read_at - trigger, 2) if trigger else None,
                       "webhook_latency_s": round(hook - trigger, 2) if hook and trigger else None,
                       "docs_landed": sum(n for t, n in landed if t <= read_at)})
    cycles = [line for _t, line in err_lines if line.startswith("watch:")]
    result = {"history_days": args.history_days, "history_complaints": len(history), "topics": topics,
              "nightly_s": round(nightly_s, 1), "leak_day_chats": len(live), "chunks": len(landed), "gap_s": args.gap,
              "interval_s": args.interval, "alerts": alerts, "watch_cycles": cycles, "sigint_exit_code": code}
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print("\n| interval s | alert | kind | count | baseline | latency_s (mtime) | stdout s | webhook s | docs landed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for a in alerts:
        print(f"| {args.interval:g} | {a['label']} | {a['kind']} | {a['count']} | {a['baseline']} | {a['latency_s']} | "
              f"{a['stdout_latency_s']} | {a['webhook_latency_s']} | {a['docs_landed']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

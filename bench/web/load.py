"""Load test of the web API: N concurrent clients for D seconds on loopback against `voc serve`.

Builds a throwaway SQLite store (calls with transcripts, QA results, a review queue, a topic, users with
API tokens), starts `voc serve` on it in a subprocess (one uvicorn worker), then runs httpx async clients
that mix reads (queue, filtered queue, call pages, topics, runs) with the reviewer write path
(claim-next -> override -> resolve). Prints and writes a JSON summary (requests, errors, p50/p95/p99).

    .venv/bin/python bench/web/load.py                    # 50 clients, 60 s
    .venv/bin/python bench/web/load.py --clients 10 --duration 10 --calls 200
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def build_store(root: Path, n_calls: int, n_reviewers: int, n_supervisors: int) -> tuple[str, dict[str, str], list[str]]:
    from voc.records import (
        CallMetrics,
        CallSentiment,
        Channel,
        Interaction,
        QAResult,
        Role,
        RuleOutcome,
        Utterance,
    )
    from voc.store import Store
    from voc.store.review import ReviewQueue
    from voc.store.schema import TopicAssignmentRow, TopicRow
    from voc.web.users import Users

    url = f"sqlite:///{root / 'load.db'}"
    store = Store.open(url)
    queue = ReviewQueue(store.db)
    rng = random.Random(7)
    day0 = dt.date(2026, 11, 1)
    texts = ["您好，请问有什么可以帮您", "我的洗衣机漏水了", "非常抱歉给您带来不便", "什么时候能派人来修",
             "我们明天上午安排师傅上门", "好的谢谢", "请问还有其他问题吗", "没有了", "感谢您的来电，再见", "再见"]
    ids = []
    store.add_interactions([
        (Interaction(f"call-{k:05d}", Channel.CALL, day0 + dt.timedelta(days=k % 20), f"h{k}", external_id=f"L{k:05d}",
                     source_path=None, queue="retail_after_sales", agent_id=f"A{k % 30:03d}", customer_tier="normal"),
         "audio") for k in range(n_calls)])
    for k in range(n_calls):
        iid = f"call-{k:05d}"
        ids.append(iid)
        utts = [Utterance(iid, j, Role.AGENT if j % 2 == 0 else Role.CUSTOMER, j * 3.0, j * 3.0 + 2.5, t)
                for j, t in enumerate(texts)]
        store.replace_transcript(iid, utts, CallMetrics(iid, 30.0, 14.0, 12.0, 4.0, 1.0, 0.0, 0, 200.0, 210.0, 0.54),
                                 language="zh", model="load", options={})
        score = rng.uniform(20, 100)
        store.replace_sentiment(iid, [], CallSentiment(iid, rng.uniform(-1, 1), 0.0, 0.0, "stable", False, (), "load"))
        outcomes = (RuleOutcome("greeting", "开场问候", True, 10.0,
                                ({"idx": 0, "start": 0.0, "text": texts[0], "matched": "您好", "window": "您好"},)),
                    RuleOutcome("closing", "结束语", score > 50, 10.0, ()))
        store.replace_qa(QAResult(iid, "retail_after_sales", "retail_after_sales", score, outcomes, ("low_score",)))
        queue.enqueue(iid, "retail_after_sales", ["low_score"], priority=100 - score)
    with store.db.session() as s:
        s.add(TopicRow(id="t0001", label="洗衣机漏水", keywords=["洗衣机", "漏水"], examples=["洗衣机漏水了"],
                       size=n_calls, status="active", created_on=day0, last_seen=day0 + dt.timedelta(days=19), state={}))
        for k, iid in enumerate(ids):
            s.add(TopicAssignmentRow(interaction_id=iid, topic_id="t0001", similarity=0.95,
                                     business_date=day0 + dt.timedelta(days=k % 20)))
    run = store.start_run(day0, ["ingest"], "load")
    store.finish_run(run, "done")
    users = Users(store.db)
    tokens = {}
    for k in range(n_reviewers):
        users.add(f"rev{k:02d}", "reviewer", "load-test-password")
        tokens[f"rev{k:02d}"] = users.issue_token(f"rev{k:02d}")
    for k in range(n_supervisors):
        users.add(f"sup{k:02d}", "supervisor", "load-test-password")
        tokens[f"sup{k:02d}"] = users.issue_token(f"sup{k:02d}")
    store.close()
    return url, tokens, ids


async def client(name: str, token: str, base: str, ids: list[str], deadline: float, seed: int,
                 lat: dict[str, list[float]], codes: Counter, errors: list[str]) -> None:
    rng = random.Random(seed)
    supervisor = name.startswith("sup")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10.0) as http:

        async def call(kind: str, method: str, path: str, **kw) -> httpx.Response | None:
            t0 = time.perf_counter()
            try:
                r = await http.request(method, path, **kw)
            except httpx.HTTPError as exc:
                errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                codes["exception"] += 1
                return None
            lat[kind].append(time.perf_counter() - t0)
            codes[r.status_code] += 1
            if r.status_code >= 400:
                errors.append(f"{kind} {path}: {r.status_code} {r.text[:120]}")
            return r

        while time.monotonic() < deadline:
            x = rng.random()
            if x < 0.35:
                await call("queue", "GET", "/api/queue", params={"limit": 50})
            elif x < 0.50:
                await call("queue_filtered", "GET", "/api/queue",
                           params={"sentiment": "negative", "score_max": 60, "date_from": "2026-11-05", "limit": 50})
            elif x < 0.75:
                if supervisor:
                    await call("call", "GET", f"/api/calls/{rng.choice(ids)}")
                else:  # reviewers reopen calls they reviewed (open ones may be claimed by others meanwhile)
                    r = await call("queue", "GET", "/api/queue", params={"limit": 20, "mine": True})
                    items = r.json()["items"] if r is not None and r.status_code == 200 else []
                    if items:
                        await call("call", "GET", f"/api/calls/{rng.choice(items)['interaction_id']}")
            elif x < 0.85 and not supervisor:
                r = await call("claim_next", "POST", "/api/queue/claim-next")
                if r is not None and r.status_code == 200:
                    item = r.json()["id"]
                    await call("override", "POST", f"/api/queue/{item}/override",
                               json={"score_override": round(rng.uniform(40, 100), 1), "comment": "load test"})
                    await call("resolve", "POST", f"/api/queue/{item}/resolve", json={})
            elif x < 0.93:
                await call("topics", "GET", "/api/topics")
            else:
                await call("runs", "GET", "/api/runs")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def run_load(base: str, tokens: dict[str, str], ids: list[str], clients: int, duration: float) -> dict:
    lat: dict[str, list[float]] = defaultdict(list)
    codes: Counter = Counter()
    errors: list[str] = []
    names = list(tokens)
    deadline = time.monotonic() + duration
    t0 = time.monotonic()
    await asyncio.gather(*(client(names[k % len(names)], tokens[names[k % len(names)]], base, ids, deadline, k,
                                  lat, codes, errors) for k in range(clients)))
    wall = time.monotonic() - t0
    every = [x for v in lat.values() for x in v]
    ms = lambda v: round(v * 1000, 1)  # noqa: E731
    return {
        "clients": clients, "duration_s": round(wall, 1), "requests": len(every),
        "errors": len(errors), "error_examples": errors[:5], "status_codes": {str(k): v for k, v in codes.items()},
        "throughput_rps": round(len(every) / wall, 1),
        "latency_ms": {"p50": ms(pct(every, 0.5)), "p95": ms(pct(every, 0.95)), "p99": ms(pct(every, 0.99)),
                       "max": ms(max(every)) if every else None,
                       "mean": ms(statistics.fmean(every)) if every else None},
        "by_kind": {k: {"n": len(v), "p50_ms": ms(pct(v, 0.5)), "p95_ms": ms(pct(v, 0.95))} for k, v in sorted(lat.items())},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--calls", type=int, default=1000, help="calls (= review items) in the throwaway store")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "web" / "results.json")
    args = ap.parse_args()
    from voc.web.server import free_port

    with tempfile.TemporaryDirectory(prefix="voc-web-load-") as tmp:
        t = time.monotonic()
        url, tokens, ids = build_store(Path(tmp), args.calls, n_reviewers=40, n_supervisors=10)
        print(f"store: {args.calls} calls, {len(tokens)} users, built in {time.monotonic() - t:.1f} s", file=sys.stderr)
        port = args.port or free_port()
        env = {**os.environ, "VOC_DATABASE_URL": url, "VOC_EXPORTS_DIR": str(Path(tmp) / "exports"),
               "VOC_WEB__SECRET_KEY": "load-test-secret"}
        voc = Path(sys.executable).with_name("voc")
        server = subprocess.Popen([str(voc), "serve", "--port", str(port)], env=env, cwd=tmp,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None:
                    raise SystemExit(f"voc serve exited: {server.stderr.read()[-2000:]}")
                time.sleep(0.1)
            summary = asyncio.run(run_load(base, tokens, ids, args.clients, args.duration))
        finally:
            server.terminate()
            server.wait(timeout=20)
    summary.update(load_average_after=[round(x, 2) for x in os.getloadavg()], calls_in_store=args.calls, server="voc serve (uvicorn, 1 worker), SQLite",
                   cpus=os.cpu_count(), command=" ".join(["python", "bench/web/load.py", *sys.argv[1:]]),
                   measured_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    args.out.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

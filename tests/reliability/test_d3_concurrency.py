"""D3: concurrent runs are safe. A run takes its date's lock (PostgreSQL advisory lock, a file lock beside SQLite);
a second run of the date waits and reports the first one's result; item claims and replacements are atomic."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.reliability.hostile import COMPLAINTS, DAY

REPO = Path(__file__).resolve().parents[2]


def _text_inbox(root: Path, chats: int = 14) -> Path:
    inbox = root / "inbox"
    (inbox / "text").mkdir(parents=True)
    (inbox / "transcripts").mkdir()
    rows = [{"id": f"CH{i}", "text": COMPLAINTS[i % len(COMPLAINTS)], "created_at": f"{DAY}T{9 + i % 9:02d}:00:00+08:00",
             "customer_id": f"U{i % 5}", "queue": "retail_after_sales"} for i in range(chats)]
    (inbox / "text" / "chats.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                                encoding="utf-8")
    lines = ["call_id,file,start_time,queue"]
    for k in range(2):
        (inbox / "transcripts" / f"T{k}.json").write_text(json.dumps({"utterances": [
            {"role": "agent", "start": 0.0, "end": 2.0, "text": "您好，请问有什么可以帮您"},
            {"role": "customer", "start": 2.1, "end": 5.0, "text": COMPLAINTS[k]}]}, ensure_ascii=False),
            encoding="utf-8")
        lines.append(f"CALL{k},transcripts/T{k}.json,{DAY}T10:0{k}:00+08:00,retail_after_sales")
    (inbox / "calls.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return inbox


def test_a_second_run_of_a_running_date_waits_or_exits_with_a_message(tmp_path):
    from voc.store import Store
    from voc.store.locks import RunLocked, run_lock

    store = Store.open(f"sqlite:///{tmp_path / 'voc.db'}")
    holding, release = threading.Event(), threading.Event()

    def first():
        with run_lock(store.db, DAY, 0):
            holding.set()
            release.wait(10)

    t = threading.Thread(target=first)
    t.start()
    try:
        assert holding.wait(10)
        with pytest.raises(RunLocked, match=f"another voc run for {DAY} is in progress"), run_lock(store.db, DAY, 0):
            pass
        with run_lock(store.db, DAY + dt.timedelta(days=1), 0) as waited:  # another date is free
            assert waited is False
        threading.Timer(0.5, release.set).start()
        with run_lock(store.db, DAY, 10, poll_s=0.05) as waited:  # waits for the first, then holds it
            assert waited is True
    finally:
        release.set()
        t.join()
        store.close()


@pytest.mark.postgres
def test_item_claims_are_idempotent_upserts_under_concurrency(pg_schema):
    from voc.records import CallSentiment, Channel, Interaction, SentimentScore
    from voc.store import Store

    url, schema = pg_schema
    store = Store.open(url, schema=schema)
    try:
        store.add_interaction(Interaction(id="chat-1", channel=Channel.CHAT, business_date=DAY, content_hash="h",
                                          external_id="C1", text="x"), "text")
        barrier = threading.Barrier(8)

        def hammer(k: int) -> None:
            barrier.wait()
            for _ in range(15):
                store.mark("sentiment", "chat-1", "done")
                score = SentimentScore("chat-1", -1, -0.5 + k / 100, "negative")
                store.replace_sentiment("chat-1", [score], CallSentiment("chat-1", score.score, 0, 0, "stable",
                                                                          False, (), "test"))

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(hammer, range(8)))  # any UniqueViolation is raised here
        assert store.stage_counts()["sentiment"] == {"done": 1}
        assert len(store.sentiment_scores("chat-1")) == 1 and len(store.call_sentiments(["chat-1"])) == 1
    finally:
        store.close()


@pytest.mark.slow  # ~20 s: two whole runs in two processes; make test-all (the lock test above stays in make test)
@pytest.mark.postgres
def test_two_concurrent_runs_of_one_date_on_postgresql(pg_schema, tmp_path):
    """Two real `voc run --date D` processes on one PostgreSQL database: one set of results, no failure."""
    from voc.store import Store

    url, schema = pg_schema
    db_url = f"{url}?options=-csearch_path%3D{schema}"
    inbox = _text_inbox(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOC_")}
    env.update({"VOC_DATABASE_URL": db_url, "VOC_INBOX": str(inbox), "VOC_EXPORTS_DIR": str(tmp_path / "exports"),
                "VOC_TOPICS__EMBEDDER": "tfidf", "VOC_ID_SECRET": "reliability"})
    Store.open(db_url).close()  # schema ready, so the two processes race on the run, not on migrating
    procs = [subprocess.Popen([sys.executable, "-m", "voc.cli", "run", "--date", DAY.isoformat(), "--json"], cwd=REPO,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=420) for p in procs]
    for p, (stdout, stderr) in zip(procs, outs, strict=True):
        assert p.returncode == 0, f"exit {p.returncode}\n{stdout}\n{stderr[-3000:]}"
    results = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outs]
    assert all(r["status"] == "done" for r in results)
    store = Store.open(db_url)
    try:
        runs = [r for r in store.runs() if r["run_date"] == DAY.isoformat()]
        assert all(r["status"] == "done" for r in runs), runs
        assert not store.item_errors()
        items = store.interactions(run_date=DAY)
        assert len(items) == 16
        counts = store.stage_counts()
        for stage_name, n in (("text", 16), ("sentiment", 16), ("transcribe", 2), ("qa", 2)):
            assert counts[stage_name] == {"done": n}, (stage_name, counts)
        assert len(store.call_sentiments([i.id for i in items])) == 16  # one result per item, not two
        waited = [r for r in results if r.get("waited_for")]
        if waited:  # the usual case: the second process waited and reported the first one's run
            assert len(runs) == 1 and waited[0]["waited_for"] == runs[0]["id"]
    finally:
        store.close()

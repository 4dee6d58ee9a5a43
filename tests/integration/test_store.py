"""Store tests: each runs on SQLite and on PostgreSQL (skipped without a server)."""

import datetime as dt

from voc.records import CallMetrics, Channel, Interaction, Role, StageResult, Utterance, Word
from voc.store import current_revision, head_revision, migrate


def _inter(i: int, ext: str | None = None, content: str = "x") -> Interaction:
    return Interaction(
        id=f"chat-{i:04d}",
        channel=Channel.CHAT,
        business_date=dt.date(2026, 11, 20),
        content_hash=content,
        external_id=ext or f"T{i}",
        customer_id="U1",
        customer_tier="vip",
        customer_value=1200.0,
        text="快递三天没到",
        attributes={"product": "X3"},
    )


def test_schema_at_head_and_migrate_idempotent(store):
    assert current_revision(store.db.engine) == head_revision()
    migrate(store.db.engine)  # second time is a no-op
    assert {"interactions", "utterances", "qa_reviews", "topics", "runs"} <= set(store.db.table_names())


def test_add_interaction_new_duplicate_conflict(store):
    assert store.add_interaction(_inter(1), "text") == "new"
    assert store.add_interaction(_inter(1), "text") == "duplicate"
    # same external id, different content -> conflict, nothing overwritten
    changed = _inter(2, ext="T1", content="y")
    assert store.add_interaction(changed, "text") == "conflict"
    items = store.interactions()
    assert [i.id for i in items] == ["chat-0001"]
    got = items[0]
    assert got.text == "快递三天没到" and got.attributes == {"product": "X3"} and got.customer_value == 1200.0


def test_quarantine_dedup(store):
    assert store.add_quarantine("recordings/a.wav", "empty file (0 bytes)", "h")
    assert not store.add_quarantine("recordings/a.wav", "empty file (0 bytes)", "h")
    assert store.quarantine()[0]["reason"] == "empty file (0 bytes)"


def test_transcript_replace_is_idempotent(store):
    store.add_interaction(_inter(1), "audio")
    utts = [
        Utterance("chat-0001", 0, Role.AGENT, 0.0, 2.0, "您好", -0.2, 0.01, (Word(0.0, 0.5, "您", 0.9),)),
        Utterance("chat-0001", 1, Role.CUSTOMER, 2.5, 4.0, "我的快递没到", -0.3, 0.02),
    ]
    m = CallMetrics("chat-0001", 4.0, 2.0, 1.5, 0.5, 0.5, 0.0, 0, 120.0, 240.0, 0.57)
    for _ in range(2):
        store.replace_transcript("chat-0001", utts, m, language="zh", model="base", options={"beam_size": 5})
    got = store.utterances("chat-0001")
    assert [u.text for u in got] == ["您好", "我的快递没到"]
    assert got[0].words[0].word == "您" and got[1].role is Role.CUSTOMER
    assert store.call_metrics("chat-0001") == m
    assert store.counts()["utterances"] == 2


def test_item_status_and_pending(store):
    for i in (1, 2, 3):
        store.add_interaction(_inter(i), "text")
    store.mark("text", "chat-0001", "done")
    store.mark("text", "chat-0002", "failed", "boom")
    pending = [i.id for i in store.interactions(pending_stage="text")]
    assert pending == ["chat-0002", "chat-0003"]  # failed ones are retried
    assert store.item_errors()[0]["reason"] == "boom"
    assert store.reset(["text"], ["chat-0001"]) == 1
    assert len(store.interactions(pending_stage="text")) == 3


def test_runs_and_stages(store):
    d = dt.date(2026, 11, 20)
    run_id = store.start_run(d, ["ingest", "text"], "test")
    sid = store.start_stage(run_id, "ingest")
    store.finish_stage(sid, StageResult("ingest", d.isoformat(), processed=3, seconds=0.1))
    sid2 = store.start_stage(run_id, "text")
    store.finish_stage(sid2, None, "RuntimeError: x")
    store.finish_run(run_id, "failed")
    assert store.resumable_run(d) == run_id
    assert store.done_stages(run_id) == {"ingest"}
    runs = store.runs()
    assert runs[0]["stages"][0]["processed"] == 3 and runs[0]["stages"][1]["error"] == "RuntimeError: x"

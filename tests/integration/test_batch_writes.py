"""Batched stage writes (issue 22): results and item-status marks go in per batch, one transaction each, on SQLite
and PostgreSQL; a failed item is recorded alone, an unwritable batch is retried item by item, and a process killed
mid-stage loses only the batch in hand (the next run does exactly those items)."""

from __future__ import annotations

import datetime as dt

import pytest

from voc.config import load_settings
from voc.records import CallSentiment, Channel, Interaction, Role, SentimentScore, Utterance

DAY = dt.date(2026, 11, 20)


def _texts(store, n: int = 7) -> list[Interaction]:
    items = [Interaction(id=f"chat-{i}", channel=Channel.CHAT, business_date=DAY, content_hash=str(i),
                         external_id=f"T{i}", text=f"快递第{i}天还没到，电话13912345678，客服也不回") for i in range(n)]
    store.add_interactions([(i, "text") for i in items])
    return items


def _settings(tmp_path):
    return load_settings(environ={"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
                                  "VOC_INBOX": str(tmp_path / "inbox")})


def _status(store, stage: str) -> dict[str, str]:
    from sqlalchemy import select

    from voc.store.schema import ItemStatus

    with store.db.session() as s:
        return dict(s.execute(select(ItemStatus.interaction_id, ItemStatus.status).where(ItemStatus.stage == stage)).all())


def test_text_and_sentiment_stages_write_in_batches(store, tmp_path, monkeypatch):
    from voc.pipeline import runner, sentiment, text

    monkeypatch.setattr(runner, "WRITE_BATCH", 3)
    items = _texts(store)
    call = Interaction(id="call-1", channel=Channel.CALL, business_date=DAY, content_hash="c", external_id="C1")
    store.add_interactions([(call, "transcript")])
    store.replace_transcript("call-1", [
        Utterance("call-1", 0, Role.AGENT, 0.0, 2.0, "您好，很高兴为您服务"),
        Utterance("call-1", 1, Role.CUSTOMER, 2.0, 5.0, "洗衣机坏了三次了，太失望了"),
    ], None, language="zh", model="test", options={})
    settings = _settings(tmp_path)
    sessions = {"n": 0}
    opened = store.db.session

    def counting():
        sessions["n"] += 1
        return opened()

    monkeypatch.setattr(store.db, "session", counting)
    res = text.run(store, settings, DAY)
    assert (res.processed, res.failed) == (8, 0)
    # 8 items in batches of 3: 3 write transactions (plus the reads), not two sessions per item
    assert sessions["n"] <= 6
    chat = store.interactions(ids=["chat-2"])[0]
    assert "13912345678" not in chat.text and "[PHONE]" in chat.text
    assert "快递" in store.interaction_tokens(["chat-2"])["chat-2"]
    with store.db.session() as s:
        from sqlalchemy import select

        from voc.store.schema import UtteranceRow
        toks = dict(s.execute(select(UtteranceRow.idx, UtteranceRow.tokens).where(UtteranceRow.interaction_id == "call-1")).all())
    assert "洗衣机" in toks[1] and toks[0]
    assert set(_status(store, "text").values()) == {"done"} and len(_status(store, "text")) == 8

    res = sentiment.run(store, settings, DAY)
    assert (res.processed, res.failed) == (8, 0)
    assert len(store.sentiment_scores("chat-0")) == 1 and store.sentiment_scores("chat-0")[0].score < 0
    assert len(store.sentiment_scores("call-1")) == 1  # the customer turn only
    assert set(store.call_sentiments([i.id for i in items] + ["call-1"])) == {i.id for i in items} | {"call-1"}
    # a reprocess replaces the rows rather than adding to them
    store.reset(["sentiment"], ["chat-0", "call-1"])
    assert sentiment.run(store, settings, DAY).processed == 2
    assert len(store.sentiment_scores("chat-0")) == 1 and len(store.sentiment_scores("call-1")) == 1
    assert store.counts()["call_sentiment"] == 8


def test_a_failing_item_is_recorded_alone_and_an_unwritable_batch_is_split(store):
    from voc.pipeline.runner import per_item_batched

    items = _texts(store, 6)

    def work(item):
        if item.id == "chat-1":
            raise ValueError("cannot read this one")
        return item.id

    def write(results, failed):
        if any(item.id == "chat-4" for item, _ in results):
            raise RuntimeError("row refused")
        store.write_texts("text", [(item.id, f"ok {out}", ["ok"]) for item, out in results], {},
                          [item.id for item, _ in results], failed)

    done, failed, errors = per_item_batched(store, "text", items, work, write, None, size=4)
    assert (done, failed) == (4, 2)
    assert {e["id"]: e["reason"] for e in errors} == {"chat-1": "ValueError: cannot read this one",
                                                      "chat-4": "RuntimeError: row refused"}
    status = _status(store, "text")
    assert status == {"chat-0": "done", "chat-1": "failed", "chat-2": "done", "chat-3": "done", "chat-4": "failed",
                      "chat-5": "done"}
    assert store.item_errors("text")[0]["reason"]
    assert store.interactions(ids=["chat-5"])[0].text == "ok chat-5"
    assert store.interactions(ids=["chat-4"])[0].text.startswith("快递")  # nothing half-written
    # a second attempt counts, and a later success replaces the failure
    store.mark_many("text", done=["chat-1"])
    assert _status(store, "text")["chat-1"] == "done"


def test_a_killed_stage_loses_only_the_batch_in_hand(store, tmp_path, monkeypatch):
    from voc.pipeline import runner, text

    monkeypatch.setattr(runner, "WRITE_BATCH", 2)
    _texts(store, 5)
    settings = _settings(tmp_path)
    import voc.text as vt

    real = vt.process_text
    seen: list[str] = []

    def dying(value, cfg):
        seen.append(value)
        if len(seen) == 4:
            raise KeyboardInterrupt  # the process is stopped mid-stage (not an item failure)
        return real(value, cfg)

    monkeypatch.setattr(vt, "process_text", dying)
    with pytest.raises(KeyboardInterrupt):
        text.run(store, settings, DAY)
    assert sorted(_status(store, "text")) == ["chat-0", "chat-1"]  # the first batch only, whole
    assert "[PHONE]" not in store.interactions(ids=["chat-2"])[0].text  # the batch in hand: nothing of it
    monkeypatch.setattr(vt, "process_text", real)
    res = text.run(store, settings, DAY)
    assert (res.processed, res.failed) == (3, 0)
    assert len(_status(store, "text")) == 5


def test_batched_sentiment_writes_replace_rows_under_concurrent_writers(store):
    from concurrent.futures import ThreadPoolExecutor

    items = _texts(store, 4)
    ids = [i.id for i in items]

    def write(k: int) -> None:
        for _ in range(5):
            rows = [(iid, [SentimentScore(iid, -1, -0.5 + k / 100, "negative")],
                     CallSentiment(iid, -0.5, 0, 0, "stable", False, (), "test")) for iid in ids]
            store.write_sentiments("sentiment", rows[::-1] if k % 2 else rows)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    assert all(len(store.sentiment_scores(i)) == 1 for i in ids)
    assert store.stage_counts()["sentiment"] == {"done": 4}


def test_service_types_are_written_in_one_statement(store):
    items = _texts(store, 3)
    store.set_service_types({items[0].id: "complaint", items[2].id: "inquiry"})
    store.set_service_types({})
    from sqlalchemy import select

    from voc.store.schema import InteractionRow

    with store.db.session() as s:
        got = dict(s.execute(select(InteractionRow.id, InteractionRow.service_type)).all())
    assert got == {"chat-0": "complaint", "chat-1": None, "chat-2": "inquiry"}


def test_embed_batches_write_vectors_and_marks_in_one_transaction(store):
    """The embed stage's batch on SQLite and PostgreSQL: vectors per embedder (a text cached already is kept as it
    was) and the items' status in one transaction; cached_texts reads keys only."""
    import numpy as np

    items = _texts(store, 3)
    first = np.eye(3, 4, dtype=np.float32)
    store.write_embeddings("embed", {"m": (["甲", "乙", "甲"], np.vstack([first[:2], first[:1]]))}, [items[0].id])
    store.write_embeddings("embed", {"m": (["乙", "丙"], np.ones((2, 4), dtype=np.float32)),
                                     "other": (["甲"], np.ones((1, 4), dtype=np.float32))},
                           [items[1].id], [(items[2].id, "RuntimeError: unreadable")])
    assert store.cached_texts("m", ["甲", "乙", "丙", "丁"]) == {"甲", "乙", "丙"}
    got = store.cached_embeddings("m", ["乙", "丙"])
    assert got["乙"].tolist() == first[1].tolist()  # written by the first batch, not replaced
    assert got["丙"].tolist() == [1.0] * 4 and store.cached_texts("other", ["甲", "乙"]) == {"甲"}
    assert _status(store, "embed") == {items[0].id: "done", items[1].id: "done", items[2].id: "failed"}

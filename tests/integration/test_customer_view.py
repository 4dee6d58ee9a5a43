"""The customer view kept across nights (issue 22, flat nightly cost) equals the report built from every contact of the
window: night after night (contacts leaving the period and the repeat window before it), after a late arrival, a
reprocessed item, a re-scored and a re-routed contact, a resolved QA review, a relabelled topic, a deleted contact,
a settings change and an earlier date, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
import zlib
from pathlib import Path

import numpy as np
from sqlalchemy import delete, update

from voc.config import load_settings
from voc.pipeline import customers as pc
from voc.records import Channel, Interaction
from voc.store import customer_aggregates as stored
from voc.store.schema import (
    CallSentimentRow,
    InteractionRow,
    QAResultRow,
    QAReviewRow,
    SentimentRow,
    TopicAssignmentRow,
    TopicRow,
)

D0 = dt.date(2026, 10, 1)
PHRASES = ["空调漏水", "洗衣机不排水", "退款没到账", "快递没送到", "安装师傅迟到", "发票开错了", "冰箱不制冷", "谢谢师傅"]
TOPICS = {"T0001": "空调/漏水", "T0002": "洗衣机/排水", "T0003": "退款/到账"}
STYPES = [None, "repair", "installation", "complaint", "praise", "consultation"]


def _fake_embed(monkeypatch) -> None:
    """A routing embedder with a fixed reference centre (as e5 has): characters hashed into 64 dimensions, so texts
    that share a phrase are close; deterministic and free."""
    from voc.pipeline import routing

    def embed(texts):
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t:
                out[i, zlib.crc32(ch.encode()) % 64] += 1.0
        return out

    monkeypatch.setattr(routing, "routing_embed", lambda store, settings, write=True: (embed, "fake-e5"))
    monkeypatch.setattr(routing, "reference_mean", lambda name: np.full(64, 0.3, dtype=np.float32))


def _settings(tmp_path: Path, **env: str):
    return load_settings(environ={"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "VOC_INBOX": str(tmp_path),
                                  "VOC_EXPORTS_DIR": str(tmp_path / "exports"), "VOC_CUSTOMERS__LOOKBACK_DAYS": "6",
                                  "VOC_CUSTOMERS__REPEAT_WINDOW_DAYS": "2", "VOC_CUSTOMERS__TOP_N": "99", **env})


def _add_day(store, rng: random.Random, day: dt.date, n: int = 14, tag: str = "") -> list[str]:
    ids = []
    for k in range(n):
        iid = f"i{tag}-{day:%m%d}-{k:02d}"
        call = rng.random() < 0.25
        inter = Interaction(
            id=iid, channel=Channel.CALL if call else Channel.CHAT, business_date=day, content_hash=f"h{iid}",
            external_id=iid, started_at=dt.datetime.combine(day, dt.time(8 + rng.randrange(10)), tzinfo=dt.UTC),
            queue=rng.choice([None, "retail", "vip"]), agent_id=rng.choice([None, "A1", "A2"]),
            customer_id=rng.choice([f"U{rng.randrange(12)}", f"U{rng.randrange(12)}", None, " "]),
            customer_tier=rng.choice([None, "vip", "gold"]), customer_value=rng.choice([None, 500.0, 20000.0]),
            text="，".join(rng.sample(PHRASES, 2)),
            attributes=rng.choice([{}, {"order_id": f"O{rng.randrange(4)}"}, {"product": "X3空调", "phone": "13800138000"}]))
        assert store.add_interaction(inter, "text") == "new"
        stype = rng.choice(STYPES)
        if stype:
            store.set_service_types({iid: stype})
        with store.db.session() as s:
            if rng.random() < 0.5:
                s.add(TopicAssignmentRow(interaction_id=iid, topic_id=rng.choice(list(TOPICS)), similarity=0.9,
                                         business_date=day, assigned_on=day))
            if call:
                s.add(CallSentimentRow(interaction_id=iid, score=rng.uniform(-1, 1), start_score=0.0, end_score=-0.5,
                                       trajectory=rng.choice(["worsening", "stable"]), escalation=rng.random() < 0.3,
                                       reasons=[], scorer="test"))
                s.add(QAResultRow(interaction_id=iid, queue="retail", script="s", score=rng.uniform(40, 100),
                                  outcomes=[], review_reasons=[]))
                if rng.random() < 0.5:
                    s.add(QAReviewRow(interaction_id=iid, queue="retail", reasons=["low"], status="open"))
            else:
                s.add(SentimentRow(interaction_id=iid, idx=-1, score=rng.uniform(-1, 1), label="x"))
        store.mark("text", iid, "done")
        ids.append(iid)
    return ids


def _add_one(store, iid: str, cid: str, day: dt.date, *, tier: str | None = None, value: float | None = None,
             topic: str | None = None, score: float = 0.0) -> None:
    inter = Interaction(id=iid, channel=Channel.CHAT, business_date=day, content_hash=f"h{iid}", external_id=iid,
                        started_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC), customer_id=cid,
                        customer_tier=tier, customer_value=value, text="空调漏水")
    assert store.add_interaction(inter, "text") == "new"
    with store.db.session() as s:
        s.add(SentimentRow(interaction_id=iid, idx=-1, score=score, label="x"))
        if topic:
            s.add(TopicAssignmentRow(interaction_id=iid, topic_id=topic, similarity=0.9, business_date=day,
                                     assigned_on=day))
    store.mark("text", iid, "done")


def _same(store, settings, night: dt.date) -> dict:
    kept = pc.build_customer_report(store, settings, night).to_dict()
    scratch = pc.build_customer_report_from_scratch(store, settings, night).to_dict()
    assert kept == scratch
    if stored.view_state(store) is not None:  # every stored copy equals the store's rows (a full comparison)
        cs = settings.customers
        first = night - dt.timedelta(days=cs.lookback_days - 1 + 2 * cs.repeat_window_days)
        assert stored.changed_contacts(store, first, night) == [] and stored.gone_contacts(store, first, night) == []
    return kept


def test_kept_view_equals_the_report_from_scratch(store, tmp_path, monkeypatch) -> None:
    _fake_embed(monkeypatch)
    monkeypatch.setattr(pc, "SLACK", dt.timedelta(0))  # only writes after the view looked are candidates
    settings = _settings(tmp_path)
    rng = random.Random(11)
    with store.db.session() as s:
        s.add_all(TopicRow(id=t, label=label, created_on=D0, last_seen=D0) for t, label in TOPICS.items())
    recomputed: list[int] = []
    real = stored.stored_contacts
    monkeypatch.setattr(stored, "stored_contacts",
                        lambda st, keys, *a, **kw: recomputed.append(len(set(keys))) or real(st, keys, *a, **kw))
    ids: dict[dt.date, list[str]] = {}
    for k in range(16):  # the 6-day period and the 2-day window before it move past the first days
        night = D0 + dt.timedelta(days=k)
        ids[night] = _add_day(store, rng, night)
        if k in (3, 4, 5, 7):  # a chain of four: the day-4 repeat, followed, alone leaves the window on night 12
            _add_one(store, f"chain-{k}", "C9", night, topic="T0001", score=-0.9)
        if k in (2, 6):  # the customer's only tier and value are on the contact alone leaving the window on night 10
            _add_one(store, f"tier-{k}", "V9", night, tier="vip" if k == 2 else None, value=50000.0 if k == 2 else None,
                     score=-0.9)
        report = _same(store, settings, night)
        if k in (9, 10, 11, 12):
            risks = {r["customer_id"]: r for r in report["at_risk"]}  # all of them (top_n 99)
            if k <= 11:  # its last contact (day 6) is in the period until night 11
                assert risks["V9"]["tier"] == ("vip" if k < 10 else None)
            if k >= 11:
                assert any(f"{14 - k} contacts in" in r for r in risks["C9"]["reasons"]), risks["C9"]
    assert report["overall"]["repeats"] > 0 and report["at_risk"] and report["overall"]["unknown_contacts"] > 0
    assert any("contacts in" in r for c in report["at_risk"] for r in c["reasons"])  # a chain named
    night = D0 + dt.timedelta(days=15)
    assert stored.changed_contacts(store, night - dt.timedelta(days=9), night) == []
    recomputed.clear()
    _same(store, settings, night)  # the same night again: nothing changed, nobody recomputed
    assert recomputed == [0]

    late = night - dt.timedelta(days=3)
    _add_day(store, rng, late, n=3, tag="late")  # late arrivals for an earlier date
    _same(store, settings, night)
    item = ids[night - dt.timedelta(days=2)][1]
    with store.db.session() as s:  # reprocessed: another text and sentiment
        s.execute(update(InteractionRow).where(InteractionRow.id == item).values(text="洗衣机不排水，第二次了"))
        s.execute(update(SentimentRow).where(SentimentRow.interaction_id == item).values(score=-0.9))
    store.mark("text", item, "done")
    _same(store, settings, night)
    rerun = night - dt.timedelta(days=4)
    topics = store.topic_assignments(ids[rerun])
    known = {i.id for i in store.interactions(ids=ids[rerun]) if (i.customer_id or "").strip()}
    other = next(i for i in ids[rerun] if i not in topics and i in known)
    store.start_run(rerun, ["routing"], "cli")  # the date's routing runs again: re-routed
    store.set_service_types({other: "praise"})
    _same(store, settings, night)
    other = next(i for i in ids[rerun] if i in topics)
    with store.db.session() as s:  # a topics run of a later night places it in another topic
        s.execute(update(TopicAssignmentRow).where(TopicAssignmentRow.interaction_id == other)
                  .values(topic_id="T0002" if topics[other][0] != "T0002" else "T0001", assigned_on=night))
    store.start_run(night, ["topics"], "cli")
    _same(store, settings, night)
    with store.db.session() as s:
        s.execute(update(QAReviewRow).values(status="resolved"))  # reviews resolved in the web app
    _same(store, settings, night)
    with store.db.session() as s:
        s.execute(update(TopicRow).where(TopicRow.id == "T0002").values(label="洗衣机/不排水"))  # relabelled
        s.execute(delete(InteractionRow).where(InteractionRow.id == ids[night][0]))  # deleted
    _same(store, settings, night)

    _same(store, _settings(tmp_path, VOC_CUSTOMERS__TOP_N="3"), night)  # the top 3 of the stored risks, ties cut
    wider = _settings(tmp_path, VOC_CUSTOMERS__REPEAT_WINDOW_DAYS="3")  # another setting: rebuilt
    _same(store, wider, night)
    _same(store, wider, night - dt.timedelta(days=5))  # an earlier date: rebuilt
    nxt = night + dt.timedelta(days=1)
    _add_day(store, rng, nxt)
    recomputed.clear()
    _same(store, wider, nxt)  # and kept from there
    _same(store, wider, nxt + dt.timedelta(days=1))  # a night without contacts: the edges still move
    assert recomputed and recomputed[-1] < 12


def test_embedder_without_a_reference_centre_builds_from_scratch(store, tmp_path, monkeypatch) -> None:
    """Vectors centred on the window's own contacts tie every link to every contact: the report is built from all of
    them, and the kept view is dropped (rebuilt on a later night that can keep it)."""
    from voc.pipeline import routing

    _fake_embed(monkeypatch)
    settings = _settings(tmp_path)
    rng = random.Random(3)
    for k in range(4):
        _add_day(store, rng, D0 + dt.timedelta(days=k))
    _same(store, settings, D0 + dt.timedelta(days=3))
    assert stored.view_state(store) is not None
    monkeypatch.setattr(routing, "reference_mean", lambda name: None)
    assert not pc.view_can_be_kept(store, settings)
    _same(store, settings, D0 + dt.timedelta(days=3))
    assert stored.view_state(store) is None


def test_nightly_runs_keep_the_view_equal(tmp_path, monkeypatch) -> None:
    """The real stages night after night (the report stage keeps the view), a reprocessed date and a rerun: the
    kept view equals the report from scratch every night (here the watermark is the start of each night's run)."""
    import json

    from voc import pipeline
    from voc.store import Store

    _fake_embed(monkeypatch)
    rng = random.Random(8)
    rows = []
    for k in range(9):
        day = D0 + dt.timedelta(days=k)
        rows += [{"id": f"c{k}-{n}", "text": "，".join(rng.sample(PHRASES, 2)), "created_at": f"{day}T{9 + n % 8:02d}:00:00",
                  "customer_id": f"u{rng.randrange(8)}", "channel": "chat", "order_id": f"O{rng.randrange(5)}"}
                 for n in range(12)]
    (tmp_path / "inbox" / "text").mkdir(parents=True)
    (tmp_path / "inbox" / "text" / "chats.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    settings = load_settings(environ={
        "VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}", "VOC_INBOX": str(tmp_path / "inbox"),
        "VOC_EXPORTS_DIR": str(tmp_path / "exports"), "VOC_TOPICS__EMBEDDER": "tfidf",
        "VOC_TOPICS__MIN_CLUSTER_SIZE": "4", "VOC_TOPICS__REDUCE_DIM": "5", "VOC_SENTIMENT__BACKEND": "model",
        "VOC_CUSTOMERS__LOOKBACK_DAYS": "4", "VOC_CUSTOMERS__REPEAT_WINDOW_DAYS": "2"})
    store = Store.open(settings.db_url)
    stages = ["ingest", "text", "sentiment", "topics", "routing", "report"]
    try:
        for k in range(9):
            day = D0 + dt.timedelta(days=k)
            assert pipeline.run(store, settings, day, stages).status == "done"
            state = stored.view_state(store)
            assert state is not None and state.until == day  # the report stage kept the view
            _same(store, settings, day)
        last = D0 + dt.timedelta(days=8)
        pipeline.reprocess(store, settings, ["sentiment", "routing"], since=last - dt.timedelta(days=2),
                           until=last - dt.timedelta(days=2))
        _same(store, settings, last)
        assert pipeline.run(store, settings, last, stages).status == "done"
        _same(store, settings, last)
    finally:
        store.close()

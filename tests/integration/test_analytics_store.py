"""Store access of the date-level stages, on SQLite and PostgreSQL: embeddings cache, topic snapshots,
findings with confirmed routes, deliveries."""

from __future__ import annotations

import datetime as dt

import numpy as np

from voc.records import Channel, Finding, Interaction, Route
from voc.store.analytics import SNAPSHOTS_KEPT
from voc.topics import Topic, TopicEvent

D0 = dt.date(2026, 11, 1)


def _topic(tid: str, day: dt.date, size: int = 3) -> Topic:
    return Topic(id=tid, label=f"标签{tid}", keywords=("空调", "漏水"), centroid=(0.1, 0.2), size=size, created=D0,
                 last_seen=day, examples=("空调漏水",), embedder="test")


def test_embeddings_cache_round_trip_and_no_duplicates(store) -> None:
    vecs = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert store.put_embeddings("m", ["甲", "乙"], vecs) == 2
    assert store.put_embeddings("m", ["甲", "丙"], vecs) == 1  # 甲 is cached already
    got = store.cached_embeddings("m", ["甲", "乙", "丙", "丁"])
    assert set(got) == {"甲", "乙", "丙"} and np.array_equal(got["乙"], vecs[1])
    assert store.cached_embeddings("other-model", ["甲"]) == {}


def test_rerunning_an_old_night_keeps_the_snapshot_it_needs(store) -> None:
    days = [D0 + dt.timedelta(days=k) for k in range(SNAPSHOTS_KEPT + 4)]
    for day in days:
        store.save_topic_run(day, {"next_number": 2, "day": day.isoformat()}, [_topic("T0001", day)],
                             [TopicEvent(day, "updated", "T0001", None, 3, None, 2)])
    assert store.topic_registry_before(days[-1])[0] == days[-2]
    # reprocess from the first night on: each night must find the snapshot of the night before
    for prev, day in zip(days, days[1:], strict=False):
        store.save_topic_run(prev, {"next_number": 2, "day": prev.isoformat()}, [_topic("T0001", prev)], [])
        when, state = store.topic_registry_before(day)
        assert when == prev and state["day"] == prev.isoformat()
    assert store.latest_topic_date() == days[-1]


def test_topics_table_follows_the_registry(store) -> None:
    store.save_topic_run(D0, {}, [_topic("T0001", D0), _topic("T0002", D0)], [])
    store.save_topic_run(D0, {}, [_topic("T0001", D0)], [])  # a rerun from scratch made fewer topics
    assert [t["id"] for t in store.topics()] == ["T0001"]


def test_findings_replace_keeps_confirmed_routes_and_teaches_memory(store) -> None:
    store.add_interactions([(Interaction(id="i1", channel=Channel.CHAT, business_date=D0, content_hash="h1",
                                         external_id="x1", text="空调漏水"), "text")])
    f = Finding(id=f"emerging:{D0}:T0001", kind="emerging_topic", run_date=D0, title="空调/漏水", summary="new",
                topic_id="T0001", count=1, interaction_ids=("i1",))
    store.replace_findings(D0, ["emerging_topic"], [f])
    store.replace_routes([Route(f.id, "after_sales", 0.6, "keywords 漏水")])
    store.confirm_route(f.id, "manufacturing", by="lead")
    store.replace_findings(D0, ["emerging_topic"], [f])  # the topics stage reran the night
    assert store.replace_routes([Route(f.id, "after_sales", 0.7, "keywords 漏水")]) == 0  # confirmed: untouched
    (route,) = store.routes([f.id])
    assert route.department == "manufacturing" and "corrected from after_sales by lead" in route.reason
    assert store.route_memory() == {"T0001": {"manufacturing": 1}}
    store.replace_topic_assignments(D0, [("i1", "T0001", 0.97, D0)])
    store.replace_topic_assignments(D0, [("i1", "T0001", 0.97, D0)])
    assert store.topic_assignments(["i1"]) == {"i1": ("T0001", 0.97)}
    assert store.topic_counts(D0, D0) == [("T0001", D0)]

"""Review queue on both databases, including reviewers racing for the same items."""

import datetime as dt
import threading

import pytest
from sqlalchemy import update

from voc.records import Channel, Interaction, QAResult
from voc.store.review import ReviewError, ReviewQueue
from voc.store.schema import QAReviewRow


def _seed(store, n):
    q = ReviewQueue(store.db)
    for i in range(n):
        iid = f"call-{i:03d}"
        store.add_interaction(Interaction(iid, Channel.CALL, dt.date(2026, 11, 20), f"h{i}", external_id=f"C{i}"), "audio")
        q.enqueue(iid, "retail_after_sales", ["low_score"], priority=float(i))
    return q


def test_claim_resolve_appeal_flow(store):
    q = _seed(store, 3)
    item = q.claim_next("alice")
    assert item.interaction_id == "call-002" and item.status == "claimed"  # highest priority first
    with pytest.raises(ReviewError, match="claimed by alice"):
        q.resolve(item.id, "bob")
    with pytest.raises(ReviewError, match="is claimed"):
        q.claim(item.id, "bob")
    done = q.resolve(item.id, "alice", score_override=85, comment="greeting was fine")
    assert done.status == "resolved" and done.score_override == 85
    appealed = q.appeal(item.id, "agent-7", "the customer interrupted")
    assert appealed.status == "appealed"
    closed = q.decide_appeal(item.id, "sup", score_override=90)
    assert closed.status == "closed" and closed.score_override == 90
    assert [h["action"] for h in closed.history] == ["enqueued", "claimed", "resolved", "appealed", "appeal decided"]
    # re-enqueue of a reviewed call keeps its state
    assert q.enqueue("call-002", "retail_after_sales", ["low_score"], 9) == "kept"


def test_concurrent_claims_never_share_an_item(store):
    q = _seed(store, 12)
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()

    def worker(name):
        while True:
            item = q.claim_next(name)
            if item is None:
                return
            with lock:
                claimed.append((name, item.id))

    threads = [threading.Thread(target=worker, args=(f"r{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for _, i in claimed]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert {it.status for it in q.items()} == {"claimed"}


def _race(q, n_reviewers):
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(n_reviewers)

    def worker(name):
        start.wait()
        while True:
            item = q.claim_next(name)
            if item is None:
                return
            with lock:
                claimed.append((name, item.id))

    threads = [threading.Thread(target=worker, args=(f"r{i:02d}",)) for i in range(n_reviewers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return claimed


def test_twenty_parallel_reviewers_never_share_an_item(store):
    q = _seed(store, 60)
    claimed = _race(q, 20)
    ids = [i for _, i in claimed]
    assert len(ids) == 60 and len(set(ids)) == 60
    items = q.items()
    assert {it.status for it in items} == {"claimed"}
    # the store agrees with what each reviewer was told
    owner = dict((i, name) for name, i in claimed)
    assert all(it.assignee == owner[it.id] for it in items)
    assert all(sum(h["action"] == "claimed" for h in it.history) == 1 for it in items)


def _age_claim(store, item_id, minutes):
    with store.db.session() as s:
        s.execute(update(QAReviewRow).where(QAReviewRow.id == item_id)
                  .values(claimed_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)))


def test_expired_claim_returns_to_the_queue(store):
    q = ReviewQueue(store.db, lease_minutes=30)
    _seed(store, 2)
    first = q.claim_next("alice")
    second = q.claim_next("bob")
    assert q.claim_next("carol") is None  # both held, leases fresh
    with pytest.raises(ReviewError, match="claimed by alice"):
        q.claim(first.id, "carol")
    _age_claim(store, first.id, 31)
    _age_claim(store, second.id, 29)
    taken = q.claim_next("carol")
    assert taken.id == first.id and taken.assignee == "carol"  # only the expired one came back
    assert taken.history[-1]["lease_expired_for"] == "alice"
    with pytest.raises(ReviewError, match="claimed by carol"):
        q.resolve(first.id, "alice")  # the old holder lost it
    assert q.resolve(first.id, "carol", score_override=60).status == "resolved"
    # explicit claim of an expired item works too; an unexpired one of someone else's does not
    _age_claim(store, second.id, 45)
    assert q.claim(second.id, "dave").assignee == "dave"
    # a longer lease keeps the same claim
    _age_claim(store, second.id, 45)
    assert ReviewQueue(store.db, lease_minutes=60).claim_next("erin") is None


def test_expired_claims_race_on_both_databases(store):
    q = _seed(store, 30)
    holders = _race(q, 5)
    for _, item_id in holders[::2]:  # half the leases lapse
        _age_claim(store, item_id, 90)
    taken = _race(q, 20)
    ids = [i for _, i in taken]
    assert sorted(ids) == sorted(i for _, i in holders[::2])  # exactly the expired ones, each once


def test_calibration_report(store):
    q = _seed(store, 5)
    machine = {"call-004": 50.0, "call-003": 80.0, "call-002": 40.0, "call-001": 90.0, "call-000": 60.0}
    for iid, sc in machine.items():
        store.replace_qa(QAResult(iid, "retail_after_sales", "retail_after_sales", sc, ()))
    plan = [("alice", 70.0), ("alice", None), ("bob", 40.0), ("bob", 70.0), ("alice", 60.0)]
    items = []
    for who, override in plan:
        it = q.claim_next(who)
        items.append(q.resolve(it.id, who, score_override=override))
    # appeals: call-004 (alice said 70) -> sup says 75; call-002 (bob said 40) -> sup says 90
    q.appeal(items[0].id, "agent-1", "greeting was there")
    q.decide_appeal(items[0].id, "sup", score_override=75)
    q.appeal(items[2].id, "agent-2", "asr misheard")
    q.decide_appeal(items[2].id, "sup", score_override=90)
    q.appeal(items[4].id, "agent-3", "please recheck")  # not decided: no pair yet

    rep = q.calibration(pass_mark=70, tolerance=5)
    diffs = {it.interaction_id: abs(o - machine[it.interaction_id])
             for it, (_, o) in zip(items, plan, strict=True) if o is not None}
    alice = rep.by_reviewer["alice"]
    assert (alice.reviewed, alice.overrides) == (3, 2)
    assert alice.mean_abs_diff == pytest.approx((diffs["call-004"] + diffs["call-000"]) / 2, abs=0.01)
    bob = rep.by_reviewer["bob"]
    assert (bob.reviewed, bob.overrides, bob.override_share) == (2, 2, 1.0)
    assert rep.reviewer_vs_machine.reviewed == 5 and rep.reviewer_vs_machine.overrides == 4
    rr = rep.reviewer_vs_reviewer
    assert rr.pairs == 2 and rr.agreement == 0.5 and rr.same_verdict == 0.5
    assert rr.mean_abs_diff == pytest.approx((abs(75 - 70) + abs(90 - 40)) / 2)
    d = rep.to_dict()
    assert d["by_reviewer"]["bob"]["override_share"] == 1.0 and len(d["reviewer_vs_reviewer"]["by_pair"]) == 2

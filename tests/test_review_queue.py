"""Review queue on both databases, including reviewers racing for the same items."""

import datetime as dt
import threading

import pytest

from voc.records import Channel, Interaction
from voc.store.review import ReviewError, ReviewQueue


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

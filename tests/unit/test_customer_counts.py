"""The pure pieces the stored customer view relies on (issue 22): FCR figures from counts summed elsewhere equal
repeat_stats over the contacts, and a churn risk read back from its JSON equals the one written."""

from __future__ import annotations

import datetime as dt
import json
import random

from voc.customers import Contact, customer_risk, find_repeats, repeat_chains, repeat_stats, timelines
from voc.customers.model import risk_from_dict, risk_to_dict
from voc.customers.repeats import GROUPINGS, stats_from_counts

D0 = dt.date(2026, 11, 1)


def _contacts(seed: int) -> list[Contact]:
    rng = random.Random(seed)
    return [Contact(interaction_id=f"i{n:03d}", customer_id=rng.choice(["U1", "U2", "U3", None]), channel="chat",
                    business_date=D0 + dt.timedelta(days=rng.randrange(12)), queue=rng.choice([None, "retail"]),
                    agent_id=rng.choice([None, "A1", ""]), topic_id=rng.choice([None, "T1", "T2"]),
                    topic_label=rng.choice([None, "洗衣机"]), service_type=rng.choice([None, "repair", "praise"]),
                    department=rng.choice([None, "after_sales"]), sentiment=rng.uniform(-1, 1),
                    escalation=rng.random() < 0.2, customer_tier=rng.choice([None, "vip"]), customer_value=1000.0)
            for n in range(60)]


def test_stats_from_counts_equal_repeat_stats() -> None:
    for seed in range(5):
        contacts = _contacts(seed)
        links = find_repeats(contacts, 3)
        followed = {lk.previous for lk in links.values()}
        since, until = D0 + dt.timedelta(days=2), D0 + dt.timedelta(days=10)
        for name, key in {"all": lambda c: "all", **GROUPINGS}.items():
            # one part per contact, as the database's GROUP BY may return a group in several rows
            counts = [(key(c), 1, int(c.interaction_id in links),
                       int(c.interaction_id not in links and c.interaction_id not in followed))
                      for c in contacts if c.customer_id and since <= c.business_date <= until]
            assert stats_from_counts(counts) == repeat_stats(contacts, links, key, since=since, until=until), name


def test_risk_read_back_from_json_is_equal() -> None:
    contacts = _contacts(7)
    links = find_repeats(contacts, 3)
    chains = repeat_chains(contacts, links)
    risks = [customer_risk(t, links, [ch for ch in chains if ch.customer_id == cid], since=D0)
             for cid, t in timelines(contacts).items()]
    assert any(risks)
    for r in filter(None, risks):
        back = risk_from_dict(json.loads(json.dumps(risk_to_dict(r))))
        assert back == r and back.score == r.score

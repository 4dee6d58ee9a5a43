"""Customer view, pure functions: repeat window edges, unknown customers, churn ranking, outreach lists, safe attributes."""

from __future__ import annotations

import datetime as dt

from voc.customers import (
    Contact,
    build_outreach,
    find_repeats,
    rank_at_risk,
    repeat_chains,
    repeat_stats,
    safe_attributes,
    timelines,
)

RUN = dt.date(2026, 11, 20)
PHONE, MOBILE, NAME = "13812345678", "13912345678", "张三丰"


def day(d: int, month: int = 11) -> dt.date:
    return dt.date(2026, month, d)


def contact(iid: str, cid: str | None, d: dt.date, **kw) -> Contact:
    return Contact(interaction_id=iid, customer_id=cid, channel=kw.pop("channel", "chat"), business_date=d, **kw)


# ---- pure functions ----------------------------------------------------------------------------------

def test_repeat_window_edges_are_inclusive_at_seven_days():
    contacts = [
        contact("a1", "A", day(1), service_type="repair"), contact("a2", "A", day(8), service_type="repair"),  # +7
        contact("b1", "B", day(1), service_type="repair"), contact("b2", "B", day(9), service_type="repair"),  # +8
        contact("c1", "C", day(3), topic_id="T1"), contact("c2", "C", day(3), topic_id="T1"),  # same day
        contact("d1", "D", day(3), topic_id="T1"), contact("d2", "D", day(5), topic_id="T2"),  # other topic
        contact("e1", "E", day(3), service_type="praise"), contact("e2", "E", day(4), service_type="praise"),
    ]
    links = find_repeats(contacts, window_days=7)
    assert set(links) == {"a2", "c2"}
    assert (links["a2"].previous, links["a2"].days, links["a2"].match) == ("a1", 7, "service_type")
    assert (links["c2"].days, links["c2"].match) == (0, "topic")
    assert set(find_repeats(contacts, window_days=8)) == {"a2", "b2", "c2"}
    assert set(find_repeats(contacts, window_days=7, match=["topic"])) == {"c2"}


def test_missing_customer_ids_are_never_merged():
    contacts = [contact("x1", None, day(2), topic_id="T1"), contact("x2", None, day(2), topic_id="T1"),
                contact("x3", None, day(3), topic_id="T1")]
    assert timelines(contacts) == {}
    assert find_repeats(contacts) == {}
    assert repeat_stats(contacts, {}) == []


def test_fcr_and_repeat_rate_count_first_contacts_where_they_were_handled():
    contacts = [
        contact("1", "A", day(1), queue="q1", topic_id="T1"), contact("2", "A", day(3), queue="q2", topic_id="T1"),
        contact("3", "A", day(5), queue="q2", topic_id="T1"), contact("4", "B", day(2), queue="q1", topic_id="T1"),
    ]
    links = find_repeats(contacts)
    [overall] = repeat_stats(contacts, links)
    assert (overall.contacts, overall.repeats, overall.first_contacts, overall.resolved_first) == (4, 2, 2, 1)
    assert overall.fcr == 0.5 and overall.repeat_rate == 0.5
    by_queue = {r.key: r for r in repeat_stats(contacts, links, key=lambda c: c.queue)}
    assert (by_queue["q1"].fcr, by_queue["q1"].repeat_rate) == (0.5, 0.0)
    assert (by_queue["q2"].repeats, by_queue["q2"].first_contacts, by_queue["q2"].fcr) == (2, 0, None)
    [chain] = repeat_chains(contacts, links)
    assert chain.contacts == ("1", "2", "3") and chain.reason == "3 contacts in 5 days about T1"


def test_churn_ranking_weighs_value_and_explains():
    def three(cid, tier, value):
        return [contact(f"{cid}1", cid, day(10), topic_id="T4", topic_label="洗衣机/漏水", customer_tier=tier,
                        customer_value=value, sentiment=-0.1),
                contact(f"{cid}2", cid, day(12), topic_id="T4", topic_label="洗衣机/漏水", sentiment=-0.5),
                contact(f"{cid}3", cid, day(15), topic_id="T4", topic_label="洗衣机/漏水", sentiment=-0.8,
                        trajectory="worsening", escalation=True, external_id=f"C-{cid}", qa_review="open", qa_score=55)]
    contacts = [*three("N", "normal", 500.0), *three("V", "vip", 60000.0),
                contact("P1", "P", day(15), sentiment=0.6, service_type="praise")]
    links = find_repeats(contacts)
    ranked = rank_at_risk(timelines(contacts), links, repeat_chains(contacts, links))
    assert [r.customer_id for r in ranked] == ["V", "N"]  # same signals; the VIP weighs more; P has none
    v = ranked[0]
    assert v.points == ranked[1].points and v.score > ranked[1].score
    assert set(v.signals) == {"repeat", "negative", "worsening", "escalation", "unresolved_qa"}
    assert "3 contacts in 6 days about T4 洗衣机/漏水" in v.reasons
    assert any("C-V" in r and "escalation" in r for r in v.reasons)
    assert any(r.startswith("sentiment fell from -0.10 to -0.80") for r in v.reasons)
    assert any("QA review unresolved: C-V open score 55" == r for r in v.reasons)


def test_outreach_lists_each_customer_once_and_needs_shared_values():
    label = "空调/漏水/X3"
    complaints = [
        contact("k1", "A", day(19), topic_id="T9", attributes={"batch": "B2311", "product": "X3空调"}),
        contact("k2", "A", day(20), topic_id="T9", attributes={"batch": "B2311"}),
        contact("k3", "B", day(20), topic_id="T9", attributes={"batch": "B2311", "product": "X3空调"}),
        contact("k4", "C", day(20), topic_id="T9", attributes={"product": "R5电饭煲"}),  # only one complainer has it
        contact("k5", None, day(20), topic_id="T9", attributes={"batch": "B2311"}),
    ]
    candidates = [
        contact("o1", "A", day(1), attributes={"batch": "B2311"}),  # a complainer: stays "complained", once
        contact("o2", "S", day(2), customer_tier="vip", attributes={"batch": "B2311", "product": "X3空调"}),
        contact("o3", "S", day(3), attributes={"product": "X3空调"}),
        contact("o4", "R", day(4), attributes={"product": "R5电饭煲"}),
        contact("o5", None, day(4), attributes={"batch": "B2311"}),
    ]
    result = build_outreach("T9", label, complaints, candidates, department="quality")
    ids = [e.customer_id for e in result.entries]
    assert ids[0] == "S" and sorted(ids) == ["A", "B", "C", "S"] and len(ids) == len(set(ids))
    by_id = {e.customer_id: e for e in result.entries}
    assert (by_id["A"].status, by_id["A"].match) == ("complained", "complained 2x")
    assert (by_id["S"].status, by_id["S"].match) == ("exposed", "batch=B2311")
    assert label in by_id["S"].reason and "B2311" in by_id["S"].reason
    assert result.matched_on == {"batch": ("B2311",), "product": ("X3空调",)}
    assert result.anonymous_complaints == 1 and (result.complainers, result.exposed) == (3, 1)
    # A value must also cover a share of the complaining customers: 2 of 3 pass 50 %, not 80 %.
    assert build_outreach("T9", label, complaints, candidates, min_share=0.5).matched_on == result.matched_on
    strict = build_outreach("T9", label, complaints, candidates, min_share=0.8)
    assert strict.matched_on == {} and strict.exposed == 0 and strict.complainers == 3


def test_safe_attributes_strip_contact_data():
    attrs = {"phone": PHONE, "Mobile_No": MOBILE, "customer_name": NAME, "email": "a@b.cn", "收货地址": "上海市",
             "tel": "021-12345678", "product": "X3空调", "note": f"回电 {PHONE}", "batch": "B2311"}
    safe = safe_attributes(attrs)
    assert set(safe) == {"product", "note", "batch"} and PHONE not in safe["note"]


def test_only_the_vectors_find_repeats_may_compare_are_needed():
    """The report looks up vectors of ``text_candidates`` only (issue 22): the links are the same as with every
    repeat candidate's vector, on random timelines of topics, praise, products, orders and texts."""
    import random

    import numpy as np

    from voc.customers.repeats import repeat_candidates, text_candidates

    rng = random.Random(4)
    contacts = [contact(f"i{k}", f"C{rng.randrange(40)}", day(1 + rng.randrange(28)),
                        topic_id=rng.choice([None, None, "T1", "T2"]),
                        service_type=rng.choice([None, "repair", "praise", "complaint"]),
                        attributes=rng.choice([{}, {"product": "X3"}, {"order_id": f"O{rng.randrange(3)}"}]))
                for k in range(300)]
    vectors = {c.interaction_id: v / np.linalg.norm(v) for c in contacts for v in [np.random.default_rng(
        int(c.interaction_id[1:])).normal(size=8)]}
    some = text_candidates(contacts)
    assert some < repeat_candidates(contacts)
    full = find_repeats(contacts, vectors=vectors, text_similarity=0.2)
    assert any(link.match.startswith("text") for link in full.values())
    assert find_repeats(contacts, vectors={k: vectors[k] for k in some}, text_similarity=0.2) == full

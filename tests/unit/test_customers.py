"""Customer view: repeat window edges, unknown customers, churn ranking, outreach lists, PII-free exports, CLI."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from voc.config import load_settings
from voc.customers import (
    Contact,
    build_outreach,
    find_repeats,
    rank_at_risk,
    repeat_chains,
    repeat_stats,
    safe_attributes,
    timelines,
    write_customer_exports,
)
from voc.pipeline import build_customer_report
from voc.records import Channel, Interaction
from voc.store.schema import (
    CallSentimentRow,
    FindingRow,
    QAResultRow,
    QAReviewRow,
    RouteRow,
    SentimentRow,
    TopicAssignmentRow,
    TopicRow,
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


# ---- store-backed ------------------------------------------------------------------------------------

def _add(store, iid, cid, d, *, channel=Channel.CHAT, tier=None, value=None, attrs=None, queue=None, agent=None,
         stype=None, topic=None, text="文本"):
    inter = Interaction(id=iid, channel=channel, business_date=d, content_hash=iid * 2, external_id=iid,
                        started_at=dt.datetime.combine(d, dt.time(10), tzinfo=dt.UTC), queue=queue, agent_id=agent,
                        customer_id=cid, customer_tier=tier, customer_value=value, text=text,
                        attributes=attrs or {})
    assert store.add_interaction(inter, "text") == "new"
    if stype:
        store.set_service_types({iid: stype})
    if topic:
        with store.db.session() as s:
            s.add(TopicAssignmentRow(interaction_id=iid, topic_id=topic, similarity=0.97, business_date=d))


def _populate(store) -> None:
    with store.db.session() as s:
        for tid, label in (("T0001", "空调/漏水/X3"), ("T0002", "洗衣机/排水")):
            s.add(TopicRow(id=tid, label=label, keywords=label.split("/"), created_on=day(1), last_seen=RUN))
    # U1, a VIP, comes back three times in a week about the washer; the last call escalates, its QA review is open.
    _add(store, "i-u1-a", "U1", day(13), tier="vip", value=60000.0, topic="T0002", stype="repair")
    _add(store, "i-u1-b", "U1", day(17), channel=Channel.TICKET, topic="T0002", stype="repair")
    _add(store, "i-u1-c", "U1", day(19), channel=Channel.CALL, tier="vip", value=60000.0, queue="retail",
         agent="A102", topic="T0002", stype="complaint")
    # Window edges: U2 is back after 7 days (repeat), U3 after 8 (not).
    _add(store, "i-u2-a", "U2", day(1), stype="repair")
    _add(store, "i-u2-b", "U2", day(8), stype="repair")
    _add(store, "i-u3-a", "U3", day(1), stype="repair")
    _add(store, "i-u3-b", "U3", day(9), stype="repair")
    # Unknown customers: a blank and a missing id, same topic and day; never merged.
    _add(store, "i-anon-1", "  ", day(20), topic="T0001", attrs={"batch": "B2311"})
    _add(store, "i-anon-2", None, day(20), topic="T0001", attrs={"batch": "B2311"})
    # The emerging X3 leak: U4 complains twice, U5 once; U6 (vip) and U7 own the batch/product but are silent.
    x3 = {"product": "X3空调", "batch": "B2311", "region": "杭州"}
    _add(store, "i-u4-a", "U4", day(19), tier="gold", value=9000.0, topic="T0001", attrs=x3, stype="repair")
    _add(store, "i-u4-b", "U4", day(20), tier="gold", value=9000.0, topic="T0001", attrs=x3, stype="repair")
    _add(store, "i-u4-old", "U4", day(2), attrs={"batch": "B2311", "order_id": "HC1"}, stype="consultation")
    _add(store, "i-u5", "U5", day(20), topic="T0001", attrs=x3 | {"phone": PHONE})
    _add(store, "i-u6", "U6", day(15, 10), tier="vip", value=80000.0, stype="consultation",
         attrs={"product": "X3空调", "batch": "B2311", "region": "上海", "mobile": MOBILE, "customer_name": NAME,
                "note": f"客户留言 {PHONE}"})
    _add(store, "i-u7", "U7", day(5), attrs={"product": "X3空调", "region": "苏州"}, stype="installation")
    _add(store, "i-u8", "U8", day(5), attrs={"product": "R5电饭煲", "batch": "B2309"}, stype="repair")
    with store.db.session() as s:
        s.add(CallSentimentRow(interaction_id="i-u1-c", score=-0.8, start_score=-0.2, end_score=-0.9,
                               trajectory="worsening", escalation=True, reasons=["12315"], scorer="test"))
        s.add(SentimentRow(interaction_id="i-u1-a", idx=-1, score=-0.1, label="neutral"))
        s.add(SentimentRow(interaction_id="i-u1-b", idx=-1, score=-0.6, label="negative"))
        s.add(QAResultRow(interaction_id="i-u1-c", queue="retail", script="retail_after_sales", score=55.0,
                          outcomes=[], review_reasons=["score below 70"]))
        s.add(QAReviewRow(interaction_id="i-u1-c", queue="retail", reasons=["score below 70"], status="open"))
        s.add(FindingRow(id="trend:2026-11-19:T0002", kind="topic_trend", run_date=day(19), title="洗衣机/排水",
                         summary="", topic_id="T0002", interaction_ids=["i-u1-c"]))
        s.add(FindingRow(id="emerging:2026-11-20:T0001", kind="emerging_topic", run_date=RUN, title="空调/漏水/X3",
                         summary="", topic_id="T0001", count=4,
                         interaction_ids=["i-u4-b", "i-u5", "i-anon-1", "i-anon-2"],
                         details={"kind": "new", "count": 4, "baseline": 0.0, "growth": None, "z": 5.0,
                                  "p_value": 0.001, "keywords": ["漏水", "X3"]}))
        s.flush()
        s.add(RouteRow(finding_id="trend:2026-11-19:T0002", department="after_sales", confidence=0.9, reason="rules"))
        s.add(RouteRow(finding_id="emerging:2026-11-20:T0001", department="manufacturing", confidence=0.8,
                       reason="keywords 批次"))


def _settings(url: str):
    return load_settings(environ={"VOC_DATABASE_URL": url})


def test_customer_report_from_store(store, tmp_path):
    _populate(store)
    report = build_customer_report(store, _settings("sqlite://"), RUN)
    o = report.overall
    # 13 contacts with a customer id in the 30 days (U6's October contact is older); repeats: U1 x2, U2, U4.
    assert (o.contacts, o.repeats) == (13, 4)
    assert report.unknown_contacts == 2
    by_dept = {r.key: r for r in report.by_group["department"]}
    # after_sales: U1 via the T0002 route, U2/U3/U8 via their service type 'repair'; 3 of 5 first contacts stuck.
    assert (by_dept["after_sales"].contacts, by_dept["after_sales"].repeats, by_dept["after_sales"].fcr) == (8, 3, 0.6)
    assert by_dept["manufacturing"].contacts == 3  # U4 twice and U5, via the emerging finding's route
    by_topic = {r.key: r for r in report.by_group["topic"]}
    t2 = by_topic["T0002 洗衣机/排水"]
    assert (t2.contacts, t2.repeats, t2.fcr, t2.repeat_rate) == (3, 2, 0.0, round(2 / 3, 4))
    assert {r.key for r in report.by_group["agent"]} == {"A102"}

    top = report.at_risk[0]
    assert top.customer_id == "U1" and top.tier == "vip"
    assert "3 contacts in 7 days about T0002 洗衣机/排水" in top.reasons
    assert {"repeat", "negative", "worsening", "escalation", "unresolved_qa"} <= set(top.signals)
    assert "U3" not in {r.customer_id for r in report.at_risk}  # 8 days apart: no repeat, no other signal

    [lst] = report.outreach
    assert (lst.topic_id, lst.department, lst.finding_id) == ("T0001", "manufacturing", "emerging:2026-11-20:T0001")
    ids = [e.customer_id for e in lst.entries]
    assert ids[0] == "U6" and sorted(ids) == ["U4", "U5", "U6", "U7"] and ids.count("U4") == 1
    entry = {e.customer_id: e for e in lst.entries}
    assert entry["U6"].status == "exposed" and entry["U6"].match == "batch=B2311"
    assert entry["U7"].match == "product=X3空调" and entry["U4"].status == "complained"
    assert lst.anonymous_complaints == 2 and "空调/漏水/X3" in lst.contact_reason

    paths = write_customer_exports(report, tmp_path)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in paths)
    assert names == ["customers/at_risk.csv", "customers/outreach_T0001.csv", "departments/manufacturing_outreach.csv"]
    for path in paths:
        text = path.read_text("utf-8-sig")
        assert PHONE not in text and MOBILE not in text and NAME not in text
    rows = list(csv.DictReader(open(tmp_path / "departments" / "manufacturing_outreach.csv", encoding="utf-8-sig")))
    assert [r["customer_id"] for r in rows] == ids and rows[0]["batch"] == "B2311" and rows[0]["region"] == "上海"
    assert "phone" not in rows[0] and "mobile" not in rows[0]

    digest = report.to_digest()
    json.dumps(digest, ensure_ascii=False)
    assert digest["overall"]["fcr"] == o.fcr and digest["outreach"][0]["customers"] == 4


def test_digest_renders_customer_section(store, tmp_path):
    from voc.records import Finding, Route
    from voc.report import write_digests
    from voc.report.digest import DigestData

    _populate(store)
    report = build_customer_report(store, _settings("sqlite://"), RUN)
    finding = Finding(id="emerging:2026-11-20:T0001", kind="emerging_topic", run_date=RUN, title="空调/漏水/X3",
                      summary="", topic_id="T0001", count=4)
    data = DigestData(run_date=RUN, findings=[finding], routes=[Route(finding.id, "manufacturing", 0.8, "kw")],
                      customers=report.to_digest())
    write_digests(data, tmp_path, formats=("md", "html"))
    overview = (tmp_path / "overview.md").read_text("utf-8")
    assert "first-contact resolution" in overview and "U1" in overview and "3 contacts in 7 days" in overview
    assert "T0001 空调/漏水/X3" in overview and "2 exposed" in overview and "not yet in touch: U6 (vip, batch=B2311)" in overview
    dept = (tmp_path / "departments" / "manufacturing.md").read_text("utf-8")
    assert "Proactive outreach" in dept and "U6" in dept and "batch=B2311" in dept
    html = (tmp_path / "overview.html").read_text("utf-8")
    assert "Customers at risk" in html and PHONE not in html
    plain = DigestData(run_date=RUN, findings=[finding], routes=[Route(finding.id, "manufacturing", 0.8, "kw")])
    write_digests(plain, tmp_path / "plain", formats=("md",))
    assert "first-contact resolution" not in (tmp_path / "plain" / "overview.md").read_text("utf-8")


# ---- CLI ---------------------------------------------------------------------------------------------

@pytest.fixture()
def cli_db(tmp_path):
    from voc.store import Store

    url = f"sqlite:///{tmp_path / 'voc.db'}"
    st = Store.open(url)
    _populate(st)
    st.close()
    return {"VOC_DATABASE_URL": url}


def _invoke(args, env):
    from voc.cli import app

    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


def test_cli_customers_show_json(cli_db):
    res = _invoke(["customers", "show", "U1", "--json"], cli_db)
    assert res.exit_code == 0, res.output
    view = json.loads(res.stdout)
    assert set(view) == {"customer_id", "tier", "value", "weight", "contacts", "chains", "risk"}
    assert [c["channel"] for c in view["contacts"]] == ["chat", "ticket", "call"]
    assert set(view["contacts"][0]) >= {"interaction_id", "date", "topic_id", "topic_label", "sentiment", "qa_score",
                                        "qa_review", "repeat_of", "department", "attributes"}
    assert view["contacts"][2]["repeat_of"] == "i-u1-b" and view["contacts"][2]["qa_review"] == "open"
    assert view["chains"][0]["contacts"] == ["i-u1-a", "i-u1-b", "i-u1-c"] and view["risk"]["score"] > 0
    shown = json.loads(_invoke(["customers", "show", "U6", "--json"], cli_db).stdout)
    assert shown["contacts"][0]["attributes"] == {"product": "X3空调", "batch": "B2311", "region": "上海",
                                                  "note": "客户留言 [PII]"}
    missing = _invoke(["customers", "show", "NOPE"], cli_db)
    assert missing.exit_code == 1 and "no contacts" in missing.output
    assert _invoke(["customers", "show", "U1"], cli_db).exit_code == 0


def test_cli_at_risk_and_outreach_json(cli_db):
    res = _invoke(["customers", "at-risk", "--json", "--limit", "2"], cli_db)
    assert res.exit_code == 0, res.output
    ranked = json.loads(res.stdout)
    assert len(ranked) <= 2 and ranked[0]["customer_id"] == "U1" and ranked[0]["rank"] == 1
    assert set(ranked[0]) == {"rank", "customer_id", "tier", "value", "weight", "points", "score", "signals",
                              "reasons", "contacts", "last_contact"}
    res = _invoke(["outreach", "T0001", "--json"], cli_db)
    assert res.exit_code == 0, res.output
    lst = json.loads(res.stdout)
    assert set(lst) == {"topic_id", "topic_label", "finding_id", "department", "contact_reason", "matched_on",
                        "complainers", "exposed", "anonymous_complaints", "entries"}
    assert lst["department"] == "manufacturing" and lst["matched_on"]["batch"] == ["B2311"]
    assert set(lst["entries"][0]) == {"rank", "customer_id", "tier", "value", "weight", "status", "match", "product",
                                      "batch", "region", "reason"}
    assert PHONE not in res.stdout and MOBILE not in res.stdout
    assert _invoke(["outreach", "T0001"], cli_db).exit_code == 0
    assert _invoke(["outreach", "T9999"], cli_db).exit_code == 1


# ---- demo data ---------------------------------------------------------------------------------------

def test_demo_inbox_shows_repeat_chain_and_batch_outreach(tmp_path):
    """The demo, with its reference themes standing in for the topics stage: U0007's chain across chat,
    ticket and call, and an X3 outreach list that finds the silent B2311 owners through earlier enquiries."""
    from pathlib import Path

    from voc.pipeline import ingest_inbox
    from voc.store import Store

    demo = Path(__file__).resolve().parents[1] / "demo"
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    settings, store = _settings(url), Store.open(url)
    ingest_inbox(store, settings, demo / "inbox")
    themes = {r["id"]: r["theme"] for r in csv.DictReader(open(demo / "reference" / "complaint_themes.csv", encoding="utf-8"))}
    themes |= {"C003": "faulty_repair", "C011": "x3_leak", "C015": "x3_leak"}
    topic = {"x3_leak": "T0001", "faulty_repair": "T0002"}
    leak_today = []
    with store.db.session() as s:
        s.add(TopicRow(id="T0001", label="空调/漏水/X3", created_on=day(18), last_seen=RUN))
        s.add(TopicRow(id="T0002", label="洗衣机/维修", created_on=day(22, 10), last_seen=RUN))
        from sqlalchemy import select

        from voc.store.schema import InteractionRow
        for iid, ext, d in s.execute(select(InteractionRow.id, InteractionRow.external_id, InteractionRow.business_date)):
            if themes.get(ext) in topic:
                s.add(TopicAssignmentRow(interaction_id=iid, topic_id=topic[themes[ext]], similarity=0.95, business_date=d))
                if themes[ext] == "x3_leak" and d == RUN:
                    leak_today.append(iid)
        s.add(FindingRow(id="emerging:2026-11-20:T0001", kind="emerging_topic", run_date=RUN, title="空调/漏水/X3",
                         summary="", topic_id="T0001", count=len(leak_today), interaction_ids=leak_today))
    report = build_customer_report(store, settings, RUN)
    u7 = next(r for r in report.at_risk if r.customer_id == "U0007")
    assert "3 contacts in 6 days about T0002 洗衣机/维修" in u7.reasons

    with open(demo / "reference" / "customers.csv", encoding="utf-8") as f:
        owners = {r["customer_id"] for r in csv.DictReader(f) if r["contacted_about_batch"] == "no"}
    enquired = {t["customer_id"] for t in map(json.loads, open(demo / "inbox" / "text" / "complaints.jsonl", encoding="utf-8"))
                if t["customer_id"] in owners}
    [lst] = report.outreach
    exposed = {e.customer_id for e in lst.entries if e.status == "exposed"}
    assert enquired and enquired <= exposed  # every silent owner we have metadata for is on the list
    assert lst.matched_on["batch"] == ("B2311",) and lst.complainers > 40
    assert all(e.match == "batch=B2311" for e in lst.entries if e.customer_id in enquired)
    assert lst.department == "customer_service"  # not routed in this test: the fallback department
    store.close()

"""One visible id per contact (issue 19): the CLI shows the source's call / record id (C009, a chat's own id) with the
internal hash as a detail, prints it in --json as ``contact_id``, and every command that takes an id accepts it;
an id two sources share is an error that lists the candidates. Real SQLite store, the real CLI."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from voc.cli import app
from voc.records import Channel, Finding, Interaction, QAResult, Route, contact_label, visible_id
from voc.store import Store
from voc.store.contacts import AmbiguousContact, ContactNotFound, contact_refs, find_contacts, resolve_contact
from voc.store.review import ReviewQueue
from voc.store.schema import TopicAssignmentRow, TopicRow

DAY = dt.date(2026, 11, 20)
C009 = "call-eaab3f1197ace792d751"  # internal ids look like the demo's: a prefix and a content hash


def _invoke(args, env, columns: int = 80):
    return CliRunner().invoke(app, args, env={**env, "COLUMNS": str(columns)}, catch_exceptions=False)


def _add(store, iid, channel, ext, customer="U0231", day=DAY, text=None):
    store.add_interaction(Interaction(iid, channel, day, iid + "-h", external_id=ext, customer_id=customer,
                                      text=text, started_at=dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)),
                          "audio" if channel == Channel.CALL else "text")


@pytest.fixture()
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'voc.db'}"
    store = Store.open(url)
    q = ReviewQueue(store.db)
    _add(store, "call-0c1d2e3f4a5b6c7d8e9f", Channel.CALL, "C001", day=DAY - dt.timedelta(days=1))
    store.replace_qa(QAResult("call-0c1d2e3f4a5b6c7d8e9f", "retail", "retail_after_sales", 52.0, ()))
    q.enqueue("call-0c1d2e3f4a5b6c7d8e9f", "retail", ["low_score"], priority=50.0)  # item #1
    _add(store, C009, Channel.CALL, "C009")
    store.replace_qa(QAResult(C009, "retail", "retail_after_sales", 31.0, ()))
    q.enqueue(C009, "retail", ["low_score", "forbidden_phrase"], priority=90.0)  # item #2
    _add(store, "call-5a5a5a5a5a5a5a5a5a5a", Channel.CALL, "C007")  # scored, not sent to review
    store.replace_qa(QAResult("call-5a5a5a5a5a5a5a5a5a5a", "retail", "retail_after_sales", 95.0, ()))
    _add(store, "chat-22e75c62cd5e005404ef", Channel.CHAT, "T00152", customer="U0500", text="空调漏水")
    with store.db.session() as s:
        s.add(TopicRow(id="T0013", label="空调/漏水", keywords=["空调", "漏水"], created_on=DAY, last_seen=DAY))
        s.flush()
        s.add(TopicAssignmentRow(interaction_id="chat-22e75c62cd5e005404ef", topic_id="T0013", similarity=0.9,
                                 business_date=DAY))
    yield store, q, {"VOC_DATABASE_URL": url}
    store.close()


def test_visible_id_helper_and_read_model(db):
    store, _q, _env = db
    assert visible_id("C009", C009) == "C009" and visible_id(None, C009) == C009
    assert Interaction(C009, Channel.CALL, DAY, "h", external_id="C009").contact_id == "C009"
    assert contact_label("chat", "T00152") == "chat T00152"
    refs = contact_refs(store.db, [C009, "chat-22e75c62cd5e005404ef", "nope"])
    assert set(refs) == {C009, "chat-22e75c62cd5e005404ef"}
    assert refs[C009].contact_id == "C009" and refs[C009].label == "call C009"
    assert refs[C009].describe() == f"call C009 ({C009}, 2026-11-20)"
    # every way a person writes it finds the same contact
    for ref in ("C009", "c009", "call:C009", "call C009", C009, f"call:{C009}"):
        assert resolve_contact(store.db, ref).interaction_id == C009, ref
    assert find_contacts(store.db, "chat:C009") == []
    with pytest.raises(ContactNotFound):
        resolve_contact(store.db, "C404")


def test_qa_show_takes_the_call_id(db):
    _store, _q, env = db
    res = _invoke(["qa", "show", "C009"], env)
    assert res.exit_code == 0, res.output
    first = res.stdout.splitlines()[0]
    assert first.startswith(f"#2 call C009 ({C009}, 2026-11-20)"), first  # visible id first, the hash as a detail
    shown = json.loads(_invoke(["qa", "show", "C009", "--json"], env).stdout)
    assert shown["id"] == 2 and shown["interaction_id"] == C009  # old fields kept
    assert (shown["contact_id"], shown["external_id"], shown["channel"], shown["business_date"]) == \
        ("C009", "C009", "call", "2026-11-20")
    for ref in ("2", "#2", "c009", "call:C009", C009):
        assert json.loads(_invoke(["qa", "show", ref, "--json"], env).stdout)["id"] == 2, ref
    scored = _invoke(["qa", "show", "C007"], env)
    assert scored.exit_code == 2 and "no review item for call C007" in scored.output and "95" in scored.output
    text = _invoke(["qa", "show", "T00152"], env)
    assert text.exit_code == 2 and "chat T00152" in text.output and "calls only" in text.output
    missing = _invoke(["qa", "show", "C404"], env)
    assert missing.exit_code == 2 and "no review item or contact 'C404'" in missing.output


def test_queue_actions_take_the_call_id(db):
    _store, _q, env = db
    claimed = _invoke(["qa", "claim", "C009", "--as", "alice"], env)
    assert claimed.exit_code == 0, claimed.output
    item = json.loads(claimed.stdout)
    assert item["id"] == 2 and item["contact_id"] == "C009" and item["assignee"] == "alice"
    resolved = _invoke(["qa", "resolve", "call:C009", "--as", "alice", "--score", "60"], env)
    assert resolved.exit_code == 0 and json.loads(resolved.stdout)["status"] == "resolved"
    appealed = _invoke(["qa", "appeal", "C009", "--as", "A102", "--reason", "the customer interrupted"], env)
    assert appealed.exit_code == 0 and json.loads(appealed.stdout)["status"] == "appealed"
    nxt = json.loads(_invoke(["qa", "claim", "--next", "--as", "bob"], env).stdout)
    assert nxt["contact_id"] == "C001" and nxt["business_date"] == "2026-11-19"


def test_qa_list_shows_call_ids_and_dates_at_80_columns(db):
    _store, _q, env = db
    res = _invoke(["qa", "list"], env)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert any("C009" in line and "2026-11-20" in line for line in lines)
    assert any("C001" in line and "2026-11-19" in line for line in lines)
    assert "call-" not in res.stdout  # the hash is a detail of show and --json, not a column
    listed = json.loads(_invoke(["qa", "list", "--json"], env).stdout)
    assert [(x["id"], x["contact_id"], x["interaction_id"]) for x in listed] == \
        [(2, "C009", C009), (1, "C001", "call-0c1d2e3f4a5b6c7d8e9f")]


def test_qa_export_adds_the_visible_id(db, tmp_path):
    import csv

    _store, _q, env = db
    path = tmp_path / "q.csv"
    assert _invoke(["qa", "export", "-o", str(path)], env).exit_code == 0
    with path.open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [(r["contact_id"], r["external_id"], r["interaction_id"], r["business_date"]) for r in rows][0] == \
        ("C009", "C009", C009, "2026-11-20")


def test_an_id_two_sources_share_is_an_error_listing_both(db):
    store, q, env = db
    _add(store, "chat-9f9f9f9f9f9f9f9f9f9f", Channel.CHAT, "C009", customer="U0999", text="又是我")
    # only the call has a review item: `qa show C009` still means it
    assert json.loads(_invoke(["qa", "show", "C009", "--json"], env).stdout)["id"] == 2
    # a contact lookup without that hint is ambiguous and lists both, with what to type instead
    res = _invoke(["customers", "show", "C009"], env)
    assert res.exit_code == 2, res.output
    assert "call C009" in res.output and "chat C009" in res.output and "chat:C009" in res.output
    with pytest.raises(AmbiguousContact) as exc:
        resolve_contact(store.db, "C009")
    assert {c.interaction_id for c in exc.value.candidates} == {C009, "chat-9f9f9f9f9f9f9f9f9f9f"}
    q.enqueue("chat-9f9f9f9f9f9f9f9f9f9f", "chat", ["negative_customer"], priority=10.0)  # item #3
    res = _invoke(["qa", "show", "C009"], env)
    assert res.exit_code == 2 and "call:C009" in res.output and "chat:C009" in res.output
    assert json.loads(_invoke(["qa", "show", "chat:C009", "--json"], env).stdout)["id"] == 3
    assert json.loads(_invoke(["qa", "show", "call C009", "--json"], env).stdout)["id"] == 2
    _add(store, "chat-7e7e7e7e7e7e7e7e7e7e", Channel.CHAT, "C007", customer="U0999", text="好评")
    res = _invoke(["qa", "show", "C007"], env)  # two contacts, neither sent to review: both named
    assert res.exit_code == 2 and "no review item for any contact with id 'C007'" in res.output
    assert "call C007" in res.output and "chat C007" in res.output
    res = _invoke(["reprocess", "--call", "C009", "-s", "sentiment"], env)
    assert res.exit_code == 2 and "call:C009" in res.output and "chat:C009" in res.output


def test_item_number_that_is_also_a_call_id(db):
    store, q, env = db
    _add(store, "call-7777777777777777aaaa", Channel.CALL, "1")
    q.enqueue("call-7777777777777777aaaa", "retail", ["random_sample"], priority=1.0)  # item #3, call "1"
    res = _invoke(["qa", "show", "1"], env)
    assert res.exit_code == 2 and "#1" in res.output and "call:1" in res.output
    assert json.loads(_invoke(["qa", "show", "#1", "--json"], env).stdout)["contact_id"] == "C001"
    assert json.loads(_invoke(["qa", "show", "call:1", "--json"], env).stdout)["id"] == 3
    _add(store, "chat-2222222222222222bbbb", Channel.CHAT, "2", text="好评")  # a chat "2" has no review item
    assert json.loads(_invoke(["qa", "show", "2", "--json"], env).stdout)["contact_id"] == "C009"  # item #2


def test_customers_show_labels_contacts_apart_from_topics(db):
    _store, _q, env = db
    # the id of one of the customer's contacts finds the customer
    res = _invoke(["customers", "show", "T00152", "--json"], env)
    assert res.exit_code == 0, res.output
    view = json.loads(res.stdout)
    assert view["customer_id"] == "U0500"
    chat = view["contacts"][0]
    assert (chat["contact_id"], chat["interaction_id"], chat["topic_id"]) == \
        ("T00152", "chat-22e75c62cd5e005404ef", "T0013")  # the old fields kept
    text = _invoke(["customers", "show", "U0500"], env).stdout
    line = next(x for x in text.splitlines() if "T00152" in x)
    assert "chat T00152" in line and "topic T0013" in line  # a contact id and a topic id told apart


LONG_IDS = ("emerging:2026-11-20:T0013", "qa:2026-11-20:confirm_resolution", "terms:2026-11-20:漏水滴水",
            "trend:2026-11-20:T0004")


def test_findings_list_prints_ids_whole_at_80_columns_with_a_reason(db):
    store, _q, env = db
    found = [Finding(fid, {"emerging": "emerging_topic", "qa": "qa_pattern", "terms": "emerging_terms",
                           "trend": "topic_trend"}[fid.split(":")[0]], DAY,
                     "空调/漏水/X3 外机滴水 客户反复来电 " * 3, "", topic_id=fid.rsplit(":", 1)[1] if "T0" in fid else None,
                     count=12, customers=10, value_weight=30.0 - k,
                     interaction_ids=(C009, "chat-22e75c62cd5e005404ef"))
             for k, fid in enumerate(LONG_IDS)]
    store.replace_findings(DAY, sorted({f.kind for f in found}), found)
    store.replace_routes([Route(f.id, "after_sales_and_installation", 0.82,
                                "54 member texts: after_sales 0.55, installation 0.19, product 0.15; same as the "
                                "route of 2026-11-19") for f in found])
    res = _invoke(["findings", "list", "--date", "2026-11-20"], env)
    assert res.exit_code == 0, res.output
    from rich.cells import cell_len

    lines = res.stdout.splitlines()
    assert all(cell_len(line.rstrip()) <= 80 for line in lines), [x for x in lines if cell_len(x.rstrip()) > 80]
    for fid in LONG_IDS:  # each id whole on one line: what `voc findings confirm` needs
        assert any(fid in line for line in lines), fid
    assert any("topic T0013" in line for line in lines) and any("topic T0004" in line for line in lines)
    assert sum("reason: 54 member texts" in line for line in lines) == len(LONG_IDS)
    assert any("call C009" in line and "chat T00152" in line for line in lines)
    rows = json.loads(_invoke(["findings", "list", "--date", "2026-11-20", "--json"], env).stdout)
    assert [r["id"] for r in rows] == list(LONG_IDS)
    assert rows[0]["contact_ids"] == ["C009", "T00152"] and rows[0]["interaction_ids"] == [C009, "chat-22e75c62cd5e005404ef"]
    assert rows[0]["reason"].startswith("54 member texts")


def test_digest_data_maps_finding_contacts_to_visible_ids(db, tmp_path):
    from voc.config import load_settings
    from voc.pipeline import digest_data
    from voc.report import write_digests

    store, _q, env = db
    finding = Finding("emerging:2026-11-20:T0013", "emerging_topic", DAY, "空调/漏水", "", topic_id="T0013", count=2,
                      interaction_ids=("chat-22e75c62cd5e005404ef", C009))
    store.replace_findings(DAY, ["emerging_topic"], [finding])
    store.replace_routes([Route(finding.id, "after_sales", 0.8, "keywords 漏水")])
    data = digest_data(store, load_settings(environ=env), DAY)
    assert data.contacts == {"chat-22e75c62cd5e005404ef": ("chat", "T00152"), C009: ("call", "C009")}
    write_digests(data, tmp_path, ("md",))
    md = (tmp_path / "departments" / "after_sales.md").read_text("utf-8")
    assert "contacts: call C009, chat T00152" in md and "topic T0013" in md


def test_status_json_adds_the_visible_id(db):
    from voc.records import CallSentiment

    store, _q, env = db
    store.replace_sentiment(C009, [], CallSentiment(C009, -0.8, -0.2, -0.9, "worsening", True, ("12315",), "test"))
    res = _invoke(["status", "--json"], env)
    assert res.exit_code == 0, res.output
    esc = json.loads(res.stdout)["sentiment"]["escalated_calls"]
    assert [(c["id"], c["external_id"], c["contact_id"]) for c in esc] == [(C009, "C009", "C009")]
    assert "escalation call C009" in _invoke(["status"], env).stdout


def test_a_source_id_with_a_colon_is_found_as_typed(db):
    store, _q, _env = db
    _add(store, "ticket-3c3c3c3c3c3c3c3c3c3c", Channel.TICKET, "call:77", text="工单")
    assert resolve_contact(store.db, "call:77").interaction_id == "ticket-3c3c3c3c3c3c3c3c3c3c"
    assert resolve_contact(store.db, "ticket:call:77").interaction_id == "ticket-3c3c3c3c3c3c3c3c3c3c"

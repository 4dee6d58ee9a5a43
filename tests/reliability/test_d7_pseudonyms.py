"""D7: identifiers carry no PII. An id that looks like a phone/ID/card number (or holds an e-mail address) is stored
as a keyed hash (HMAC with VOC_ID_SECRET), the same every night, so a customer's contacts still join."""

from __future__ import annotations

import datetime as dt
import json

from tests.reliability.conftest import settings_for
from tests.reliability.hostile import write_wav

PHONE = "13912345620"


def _inbox(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "text").mkdir(parents=True)
    (inbox / "transcripts").mkdir()
    (inbox / "transcripts" / "t.json").write_text(json.dumps({"utterances": [
        {"role": "customer", "start": 0, "end": 2, "text": "洗衣机漏水"}]}, ensure_ascii=False), encoding="utf-8")
    write_wav(inbox / "recordings" / "13600006666.wav")
    (inbox / "calls.csv").write_text(
        "call_id,file,start_time,customer_id,agent_id\n"
        f"13800138000,transcripts/t.json,2026-11-20T10:00:00+08:00,{PHONE},A1\n", encoding="utf-8")
    rows = [{"id": "CH1", "text": "洗衣机漏水", "created_at": "2026-11-20T11:00:00+08:00", "customer_id": PHONE},
            {"id": "13700001111", "text": "空调坏了", "created_at": "2026-11-20T12:00:00+08:00", "customer_id": "U7"},
            {"id": "CH3", "text": "退款", "created_at": "2026-11-20T12:00:00+08:00", "customer_id": "a.b@example.com"}]
    (inbox / "text" / "chats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return inbox


def test_identifiers_that_look_like_phone_numbers_are_stored_as_keyed_hashes(tmp_path):
    from voc.pipeline import ingest_inbox
    from voc.store import Store

    inbox = _inbox(tmp_path)
    settings = settings_for(tmp_path, inbox)
    store = Store.open(settings.db_url)
    try:
        out = ingest_inbox(store, settings)
        items = store.interactions()
        stored = json.dumps([[i.external_id, i.customer_id, i.agent_id] for i in items]) + json.dumps(out, default=str)
        for raw in (PHONE, "13800138000", "13700001111", "a.b@example.com", "13600006666"):
            assert raw not in stored, raw
        by_ext = {i.external_id: i for i in items}
        assert "CH1" in by_ext and by_ext["CH1"].customer_id.startswith("pid-")
        call = next(i for i in items if i.channel.value == "call")
        assert call.external_id.startswith("pid-") and call.customer_id == by_ext["CH1"].customer_id  # joins hold
        assert call.agent_id == "A1" and by_ext["CH3"].customer_id.startswith("pid-")
        assert any("pid-" in q["path"] and q["path"].startswith("recordings/") for q in out["quarantined"])
    finally:
        store.close()


def test_the_same_secret_gives_the_same_hash_and_another_secret_another(tmp_path):
    from voc.ingest import scan_inbox
    from voc.ingest.guard import pseudonym
    from voc.text import looks_personal

    inbox = _inbox(tmp_path)

    def customer_ids(key: bytes) -> set[str]:
        scan = scan_inbox(inbox, today=dt.date(2026, 11, 21),
                          identify=lambda v: pseudonym(v, key) if looks_personal(v) else v)
        return {c.interaction.customer_id for c in scan.candidates if c.interaction.customer_id}

    assert customer_ids(b"k1") == customer_ids(b"k1") != customer_ids(b"k2")


def test_without_a_secret_a_key_made_once_is_kept_in_the_store(tmp_path):
    from voc.config import load_settings
    from voc.pipeline.ingest import identifier_key
    from voc.store import Store

    settings = load_settings(environ={"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}"})
    store = Store.open(settings.db_url)
    try:
        first = identifier_key(store, settings)
        assert len(first) == 32 and identifier_key(store, settings) == first
    finally:
        store.close()


def test_customers_show_finds_a_customer_by_the_phone_number_given(tmp_path):
    from voc.pipeline import customer_timeline, ingest_inbox
    from voc.store import Store

    inbox = _inbox(tmp_path)
    settings = settings_for(tmp_path, inbox)
    store = Store.open(settings.db_url)
    try:
        ingest_inbox(store, settings)
        view = customer_timeline(store, settings, PHONE, until=dt.date(2026, 11, 20))
        assert view is not None and view["customer_id"].startswith("pid-") and len(view["contacts"]) == 2
        assert PHONE not in json.dumps(view, default=str)
    finally:
        store.close()

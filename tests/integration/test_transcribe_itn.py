"""A spoken phone number in a call transcript is stored redacted; spoken amounts and dates are stored as digits."""

import datetime as dt

from tests.helpers import write_calls_csv, write_transcript
from voc import pipeline
from voc.config import load_settings
from voc.store import Store


def test_spoken_numbers_in_a_stored_transcript(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inbox = tmp_path / "inbox"
    write_transcript(inbox / "transcripts" / "C1.json", "C1", [
        ("agent", 0.0, 2.0, "您好，请问有什么可以帮您"),
        ("customer", 2.2, 9.0, "我的手机号是幺三八一二三四五六七八，二零二六年三月五号买的，退款三百五十块"),
        ("agent", 9.2, 11.0, "好的您稍等一下，手续费是百分之五"),
    ])
    write_calls_csv(inbox / "calls.csv", [{"call_id": "C1", "file": "transcripts/C1.json", "queue": "after_sales",
                                           "customer_id": "U1", "start_time": "2026-11-20T10:00:00+08:00",
                                           "agent_channel": ""}])
    settings = load_settings(environ={"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}", "VOC_INBOX": str(inbox)})
    store = Store.open(settings.db_url)
    try:
        summary = pipeline.run(store, settings, dt.date(2026, 11, 20), ["ingest", "transcribe", "text"])
        assert summary.status == "done"
        [call] = store.interactions(channels=["call"])
        utts = store.utterances(call.id)
    finally:
        store.close()
    customer = utts[1].text
    assert "[PHONE]" in customer, customer
    assert "幺三八" not in customer and "138" not in customer and "5678" not in customer
    assert "2026年3月5号" in customer and "350块" in customer
    assert utts[2].text == "好的您稍等一下，手续费是5%"

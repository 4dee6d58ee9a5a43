"""Ingest: good input goes in once, every kind of bad input is quarantined with its own reason."""

import json

import pytest
from typer.testing import CliRunner

from tests.helpers import write_calls_csv, write_jsonl, write_tone_wav, write_transcript
from voc.cli import app

ROW = {"queue": "retail_after_sales", "agent_id": "A1", "customer_id": "U1", "customer_tier": "vip",
       "customer_value": "5000", "agent_channel": "0"}


@pytest.fixture()
def bad_inbox(tmp_path):
    inbox = tmp_path / "inbox"
    rec = inbox / "recordings"
    write_tone_wav(rec / "good.wav", 1.0)
    write_tone_wav(rec / "good2.wav", 1.2, rate=16000)
    (rec / "empty.wav").write_bytes(b"")
    full = write_tone_wav(tmp_path / "full.wav", 1.0).read_bytes()
    (rec / "truncated.wav").write_bytes(full[: len(full) // 3])
    (rec / "notaudio.wav").write_bytes(b"this is plain text, not audio\n" * 20)
    (rec / "notes.xyz").write_bytes(b"\x00\x01whatever")
    write_transcript(inbox / "transcripts" / "C9.json", "C9", [("agent", 0.0, 2.0, "您好"), ("customer", 2.0, 4.0, "我的快递没到")])
    rows = [
        {**ROW, "call_id": "C1", "file": "recordings/good.wav", "start_time": "2026-11-20T10:00:00+08:00"},
        {**ROW, "call_id": "C2", "file": "recordings/missing.wav", "start_time": "2026-11-20T10:05:00+08:00"},
        {**ROW, "call_id": "C3", "file": "recordings/empty.wav", "start_time": "2026-11-20T10:06:00+08:00"},
        {**ROW, "call_id": "C4", "file": "recordings/truncated.wav", "start_time": "2026-11-20T10:07:00+08:00"},
        {**ROW, "call_id": "C5", "file": "recordings/notaudio.wav", "start_time": "2026-11-20T10:08:00+08:00"},
        {**ROW, "call_id": "C6", "file": "recordings/good2.wav", "start_time": "yesterday-ish"},
        {**ROW, "call_id": "C1", "file": "recordings/good2.wav", "start_time": "2026-11-20T11:00:00+08:00"},
        {**ROW, "call_id": "C9", "file": "transcripts/C9.json", "start_time": "2026-11-20 12:00:00", "agent_channel": ""},
    ]
    write_calls_csv(inbox / "calls.csv", rows)
    # metadata in GBK (a common export from Chinese call-centre systems) must be read, not rejected
    write_tone_wav(rec / "gbk.wav", 0.8, freq=300)
    write_calls_csv(inbox / "calls_gbk.csv",
                    [{**ROW, "call_id": "G1", "file": "recordings/gbk.wav", "queue": "售后", "start_time": "2026/11/19 09:00"}],
                    encoding="gbk")
    # metadata with a UTF-8 BOM
    write_tone_wav(rec / "bom.wav", 0.7, freq=500)
    write_calls_csv(inbox / "calls_bom.csv",
                    [{**ROW, "call_id": "B1", "file": "recordings/bom.wav", "start_time": "2026-11-19T08:00:00+08:00"}],
                    encoding="utf-8-sig")
    (inbox / "calls_broken.csv").write_text("id,path\nX1,recordings/good.wav\n", encoding="utf-8")
    write_jsonl(inbox / "text" / "chats.jsonl", [
        {"id": "T1", "channel": "chat", "created_at": "2026-11-20T09:00:00+08:00", "customer_id": "U2",
         "text": "我的电话是13812345678，快递三天没到"},
        {"id": "T2", "channel": "review", "created_at": "2026-11-20T09:30:00+08:00", "text": "空调漏水"},
        {"id": "T3", "channel": "chat", "created_at": "not a date", "text": "你好"},
        {"id": "T4", "channel": "chat", "created_at": "2026-11-20T09:40:00+08:00"},
        {"id": "T1", "channel": "chat", "created_at": "2026-11-20T09:00:00+08:00", "text": "changed text"},
    ])
    (inbox / "text" / "tickets.csv").write_bytes(
        "id,text,created_at,channel\nK1,退款一直没到账,2026-11-18 15:00,ticket\n".encode("gbk"))
    return inbox


def _invoke(args, env):
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    return result


def test_ingest_quarantines_each_bad_input_with_its_reason(bad_inbox, tmp_path):
    env = {"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}"}
    before = {p: p.stat().st_mtime_ns for p in bad_inbox.rglob("*") if p.is_file()}
    res = _invoke(["ingest", str(bad_inbox), "--json"], env)
    assert res.exit_code == 4, res.output  # finished, some inputs quarantined (docs/cli.md)
    out = json.loads(res.stdout)
    reasons = {q["path"]: q["reason"] for q in out["quarantined"]}
    text = json.dumps(reasons, ensure_ascii=False)
    # calls C1 (good), C9 (transcript), G1 (GBK csv), B1 (BOM csv); texts T1, T2, K1
    assert out["ingested"] == 7, text
    assert out["duplicates"] == 0
    assert "missing.wav' not found" in text
    assert "empty file (0 bytes)" in reasons["recordings/empty.wav"]
    assert "truncated WAV" in reasons["recordings/truncated.wav"]
    assert "not a WAV file" in reasons["recordings/notaudio.wav"]
    assert "unsupported format '.xyz'" in reasons["recordings/notes.xyz"]
    assert any("start_time" not in r and "'yesterday-ish' is not a date-time" in r for r in reasons.values())
    assert any("duplicate call_id C1 with different content" in r for r in reasons.values())
    assert "missing required column(s) call_id, file, start_time" in reasons["calls_broken.csv"]
    assert "'not a date' is not a date-time" in reasons["text/chats.jsonl:3"]
    assert "missing 'text'" in reasons["text/chats.jsonl:4"]
    assert "duplicate id T1 with different content" in reasons["text/chats.jsonl:5"]
    # nothing in the inbox was modified or removed
    assert before == {p: p.stat().st_mtime_ns for p in bad_inbox.rglob("*") if p.is_file()}

    again = json.loads(_invoke(["ingest", str(bad_inbox), "--json"], env).stdout)
    assert again["ingested"] == 0 and again["duplicates"] == 7
    # the added "files" field: read + unchanged covers every text file (files written seconds ago are always read
    # again, see test_ingest_manifest.py for the skipping itself); --rescan reads them all
    assert out["files"]["unchanged"] == 0 and out["files"]["read"] >= 1
    assert again["files"]["read"] + again["files"]["unchanged"] == out["files"]["read"]
    forced = json.loads(_invoke(["ingest", str(bad_inbox), "--json", "--rescan"], env).stdout)
    assert forced["files"] == {"read": out["files"]["read"], "unchanged": 0}
    assert forced["ingested"] == 0 and forced["duplicates"] == 7


def test_ingested_text_is_redacted_and_metadata_kept(bad_inbox, tmp_path):
    from voc.store import Store

    url = f"sqlite:///{tmp_path / 'voc.db'}"
    assert _invoke(["ingest", str(bad_inbox), "--json"], {"VOC_DATABASE_URL": url}).exit_code == 4
    store = Store.open(url)
    by_ext = {i.external_id: i for i in store.interactions()}
    assert "13812345678" not in by_ext["T1"].text and "[PHONE]" in by_ext["T1"].text
    assert by_ext["G1"].queue == "售后"  # GBK decoded
    assert str(by_ext["G1"].business_date) == "2026-11-19"
    assert by_ext["C1"].customer_tier == "vip" and by_ext["C1"].customer_value == 5000.0 and by_ext["C1"].agent_channel == 0
    assert by_ext["K1"].channel.value == "ticket" and by_ext["K1"].text == "退款一直没到账"
    assert store.source_kind(by_ext["C9"].id) == "transcript"


def test_ingest_missing_inbox_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(app, ["ingest", str(tmp_path / "nope")], env={"VOC_DATABASE_URL": f"sqlite:///{tmp_path}/v.db"})
    assert res.exit_code == 2
    assert "does not exist" in res.output

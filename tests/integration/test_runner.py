"""The embedded runner: records runs, isolates failures per item, resumes a crashed run."""

import datetime as dt

import pytest

from tests.helpers import write_calls_csv, write_jsonl, write_transcript
from voc import pipeline
from voc.config import load_settings
from voc.records import StageResult
from voc.store import Store

DAY = dt.date(2026, 11, 20)


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inbox = tmp_path / "inbox"
    write_transcript(inbox / "transcripts" / "C1.json", "C1", [
        ("agent", 0.0, 2.0, "您好，很高兴为您服务"),
        ("customer", 2.2, 6.0, "我的手机号是13812345678，洗衣机坏了"),
    ])
    write_transcript(inbox / "transcripts" / "C2.json", "C2", [("agent", 0.0, 2.0, "您好")])
    (inbox / "transcripts" / "C3.json").write_text('{"utterances": [{"text": "x", "start": "soon", "end": 1}]}', encoding="utf-8")
    row = {"queue": "retail_after_sales", "customer_id": "U1", "customer_tier": "normal", "agent_channel": ""}
    write_calls_csv(inbox / "calls.csv", [
        {**row, "call_id": "C1", "file": "transcripts/C1.json", "start_time": "2026-11-20T10:00:00+08:00"},
        {**row, "call_id": "C2", "file": "transcripts/C2.json", "start_time": "2026-11-20T11:00:00+08:00"},
        {**row, "call_id": "C3", "file": "transcripts/C3.json", "start_time": "2026-11-20T12:00:00+08:00"},
    ])
    write_jsonl(inbox / "text" / "chat.jsonl", [
        {"id": f"T{i}", "created_at": "2026-11-20T09:00:00+08:00", "text": f"快递第{i}天还没到，电话13912345678"} for i in range(5)
    ])
    settings = load_settings(environ={"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}", "VOC_INBOX": str(inbox)})
    store = Store.open(settings.db_url)
    yield settings, store
    store.close()


def test_run_records_stages_and_isolates_item_failures(env):
    settings, store = env
    summary = pipeline.run(store, settings, DAY, ["ingest", "transcribe", "text"])
    assert summary.status == "done"
    by_stage = {s["stage"]: s for s in summary.stages}
    assert by_stage["ingest"]["processed"] == 8
    assert by_stage["transcribe"]["processed"] == 2 and by_stage["transcribe"]["failed"] == 1
    assert "C3" in str(by_stage["transcribe"]["errors"])
    calls = {i.external_id: i for i in store.interactions(channels=["call"])}
    utts = store.utterances(calls["C1"].id)
    assert "13812345678" not in utts[1].text and "[PHONE]" in utts[1].text
    assert store.call_metrics(calls["C1"].id).customer_talk_s == pytest.approx(3.8)
    assert utts[1].role.value == "customer"
    assert store.utterances_for([calls["C1"].id])[calls["C1"].id][1].text == utts[1].text
    # the text stage segmented the (redacted) chat bodies
    chat = store.interactions(channels=["chat"])[0]
    tokens = store.interaction_tokens([chat.id])[chat.id]
    assert "快递" in tokens and "[PHONE]" in tokens
    assert store.runs()[0]["status"] == "done"


def test_rerun_is_idempotent(env):
    settings, store = env
    pipeline.run(store, settings, DAY, ["ingest", "transcribe", "text"])
    first = store.counts()
    again = pipeline.run(store, settings, DAY, ["ingest", "transcribe", "text"])
    assert store.counts() == first
    by_stage = {s["stage"]: s for s in again.stages}
    assert by_stage["ingest"]["processed"] == 0 and by_stage["ingest"]["skipped"] == 8
    assert by_stage["transcribe"]["processed"] == 0  # only the broken C3 is retried
    assert by_stage["transcribe"]["failed"] == 1


def test_crashed_run_resumes_without_redoing_work(env):
    settings, store = env
    calls = {"n": 0}

    def flaky(store_, settings_, run_date, batch=None, progress=None, *, now=None):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker lost")
        return StageResult("flaky", run_date.isoformat(), processed=1)

    pipeline.STAGES["flaky"] = pipeline.Stage("flaky", flaky, False, "test stage")
    try:
        first = pipeline.run(store, settings, DAY, ["ingest", "transcribe", "flaky"])
        assert first.status == "failed" and first.stages[-1]["error"] == "RuntimeError: worker lost"
        second = pipeline.run(store, settings, DAY, ["ingest", "transcribe", "flaky"])
    finally:
        del pipeline.STAGES["flaky"]
    assert second.resumed and second.run_id == first.run_id and second.status == "done"
    assert [s["status"] for s in second.stages][:2] == ["skipped (done in this run before)"] * 2
    assert store.runs()[0]["status"] == "done"


def test_reprocess_reruns_chosen_calls(env):
    settings, store = env
    pipeline.run(store, settings, DAY, ["ingest", "transcribe", "text"])
    out = pipeline.reprocess(store, settings, ["transcribe"], call_ids=["C1"])
    assert out["items"] == 1 and out["stages"][0]["processed"] == 1
    with pytest.raises(ValueError, match="unknown call"):
        pipeline.reprocess(store, settings, ["transcribe"], call_ids=["NOPE"])
    with pytest.raises(ValueError, match="unknown stage"):
        pipeline.reprocess(store, settings, ["transcribbe"], call_ids=["C1"])


def test_orchestrated_start_is_idempotent_per_run_key(env):
    settings, store = env
    day = dt.date(2026, 11, 20)
    first = pipeline.begin_run(settings, day, "airflow", key="voc_nightly/scheduled__2026-11-20")
    again = pipeline.begin_run(settings, day, "airflow", key="voc_nightly/scheduled__2026-11-20")  # a retried task
    other = pipeline.begin_run(settings, day, "airflow", key="voc_nightly/manual__2026-11-21")
    assert first == again != other
    pipeline.end_run(settings, first, [], status="done")
    assert pipeline.begin_run(settings, day, "airflow", key="voc_nightly/scheduled__2026-11-20") != first
    assert {r["id"]: r["status"] for r in store.runs()}[first] == "done"

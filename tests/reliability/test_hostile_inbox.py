"""The hostile inbox (see hostile.py) through ingest and a full ``voc run`` of its date: bounded time, digests written,
every refusal quarantined with its reason, nothing from outside the inbox stored, no raw phone number in any
identifier or export."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.reliability.conftest import NOW, settings_for, time_limit
from tests.reliability.hostile import DAY, HUGE_CHAT_CHARS, MARKER, PHONES, build_hostile_inbox

REPO = Path(__file__).resolve().parents[2]
WHISPER = REPO / "voc-data" / "models" / "whisper-base" / "model.bin"
BUDGET_S = 480  # "well under 10 minutes on 2 cores"


def _export_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.mark.slow
def test_the_hostile_inbox_goes_through_ingest_and_a_full_run(tmp_path):
    from voc import pipeline
    from voc.cli import app
    from voc.store import Store

    inbox, outside = build_hostile_inbox(tmp_path, wav=WHISPER.is_file())  # one short wav when the model is here
    settings = settings_for(tmp_path, inbox)
    store = Store.open(settings.db_url)
    try:
        with time_limit(BUDGET_S, "ingest + full run of the hostile inbox") as elapsed:
            ingested = pipeline.ingest_inbox(store, settings, now=NOW)
            summary = pipeline.run(store, settings, DAY, now=NOW)
            took = elapsed()
        print(f"hostile inbox: ingest + full run in {took:.1f} s")  # noqa: T201 - the measured figure
        assert summary.status == "done", summary.to_dict()
        assert not store.item_errors(), store.item_errors()

        reasons = {q["path"]: q["reason"] for q in ingested["quarantined"]}
        assert "leads outside the inbox" in reasons["calls.csv:2"]  # ../outside/secret.wav
        assert "is an absolute path" in reasons["calls.csv:3"]
        assert "leads outside the inbox" in reasons["calls.csv:4"]  # recordings/evil.wav -> outside
        assert "symbolic link to outside" in reasons["text/linked.jsonl"]
        assert "line 5" in reasons["text/tickets.csv:5"] and "200,000 characters" in reasons["text/tickets.csv:5"]

        items = store.interactions(run_date=DAY)
        assert sum(i.channel.value == "ticket" for i in items) == 5  # the rows around the huge cell
        huge = [i for i in items if i.text_truncated_from]
        assert [i.text_truncated_from for i in huge] == [HUGE_CHAT_CHARS]
        assert len(huge[0].text) <= settings.limits.max_text_chars
        root = inbox.resolve()
        assert all(Path(i.source_path).resolve().is_relative_to(root) for i in items if i.channel.value == "call")

        out = Path(settings.exports_dir) / DAY.isoformat()
        for name in ("overview.md", "overview.html", "routes.csv", "customers/at_risk.csv"):
            assert (out / name).is_file(), name
        qa_csv = tmp_path / "qa.csv"
        res = CliRunner().invoke(app, ["qa", "export", "-o", str(qa_csv)], env={"VOC_DATABASE_URL": settings.db_url})
        assert res.exit_code == 0, res.output

        exported = _export_bytes(out) + qa_csv.read_bytes()
        database = (tmp_path / "voc.db").read_bytes()
        assert MARKER.encode() not in exported and MARKER.encode() not in database
        ids = " ".join(f"{i.external_id} {i.customer_id} {i.agent_id}" for i in items)
        for phone in PHONES:
            assert phone.encode() not in exported, phone
            assert phone not in ids, phone
            assert phone not in " ".join(f"{q['path']} {q['reason']}" for q in store.quarantine()), phone
    finally:
        store.close()
    assert any(outside.iterdir())  # (outside files are still there, only never read)


def test_the_ingest_of_the_hostile_inbox_alone_is_fast(tmp_path):
    """The unmarked, quick half: ingest refuses and cuts in seconds (the full run above is marked slow)."""
    from voc import pipeline
    from voc.store import Store

    inbox, _outside = build_hostile_inbox(tmp_path, wav=False)
    settings = settings_for(tmp_path, inbox)
    store = Store.open(settings.db_url)
    try:
        t0 = time.perf_counter()
        with time_limit(60, "ingest of the hostile inbox"):
            out = pipeline.ingest_inbox(store, settings, now=NOW)
        assert time.perf_counter() - t0 < 60
        assert out["ingested"] == 24 + 3 + 5 + 1 and len(out["truncated"]) == 1
    finally:
        store.close()
    assert MARKER.encode() not in (tmp_path / "voc.db").read_bytes()

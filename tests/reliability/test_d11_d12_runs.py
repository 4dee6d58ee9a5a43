"""D11: a resumed run closes the stage rows a killed process left 'running'. D12: every stage's errors in
``voc run --json`` are {"id", "reason"} objects, the report stage's included."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.reliability.conftest import NOW, settings_for
from tests.reliability.hostile import DAY


def test_stage_rows_left_running_by_a_kill_are_closed_by_the_next_run(tmp_path):
    from voc import pipeline
    from voc.store import Store

    (tmp_path / "inbox").mkdir()
    settings = settings_for(tmp_path, tmp_path / "inbox")
    store = Store.open(settings.db_url)
    try:
        killed = store.start_run(DAY, ["ingest", "text"], "cli")
        store.start_stage(killed, "ingest")  # the process died here: no finish_stage, no finish_run
        summary = pipeline.run(store, settings, DAY, ["ingest", "text"], now=NOW)
        assert summary.status == "done" and summary.resumed and summary.run_id == killed
        stages = [st for r in store.runs() for st in r["stages"]]
        assert all(st["status"] != "running" for st in stages), stages
        interrupted = [st for st in stages if st["status"] == "failed"]
        assert len(interrupted) == 1 and interrupted[0]["error"].startswith("interrupted")
        assert all(r["status"] == "done" for r in store.runs())
    finally:
        store.close()


def test_report_errors_in_run_json_are_id_reason_objects(tmp_path):
    from voc.cli import app

    (tmp_path / "inbox").mkdir()
    env = {"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}", "VOC_INBOX": str(tmp_path / "inbox"),
           "VOC_EXPORTS_DIR": str(tmp_path / "exports"), "VOC_REPORT__WEBHOOK_MAX_AGE_DAYS": "100000",
           "VOC_REPORT__WEBHOOK_RETRIES": "0", "VOC_REPORT__WEBHOOK_TIMEOUT_S": "2",
           "VOC_REPORT__WEBHOOKS": json.dumps([{"name": "ops", "kind": "generic", "url": "http://127.0.0.1:9/x"}])}
    res = CliRunner().invoke(app, ["run", "--date", DAY.isoformat(), "-s", "report", "--json"], env=env)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    (report,) = [st for st in out["stages"] if st["stage"] == "report"]
    assert report["errors"], report
    for e in report["errors"]:
        assert isinstance(e, dict) and set(e) >= {"id", "reason"} and e["id"].startswith("webhook:ops:"), e

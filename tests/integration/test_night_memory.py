"""Memory between nights (issue 22): every run ends by handing freed memory back (a collection + malloc_trim), also
when a stage fails, so a process running night after night peaks at one night's memory."""

from __future__ import annotations

import datetime as dt

from voc import pipeline
from voc.config import load_settings
from voc.pipeline import runner
from voc.records import StageResult
from voc.store import Store

DAY = dt.date(2026, 11, 20)


def test_each_run_releases_memory_after_it_done_or_failed(tmp_path, monkeypatch):
    (tmp_path / "inbox").mkdir()
    settings = load_settings(environ={"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}",
                                      "VOC_INBOX": str(tmp_path / "inbox")})
    calls: list[str] = []
    real = runner.release_memory
    monkeypatch.setattr(runner, "release_memory", lambda: (calls.append("released"), real())[1])

    def ok(store_, settings_, run_date, batch=None, progress=None, *, now=None) -> StageResult:
        return StageResult("ok", run_date.isoformat(), processed=1)

    def boom(store_, settings_, run_date, batch=None, progress=None, *, now=None) -> StageResult:
        raise RuntimeError("worker lost")

    store = Store.open(settings.db_url)
    pipeline.STAGES["ok"] = pipeline.Stage("ok", ok, False, "test stage")
    pipeline.STAGES["boom"] = pipeline.Stage("boom", boom, False, "test stage")
    try:
        assert pipeline.run(store, settings, DAY, ["ok"]).status == "done"
        assert pipeline.run(store, settings, DAY + dt.timedelta(days=1), ["ok", "boom"]).status == "failed"
    finally:
        del pipeline.STAGES["ok"], pipeline.STAGES["boom"]
        store.close()
    assert calls == ["released", "released"]

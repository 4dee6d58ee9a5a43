"""D6: implausible dates are quarantined: the window is limits.earliest_date .. the run's today + limits.future_days."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.reliability.hostile import write_wav


@pytest.mark.parametrize("value", ["13912345678", "0001-01-01T00:00:00", "9999-12-31 23:59", "1999-12-31 10:00",
                                   "2026-11-23 10:00"])
def test_an_implausible_start_time_is_quarantined(tmp_path, value):
    from voc.config import TextSettings
    from voc.ingest import scan_inbox
    from voc.text import make_cleaner

    inbox = tmp_path / "inbox"
    write_wav(inbox / "recordings" / "a.wav")
    (inbox / "calls.csv").write_text(f"call_id,file,start_time\nA,recordings/a.wav,{value}\n"
                                     f"B,recordings/a.wav,2026-11-20 10:00\n", encoding="utf-8")
    scan = scan_inbox(inbox, today=dt.date(2026, 11, 21), redact=make_cleaner(TextSettings()))
    assert [c.interaction.external_id for c in scan.candidates] == ["B"]
    (rej,) = [r for r in scan.rejected if r.path == "calls.csv:2"]
    assert "13912345678" not in rej.reason
    assert "plausible window" in rej.reason or "not a date-time" in rej.reason


def test_the_window_follows_the_settings(tmp_path):
    from voc.config import LimitSettings
    from voc.ingest import scan_inbox

    inbox = tmp_path / "inbox"
    (inbox / "text").mkdir(parents=True)
    (inbox / "text" / "chats.jsonl").write_text(
        '{"id": "A", "text": "旧聊天", "created_at": "1995-06-01T10:00:00+08:00"}\n'
        '{"id": "B", "text": "明天的", "created_at": "2026-11-22T10:00:00+08:00"}\n', encoding="utf-8")
    limits = LimitSettings(earliest_date=dt.date(1990, 1, 1), future_days=1)
    scan = scan_inbox(inbox, today=dt.date(2026, 11, 21), limits=limits)
    assert sorted(c.interaction.external_id for c in scan.candidates) == ["A", "B"]
    scan = scan_inbox(inbox, today=dt.date(2026, 11, 20), limits=limits)
    assert [c.interaction.external_id for c in scan.candidates] == ["A"]
    assert "text/chats.jsonl:2" in {r.path for r in scan.rejected}

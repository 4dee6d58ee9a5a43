"""D5: CSV rows, not files. One oversized or unreadable row is quarantined with its line number; the rest of the
file is ingested."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.reliability.hostile import write_wav

TODAY = dt.date(2026, 11, 21)


def _scan(inbox: Path):
    from voc.ingest import scan_inbox

    return scan_inbox(inbox, today=TODAY)


def test_one_huge_cell_quarantines_its_row_not_the_file(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "text").mkdir(parents=True)
    rows = ["id,text,created_at,note"] + [f"K{i},退款一直没到账{i},2026-11-20 15:00,ok" for i in range(4)]
    rows.insert(3, "K9,空调不制冷,2026-11-20 15:00," + "x" * 200_000)  # between good rows: line 4 of the file
    (inbox / "text" / "tickets.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    scan = _scan(inbox)
    assert sorted(c.interaction.external_id for c in scan.candidates) == ["K0", "K1", "K2", "K3"]
    (rej,) = scan.rejected
    assert rej.path == "text/tickets.csv:4" and "line 4" in rej.reason and "200,000 characters" in rej.reason


def test_a_huge_text_cell_is_cut_not_refused(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "text").mkdir(parents=True)
    rows = ["id,text,created_at", "K1,短文本,2026-11-20 15:00", "K2," + "投诉" * 100_000 + ",2026-11-20 15:00"]
    (inbox / "text" / "tickets.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    scan = _scan(inbox)
    assert not scan.rejected
    big = next(c.interaction for c in scan.candidates if c.interaction.external_id == "K2")
    assert big.text_truncated_from == 200_000 and len(big.text) <= 20_000


def test_a_bad_calls_row_leaves_the_other_calls_in(tmp_path):
    inbox = tmp_path / "inbox"
    write_wav(inbox / "recordings" / "a.wav")
    write_wav(inbox / "recordings" / "b.wav")
    lines = ["call_id,file,start_time,note", "A,recordings/a.wav,2026-11-20T10:00:00+08:00,ok",
             "B,recordings/b.wav,2026-11-20T10:00:00+08:00," + "y" * 150_000]
    (inbox / "calls.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    scan = _scan(inbox)
    assert [c.interaction.external_id for c in scan.candidates] == ["A"]
    assert any(r.path == "calls.csv:3" and "line 3" in r.reason for r in scan.rejected)

"""Incremental ingest (issue 22): the store keeps a manifest of the inbox text files read (size, time, hash); a
scan skips unchanged files unread, re-reads changed ones (nothing lost), and streams rows to the store."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pytest

from tests.helpers import write_jsonl
from voc.config import load_settings
from voc.pipeline import ingest_inbox
from voc.store import Store

NOW = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)


def _rows(start: int, n: int, day: str = "2026-11-20") -> list[dict]:
    return [{"id": f"T{i}", "created_at": f"{day}T09:00:00+08:00", "text": f"第{i}个订单的快递一直没到，客服也不回"}
            for i in range(start, start + n)]


def _age(*paths: Path) -> None:
    """Files dropped a while before the scan (a file younger than a few seconds is read again regardless)."""
    old = time.time() - 3600
    for p in paths:
        os.utime(p, (old, old))


@pytest.fixture()
def env(tmp_path):
    inbox = tmp_path / "inbox"
    write_jsonl(inbox / "text" / "chats.jsonl", _rows(0, 5))
    (inbox / "text").mkdir(parents=True, exist_ok=True)
    (inbox / "text" / "tickets.csv").write_text(
        "id,text,created_at\nK1,退款三天了还没到账,2026-11-20T10:00:00+08:00\nK2,发票开错了,2026-11-20T11:00:00+08:00\n",
        encoding="utf-8")
    _age(*(inbox / "text").iterdir())
    settings = load_settings(environ={"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}", "VOC_INBOX": str(inbox),
                                      "VOC_ID_SECRET": "manifest-test"})
    store = Store.open(settings.db_url)
    yield settings, store, inbox
    store.close()


def _count_parses(monkeypatch) -> list[str]:
    import voc.ingest.inbox as inbox_mod

    opened: list[str] = []
    real = inbox_mod.open_text

    def counting(path, encoding):
        opened.append(Path(path).name)
        return real(path, encoding)

    monkeypatch.setattr(inbox_mod, "open_text", counting)
    return opened


def test_an_unchanged_inbox_is_not_read_again(env, monkeypatch):
    settings, store, _inbox = env
    first = ingest_inbox(store, settings, now=NOW)
    assert (first["ingested"], first["duplicates"]) == (7, 0)
    assert first["files"] == {"read": 2, "unchanged": 0}
    opened = _count_parses(monkeypatch)
    again = ingest_inbox(store, settings, now=NOW)
    assert opened == []  # neither file was parsed
    assert (again["ingested"], again["duplicates"], again["quarantined"]) == (0, 7, [])
    assert again["files"] == {"read": 0, "unchanged": 2}
    assert store.counts()["interactions"] == 7
    # rescan=True reads everything, as before the manifest
    full = ingest_inbox(store, settings, now=NOW, rescan=True)
    assert sorted(opened) == ["chats.jsonl", "tickets.csv"] and (full["ingested"], full["duplicates"]) == (0, 7)


def test_changed_and_new_files_are_read_and_nothing_is_lost(env, monkeypatch):
    settings, store, inbox = env
    ingest_inbox(store, settings, now=NOW)
    chats = inbox / "text" / "chats.jsonl"
    write_jsonl(chats, _rows(0, 8))  # three rows appended
    write_jsonl(inbox / "text" / "reviews.jsonl", _rows(100, 2))
    os.utime(inbox / "text" / "tickets.csv")  # touched, same bytes
    _age(chats, inbox / "text" / "reviews.jsonl")
    opened = _count_parses(monkeypatch)
    out = ingest_inbox(store, settings, now=NOW)
    assert sorted(opened) == ["chats.jsonl", "reviews.jsonl"]  # the touched file was hashed, not parsed
    assert (out["ingested"], out["duplicates"]) == (5, 7)
    assert out["files"] == {"read": 3, "unchanged": 1}
    assert {i.external_id for i in store.interactions()} == {f"T{i}" for i in range(8)} | {"T100", "T101", "K1", "K2"}
    # a row whose content changed under the same id is still refused as a conflict, as before
    rows = _rows(0, 8)
    rows[0]["text"] = "改过的内容"
    write_jsonl(chats, rows)
    _age(chats)
    out = ingest_inbox(store, settings, now=NOW)
    assert out["ingested"] == 0 and [q["path"] for q in out["quarantined"]] == ["text/chats.jsonl:1"]


def test_a_row_dated_after_the_window_is_read_again_on_a_later_night(env):
    settings, store, inbox = env
    late = inbox / "text" / "late.jsonl"
    write_jsonl(late, _rows(200, 1) + _rows(300, 1, day="2026-11-25"))
    _age(late)
    first = ingest_inbox(store, settings, now=NOW)
    assert first["ingested"] == 8 and any("T300" in q["reason"] or "late.jsonl:2" in q["path"] for q in first["quarantined"])
    again = ingest_inbox(store, settings, now=NOW)
    assert again["files"]["read"] == 1  # the file with a row not yet due is read again
    later = ingest_inbox(store, settings, now=NOW + dt.timedelta(days=4))
    assert later["ingested"] == 1 and "T300" in {i.external_id for i in store.interactions()}
    assert ingest_inbox(store, settings, now=NOW + dt.timedelta(days=4))["files"]["read"] == 0


def test_other_settings_read_every_file_again(env, tmp_path):
    settings, store, _inbox = env
    ingest_inbox(store, settings, now=NOW)
    other = load_settings(environ={"VOC_DATABASE_URL": settings.db_url, "VOC_INBOX": str(settings.inbox),
                                   "VOC_ID_SECRET": "manifest-test", "VOC_LIMITS__MAX_TEXT_CHARS": "500"})
    out = ingest_inbox(store, other, now=NOW)
    assert out["files"] == {"read": 2, "unchanged": 0} and out["duplicates"] == 7


def test_a_just_written_file_is_not_trusted_by_its_time(env, monkeypatch):
    settings, store, inbox = env
    fresh = inbox / "text" / "fresh.jsonl"
    write_jsonl(fresh, _rows(400, 2))
    assert ingest_inbox(store, settings, now=NOW)["ingested"] == 9
    opened = _count_parses(monkeypatch)
    ingest_inbox(store, settings, now=NOW)
    assert opened == ["fresh.jsonl"]


def _scan_peak(tmp_path: Path, rows: int) -> tuple[int, int, list[int], object]:
    import tracemalloc

    from voc.ingest import scan_inbox

    inbox = tmp_path / f"inbox{rows}"
    path = inbox / "text" / "big.jsonl"
    path.parent.mkdir(parents=True)
    body = "物流太慢了，客服说会跟进但是一直没有消息，" * 12
    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            fh.write(json.dumps({"id": f"B{i}", "created_at": "2026-11-20T09:00:00+08:00", "text": body + str(i)},
                                ensure_ascii=False) + "\n")
    batches: list[int] = []
    tracemalloc.start()
    try:
        scan = scan_inbox(inbox, today=dt.date(2026, 11, 21), sink=lambda c: batches.append(len(c)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, path.stat().st_size, batches, scan


def test_the_scan_streams_rows_to_the_store(tmp_path, monkeypatch):
    """Rows reach the sink in batches while the file is read; the scan holds neither the file nor a list of its
    rows, so four times the rows cost far less than four times the memory (what grows is the per-file id set that
    finds an id repeated within the file)."""
    import voc.ingest.inbox as inbox_mod

    monkeypatch.setattr(inbox_mod, "SINK_BATCH", 100)
    small, _size, _b, _s = _scan_peak(tmp_path, 1000)
    peak, size, batches, scan = _scan_peak(tmp_path, 4000)
    assert sum(batches) == 4000 and max(batches) == 100 and scan.candidates == []
    assert [(f.path, f.rows) for f in scan.files] == [("text/big.jsonl", 4000)]
    assert peak < size / 2 and peak < 2 * small, (small, peak, size)


def test_the_manifest_round_trips_and_upserts(store, tmp_path):
    """On SQLite and PostgreSQL: a re-read file replaces its row; other scan keys see nothing."""
    from voc.ingest.files import FileSeen

    store.record_ingest_files("k1", [FileSeen("text/a.jsonl", 10, 5_000_000_000_123, "aa", True, 3),
                                     FileSeen("text/b.csv", 20, 6, "bb", False, 0)])
    store.record_ingest_files("k1", [FileSeen("text/a.jsonl", 12, 7_000_000_000_456, "cc", True, 4)])
    assert store.ingest_manifest("k1") == {"text/a.jsonl": (12, 7_000_000_000_456, "cc", True, 4),
                                           "text/b.csv": (20, 6, "bb", False, 0)}
    assert store.ingest_manifest("k2") == {}


def _call_rows(ids) -> list[dict]:
    return [{"call_id": c, "file": f"transcripts/{c}.json", "queue": "retail_after_sales", "customer_id": f"U{c}",
             "start_time": "2026-11-20T10:00:00+08:00"} for c in ids]


def _transcript(inbox: Path, call_id: str, said: str = "洗衣机不脱水了") -> Path:
    from tests.helpers import write_transcript

    return write_transcript(inbox / "transcripts" / f"{call_id}.json", call_id,
                            [("agent", 0.0, 2.0, "您好，请问有什么可以帮您"), ("customer", 2.0, 5.0, said)])


def test_an_unchanged_calls_table_is_skipped_and_a_changed_one_or_file_is_read(env, monkeypatch):
    """Calls tables are in the manifest too (issue 22): skipped while the table and every recording/transcript its rows
    name are unchanged; re-read when the table, a named file, or a file that was missing changes."""
    import voc.ingest.inbox as inbox_mod
    from tests.helpers import write_calls_csv

    settings, store, inbox = env
    calls = write_calls_csv(inbox / "calls.csv", _call_rows(["C0", "C1", "C2", "C3"]))
    files = [_transcript(inbox, c) for c in ("C0", "C1", "C2")]  # C3's transcript has not arrived yet
    _age(calls, *files)
    first = ingest_inbox(store, settings, now=NOW)
    assert (first["ingested"], first["files"]) == (10, {"read": 3, "unchanged": 0})
    assert [q["path"] for q in first["quarantined"]] == ["calls.csv:5"]  # C3: file not found

    hashed: list[str] = []
    real_sha = inbox_mod.sha256_file
    monkeypatch.setattr(inbox_mod, "sha256_file", lambda p: hashed.append(Path(p).name) or real_sha(p))
    again = ingest_inbox(store, settings, now=NOW)
    assert hashed == []  # no transcript hashed or checked: the table was skipped
    assert (again["ingested"], again["duplicates"], again["quarantined"]) == (0, 10, [])
    assert again["files"] == {"read": 0, "unchanged": 3}

    touch = time.time() - 1000
    os.utime(calls, (touch, touch))  # touched, same bytes: hashed, still skipped
    touched = ingest_inbox(store, settings, now=NOW)
    assert hashed == [] and touched["files"] == {"read": 1, "unchanged": 3} and touched["ingested"] == 0

    _age(_transcript(inbox, "C3"))  # the missing transcript arrives: the table is read again
    arrived = ingest_inbox(store, settings, now=NOW)
    assert sorted(hashed) == ["C0.json", "C1.json", "C2.json", "C3.json"]
    assert (arrived["ingested"], arrived["duplicates"], arrived["files"]["read"]) == (1, 10, 1)  # 3 calls + 7 texts
    assert "C3" in {i.external_id for i in store.interactions()}

    hashed.clear()
    changed = _transcript(inbox, "C1", "冰箱不制冷")  # a named transcript changes: read again
    old = time.time() - 1800
    os.utime(changed, (old, old))
    assert ingest_inbox(store, settings, now=NOW)["files"]["read"] == 1 and "C1.json" in hashed

    hashed.clear()
    assert ingest_inbox(store, settings, now=NOW)["files"] == {"read": 0, "unchanged": 3} and hashed == []
    write_calls_csv(calls, _call_rows(["C0", "C1", "C2", "C3"]) + [
        {**_call_rows(["C4"])[0], "file": "transcripts/C0.json"}])  # the table itself changes
    _age(calls)
    out = ingest_inbox(store, settings, now=NOW)
    assert out["files"]["read"] == 1 and out["ingested"] == 1 and "C4" in {i.external_id for i in store.interactions()}
    assert ingest_inbox(store, settings, now=NOW, rescan=True)["files"]["read"] == 3

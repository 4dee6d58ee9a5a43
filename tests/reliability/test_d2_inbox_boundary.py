"""D2: the inbox is a boundary. ``..``, absolute paths and symlinks out are refused with a reason and never read;
the web app serves only recordings inside the inbox."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.reliability.hostile import MARKER, write_wav

START = "2026-11-20T10:00:00+08:00"


def _inbox(tmp_path: Path) -> tuple[Path, Path]:
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    (inbox / "recordings").mkdir(parents=True)
    (inbox / "text").mkdir()
    outside.mkdir()
    write_wav(outside / "x.wav")
    write_wav(inbox / "recordings" / "good.wav")
    (outside / "chats.jsonl").write_text(json.dumps(
        {"id": "X1", "text": f"{MARKER} 外部", "created_at": START}, ensure_ascii=False) + "\n", encoding="utf-8")
    return inbox, outside


def _calls(inbox: Path, rows: list[tuple[str, str]]) -> None:
    lines = ["call_id,file,start_time"] + [f"{cid},{ref},{START}" for cid, ref in rows]
    (inbox / "calls.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _scan(inbox: Path):
    from voc.ingest import scan_inbox

    return scan_inbox(inbox, today=dt.date(2026, 11, 21))


def _reasons(scan) -> str:
    return "\n".join(f"{r.path}: {r.reason}" for r in scan.rejected)


def test_a_dotdot_call_file_is_refused(tmp_path):
    inbox, _ = _inbox(tmp_path)
    _calls(inbox, [("C1", "../outside/x.wav"), ("C2", "recordings/good.wav")])
    scan = _scan(inbox)
    assert [c.interaction.external_id for c in scan.candidates] == ["C2"]
    assert "call C1: file '../outside/x.wav' leads outside the inbox" in _reasons(scan)


def test_an_absolute_call_file_is_refused_even_inside_the_inbox(tmp_path):
    inbox, outside = _inbox(tmp_path)
    _calls(inbox, [("C1", str(outside / "x.wav")), ("C2", str(inbox / "recordings" / "good.wav"))])
    scan = _scan(inbox)
    assert scan.candidates == []
    assert _reasons(scan).count("is an absolute path") == 2


def test_a_symlinked_recording_pointing_out_is_refused(tmp_path):
    inbox, outside = _inbox(tmp_path)
    (inbox / "recordings" / "evil.wav").symlink_to(outside / "x.wav")
    _calls(inbox, [("C1", "recordings/evil.wav")])
    scan = _scan(inbox)
    assert scan.candidates == []
    reasons = _reasons(scan)
    assert "call C1: file 'recordings/evil.wav' leads outside the inbox" in reasons
    assert "'recordings/evil.wav' is a symbolic link to outside the inbox" in reasons


def test_a_symlinked_jsonl_pointing_out_is_refused_unread(tmp_path):
    inbox, outside = _inbox(tmp_path)
    (inbox / "text" / "linked.jsonl").symlink_to(outside / "chats.jsonl")
    scan = _scan(inbox)
    assert scan.candidates == []
    assert MARKER not in repr(scan)
    assert "'text/linked.jsonl' is a symbolic link to outside the inbox" in _reasons(scan)


def test_a_symlinked_folder_pointing_out_is_refused(tmp_path):
    inbox, outside = _inbox(tmp_path)
    (inbox / "text" / "more").symlink_to(outside, target_is_directory=True)
    scan = _scan(inbox)
    assert scan.candidates == [] and MARKER not in repr(scan)


def test_a_symlink_that_stays_inside_the_inbox_is_fine(tmp_path):
    inbox, _ = _inbox(tmp_path)
    (inbox / "recordings" / "alias.wav").symlink_to(inbox / "recordings" / "good.wav")
    _calls(inbox, [("C1", "recordings/alias.wav")])
    scan = _scan(inbox)
    assert [c.interaction.external_id for c in scan.candidates] == ["C1"]


def test_ingest_stores_nothing_from_outside(tmp_path):
    from tests.reliability.conftest import settings_for
    from voc.pipeline import ingest_inbox
    from voc.store import Store

    inbox, outside = _inbox(tmp_path)
    (inbox / "text" / "linked.jsonl").symlink_to(outside / "chats.jsonl")
    _calls(inbox, [("C1", "../outside/x.wav")])
    settings = settings_for(tmp_path, inbox)
    store = Store.open(settings.db_url)
    try:
        out = ingest_inbox(store, settings)
        reasons = " ".join(q["reason"] for q in out["quarantined"])
        assert out["ingested"] == 0 and "leads outside the inbox" in reasons and "symbolic link to outside" in reasons
        assert all(str(outside) not in (i.source_path or "") for i in store.interactions())
    finally:
        store.close()
    assert MARKER.encode() not in (tmp_path / "voc.db").read_bytes()


@pytest.fixture()
def web(tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from tests.reliability.conftest import settings_for
    from voc.records import Channel, Interaction
    from voc.store import Store
    from voc.web.app import create_app
    from voc.web.users import Users

    inbox, outside = _inbox(tmp_path)
    settings = settings_for(tmp_path, inbox, web={"secret_key": "reliability"})
    store = Store.open(settings.db_url)
    day = dt.date(2026, 11, 20)
    for ext, path in (("IN", inbox / "recordings" / "good.wav"), ("OUT", outside / "x.wav")):
        store.add_interaction(Interaction(id=f"call-{ext.lower()}", channel=Channel.CALL, business_date=day,
                                          content_hash=ext, external_id=ext, source_path=str(path)), "audio")
    users = Users(store.db)
    users.add("sam", "supervisor", "a long password 42")
    token = users.issue_token("sam")
    client = TestClient(create_app(settings, store))
    yield client, {"Authorization": f"Bearer {token}"}
    client.close()
    store.close()


def test_the_web_app_serves_only_recordings_inside_the_inbox(web):
    client, auth = web
    assert client.get("/api/calls/call-in/audio", headers=auth).status_code == 200
    r = client.get("/api/calls/call-out/audio", headers=auth)  # a path stored before the boundary existed
    assert r.status_code == 403 and b"RIFF" not in r.content

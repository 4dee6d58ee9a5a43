"""Checks on the bundled demo data (demo/): size limits, inbox layout, text volume/themes, audio decoding."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "demo"
INBOX = DEMO / "inbox"
CALL_COLUMNS = ["call_id", "file", "queue", "agent_id", "customer_id", "customer_tier", "customer_value",
                "start_time", "agent_channel", "product", "order_id", "region", "batch"]
TEXT_KEYS = {"id", "channel", "created_at", "customer_id", "customer_tier", "customer_value", "text", "product",
             "region", "order_id", "batch"}
AUDIO_EXT = {".wav", ".flac", ".mp3", ".ogg"}
LAST_DAY = dt.date(2026, 11, 20)
EMERGING_START = dt.date(2026, 11, 18)


def _calls() -> list[dict]:
    with open(INBOX / "calls.csv", encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == CALL_COLUMNS
        return list(reader)


def _texts() -> list[dict]:
    rows = []
    with open(INBOX / "text" / "complaints.jsonl", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            row = json.loads(line)
            assert TEXT_KEYS <= row.keys(), f"complaints.jsonl:{n}: missing {TEXT_KEYS - row.keys()}"
            rows.append(row)
    for path in sorted((INBOX / "text").glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            assert set(reader.fieldnames or ()) == TEXT_KEYS, path
            rows += list(reader)
    return rows


def _themes() -> dict[str, str]:
    with open(DEMO / "reference" / "complaint_themes.csv", encoding="utf-8", newline="") as f:
        return {r["id"]: r["theme"] for r in csv.DictReader(f)}


def _scripts() -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((DEMO / "scripts").glob("*.json"))]


def test_sizes_within_limits():
    files = [p for p in DEMO.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    total = sum(p.stat().st_size for p in files)
    assert total <= 5_000_000, f"demo/ is {total} bytes, limit 5 MB"
    big = {str(p.relative_to(DEMO)): p.stat().st_size for p in files if p.stat().st_size > 1_000_000}
    assert not big, f"files over 1 MB: {big}"


def test_calls_csv_references_existing_files():
    calls = _calls()
    assert len({c["call_id"] for c in calls}) == len(calls), "duplicate call_id"
    kinds = collections.Counter()
    for c in calls:
        path = INBOX / c["file"]
        assert path.is_file(), f"calls.csv {c['call_id']}: {c['file']} missing"
        assert c["queue"] in {"retail_after_sales", "telecom_billing"}
        assert c["customer_tier"] in {"vip", "gold", "normal"}
        if c["customer_value"]:
            float(c["customer_value"])
        start = dt.datetime.fromisoformat(c["start_time"])
        assert start.utcoffset() == dt.timedelta(hours=8)
        assert start.date() in {dt.date(2026, 11, 19), LAST_DAY}
        if c["file"].startswith("recordings/"):
            assert path.suffix in AUDIO_EXT and c["agent_channel"] in {"0", "1"}
            kinds["audio"] += 1
        else:
            assert c["file"] == f"transcripts/{c['call_id']}.json" and c["agent_channel"] == ""
            kinds["transcript"] += 1
    assert kinds["audio"] >= 10 and kinds["transcript"] >= 6
    assert {c["agent_channel"] for c in calls if c["agent_channel"]} == {"0", "1"}, "vary the agent's channel"


def test_transcripts_have_the_documented_shape():
    paths = sorted((INBOX / "transcripts").glob("*.json"))
    assert paths
    for path in paths:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc["call_id"] == path.stem and doc["language"] == "zh" and isinstance(doc["model"], str)
        assert doc["utterances"], path
        prev_start = 0.0
        for u in doc["utterances"]:
            assert set(u) == {"role", "start", "end", "text"}, path
            assert u["role"] in {"agent", "customer"} and u["text"].strip()
            assert prev_start <= u["start"] < u["end"] <= doc["duration_s"], (path, u)
            prev_start = u["start"]
        assert {u["role"] for u in doc["utterances"]} == {"agent", "customer"}


def test_texts_volume_themes_and_emerging_issue():
    texts, themes = _texts(), _themes()
    assert 1500 <= len(texts) <= 2500
    ids = [t["id"] for t in texts]
    assert len(set(ids)) == len(ids) and set(ids) == set(themes)
    dates = {t["id"]: dt.datetime.fromisoformat(t["created_at"]).date() for t in texts}
    assert set(dates.values()) == {LAST_DAY - dt.timedelta(days=i) for i in range(30)}
    assert {t["channel"] for t in texts} == {"chat", "ticket", "review"}
    by_theme = collections.defaultdict(set)
    for t in texts:
        by_theme[themes[t["id"]]].add(t["text"])
    big = [name for name, docs in by_theme.items() if len(docs) >= 50]
    assert len(big) >= 8, {k: len(v) for k, v in by_theme.items()}
    assert all(len(docs) >= 25 for docs in by_theme.values()), "each theme needs at least 25 distinct texts"
    emerging = collections.Counter(dates[i] for i, th in themes.items() if th == "x3_leak")
    assert min(emerging) == EMERGING_START
    assert emerging[EMERGING_START] < emerging[dt.date(2026, 11, 19)] < emerging[LAST_DAY]


def test_customer_tiers_and_vip_repeat_contact_chain():
    texts = _texts()
    with open(DEMO / "reference" / "customers.csv", encoding="utf-8", newline="") as f:
        customers = list(csv.DictReader(f))
    tiers = collections.Counter(c["customer_tier"] for c in customers)
    assert 0.02 < tiers["vip"] / len(customers) < 0.10 and tiers["normal"] > tiers["gold"] > tiers["vip"]
    vip = [c for c in _calls() if c["customer_tier"] == "vip"]
    assert len(vip) == 1
    contacts = sorted([dt.datetime.fromisoformat(t["created_at"]) for t in texts if t["customer_id"] == vip[0]["customer_id"]]
                      + [dt.datetime.fromisoformat(vip[0]["start_time"])])
    assert len(contacts) == 3 and contacts[-1] - contacts[0] <= dt.timedelta(days=7)
    # Silent B2311 owners never complained (no X3-leak text, no call); some made an earlier, unrelated enquiry
    # that carries their order's product and batch: the customers the outreach list must find.
    silent = {c["customer_id"] for c in customers if c["batch"] and c["contacted_about_batch"] == "no"}
    themes = _themes()
    complained = {t["customer_id"] for t in texts if themes[t["id"]] == "x3_leak"} | {c["customer_id"] for c in _calls()}
    assert silent and not silent & complained
    enquiries = [t for t in texts if t["customer_id"] in silent]
    assert enquiries and all(t["batch"] == "B2311" and t["product"] == "X3空调" for t in enquiries)
    assert all(t["created_at"] < "2026-11-18" and themes[t["id"]] == "neutral_enquiry" for t in enquiries)
    assert {t["customer_id"] for t in enquiries} < silent  # and some never contacted us at all
    leak = [t for t in texts if themes[t["id"]] == "x3_leak"]
    assert 0.3 < sum(t["batch"] == "B2311" for t in leak) / len(leak) < 0.9


def test_audio_decodes_to_stereo_at_declared_rate():
    av = pytest.importorskip("av")
    calls = {c["call_id"]: c for c in _calls()}
    scripts = _scripts()
    assert len(scripts) == sum(1 for c in calls.values() if c["file"].startswith("recordings/"))
    for script in scripts:
        assert calls[script["call_id"]]["file"] == script["file"]
        assert calls[script["call_id"]]["agent_channel"] == str(script["agent_channel"])
        samples, peaks = 0, [0.0, 0.0]
        with av.open(str(INBOX / script["file"])) as container:
            stream = container.streams.audio[0]
            for frame in container.decode(stream):
                assert frame.layout.nb_channels == 2, script["file"]
                assert frame.sample_rate == script["sample_rate"], script["file"]
                data = frame.to_ndarray()
                planes = data if data.shape[0] == 2 else data.reshape(-1, 2).T  # planar vs packed
                peaks = [max(peaks[i], float(abs(planes[i].astype("float64")).max())) for i in (0, 1)]
                samples += frame.samples
        duration = samples / script["sample_rate"]
        assert 20 <= duration <= 70, (script["file"], duration)
        assert abs(duration - script["duration_s"]) < 1.0, (script["file"], duration)
        assert min(peaks) > 0, f"{script['file']}: a silent channel"


def test_bad_inbox_files_are_documented():
    bad = DEMO / "bad_inbox"
    readme = (bad / "README.md").read_text(encoding="utf-8")
    files = [p for p in bad.rglob("*") if p.is_file() and p.name != "README.md"]
    assert files
    undocumented = [str(p.relative_to(bad)) for p in files if p.name not in readme]
    assert not undocumented, f"describe these in bad_inbox/README.md: {undocumented}"
    raw = (bad / "calls.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("gbk").startswith("call_id,")

"""The demo inbox through every stage for four nights, as ``voc run --from 2026-11-16 --date 2026-11-19`` runs it.

The real Whisper base transcribes two recordings of 2026-11-19 (a telephone wav with the agent on the left, an
Opus ogg with the agent on the right; the night's other two recordings are left out of the copied inbox, which
halves the Whisper time), QA scores that night's five calls, e5 topics, routing and digests run every night. The
demo plants an X3 air-conditioner leak from 2026-11-18: it must be raised on that night and not on the two
before. This is the short end-to-end run of ``make test``; the 30-night run is test_demo_30_days.py (slow).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voc import pipeline
from voc.cli import app
from voc.config import load_settings
from voc.store import Store

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo"
FIRST, LAST = dt.date(2026, 11, 16), dt.date(2026, 11, 19)
LEAK_DAY = dt.date(2026, 11, 18)
RECORDINGS = ("C001", "C004")  # 26 s and 68 s of stereo speech on 2026-11-19 (demo/inbox/calls.csv)
LEFT_OUT = ("C002", "C003")  # the night's two other recordings (~140 s of speech)
CALLS = 5  # the calls of 2026-11-19 in the copied inbox: two recordings and three external transcripts
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo-short")
    shutil.copytree(DEMO / "inbox", tmp / "inbox", ignore=shutil.ignore_patterns(*(f"{c}.*" for c in LEFT_OUT)))
    calls = tmp / "inbox" / "calls.csv"
    rows = calls.read_text(encoding="utf-8").splitlines(keepends=True)
    calls.write_text("".join(r for r in rows if not r.startswith(tuple(f"{c}," for c in LEFT_OUT))), encoding="utf-8")
    env = {"VOC_DATABASE_URL": f"sqlite:///{tmp / 'voc.db'}", "VOC_INBOX": str(tmp / "inbox"),
           "VOC_EXPORTS_DIR": str(tmp / "exports"),
           # where `make setup` assembles Whisper base (assembled there now if it is missing)
           "VOC_MODELS_DIR": str(REPO / "voc-data" / "models")}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)  # no voc.yaml of the working tree may leak in
        result = CliRunner().invoke(app, ["run", "--from", FIRST.isoformat(), "--date", LAST.isoformat(), "--json"],
                                    env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    settings = load_settings(environ=env)
    store = Store.open(settings.db_url)
    yield json.loads(result.stdout), settings, store, tmp
    store.close()


def _night(out: dict, day: dt.date) -> dict[str, dict]:
    (run,) = [r for r in out["runs"] if r["run_date"] == day.isoformat()]
    return {s["stage"]: s for s in run["stages"]}


def _leak_findings(store: Store, day: dt.date):
    out = []
    for f in store.findings(run_date=day, kinds=["emerging_topic", "emerging_terms"]):
        text = " ".join([f.title, *f.examples, *f.details.get("burst_terms", [])]).lower()
        if "x3" in text and "漏" in text:
            out.append(f)
    return out


def test_every_stage_ran_every_night(demo_run):
    out, _settings, _store, _tmp = demo_run
    assert out["status"] == "done"
    assert [r["run_date"] for r in out["runs"]] == [(FIRST + dt.timedelta(days=k)).isoformat() for k in range(4)]
    for run in out["runs"]:
        assert [s["stage"] for s in run["stages"]] == list(pipeline.DEFAULT_ORDER), run["stages"]
        assert all(s["status"] == "done" and s["failed"] == 0 for s in run["stages"]), run["stages"]
        assert {s["stage"]: s["processed"] for s in run["stages"]}["text"] > 50  # the night's texts (and calls)
    before, last = _night(out, LEAK_DAY), _night(out, LAST)
    assert before["transcribe"]["processed"] == 0 and before["qa"]["processed"] == 0  # no calls before 11-19
    assert last["transcribe"]["processed"] == CALLS and last["qa"]["processed"] == CALLS  # external transcripts too


def test_recordings_are_transcribed_by_the_real_model(demo_run):
    """Whisper base on the demo's synthetic speech: far from perfect (CER ~0.3-0.6 per channel), far from noise."""
    from voc.transcribe import cer

    _out, _settings, store, _tmp = demo_run
    ids = {i.external_id: i.id for i in store.interactions(run_date=LAST)}
    assert {store.transcript_info(ids[c])["model"] for c in ("C012", "C013", "C015")} == {"external"}
    errors = chars = 0
    for call in RECORDINGS:
        info, metrics, utts = store.transcript_info(ids[call]), store.call_metrics(ids[call]), store.utterances(ids[call])
        assert info["model"] == "whisper-base" and info["language"] == "zh", info
        assert metrics.agent_talk_s > 5 and metrics.customer_talk_s > 5, metrics
        script = json.loads((DEMO / "scripts" / f"{call}.json").read_text(encoding="utf-8"))
        for role in ("agent", "customer"):
            hyp = "".join(u.text for u in utts if u.role.value == role)
            ref = "".join(u["text"] for u in script["utterances"] if u["role"] == role)
            assert cer(ref, hyp) < 0.75, (call, role, hyp)
            errors, chars = errors + cer(ref, hyp) * len(ref), chars + len(ref)
    assert errors / chars < 0.6


def test_qa_scores_every_call_of_the_night_with_evidence(demo_run):
    _out, _settings, store, _tmp = demo_run
    calls = [i.id for i in store.interactions(run_date=LAST) if i.external_id.startswith("C")]
    results = store.qa_results(calls)
    assert len(calls) == CALLS and {r["interaction_id"] for r in results} == set(calls)
    assert all(0 <= r["score"] <= 100 and r["outcomes"] for r in results)
    passed = 0
    for r in results:  # evidence points at an utterance of the call, with its time (what a reviewer seeks to)
        starts = {u.idx: round(u.start, 2) for u in store.utterances(r["interaction_id"])}
        for o in r["outcomes"]:
            assert all(e["text"] and starts[e["idx"]] == e["start"] for e in o["evidence"]), o
            passed += bool(o["passed"] and o["evidence"])
    assert passed >= CALLS  # at least one step per call on average is recognised and quoted
    patterns = store.findings(run_date=LAST, kinds=["qa_pattern"])
    assert patterns, "no QA failure pattern on a night with seven calls"
    assert {r.department for r in store.routes([f.id for f in patterns])} == {"customer_service"}


def test_emerging_leak_is_flagged_on_its_first_night_and_routed(demo_run):
    _out, _settings, store, _tmp = demo_run
    assert not any(_leak_findings(store, d) for d in (FIRST, FIRST + dt.timedelta(days=1)))
    found = _leak_findings(store, LEAK_DAY)
    assert found, [(f.title, f.summary) for f in store.findings(run_date=LEAK_DAY)]
    leak = found[0]
    assert leak.details["kind"] in ("new", "spike", "terms") and leak.count >= 5
    assert leak.customers >= 1 and leak.value_weight > 0
    (route,) = store.routes([leak.id])
    assert route.department in {"after_sales", "manufacturing", "product"}, route
    assert route.reason and 0 < route.confidence <= 1
    assert _leak_findings(store, LAST), "the leak is still news the night after"


def test_rerunning_a_night_keeps_topic_ids_and_findings(demo_run):
    _out, settings, store, _tmp = demo_run
    ids = sorted(i.id for i in store.interactions(run_date=LAST))
    before = store.topic_assignments(ids)
    findings_before = [(f.id, f.count) for f in store.findings(run_date=LAST)]
    topics_before = {t["id"]: t["size"] for t in store.topics()}
    assert before and findings_before
    for name in ("topics", "routing", "report"):
        pipeline.run_stage(store, settings, name, LAST)
    assert store.topic_assignments(ids) == before
    assert [(f.id, f.count) for f in store.findings(run_date=LAST)] == findings_before
    assert {t["id"]: t["size"] for t in store.topics()} == topics_before


def test_digests_are_written_every_night_and_carry_no_phone_numbers(demo_run):
    _out, _settings, store, tmp = demo_run
    day = FIRST
    while day <= LAST:
        out = tmp / "exports" / day.isoformat()
        assert (out / "overview.md").is_file() and (out / "overview.html").is_file() and (out / "routes.csv").is_file()
        routed = {r.department for r in store.routes([f.id for f in store.findings(run_date=day)])}
        assert routed and {p.stem for p in (out / "departments").glob("*.md")} == routed, day
        assert any(d["kind"] == "files" and d["status"] == "written" for d in store.deliveries(day))
        day += dt.timedelta(days=1)
    for path in (tmp / "exports").rglob("*"):
        if path.is_file():
            assert not PHONE.search(path.read_text(encoding="utf-8")), path

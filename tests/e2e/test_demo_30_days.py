"""Topics, routing and report stages end to end on the demo's text channels (30 days, real e5 embeddings).

The demo (demo/generate.py) plants an emerging theme: X3 air conditioners of one batch leak from 2026-11-18.
The pipeline must raise it on its first day, keep topic IDs stable when a night is rerun, route it to a
department with a reason, and write digests without raw phone numbers.

Slow (~4-5 min on 2 cores): ``make test-all`` runs it; ``make test`` runs the four-night test_demo_short.py.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import chromium_binary
from voc import pipeline
from voc.config import load_settings
from voc.store import Store

REPO = Path(__file__).resolve().parents[2]
FIRST, LAST = dt.date(2026, 10, 22), dt.date(2026, 11, 20)
LEAK_DAY = dt.date(2026, 11, 18)
STAGES = ["ingest", "text", "sentiment", "topics", "routing", "report"]
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    inbox = tmp / "inbox"
    shutil.copytree(REPO / "demo" / "inbox" / "text", inbox / "text")
    settings = load_settings(environ={
        "VOC_DATABASE_URL": f"sqlite:///{tmp / 'voc.db'}", "VOC_INBOX": str(inbox), "VOC_EXPORTS_DIR": str(tmp / "exports"),
    })
    store = Store.open(settings.db_url)
    day = FIRST
    while day <= LAST:
        summary = pipeline.run(store, settings, day, STAGES)
        assert summary.status == "done", summary.to_dict()
        day += dt.timedelta(days=1)
    yield settings, store, tmp
    store.close()


def _leak_findings(store: Store, day: dt.date):
    out = []
    for f in store.findings(run_date=day, kinds=["emerging_topic", "emerging_terms"]):
        text = " ".join([f.title, *f.examples, *f.details.get("burst_terms", [])]).lower()
        if "x3" in text and "漏" in text:
            out.append(f)
    return out


def test_emerging_leak_is_flagged_on_its_first_day_and_routed(demo_run):
    _settings, store, _tmp = demo_run
    assert not any(_leak_findings(store, d) for d in (LEAK_DAY - dt.timedelta(days=2), LEAK_DAY - dt.timedelta(days=1)))
    found = _leak_findings(store, LEAK_DAY)
    assert found, [(f.title, f.summary) for f in store.findings(run_date=LEAK_DAY)]
    leak = found[0]
    assert leak.details["kind"] in ("new", "spike", "terms") and leak.count >= 5
    assert leak.customers >= 1 and leak.value_weight > 0
    (route,) = store.routes([leak.id])
    assert route.department in {"after_sales", "manufacturing", "product"}
    assert route.reason and 0 < route.confidence <= 1


def test_rerunning_a_night_keeps_topic_ids_and_findings(demo_run):
    settings, store, _tmp = demo_run
    before_ids = {i.id for i in store.interactions(run_date=LAST)}
    before = store.topic_assignments(sorted(before_ids))
    findings_before = [(f.id, f.count) for f in store.findings(run_date=LAST)]
    topics_before = {t["id"]: t["size"] for t in store.topics()}
    for name in ("topics", "routing", "report"):
        pipeline.run_stage(store, settings, name, LAST)
    assert store.topic_assignments(sorted(before_ids)) == before
    assert [(f.id, f.count) for f in store.findings(run_date=LAST)] == findings_before
    assert {t["id"]: t["size"] for t in store.topics()} == topics_before


def test_confirmed_route_survives_reruns_and_teaches_the_topic(demo_run):
    settings, store, _tmp = demo_run
    leak = next(f for f in _leak_findings(store, LEAK_DAY) if f.topic_id)
    store.confirm_route(leak.id, "manufacturing", by="qa_lead")
    pipeline.run_stage(store, settings, "routing", LAST)
    pipeline.run_stage(store, settings, "topics", LEAK_DAY)  # replaces the night's findings, keeps the confirmation
    (route,) = store.routes([leak.id])
    assert route.department == "manufacturing" and "confirmed" in route.reason
    assert store.route_memory()[leak.topic_id] == {"manufacturing": 1}
    later = [f for f in store.findings(since=LEAK_DAY + dt.timedelta(days=1)) if f.topic_id == leak.topic_id]
    if later:  # the topic's later findings follow the confirmed department once routing reruns
        pipeline.run_stage(store, settings, "routing", later[0].run_date)
        assert store.routes([later[0].id])[0].department == "manufacturing"
    for day in {LAST, *(f.run_date for f in later[:1])}:  # the rerouted nights' digests follow their routes again
        pipeline.run_stage(store, settings, "report", day)


def test_digests_are_written_and_carry_no_phone_numbers(demo_run):
    _settings, store, tmp = demo_run
    out = tmp / "exports" / LAST.isoformat()
    assert (out / "overview.md").is_file() and (out / "overview.html").is_file() and (out / "routes.csv").is_file()
    depts = sorted(p.stem for p in (out / "departments").glob("*.md"))
    assert depts, "no department digests"
    routed = {r.department for r in store.routes([f.id for f in store.findings(run_date=LAST)])}
    assert set(depts) == routed
    for path in out.rglob("*"):
        if path.is_file():
            assert not PHONE.search(path.read_text(encoding="utf-8")), path
    assert any(d["kind"] == "files" and d["status"] == "written" for d in store.deliveries(LAST))


class _Recorder:
    """A real local HTTP endpoint that records what the webhooks send."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_report_delivers_every_department_digest_to_a_local_webhook(demo_run) -> None:
    settings, store, _tmp = demo_run
    hook = _Recorder()
    try:
        from voc.config import ReportSettings, Webhook

        report = ReportSettings(webhooks=[Webhook(name="local", kind="generic", url=hook.url)],
                                webhook_max_age_days=100000)  # the demo's dates lie in the past
        s = settings.model_copy(update={"report": report})
        result = pipeline.run_stage(store, s, "report", LAST)
    finally:
        hook.close()
    routed = {r.department for r in store.routes([f.id for f in store.findings(run_date=LAST)])}
    sent = store.deliveries(LAST)
    delivered = {d["department"] for d in sent if d["kind"] == "generic" and d["status"] == "delivered"}
    assert delivered == routed | {"overview"}, sent
    assert result.failed == 0 and len(hook.requests) >= len(delivered)
    assert all(set(r) == {"title", "text"} and not PHONE.search(r["text"]) for r in hook.requests)


def test_digest_html_renders_in_headless_chromium(demo_run, tmp_path) -> None:
    import os
    import subprocess

    exe = chromium_binary()
    if exe is None:
        pytest.skip("no chromium binary found (apt-get install -y chromium, or set VOC_CHROMIUM)")
    _settings, _store, tmp = demo_run
    page = tmp / "exports" / LEAK_DAY.isoformat() / "overview.html"
    folder = REPO / "docs" / "screenshots" if os.environ.get("VOC_UPDATE_SCREENSHOTS") == "1" else tmp_path
    shot = folder / "digest_overview.png"
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1100,1400",
                    f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000  # a rendered page, not an empty canvas

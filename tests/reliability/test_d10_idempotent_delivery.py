"""D10: a digest already delivered for (date, department, webhook) with the same content is not sent again; a
changed digest is sent once, marked as an update."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.reliability.conftest import NOW, settings_for
from tests.reliability.hostile import DAY


@pytest.fixture()
def hook():
    posts: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            posts.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", posts
    server.shutdown()


def test_rerunning_a_date_does_not_resend_its_digests(tmp_path, hook):
    from voc import pipeline
    from voc.records import Channel, Interaction
    from voc.store import Store

    url, posts = hook
    (tmp_path / "inbox").mkdir()
    settings = settings_for(tmp_path, tmp_path / "inbox",
                            report={"webhooks": [{"name": "ops", "kind": "generic", "url": url}], "webhook_retries": 0})
    store = Store.open(settings.db_url)
    try:
        for _ in range(2):
            res = pipeline.run_stage(store, settings, "report", DAY, now=NOW)
        assert len(posts) == 1 and res.details["webhooks_unchanged"] == 1 and res.details["webhooks_sent"] == 0
        # the night changes (one more contact): the digest goes out once more, as an update
        store.add_interaction(Interaction(id="chat-x", channel=Channel.CHAT, business_date=DAY, content_hash="x",
                                          external_id="X", text="空调漏水"), "text")
        pipeline.run_stage(store, settings, "report", DAY, now=NOW)
        pipeline.run_stage(store, settings, "report", DAY, now=NOW)
        assert len(posts) == 2 and "更新" in posts[1]["title"] and "更新" not in posts[0]["title"]
        rows = [d for d in store.deliveries(DAY) if d["target"] == "ops"]
        assert [d["status"] for d in rows] == ["delivered", "unchanged", "delivered", "unchanged"]
    finally:
        store.close()


def test_a_failed_delivery_is_tried_again_on_the_next_run(tmp_path, hook):
    from voc import pipeline
    from voc.store import Store

    url, posts = hook
    (tmp_path / "inbox").mkdir()
    dead = {"name": "ops", "kind": "generic", "url": "http://127.0.0.1:9/closed"}
    settings = settings_for(tmp_path, tmp_path / "inbox", report={"webhooks": [dead], "webhook_retries": 0,
                                                                    "webhook_timeout_s": 2})
    store = Store.open(settings.db_url)
    try:
        assert pipeline.run_stage(store, settings, "report", DAY, now=NOW).details["webhooks_failed"] == 1
        settings = settings_for(tmp_path, tmp_path / "inbox", report={"webhooks": [{**dead, "url": url}]})
        assert pipeline.run_stage(store, settings, "report", DAY, now=NOW).details["webhooks_sent"] == 1
        assert len(posts) == 1
    finally:
        store.close()

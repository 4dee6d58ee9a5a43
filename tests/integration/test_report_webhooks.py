"""Webhook delivery of the digests against a real local HTTP server (127.0.0.1 only): payloads, signatures, retries, rate limits."""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.unit.test_report_digest import sample_digest
from voc.config import ReportSettings, Webhook
from voc.report import (
    DingTalkNotifier,
    FeishuNotifier,
    WeComNotifier,
    build_notifiers,
    deliver_digests,
    dingtalk_sign,
    feishu_sign,
)


class _Hook:
    """A real HTTP server on 127.0.0.1 that records requests and answers from a script."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: deque[tuple[int, dict]] = deque()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                parsed = urllib.parse.urlsplit(self.path)
                hook.requests.append({"path": parsed.path, "query": dict(urllib.parse.parse_qsl(parsed.query)), "json": body})
                status, answer = hook.script.popleft() if hook.script else (200, {"errcode": 0, "code": 0})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send?key=SECRETKEY123"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    server = _Hook()
    yield server
    server.close()


def _no_wait(seconds: float) -> None:
    """Platform rate limits (20/minute) would make each test wait 3 s per message; spacing is tested apart."""


FAST = {"backoff_s": 0.01, "rate_per_minute": 60_000, "timeout_s": 5.0, "sleep": _no_wait}


def test_wecom_payload_and_errcode(hook):
    notifier = WeComNotifier("ops", hook.url, **FAST)
    [ok] = notifier.send("日报", "**物流** 3 条")
    assert ok.status == "delivered" and ok.attempts == 1
    sent = hook.requests[0]["json"]
    assert sent["msgtype"] == "markdown" and "**物流** 3 条" in sent["markdown"]["content"]
    hook.script.append((200, {"errcode": 93000, "errmsg": "invalid webhook url"}))
    [bad] = notifier.send("日报", "x")
    assert bad.status == "failed" and "93000" in bad.error and bad.attempts == 1
    assert "SECRETKEY123" not in bad.error


def test_wecom_splits_long_digest_under_4096_bytes(hook):
    long_md = "\n".join(f"- 第{i}条：客户反馈快递太慢，包装破损，要求赔偿" for i in range(400))
    deliveries = WeComNotifier("ops", hook.url, **FAST).send("物流日报", long_md)
    assert len(deliveries) > 1 and all(d.status == "delivered" for d in deliveries)
    assert [d.part for d in deliveries] == list(range(1, len(deliveries) + 1))
    contents = [r["json"]["markdown"]["content"] for r in hook.requests]
    assert all(len(c.encode("utf-8")) <= 4096 for c in contents)
    assert f"(2/{len(deliveries)})" in contents[1]


def test_retries_after_500_then_succeeds(hook):
    hook.script.extend([(500, {}), (502, {})])
    [d] = DingTalkNotifier("ding", hook.url, **FAST).send("日报", "内容")
    assert d.status == "delivered" and d.attempts == 3 and len(hook.requests) == 3


def test_gives_up_after_retries(hook):
    hook.script.extend([(503, {})] * 5)
    [d] = WeComNotifier("ops", hook.url, **(FAST | {"retries": 2})).send("日报", "内容")
    assert d.status == "failed" and d.attempts == 3 and d.http_status == 503 and d.error == "HTTP 503"


def test_dingtalk_payload_and_signature(hook):
    [d] = DingTalkNotifier("ding", hook.url, "SECabc", **FAST).send("物流日报", "## 内容")
    assert d.status == "delivered"
    req = hook.requests[0]
    assert req["json"]["msgtype"] == "markdown"
    assert req["json"]["markdown"]["title"] == "物流日报" and "## 内容" in req["json"]["markdown"]["text"]
    assert req["query"]["key"] == "SECRETKEY123"  # the original query string is kept
    assert req["query"]["sign"] == dingtalk_sign("SECabc", int(req["query"]["timestamp"]))
    hook.script.append((200, {"errcode": 310000, "errmsg": "sign not match"}))
    [bad] = DingTalkNotifier("ding", hook.url, "SECabc", **FAST).send("t", "x")
    assert bad.status == "failed" and "310000" in bad.error and "SECabc" not in bad.error


def test_feishu_card_signature_and_code(hook):
    [d] = FeishuNotifier("lark", hook.url, "s3cret", **FAST).send("日报", "**内容**")
    assert d.status == "delivered"
    body = hook.requests[0]["json"]
    assert body["msg_type"] == "interactive"
    assert body["card"]["header"]["title"]["content"] == "日报"
    assert body["card"]["elements"][0]["text"] == {"tag": "lark_md", "content": "**内容**"}
    assert body["sign"] == feishu_sign("s3cret", int(body["timestamp"]))
    hook.script.append((200, {"code": 19021, "msg": "sign match fail"}))
    [bad] = FeishuNotifier("lark", hook.url, "s3cret", **FAST).send("t", "x")
    assert bad.status == "failed" and "19021" in bad.error


def test_rate_limit_spaces_requests(hook):
    waits: list[float] = []
    notifier = WeComNotifier("ops", hook.url, backoff_s=0.01, rate_per_minute=1000, sleep=waits.append,
                             clock=lambda: 0.0)
    notifier.send("a", "1")
    notifier.send("b", "2")
    # WeCom allows 20/minute: the setting (1000) is capped at the platform's limit -> 3 s apart.
    assert waits == [pytest.approx(3.0)]


def test_deliver_digests_by_subscription_and_no_url_in_logs(hook, caplog):
    settings = ReportSettings(webhooks=[
        Webhook(name="logi", kind="wecom", url=hook.url, departments=["logistics"]),
        Webhook(name="all", kind="feishu", url=hook.url),
    ], webhook_rate_per_minute=6000)
    notifiers = build_notifiers(settings, backoff_s=0.01, sleep=_no_wait)
    hook.script.append((500, {}))  # one transient failure on the way
    with caplog.at_level(logging.DEBUG):
        deliveries = deliver_digests(sample_digest(), notifiers)
    by_hook = {(d.webhook, d.department) for d in deliveries}
    assert by_hook == {("logi", "logistics"), ("all", "overview"), ("all", "logistics"), ("all", "finance")}
    assert all(d.status == "delivered" for d in deliveries)
    assert "SECRETKEY123" not in caplog.text

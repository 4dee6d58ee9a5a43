"""Reports: digest files render and escape; webhooks against a real local HTTP server (127.0.0.1 only)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import threading
import urllib.parse
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from voc.config import ReportSettings, Webhook
from voc.records import Finding, Route
from voc.report import (
    DigestData,
    DingTalkNotifier,
    FeishuNotifier,
    WeComNotifier,
    build_notifiers,
    deliver_digests,
    dingtalk_sign,
    feishu_sign,
    split_markdown,
    write_digests,
)

RUN = dt.date(2026, 11, 23)


def _data(n_findings: int = 3, example: str = "物流太慢了") -> DigestData:
    findings = [
        Finding(id=f"f{i}", kind="emerging_topic", run_date=RUN, title=f"话题 {i}", summary="摘要",
                count=10 * (i + 1), customers=i + 1, value_weight=float(i + 1),
                examples=(example, "第二个例子"), details={"growth": 0.5 * i})
        for i in range(n_findings)
    ]
    routes = [Route(f.id, "logistics" if i % 2 == 0 else "finance", 0.8, "keywords 物流") for i, f in enumerate(findings)]
    return DigestData(run_date=RUN, findings=findings, routes=routes,
                      department_names={"logistics": "物流配送 (Logistics)", "finance": "财务 (Finance)"},
                      volumes={"call": 120, "review": 30}, sentiment={"mean": -0.21, "negative_share": 0.35},
                      qa={"scored": 120, "mean_score": 81.5})


def test_digest_files_render_ranked_and_escaped(tmp_path):
    data = _data(3, example="<script>alert('x')</script> 快递丢了")
    paths = write_digests(data, tmp_path)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in paths)
    assert names == sorted([
        "overview.md", "overview.html", "routes.csv",
        *(f"departments/{d}.{ext}" for d in ("logistics", "finance") for ext in ("md", "html", "csv")),
    ])
    html = (tmp_path / "departments" / "logistics.html").read_text("utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html
    md = (tmp_path / "departments" / "logistics.md").read_text("utf-8")
    # Ranked by value weight: f2 (3.0) before f0 (1.0); reasons and growth are shown.
    assert md.index("话题 2") < md.index("话题 0")
    assert "why here: keywords 物流" in md and "growth +100%" in md
    overview = (tmp_path / "overview.md").read_text("utf-8")
    assert "call: 120" in overview and "mean_score: 81.5" in overview and "物流配送 (Logistics)" in overview
    with (tmp_path / "routes.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and {r["department"] for r in rows} == {"logistics", "finance"}


def test_digest_with_no_findings_still_writes_overview(tmp_path):
    data = DigestData(run_date=RUN, findings=[], routes=[])
    paths = write_digests(data, tmp_path, formats=["md"])
    assert [p.name for p in paths] == ["overview.md"]
    assert "No findings today." in paths[0].read_text("utf-8")


def test_split_markdown_respects_utf8_bytes():
    text = "\n".join(f"第{i}行：" + "客户反馈" * 30 for i in range(200))
    parts = split_markdown(text, 4096)
    assert len(parts) > 1
    assert all(len(p.encode("utf-8")) <= 4096 for p in parts)
    assert "\n".join(parts).replace("\n", "") == text.replace("\n", "")


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
        deliveries = deliver_digests(_data(), notifiers)
    by_hook = {(d.webhook, d.department) for d in deliveries}
    assert by_hook == {("logi", "logistics"), ("all", "overview"), ("all", "logistics"), ("all", "finance")}
    assert all(d.status == "delivered" for d in deliveries)
    assert "SECRETKEY123" not in caplog.text

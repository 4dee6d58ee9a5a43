"""Deliver Markdown digests to chat groups: WeCom, DingTalk and Feishu/Lark robots, plus generic JSON.

Each platform is one Notifier class; delivery splits long messages, spaces requests to the rate limit,
retries 5xx/timeouts/rate-limit codes with backoff and returns a Delivery per message part. The webhook
URL and secret are never logged or put into a Delivery's error text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """Outcome of sending one message part to one webhook (the store's deliveries table)."""

    webhook: str  # the webhook's configured name, never its URL
    kind: str
    department: str
    part: int  # 1-based
    parts: int
    status: str  # delivered / failed / unchanged (the same digest was delivered before: not sent again)
    attempts: int
    http_status: int | None = None
    error: str = ""
    bytes: int = 0
    content_hash: str = ""  # sha256 of the whole message (all parts): what was sent, for idempotent reruns
    update: bool = False  # a changed digest sent again for a date already delivered


class Notifier(Protocol):
    """Sends one Markdown document (split into parts as the platform needs) and reports each part."""

    name: str
    kind: str
    departments: tuple[str, ...]

    def send(self, title: str, markdown: str, department: str = "") -> list[Delivery]: ...


def split_markdown(text: str, max_bytes: int) -> list[str]:
    """Split at line boundaries into parts of at most ``max_bytes`` UTF-8 bytes (long lines are cut by character)."""
    if max_bytes < 16:
        raise ValueError(f"max_bytes must be at least 16, got {max_bytes}")
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line.encode("utf-8")) > max_bytes:  # one line longer than a message: cut it
            cut = line.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")
            if current:
                parts.append(current)
                current = ""
            parts.append(cut)
            line = line[len(cut):]
        if current and len((current + line).encode("utf-8")) > max_bytes:
            parts.append(current)
            current = ""
        current += line
    if current.strip() or not parts:
        parts.append(current)
    return [p.rstrip("\n") for p in parts]


class RateLimiter:
    """Spaces calls at least ``60 / per_minute`` seconds apart (the platforms count per minute per robot)."""

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if per_minute <= 0:
            raise ValueError(f"webhook_rate_per_minute must be > 0, got {per_minute}")
        self.interval = 60.0 / per_minute
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


class _UrlRedactor(logging.Filter):
    """httpx logs each request URL at INFO; webhook URLs carry their key, so mask them in those records."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(self._mask(a) for a in args)
        return True

    def _mask(self, value: Any) -> Any:
        text = str(value)
        if any(s in text for s in self.secrets):
            for s in self.secrets:
                text = text.replace(s, "***")
            return text
        return value


_REDACTOR = _UrlRedactor()
logging.getLogger("httpx").addFilter(_REDACTOR)


class _HttpNotifier:
    kind: ClassVar[str] = "generic"
    platform_rate_per_minute: ClassVar[float] = 60.0
    max_bytes: ClassVar[int] = 16_000  # per message, title line included
    retry_codes: ClassVar[frozenset[int]] = frozenset()  # platform codes that mean "slow down, try again"

    def __init__(
        self,
        name: str,
        url: str,
        secret: str | None = None,
        *,
        departments: Sequence[str] = (),
        client: Any | None = None,
        timeout_s: float = 10.0,
        retries: int = 3,
        rate_per_minute: float = 20.0,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not url:
            raise ValueError(f"webhook {name!r}: url is empty; set report.webhooks[].url")
        self.name = name
        self.departments = tuple(departments)
        self._url, self._secret = url, secret or None
        self._client = client
        self._owns_client = client is None
        self._timeout_s, self._retries, self._backoff_s = timeout_s, max(0, retries), backoff_s
        self._sleep = sleep
        # Never exceed the platform's own limit, whatever the setting says.
        self._limiter = RateLimiter(min(rate_per_minute, self.platform_rate_per_minute), clock, sleep)
        _REDACTOR.secrets.update(s for s in (url, secret) if s)

    # -- platform specifics ---------------------------------------------------------------------------
    def payload(self, title: str, text: str) -> dict[str, Any]:
        return {"title": title, "text": text}

    def sign(self, payload: dict[str, Any], now: float) -> tuple[dict[str, Any], dict[str, str]]:
        """Return (payload, query params) with any signature added."""
        return payload, {}

    def platform_error(self, body: Any) -> tuple[int, str] | None:
        """(code, message) when a 200 response reports failure in its JSON body."""
        return None

    # -- delivery -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP client this notifier created (a client passed in stays open)."""
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None

    def _redact(self, text: str) -> str:
        for s in (self._url, self._secret):
            if s:
                text = text.replace(s, "***")
        return text

    def send(self, title: str, markdown: str, department: str = "") -> list[Delivery]:
        # Budget for the body: the limit minus the title line ("**title (99/99)**\n" or "### ...").
        budget = self.max_bytes - len(title.encode("utf-8")) - 24
        chunks = split_markdown(markdown, budget)
        out = []
        for i, chunk in enumerate(chunks, start=1):
            part_title = title if len(chunks) == 1 else f"{title} ({i}/{len(chunks)})"
            out.append(self._deliver(part_title, chunk, department, i, len(chunks)))
        return out

    def _deliver(self, title: str, text: str, department: str, part: int, parts: int) -> Delivery:
        import httpx

        if self._client is None:
            # One client per notifier: building an SSL context per message costs ~0.1-1 s.
            self._client = httpx.Client()
        client = self._client
        status: int | None = None
        error = ""
        attempts = 0
        for attempt in range(self._retries + 1):
            attempts = attempt + 1
            if attempt:
                self._sleep(min(self._backoff_s * 2 ** (attempt - 1), 60.0))
            self._limiter.wait()
            payload, params = self.sign(self.payload(title, text), time.time())
            try:
                # Merge, not replace: DingTalk's access_token already sits in the URL's query string.
                url = httpx.URL(self._url).copy_merge_params(params) if params else self._url
                response = client.post(url, json=payload, timeout=self._timeout_s)
            except httpx.TimeoutException:
                status, error = None, "timeout"
                continue
            except httpx.TransportError as exc:
                status, error = None, f"transport error: {type(exc).__name__}"
                continue
            status = response.status_code
            if status >= 500 or status == 429:
                error = f"HTTP {status}"
                continue
            if status >= 400:
                error = f"HTTP {status}: {self._redact(response.text[:200])}"
                break  # a client error will not fix itself on retry
            try:
                body = response.json()
            except ValueError:
                body = None
            problem = self.platform_error(body)
            if problem is None:
                error = ""
                break
            code, message = problem
            error = f"platform error {code}: {self._redact(str(message))[:200]}"
            if code not in self.retry_codes:
                break
        ok = not error
        if not ok:
            logger.warning("webhook %s (%s) part %d/%d failed after %d attempt(s): %s",
                           self.name, self.kind, part, parts, attempts, error)
        return Delivery(self.name, self.kind, department, part, parts, "delivered" if ok else "failed",
                        attempts, status, error, len(text.encode("utf-8")))


def _errcode(body: Any, key: str) -> tuple[int, str] | None:
    if not isinstance(body, Mapping) or key not in body:
        return None
    try:
        code = int(body[key])
    except (TypeError, ValueError):
        return (-1, f"unexpected {key}={body[key]!r}")
    if code == 0:
        return None
    return code, str(body.get("errmsg") or body.get("msg") or "")


class WeComNotifier(_HttpNotifier):
    """企业微信群机器人: markdown content at most 4096 bytes, 20 messages/minute; errcode != 0 is a failure."""

    kind = "wecom"
    platform_rate_per_minute = 20.0
    max_bytes = 4096  # the whole markdown.content, title line included
    retry_codes = frozenset({45009})  # API frequency limit

    def payload(self, title: str, text: str) -> dict[str, Any]:
        return {"msgtype": "markdown", "markdown": {"content": f"**{title}**\n{text}"}}

    def platform_error(self, body: Any) -> tuple[int, str] | None:
        return _errcode(body, "errcode")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")); httpx URL-encodes it."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkNotifier(_HttpNotifier):
    """钉钉自定义机器人: markdown {title, text}; optional 加签 (timestamp + sign in the query); 20/minute."""

    kind = "dingtalk"
    platform_rate_per_minute = 20.0
    # DingTalk documents no clear markdown size; 20,000 bytes is the commonly reported cap, keep below it.
    max_bytes = 18_000
    retry_codes = frozenset({130101})  # send too fast

    def payload(self, title: str, text: str) -> dict[str, Any]:
        return {"msgtype": "markdown", "markdown": {"title": title, "text": f"### {title}\n{text}"}}

    def sign(self, payload: dict[str, Any], now: float) -> tuple[dict[str, Any], dict[str, str]]:
        if not self._secret:
            return payload, {}
        ts = int(now * 1000)
        return payload, {"timestamp": str(ts), "sign": dingtalk_sign(self._secret, ts)}

    def platform_error(self, body: Any) -> tuple[int, str] | None:
        return _errcode(body, "errcode")


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class FeishuNotifier(_HttpNotifier):
    """飞书/Lark 自定义机器人: interactive card with a lark_md block; body <= 20 KB; 100/minute; code != 0 fails."""

    kind = "feishu"
    platform_rate_per_minute = 100.0
    max_bytes = 18_000  # the whole request body must stay under 20 KB
    retry_codes = frozenset({11232})  # frequency limited

    def payload(self, title: str, text: str) -> dict[str, Any]:
        return {
            "msg_type": "interactive",
            "card": {
                "header": {"title": {"tag": "plain_text", "content": title}},
                "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": text}}],
            },
        }

    def sign(self, payload: dict[str, Any], now: float) -> tuple[dict[str, Any], dict[str, str]]:
        if not self._secret:
            return payload, {}
        ts = int(now)
        return {"timestamp": str(ts), "sign": feishu_sign(self._secret, ts), **payload}, {}

    def platform_error(self, body: Any) -> tuple[int, str] | None:
        # Current responses carry "code"; older ones only "StatusCode".
        return _errcode(body, "code") or _errcode(body, "StatusCode")


class GenericNotifier(_HttpNotifier):
    """Any HTTP endpoint: POST {"title", "text"}; only the HTTP status decides success."""

    kind = "generic"
    platform_rate_per_minute = 600.0


NOTIFIERS: Mapping[str, type[_HttpNotifier]] = {
    "wecom": WeComNotifier, "dingtalk": DingTalkNotifier, "feishu": FeishuNotifier, "generic": GenericNotifier,
}


def build_notifiers(report_settings: Any, client: Any | None = None, **overrides: Any) -> list[_HttpNotifier]:
    """One notifier per ``report.webhooks`` entry (``ReportSettings``); ``client`` an optional shared httpx.Client."""
    out = []
    for hook in report_settings.webhooks:
        cls = NOTIFIERS[hook.kind]
        options = {
            "departments": hook.departments,
            "client": client,
            "timeout_s": report_settings.webhook_timeout_s,
            "retries": report_settings.webhook_retries,
            "rate_per_minute": report_settings.webhook_rate_per_minute,
        } | overrides
        secret = hook.secret.get_secret_value() if hook.secret else None
        out.append(cls(hook.name, hook.url.get_secret_value(), secret, **options))
    return out

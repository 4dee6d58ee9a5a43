"""Values of inbox rows: which extra columns may be stored (contact columns never are) and the parsers of dates,
numbers and the agent channel. Used by :mod:`voc.ingest.inbox`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from voc.records import PII_PLACEHOLDER_RE

# Extra columns whose name says they hold contact data or a person's identity: never stored.
_CONTACT_WORDS = {"phone", "mobile", "tel", "telephone", "cell", "cellphone", "email", "mail", "address", "addr",
                  "name", "fullname", "contact", "wechat", "weixin", "wx", "qq", "idcard", "id_card", "passport",
                  "card", "account", "iban"}
_CONTACT_CJK = ("电话", "手机", "座机", "邮箱", "地址", "住址", "姓名", "名字", "联系", "微信", "身份证", "证件", "卡号", "账号")
# ... except where "name"/"card"/... is clearly about a thing, not a person: product_name, gift_card_type
_THING_WORDS = {"product", "item", "sku", "brand", "model", "store", "shop", "queue", "plan", "package", "gift", "type",
                "level", "tier", "file", "batch", "region", "city", "province"}


def is_contact_key(key: str) -> bool:
    """True when an extra column's name says it holds contact data (phone, e-mail, address, name...)."""
    low = str(key).strip().lower()
    if any(w in low for w in _CONTACT_CJK):
        return True
    words = [w for w in re.split(r"[^a-z0-9]+", low.replace("e-mail", "email")) if w]
    joined = "_".join(words)
    if not any(w in _CONTACT_WORDS for w in words) and not any(
            w in joined for w in ("phone", "mobile", "email", "address", "idcard", "id_card", "wechat")):
        return False
    return not any(w in _THING_WORDS for w in words)


def clean_attributes(attributes: dict[str, Any], redact: Callable[[str], str] | None) -> dict[str, Any]:
    """Extra columns as they may be stored: contact columns dropped, PII inside the others replaced by
    placeholders (``redact`` is the text stage's cleaner; a value without PII is kept as given)."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if is_contact_key(key):
            continue
        if redact is not None:
            cleaned = redact(str(value))
            if PII_PLACEHOLDER_RE.search(cleaned) and not PII_PLACEHOLDER_RE.search(str(value)):
                value = cleaned
        out[key] = value
    return out


# ---- values ----------------------------------------------------------------------------------
def parse_datetime(value: str, tz: ZoneInfo) -> dt.datetime:
    """ISO 8601 (with or without offset), 'YYYY-MM-DD HH:MM[:SS]', 'YYYY/MM/DD HH:MM[:SS]' or a date."""
    raw = value.strip()
    if not raw:
        raise ValueError("empty")
    candidate = raw.replace("/", "-")
    if candidate.endswith("Z"):
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(candidate)
    except ValueError:
        for fmt in ("%Y-%m-%d %H:%M", "%Y%m%d %H%M%S", "%Y%m%d%H%M%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日 %H:%M:%S"):
            try:
                parsed = dt.datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"'{raw}' is not a date-time (expected ISO 8601 such as 2026-11-20T10:02:00+08:00)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def parse_float(value: str | None, column: str) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        raise ValueError(f"{column} '{value}' is not a number") from None


def parse_agent_channel(value: str | None) -> int | None:
    v = (value or "").strip().lower()
    if v in ("", "mono", "none", "-"):
        return None
    if v in ("0", "left", "l"):
        return 0
    if v in ("1", "right", "r"):
        return 1
    raise ValueError(f"agent_channel '{value}' must be 0/left, 1/right, or empty for mono")

"""A hostile inbox: every way an inbox has hurt a night, in one folder, plus a folder outside it that must stay unread.

- calls.csv: a call whose file is ``../outside/secret.wav``, one with an absolute path, one through a symlink in
  recordings/ that points outside, a good call with an external transcript whose call id and customer id are phone
  numbers, and one short generated wav named after a phone number
- text/chats.jsonl: good chats, a 400,000-character chat, a phone number as customer id and as record id
- text/linked.jsonl: a symlink to a jsonl outside the inbox
- text/tickets.csv: good rows around one row with a 200,000-character cell
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import struct
import wave
from pathlib import Path

DAY = dt.date(2026, 11, 20)
MARKER = "OUTSIDE-SECRET-7f3a"  # in every file outside the inbox: must never reach the store or an export
PHONE_CUSTOMER = "13912345620"
PHONE_CALL = "13800138000"
PHONE_RECORD = "13700001111"
PHONE_FILE = "13600006666"
PHONES = (PHONE_CUSTOMER, PHONE_CALL, PHONE_RECORD, PHONE_FILE)
HUGE_CHAT_CHARS = 400_000
HUGE_CELL_CHARS = 200_000

COMPLAINTS = [
    "洗衣机漏水了，地上全是水，师傅什么时候上门", "空调不制冷，开了一晚上还是热", "退款一直没到账，已经等了一周",
    "快递三天了还没送到，物流也不更新", "电饭煲用了两天就坏了，要求换货", "客服电话一直打不通，排队半小时",
    "冰箱冷藏室结冰，食物都冻坏了", "热水器打不着火，洗不了澡", "洗衣机漏水，第二次报修了还没人来",
    "空调外机噪音很大，邻居投诉", "退款申请被拒绝了，理由说不清楚", "安装师傅迟到两个小时还态度差",
]


def write_wav(path: Path, seconds: float = 1.5, rate: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * 330 * i / rate))) for i in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


def _csv(rows: list[dict[str, str]], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _chat(i: int, text: str, **extra) -> dict:
    return {"id": f"CH{i:03d}", "text": text, "created_at": f"{DAY.isoformat()}T{9 + i % 10:02d}:{i % 60:02d}:00+08:00",
            "channel": "chat", "customer_id": f"U{i:04d}", "queue": "retail_after_sales", **extra}


def build_hostile_inbox(root: Path, wav: bool = True) -> tuple[Path, Path]:
    inbox, outside = root / "inbox", root / "outside"
    for folder in (inbox / "recordings", inbox / "transcripts", inbox / "text", outside):
        folder.mkdir(parents=True, exist_ok=True)
    # outside the inbox: files that look like inbox files and carry the marker
    write_wav(outside / "secret.wav")
    (outside / "secret.json").write_text(json.dumps({"utterances": [
        {"role": "customer", "start": 0, "end": 1, "text": f"{MARKER} 外部文件"}]}, ensure_ascii=False), encoding="utf-8")
    (outside / "chats.jsonl").write_text(json.dumps(_chat(900, f"{MARKER} 不该读到的聊天"), ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    (inbox / "recordings" / "evil.wav").symlink_to(outside / "secret.wav")
    (inbox / "transcripts" / "evil.json").symlink_to(outside / "secret.json")
    (inbox / "text" / "linked.jsonl").symlink_to(outside / "chats.jsonl")

    (inbox / "transcripts" / "T1.json").write_text(json.dumps({"utterances": [
        {"role": "agent", "start": 0.0, "end": 2.0, "text": "您好，海川智家售后，请问有什么可以帮您"},
        {"role": "customer", "start": 2.1, "end": 5.0, "text": "洗衣机漏水了，你们到底管不管，我要投诉"},
        {"role": "agent", "start": 5.1, "end": 7.0, "text": "非常抱歉，马上给您安排师傅上门"},
    ]}, ensure_ascii=False), encoding="utf-8")
    start = f"{DAY.isoformat()}T10:00:00+08:00"
    calls = [
        {"call_id": "OUT1", "file": "../outside/secret.wav", "start_time": start},
        {"call_id": "ABS1", "file": str(outside / "secret.wav"), "start_time": start},
        {"call_id": "LNK1", "file": "recordings/evil.wav", "start_time": start},
        {"call_id": "LNK2", "file": "transcripts/evil.json", "start_time": start},
        {"call_id": PHONE_CALL, "file": "transcripts/T1.json", "start_time": start, "customer_id": PHONE_CUSTOMER,
         "queue": "retail_after_sales"},
    ]
    if wav:
        write_wav(inbox / "recordings" / f"{PHONE_FILE}.wav")
        calls.append({"call_id": "W1", "file": f"recordings/{PHONE_FILE}.wav", "start_time": start,
                      "queue": "retail_after_sales", "customer_id": "U0500"})
    (inbox / "calls.csv").write_text(
        _csv(calls, ["call_id", "file", "start_time", "queue", "customer_id"]), encoding="utf-8")

    chats = [_chat(i, COMPLAINTS[i % len(COMPLAINTS)]) for i in range(24)]
    chats.append(_chat(30, "洗衣机又漏水了，上周已经投诉过一次", customer_id=PHONE_CUSTOMER))
    chats.append({**_chat(31, "空调不制冷，请尽快处理"), "id": PHONE_RECORD})
    huge = ("洗衣机漏水" * (HUGE_CHAT_CHARS // 5))[:HUGE_CHAT_CHARS]
    chats.append(_chat(32, huge))
    (inbox / "text" / "chats.jsonl").write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in chats), encoding="utf-8")

    tickets = [{"id": f"TK{i}", "text": COMPLAINTS[(i + 3) % len(COMPLAINTS)], "created_at": f"{DAY.isoformat()} 15:0{i}",
                "channel": "ticket", "note": "ok"} for i in range(6)]
    tickets[3]["note"] = "x" * HUGE_CELL_CHARS  # one oversized cell between good rows
    (inbox / "text" / "tickets.csv").write_text(
        _csv(tickets, ["id", "text", "created_at", "channel", "note"]), encoding="utf-8")
    return inbox, outside

"""Small builders shared by tests (audio files and inboxes written on the fly)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import struct
import wave
from pathlib import Path


def write_tone_wav(path: Path, seconds: float = 1.0, rate: int = 8000, channels: int = 2, freq: float = 440.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * rate)
    frames = bytearray()
    for i in range(n):
        v = int(8000 * math.sin(2 * math.pi * freq * i / rate))
        frames += struct.pack("<h", v) * channels
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return path


def write_calls_csv(path: Path, rows: list[dict], encoding: str = "utf-8") -> Path:
    cols = ["call_id", "file", "queue", "agent_id", "customer_id", "customer_tier", "customer_value", "start_time", "agent_channel"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_transcript(path: Path, call_id: str, utterances: list[tuple[str, float, float, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "call_id": call_id,
        "language": "zh",
        "model": "external",
        "utterances": [{"role": r, "start": s, "end": e, "text": t} for r, s, e, t in utterances],
    }
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def chromium_binary() -> str | None:
    """A chromium/chrome executable for the browser tests ($VOC_CHROMIUM first), or None."""
    for candidate in (os.environ.get("VOC_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (shutil.which(candidate) or Path(candidate).is_file()):
            return shutil.which(candidate) or candidate
    return None

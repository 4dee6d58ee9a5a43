#!/usr/bin/env python3
"""Generate the bundled demo inbox (demo/inbox, demo/bad_inbox, demo/scripts, demo/reference); seeded, re-runnable.

Needs: Python 3.11 with pypinyin and opencc-python-reimplemented (both in the project venv) and, for the
audio, the Debian tools espeak-ng, sox and ffmpeg:

    apt-get update && apt-get install -y espeak-ng sox ffmpeg
    .venv/bin/python demo/generate.py            # everything (about a minute)
    .venv/bin/python demo/generate.py --no-audio # texts, transcripts, calls.csv, bad_inbox only

The outputs are committed, so `make demo` never runs this. Everything it writes is invented here (CC0).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from content_calls import AUDIO_CALLS, TRANSCRIPT_CALLS  # noqa: E402
from content_text import (  # noqa: E402
    CITIES,
    CLOSERS_NEG,
    CLOSERS_NEU,
    CLOSERS_POS,
    COURIERS,
    EMERGING,
    OPENERS,
    PRODUCTS,
    SARCASM,
    THEMES,
    TYPOS,
)

SEED = 20261120
TZ = "+08:00"
LAST_DAY = dt.date(2026, 11, 20)
DAYS = [LAST_DAY - dt.timedelta(days=i) for i in range(29, -1, -1)]  # 30 business days ending 2026-11-20
CALL_COLUMNS = ["call_id", "file", "queue", "agent_id", "customer_id", "customer_tier", "customer_value",
                "start_time", "agent_channel", "product", "order_id", "region", "batch"]
TEXT_COLUMNS = ["id", "channel", "created_at", "customer_id", "customer_tier", "customer_value", "text",
                "product", "region", "order_id", "batch"]
BAD_CALL_COLUMNS, BAD_TEXT_COLUMNS = CALL_COLUMNS[:-1], TEXT_COLUMNS[:-1]  # the bad inbox keeps its old layout
# Earlier, unrelated contacts of silent X3 / B2311 owners: their order metadata is what the outreach list finds.
OWNER_ENQUIRIES = [
    "请问X3空调的保修期是多久？", "想问一下X3空调支持以旧换新吗", "X3空调能不能装在阳台上",
    "发票怎么开？需要提供什么信息", "请问下单后多久发货", "X3空调的说明书在哪里可以下载",
    "请问可以修改收货地址吗", "空调滤网多久清洗一次比较好？",
]
OWNER_CONTACTS = 15  # of the 25 silent owners; the other 10 never contacted us at all
VIP_CHAIN_CUSTOMER = "U0007"

# TTS settings chosen by measurement (see README: CER table). Agent and customer differ in voice, pitch and speed.
TTS_AGENT = {"voice": "cmn-latn-pinyin+f3", "speed": 130, "pitch": 60}
TTS_CUSTOMER = {"voice": "cmn-latn-pinyin+f5", "speed": 140, "pitch": 45}
TTS_RATE = 22050  # espeak-ng's output rate


# ---------------------------------------------------------------- customers

def make_customers(rng: random.Random, n: int = 1500) -> list[dict]:
    """Customer pool: ~5 % vip, 15 % gold, 80 % normal, with a CLV in yuan and a home region."""
    customers = []
    for i in range(1, n + 1):
        r = rng.random()
        tier = "vip" if r < 0.05 else "gold" if r < 0.20 else "normal"
        lo, hi = {"vip": (20000, 90000), "gold": (5000, 20000), "normal": (100, 5000)}[tier]
        customers.append({"customer_id": f"U{i:04d}", "customer_tier": tier,
                          "customer_value": round(rng.uniform(lo, hi), -1), "region": rng.choice(CITIES),
                          "product": "", "batch": "", "contacted_about_batch": ""})
    # Fixed people that the scripted calls and the repeat-contact chain refer to.
    by_id = {c["customer_id"]: c for c in customers}
    by_id[VIP_CHAIN_CUSTOMER].update(customer_tier="vip", customer_value=68000.0, region="上海")
    for call in AUDIO_CALLS + TRANSCRIPT_CALLS:
        c = by_id[call["customer_id"]]
        c["region"] = call["region"]
        if c["customer_id"] != VIP_CHAIN_CUSTOMER and c["customer_tier"] == "vip":
            c["customer_tier"], c["customer_value"] = "gold", 12000.0
    return customers


# ---------------------------------------------------------------- text complaints

def _fill(rng: random.Random, template: str, products: list[str]) -> tuple[str, str]:
    group = rng.choice(products)
    prod = rng.choice(PRODUCTS[group])
    text = template.format(
        prod=prod, n=rng.randint(2, 5), days=rng.choice([3, 4, 5, 6, 7, 8, 10, 12, 15]),
        money=rng.choice([19, 30, 50, 68, 100, 120, 158, 200, 300, 500]), city=rng.choice(CITIES),
        order=f"HC2026{rng.randint(9, 11):02d}{rng.randint(1, 28):02d}{rng.randint(0, 9999):04d}",
        courier=rng.choice(COURIERS), ver=rng.choice(["5.1", "5.1.2", "v5.1"]), phone=_fake_phone(rng),
    )
    return text, prod


def _fake_phone(rng: random.Random) -> str:
    return rng.choice(["138", "139", "136", "158", "186", "177"]) + f"{rng.randint(0, 99999999):08d}"


def _noisy(rng: random.Random, text: str, t2s_inverse) -> str:
    """Real-world messiness: typos, Traditional characters, full-width digits, sarcasm, phone numbers."""
    if rng.random() < 0.06:
        for a, b in TYPOS.items():
            if a in text:
                text = text.replace(a, b, 1)
                break
    if rng.random() < 0.05:
        text = text.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    if rng.random() < 0.04:
        text = f"{text.rstrip('。！？，')}，联系电话{_fake_phone(rng)}"
    if rng.random() < 0.04:
        text = t2s_inverse(text)
    return text


def _compose(rng: random.Random, theme: str, core: str, extra: str) -> str:
    if theme == "praise":
        closer = rng.choice(CLOSERS_POS)
    elif theme == "neutral_enquiry":
        closer = rng.choice(CLOSERS_NEU)
    else:
        closer = rng.choice(CLOSERS_NEG)
    opener = "" if theme in ("praise", "neutral_enquiry") and rng.random() < 0.7 else rng.choice(OPENERS)
    if closer.startswith("，") and core[-1:] in "？！。":
        closer = closer[1:]
    text = opener + core + closer
    if theme not in ("praise", "neutral_enquiry") and rng.random() < 0.05:
        text = f"{rng.choice(SARCASM)}，{text}"
    if theme not in ("praise", "neutral_enquiry") and rng.random() < 0.15:
        # A second complaint sentence from the same theme makes longer, multi-sentence tickets.
        text = text.rstrip("。！") + "。" + extra + "。"
    return text


def make_texts(rng: random.Random, customers: list[dict]) -> list[dict]:
    from opencc import OpenCC

    s2t = OpenCC("s2t").convert
    pool = [c for c in customers if c["customer_id"] != VIP_CHAIN_CUSTOMER]
    weights = [{"vip": 3, "gold": 1.5, "normal": 1}[c["customer_tier"]] for c in pool]
    themes = list(THEMES)
    shares = [THEMES[t]["share"] for t in themes]
    rows: list[dict] = []
    for day in DAYS:
        weekend = day.weekday() >= 5
        n = int(rng.gauss(62 if not weekend else 50, 6))
        for _ in range(n):
            theme = rng.choices(themes, shares)[0]
            spec = THEMES[theme]
            core, prod = _fill(rng, rng.choice(spec["cores"]), spec["products"])
            extra, _ = _fill(rng, rng.choice(spec["cores"]), spec["products"])
            rows.append(_text_row(rng, day, theme, _noisy(rng, _compose(rng, theme, core, extra), s2t), prod,
                                  rng.choices(pool, weights)[0]))
        n_emerging = EMERGING["per_day"].get(day.isoformat(), 0)
        x3_pool = [c for c in pool if c["region"] in EMERGING["regions"]]
        for _ in range(n_emerging):
            core, _ = _fill(rng, rng.choice(EMERGING["cores"]), ["aircon"])
            extra, _ = _fill(rng, rng.choice(EMERGING["cores"]), ["aircon"])
            cust = rng.choice(x3_pool)
            cust.update(product=EMERGING["product"], batch=EMERGING["batch"], contacted_about_batch="yes")
            row = _text_row(rng, day, EMERGING["theme"], _noisy(rng, _compose(rng, "x3_leak", core, extra), s2t),
                            EMERGING["product"], cust)
            rows.append(row)
    rows += _vip_chain(customers)
    rows.sort(key=lambda r: r["created_at"])
    for i, row in enumerate(rows, 1):
        row["id"] = f"T{i:05d}"
    return rows


def _text_row(rng: random.Random, day: dt.date, theme: str, text: str, prod: str, cust: dict) -> dict:
    minute = rng.randint(7 * 60, 23 * 60 + 30)
    created = f"{day.isoformat()}T{minute // 60:02d}:{minute % 60:02d}:{rng.randint(0, 59):02d}{TZ}"
    channel = rng.choices(["chat", "ticket", "review"], [0.5, 0.3, 0.2])[0]
    order = f"HC{day:%Y%m%d}{rng.randint(0, 9999):04d}" if channel != "review" and rng.random() < 0.4 else ""
    return {"id": "", "channel": channel, "created_at": created, "customer_id": cust["customer_id"],
            "customer_tier": cust["customer_tier"], "customer_value": cust["customer_value"], "text": text,
            "product": prod if rng.random() < 0.8 else "", "region": cust["region"], "order_id": order,
            "_theme": theme}


def _vip_chain(customers: list[dict]) -> list[dict]:
    """One VIP contacts three times in a week about the same washer fault: chat, ticket, then call C003."""
    vip = next(c for c in customers if c["customer_id"] == VIP_CHAIN_CUSTOMER)
    base = {"customer_id": vip["customer_id"], "customer_tier": vip["customer_tier"],
            "customer_value": vip["customer_value"], "product": "W7滚筒洗衣机", "region": "上海",
            "order_id": "HC202610280021", "_theme": "faulty_repair"}
    return [
        {**base, "id": "", "channel": "chat", "created_at": f"2026-11-14T20:41:00{TZ}",
         "text": "你好，我家W7滚筒洗衣机坏了，洗到一半不排水，屏幕显示E21，衣服泡在水里，想报修。"},
        {**base, "id": "", "channel": "ticket", "created_at": f"2026-11-17T08:55:00{TZ}",
         "text": "14号在线客服说会安排师傅上门维修，到今天都没人联系。W7洗衣机还是不排水、报E21，"
                 "我是你们的VIP会员，请尽快上门维修。地址是上海市浦东新区芳华路88弄6号，电话13812345678。"},
    ]


def add_batch_metadata(texts: list[dict], owners: list[dict], rng: random.Random) -> list[dict]:
    """Batch numbers on X3 leak complaints (60 % of complainers quote it) and one earlier, unrelated enquiry
    from each of the first OWNER_CONTACTS silent B2311 owners, carrying their order's product and batch.

    Runs after the main texts with its own random stream, so the other texts keep their content and ids.
    """
    for row in texts:
        row["batch"] = EMERGING["batch"] if row["_theme"] == EMERGING["theme"] and rng.random() < 0.6 else ""
    start = dt.date.fromisoformat(EMERGING["start"])
    extra = []
    for n, cust in enumerate(sorted(owners, key=lambda c: c["customer_id"])[:OWNER_CONTACTS]):
        day = start - dt.timedelta(days=rng.randint(6, 27))
        minute = rng.randint(8 * 60, 22 * 60)
        extra.append({
            "id": f"T{len(texts) + n + 1:05d}", "channel": rng.choice(["chat", "ticket"]),
            "created_at": f"{day.isoformat()}T{minute // 60:02d}:{minute % 60:02d}:{rng.randint(0, 59):02d}{TZ}",
            "customer_id": cust["customer_id"], "customer_tier": cust["customer_tier"],
            "customer_value": cust["customer_value"], "text": rng.choice(OWNER_ENQUIRIES),
            "product": EMERGING["product"], "region": cust["region"],
            "order_id": f"HC{day:%Y%m%d}{rng.randint(0, 9999):04d}", "batch": EMERGING["batch"],
            "_theme": "neutral_enquiry",
        })
    return sorted(texts + extra, key=lambda r: r["created_at"])


# ---------------------------------------------------------------- calls: transcripts and audio

def _timed_turns(turns: list[tuple], rng: random.Random) -> list[dict]:
    """Realistic timings for transcript calls: ~4.3 characters a second, short gaps between turns."""
    t, out = rng.uniform(0.3, 0.8), []
    for role, text in turns:
        dur = max(0.8, len(text) / rng.uniform(3.8, 4.8))
        out.append({"role": "agent" if role == "a" else "customer", "start": round(t, 2), "end": round(t + dur, 2),
                    "text": text})
        t += dur + rng.uniform(0.3, 1.2)
    return out


def write_transcripts(inbox: Path, rng: random.Random) -> list[dict]:
    (inbox / "transcripts").mkdir(parents=True, exist_ok=True)
    for old in (inbox / "transcripts").glob("*.json"):
        old.unlink()
    rows = []
    for call in TRANSCRIPT_CALLS:
        utts = _timed_turns(call["turns"], rng)
        doc = {"call_id": call["call_id"], "language": "zh", "model": "external",
               "duration_s": round(utts[-1]["end"] + 0.8, 1), "utterances": utts}
        path = inbox / "transcripts" / f"{call['call_id']}.json"
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        rows.append(_call_row(call, f"transcripts/{call['call_id']}.json", agent_channel=""))
    return rows


def _pinyin(text: str) -> str:
    from pypinyin import Style, lazy_pinyin

    # Punctuation stays in the stream so espeak-ng pauses at commas and full stops.
    return " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))


def _speak(text: str, tts: dict, workdir: Path) -> np.ndarray:
    out = workdir / "utt.wav"
    subprocess.run(["espeak-ng", "-v", tts["voice"], "-s", str(tts["speed"]), "-p", str(tts["pitch"]),
                    "-w", str(out), _pinyin(text)], check=True)
    with wave.open(str(out)) as w:
        if w.getframerate() != TTS_RATE or w.getnchannels() != 1:
            raise RuntimeError(f"espeak-ng wrote {w.getframerate()} Hz / {w.getnchannels()} ch, expected {TTS_RATE} mono")
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    voiced = np.flatnonzero(np.abs(pcm) > 0.01)  # trim espeak's lead-in/out so timings mark speech
    return pcm[voiced[0]: voiced[-1] + 1] if voiced.size else pcm


def render_call(call: dict, out_path: Path, tts_agent: dict, tts_customer: dict) -> tuple[list[dict], float]:
    """Speak each turn, lay the turns on a two-channel timeline, band-limit/resample with sox, encode with ffmpeg."""
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        t, prev_end, placed = 0.0, 0.0, []
        for role, text, gap in call["turns"]:
            pcm = _speak(text, tts_agent if role == "a" else tts_customer, tmpdir)
            start = max(0.0, prev_end + gap)
            placed.append((role, text, start, pcm))
            prev_end = start + len(pcm) / TTS_RATE
            t = max(t, prev_end)
        total = t + 0.6
        stereo = np.zeros((int(total * TTS_RATE) + 1, 2), dtype=np.float32)
        utts = []
        for role, text, start, pcm in placed:
            ch = call["agent_channel"] if role == "a" else 1 - call["agent_channel"]
            i = int(start * TTS_RATE)
            stereo[i: i + len(pcm), ch] += pcm * 0.8
            utts.append({"role": "agent" if role == "a" else "customer", "start": round(start, 2),
                         "end": round(start + len(pcm) / TTS_RATE, 2), "text": text})
        raw = tmpdir / "raw.wav"
        with wave.open(str(raw), "wb") as w:
            w.setnchannels(2), w.setsampwidth(2), w.setframerate(TTS_RATE)
            w.writeframes((np.clip(stereo, -1, 1) * 32767).astype("<i2").tobytes())
        shaped = tmpdir / "shaped.wav"
        effects = ["sinc", "300-3400"] if call["band"] == "telephone" else []
        subprocess.run(["sox", "-D", str(raw), "-r", str(call["rate"]), str(shaped), *effects], check=True)
        codec_args = {
            "pcm_s16le": ["-c:a", "pcm_s16le"], "pcm_mulaw": ["-c:a", "pcm_mulaw"], "flac": ["-c:a", "flac"],
            "libmp3lame": ["-c:a", "libmp3lame", "-b:a", "32k" if call["rate"] == 16000 else "16k"],
            # mapping family 255 codes the channels independently: joint stereo at 24k leaks one into the other.
            "libopus": ["-c:a", "libopus", "-b:a", "24k", "-mapping_family", "255"],
            "libvorbis": ["-c:a", "libvorbis", "-q:a", "1"],
        }[call["codec"]]
        out_path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(shaped), *codec_args,
                        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", str(out_path)],
                       check=True)
    return utts, round(total, 2)


def write_audio_calls(inbox: Path, scripts_dir: Path, tts_agent: dict, tts_customer: dict, audio: bool) -> list[dict]:
    rows = []
    scripts_dir.mkdir(parents=True, exist_ok=True)
    if audio:  # start clean so renamed or re-encoded calls leave no stale files behind
        for old in [*(inbox / "recordings").glob("*"), *scripts_dir.glob("*.json")]:
            old.unlink()
    for call in AUDIO_CALLS:
        rel = f"recordings/{call['call_id']}.{call['ext']}"
        script_path = scripts_dir / f"{call['call_id']}.json"
        if audio:
            utts, duration = render_call(call, inbox / rel, tts_agent, tts_customer)
            # Opus always decodes at 48 kHz, whatever rate went in.
            decoded_rate = 48000 if call["codec"] == "libopus" else call["rate"]
            script = {"call_id": call["call_id"], "file": rel, "codec": call["codec"], "sample_rate": decoded_rate,
                      "content_rate": call["rate"], "band": call["band"], "channels": 2,
                      "agent_channel": call["agent_channel"], "duration_s": duration, "topic": call["topic"],
                      "tts": {"agent": tts_agent, "customer": tts_customer, "engine": "espeak-ng + pypinyin TONE3"},
                      "utterances": utts}
            script_path.write_text(json.dumps(script, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        elif not script_path.exists():
            raise SystemExit(f"{script_path}: missing; run without --no-audio once to render the audio calls")
        rows.append(_call_row(call, rel, agent_channel=str(call["agent_channel"])))
    return rows


def _call_row(call: dict, rel: str, agent_channel: str) -> dict:
    return {"call_id": call["call_id"], "file": rel, "queue": call["queue"], "agent_id": call["agent_id"],
            "customer_id": call["customer_id"], "customer_tier": "", "customer_value": "",
            "start_time": call["start_time"], "agent_channel": agent_channel, "product": call["product"],
            "order_id": call["order_id"], "region": call["region"], "batch": call.get("batch", "")}


# ---------------------------------------------------------------- bad inbox

def write_bad_inbox(bad: Path) -> None:
    """Tiny inbox of broken inputs for the quarantine path; each file is described in bad_inbox/README.md."""
    if bad.exists():
        for p in sorted(bad.rglob("*"), reverse=True):
            if p.name != "README.md":
                p.unlink() if p.is_file() else p.rmdir()
    rec = bad / "recordings"
    rec.mkdir(parents=True, exist_ok=True)
    (rec / "B001_empty.wav").write_bytes(b"")
    tone = (np.sin(2 * np.pi * 440 * np.arange(8000) / 8000) * 8000).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(tone.tobytes())
    full = buf.getvalue()
    (rec / "B002_header_only.wav").write_bytes(full[:44])
    (rec / "B003_truncated.wav").write_bytes(full[:44 + 2000])  # header says 1 s, only 1000 samples follow
    (rec / "B004_not_audio.wav").write_bytes("这不是音频文件，只是一段改了扩展名的文字。\n".encode())
    (rec / "B005_notes.txt").write_text("agent notes, not a recording\n", encoding="utf-8")
    (rec / "B006_unknown.xyz").write_bytes(bytes(range(256)))
    (rec / "B007_ok.wav").write_bytes(full)  # a good mono file
    other = (np.sin(2 * np.pi * 880 * np.arange(8000) / 8000) * 8000).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(other.tobytes())
    (rec / "B007_dup.wav").write_bytes(buf.getvalue())  # same call id B007, different audio and metadata
    rows = [
        ["B001", "recordings/B001_empty.wav", "retail_after_sales", "A102", "U0001", "normal", "300",
         "2026-11-20T09:00:00+08:00", "", "", "", "杭州"],
        ["B002", "recordings/B002_header_only.wav", "retail_after_sales", "A102", "U0002", "normal", "",
         "2026-11-20T09:05:00+08:00", "", "", "", ""],
        ["B003", "recordings/B003_truncated.wav", "retail_after_sales", "A105", "U0003", "gold", "8000",
         "2026-11-20T09:10:00+08:00", "", "", "", ""],
        ["B004", "recordings/B004_not_audio.wav", "retail_after_sales", "A105", "U0004", "normal", "",
         "2026-11-20T09:15:00+08:00", "", "", "", ""],
        ["B005", "recordings/B005_notes.txt", "retail_after_sales", "A107", "U0005", "normal", "",
         "2026-11-20T09:20:00+08:00", "", "", "", ""],
        ["B006", "recordings/B006_unknown.xyz", "telecom_billing", "B201", "U0006", "normal", "",
         "2026-11-20T09:25:00+08:00", "", "", "", ""],
        ["B007", "recordings/B007_ok.wav", "retail_after_sales", "A110", "U0008", "normal", "",
         "2026-11-20T09:30:00+08:00", "", "", "", "上海"],
        ["B007", "recordings/B007_dup.wav", "telecom_billing", "B204", "U0009", "vip", "50000",
         "2026-11-20T11:45:00+08:00", "", "", "", "北京"],
        ["B008", "recordings/B008_missing.wav", "retail_after_sales", "A110", "U0010", "normal", "",
         "2026-11-20T09:35:00+08:00", "", "", "", ""],
        ["B009", "recordings/B007_ok.wav", "retail_after_sales", "A113", "U0011", "normal", "",
         "2026年11月20日 上午十点", "", "", "", ""],
    ]
    with open(bad / "calls.csv", "w", encoding="gbk", newline="") as f:  # GBK, not UTF-8
        writer = csv.writer(f)
        writer.writerow(BAD_CALL_COLUMNS)
        writer.writerows(rows)
    text = bad / "text"
    text.mkdir(exist_ok=True)
    with open(text / "bom_tickets.csv", "w", encoding="utf-8-sig", newline="") as f:  # UTF-8 with a BOM
        writer = csv.writer(f)
        writer.writerow(BAD_TEXT_COLUMNS)
        writer.writerow(["BT001", "ticket", "2026-11-20T10:00:00+08:00", "U0012", "normal", "500",
                         "洗衣机不排水，师傅还没来", "W7滚筒洗衣机", "杭州", ""])
        writer.writerow(["BT002", "chat", "20/11/2026 25:61", "U0013", "normal", "",
                         "日期写错了的一条", "", "", ""])
    with open(text / "missing_columns.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])  # no channel, created_at, customer_id ...
        writer.writerow(["BM001", "缺少必填列的一条投诉"])
    (text / "broken.jsonl").write_text(
        '{"id": "BJ001", "channel": "chat", "created_at": "2026-11-20T10:30:00+08:00", "customer_id": "U0014", '
        '"customer_tier": "normal", "customer_value": 100, "text": "正常的一行", "product": "", "region": "", "order_id": ""}\n'
        '{"id": "BJ002", "channel": "chat", "created_at": "2026-11-20T10:31:00+08:00", "text": "没有结尾的一行\n'
        '{"id": "BJ003", "channel": "fax", "created_at": "not a date", "customer_id": "U0015", "text": "未知渠道"}\n',
        encoding="utf-8")


# ---------------------------------------------------------------- main

def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE, help="folder to write inbox/, bad_inbox/, scripts/, reference/ into")
    ap.add_argument("--no-audio", action="store_true", help="keep the existing recordings and scripts")
    ap.add_argument("--agent-voice", default=TTS_AGENT["voice"])
    ap.add_argument("--agent-speed", type=int, default=TTS_AGENT["speed"])
    ap.add_argument("--agent-pitch", type=int, default=TTS_AGENT["pitch"])
    ap.add_argument("--customer-voice", default=TTS_CUSTOMER["voice"])
    ap.add_argument("--customer-speed", type=int, default=TTS_CUSTOMER["speed"])
    ap.add_argument("--customer-pitch", type=int, default=TTS_CUSTOMER["pitch"])
    args = ap.parse_args(argv)
    if not args.no_audio:
        missing = [t for t in ("espeak-ng", "sox", "ffmpeg") if shutil.which(t) is None]
        if missing:
            raise SystemExit(f"missing {', '.join(missing)}: apt-get update && apt-get install -y espeak-ng sox ffmpeg")
    rng = random.Random(SEED)
    out: Path = args.out
    inbox, ref = out / "inbox", out / "reference"
    tts_agent = {"voice": args.agent_voice, "speed": args.agent_speed, "pitch": args.agent_pitch}
    tts_customer = {"voice": args.customer_voice, "speed": args.customer_speed, "pitch": args.customer_pitch}

    customers = make_customers(rng)
    by_id = {c["customer_id"]: c for c in customers}
    texts = make_texts(rng, customers)
    # Customers with an X3 of batch B2311 in the affected regions who have not contacted anyone (yet).
    silent = [c for c in customers if c["region"] in EMERGING["regions"] and not c["contacted_about_batch"]
              and c["customer_id"] not in {r["customer_id"] for r in texts}]
    owners = random.Random(SEED + 1).sample(silent, min(25, len(silent)))
    for c in owners:
        c.update(product=EMERGING["product"], batch=EMERGING["batch"], contacted_about_batch="no")
    texts = add_batch_metadata(texts, owners, random.Random(SEED + 2))

    review_rows = [r for r in texts if r["channel"] == "review"][::4]  # a quarter of reviews arrive as CSV
    csv_ids = {r["id"] for r in review_rows}
    (inbox / "text").mkdir(parents=True, exist_ok=True)
    with open(inbox / "text" / "complaints.jsonl", "w", encoding="utf-8") as f:
        for r in texts:
            if r["id"] not in csv_ids:
                f.write(json.dumps({k: r[k] for k in TEXT_COLUMNS}, ensure_ascii=False) + "\n")
    _write_csv(inbox / "text" / "reviews.csv", TEXT_COLUMNS, review_rows)
    _write_csv(ref / "complaint_themes.csv", ["id", "theme"], [{"id": r["id"], "theme": r["_theme"]} for r in texts])
    _write_csv(ref / "customers.csv", ["customer_id", "customer_tier", "customer_value", "region", "product", "batch",
                                       "contacted_about_batch"], customers)

    call_rows = write_audio_calls(inbox, out / "scripts", tts_agent, tts_customer, audio=not args.no_audio)
    call_rows += write_transcripts(inbox, rng)
    for row in call_rows:
        c = by_id[row["customer_id"]]
        row["customer_tier"], row["customer_value"] = c["customer_tier"], c["customer_value"]
    call_rows[-1]["customer_value"] = ""  # one call without a CLV, as the format allows
    call_rows.sort(key=lambda r: r["start_time"])
    _write_csv(inbox / "calls.csv", CALL_COLUMNS, call_rows)
    write_bad_inbox(out / "bad_inbox")
    print(f"wrote {len(texts)} texts, {len(call_rows)} calls, {len(customers)} customers under {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

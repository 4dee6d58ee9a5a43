#!/usr/bin/env python3
"""Measure Whisper's character error rate on the demo audio calls against their scripts (demo/scripts/*.json).

    .venv/bin/python demo/measure_cer.py --model /tmp/whisper-base [--inbox demo/inbox --scripts demo/scripts]

--model is a CTranslate2 Whisper directory (model.bin, config.json, tokenizer.json, vocabulary.json). Each stereo
channel is transcribed on its own (language zh, int8 on CPU), converted to Simplified with OpenCC, and compared
character by character with what was spoken, after dropping punctuation and writing digits one way (幺/1 -> 一).
"""

from __future__ import annotations

import argparse
import json
import time
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
DIGITS = str.maketrans({"0": "零", "1": "一", "2": "二", "3": "三", "4": "四", "5": "五", "6": "六", "7": "七",
                        "8": "八", "9": "九", "幺": "一", "〇": "零", "两": "二"})


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(DIGITS).lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def edit_distance(ref: str, hyp: str) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="CTranslate2 Whisper model directory")
    ap.add_argument("--inbox", type=Path, default=HERE / "inbox")
    ap.add_argument("--scripts", type=Path, default=HERE / "scripts")
    ap.add_argument("--beam-size", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the per-call results here")
    args = ap.parse_args(argv)

    from faster_whisper import WhisperModel, decode_audio
    from opencc import OpenCC

    t2s = OpenCC("t2s").convert
    model = WhisperModel(str(args.model), device="cpu", compute_type="int8", cpu_threads=args.threads)
    rows, tot_err, tot_ref, tot_audio = [], 0, 0, 0.0
    started = time.perf_counter()
    for path in sorted(args.scripts.glob("*.json")):
        script = json.loads(path.read_text(encoding="utf-8"))
        channels = decode_audio(str(args.inbox / script["file"]), sampling_rate=16000, split_stereo=True)
        row = {"call_id": script["call_id"], "file": script["file"], "band": script["band"]}
        for role in ("agent", "customer"):
            ch = script["agent_channel"] if role == "agent" else 1 - script["agent_channel"]
            segments, _ = model.transcribe(channels[ch], language="zh", beam_size=args.beam_size, vad_filter=True)
            hyp = normalise(t2s("".join(s.text for s in segments)))
            ref = normalise("".join(u["text"] for u in script["utterances"] if u["role"] == role))
            err = edit_distance(ref, hyp)
            row[f"{role}_cer"] = round(err / len(ref), 3)
            row[f"{role}_hyp"] = hyp
            tot_err, tot_ref = tot_err + err, tot_ref + len(ref)
        tot_audio += script["duration_s"]
        rows.append(row)
        print(f"{row['call_id']} {row['band']:9s} agent CER {row['agent_cer']:.3f}  customer CER {row['customer_cer']:.3f}",
              flush=True)
    summary = {"calls": len(rows), "cer": round(tot_err / tot_ref, 3), "ref_chars": tot_ref, "audio_s": round(tot_audio, 1),
               "seconds": round(time.perf_counter() - started, 1), "model": str(args.model), "beam_size": args.beam_size}
    print(json.dumps(summary, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "calls": rows}, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

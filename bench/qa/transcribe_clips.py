"""Transcribe the MagicData and tel8k_sim clips with real Whisper base; cache hypotheses as JSON.

The cache holds text derived from research-only data, so it goes to /tmp, never into the repo.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--model", default="/work/main/voc-data/models/whisper-base",
                    help="faster-whisper model dir (falls back to /tmp/qa-whisper-base when missing)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/voc-qa-bench/asr.json"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    from faster_whisper import WhisperModel

    model_dir = args.model if Path(args.model).is_dir() else "/tmp/qa-whisper-base"
    model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=args.threads)
    asr = args.data / "asr"
    with open(asr / "transcripts.tsv", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)][1:]
    rows = [r for r in rows if r[0].startswith(("magicdata_cs_16k/", "tel8k_sim/"))]
    out: list[dict] = []
    t0 = time.time()
    for file, ref in rows:
        segments, _ = model.transcribe(str(asr / file), language="zh", beam_size=5, vad_filter=False)
        hyp = "".join(s.text for s in segments).strip()
        out.append({"file": file, "ref": ref, "hyp": hyp})
        print(f"{file}\t{ref}\t{hyp}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": model_dir, "seconds": round(time.time() - t0, 1), "clips": out},
                                   ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"wrote {args.out} ({len(out)} clips, {time.time() - t0:.0f}s)")


if __name__ == "__main__":
    main()

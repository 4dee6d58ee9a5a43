"""One long simulated phone call (the ablation's 8 kHz calls joined, ~4 min): CER and guard drops with
condition_on_previous_text on and off, to see whether conditioning starts repetition loops on long audio.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/asr/long_call.py   # after ablation.py --calls 8
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ablation import build_calls, load_refs  # noqa: E402

from voc.config import AsrSettings  # noqa: E402
from voc.transcribe import AsrEngine, cer, decode_audio  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/asr"))
    ap.add_argument("--models-dir", type=Path, default=Path("voc-data/models"))
    ap.add_argument("--sim-dir", type=Path, default=Path("/tmp/voc-tel8k-extra"))
    ap.add_argument("--calls", type=int, default=8)
    ap.add_argument("--out", type=Path, default=Path("bench/asr/results_long_call.json"))
    args = ap.parse_args()
    calls = build_calls(args.data, load_refs(args.data), args.calls, args.sim_dir / "calls")
    eight = sorted(k for k in calls if k.startswith("call8k/"))
    samples = np.concatenate([decode_audio(calls[k][0]).channels[0] for k in eight])
    ref = "".join(calls[k][1] for k in eight)
    out = {"audio_s": round(len(samples) / 16000, 1)}
    for cond in (True, False):
        engine = AsrEngine(AsrSettings(device="cpu", cpu_threads=1, condition_on_previous_text=cond), args.models_dir)
        c0 = time.process_time()
        segs = engine.transcribe_samples(samples)
        from voc.transcribe import guard_segments

        kept, dropped = guard_segments(segs, engine.settings)
        out[f"condition={cond}"] = {"cer": round(cer(ref, "".join(s.text for s in kept)), 4), "segments": len(segs),
                                    "dropped": [d["reason"] for d in dropped], "cpu_s": round(time.process_time() - c0, 1)}
        print(cond, json.dumps(out[f"condition={cond}"]), flush=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""voc's transcription throughput against calling faster-whisper directly on the same files and settings.

    .venv/bin/python bench/asr/overhead.py --data ../shared/data/asr --models-dir voc-data/models --clips 30

Both paths use the same loaded WhisperModel and the same decoding options. "raw" is what a user would write:
``model.transcribe(path, ...)`` on the file and consume the segments. "voc" is ``AsrEngine.transcribe_call``:
decode + channel split + resample, the same transcribe, guards, Simplified conversion, merge and call metrics.
Runs alternate (raw, voc, raw, voc ...) so machine load hits both alike; CPU seconds (all threads of this
process) are the comparable figure on a shared machine, wall seconds are reported too.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

from voc.config import AsrSettings
from voc.transcribe import AsrEngine
from voc.transcribe.engine import transcribe_kwargs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/asr"))
    ap.add_argument("--models-dir", type=Path, default=Path("voc-data/models"))
    ap.add_argument("--clips", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2, help="passes over the clips (the first warms caches)")
    ap.add_argument("--out", type=Path, default=Path("bench/asr/results_overhead.json"))
    args = ap.parse_args()

    with (args.data / "clips.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    col = "path" if "path" in rows[0] else next(iter(rows[0]))
    clips = [args.data / r[col] for r in rows][: args.clips]
    engine = AsrEngine(AsrSettings(), args.models_dir)
    s = engine.settings
    options = transcribe_kwargs(s, engine.initial_prompt, engine.hotwords)  # exactly what voc passes
    totals = {"raw": [0.0, 0.0], "voc": [0.0, 0.0]}
    for rnd in range(args.rounds):
        for path in clips:
            for name in ("raw", "voc"):
                t0, c0 = time.perf_counter(), time.process_time()
                if name == "raw":
                    segments, _info = engine.model.transcribe(str(path), **options)
                    _ = [seg.text for seg in segments]
                else:
                    engine.transcribe_call(path, path.stem, None)
                if rnd > 0 or args.rounds == 1:
                    totals[name][0] += time.perf_counter() - t0
                    totals[name][1] += time.process_time() - c0
    result = {
        "clips": len(clips), "rounds_counted": max(args.rounds - 1, 1),
        "raw_wall_s": round(totals["raw"][0], 2), "voc_wall_s": round(totals["voc"][0], 2),
        "raw_cpu_s": round(totals["raw"][1], 2), "voc_cpu_s": round(totals["voc"][1], 2),
        "throughput_ratio_wall": round(totals["raw"][0] / totals["voc"][0], 3),
        "throughput_ratio_cpu": round(totals["raw"][1] / totals["voc"][1], 3),
        "loadavg": os.getloadavg(), "options": options,
    }
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()

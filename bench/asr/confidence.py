"""How utterance confidence (voc.records.asr_confidence) relates to recognition errors on the shared clips.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/asr/confidence.py --limit-16k 20

Each shared clip is one sentence, so a clip's transcript is one or a few utterances: the clip's confidence is the
character-weighted mean of its utterances'. Reported: Spearman correlation between confidence and the clip's
character accuracy (1 - CER, floored at 0), and the CER of the clips below / above confidence thresholds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ablation import load_refs  # noqa: E402

from voc.config import AsrSettings  # noqa: E402
from voc.transcribe import AsrEngine, normalise_for_cer  # noqa: E402
from voc.transcribe.scoring import edit_distance  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/asr"))
    ap.add_argument("--models-dir", type=Path, default=Path("voc-data/models"))
    ap.add_argument("--limit-16k", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path("bench/asr/results_confidence.json"))
    args = ap.parse_args()
    refs = load_refs(args.data)
    keys = sorted(k for k in refs if k.startswith("tel8k_sim/"))
    for folder in ("magicdata_cs_16k/", "aishell1_16k/"):
        keys += sorted(k for k in refs if k.startswith(folder))[: args.limit_16k]
    engine = AsrEngine(AsrSettings(device="cpu", cpu_threads=1), args.models_dir)
    rows = []
    for k in keys:
        t = engine.transcribe_call(args.data / k, k)
        ref = normalise_for_cer(refs[k])
        hyp = normalise_for_cer("".join(u.text for u in t.utterances))
        weights = [max(len(normalise_for_cer(u.text)), 1) for u in t.utterances]
        conf = float(np.average([u.confidence for u in t.utterances], weights=weights)) if t.utterances else 0.0
        rows.append({"clip": k, "confidence": round(conf, 4), "edits": edit_distance(ref, hyp), "chars": len(ref)})
    conf = np.array([r["confidence"] for r in rows])
    acc = np.array([max(0.0, 1 - r["edits"] / r["chars"]) for r in rows])

    def rank(x: np.ndarray) -> np.ndarray:
        return np.argsort(np.argsort(x)).astype(float)

    spearman = float(np.corrcoef(rank(conf), rank(acc))[0, 1])
    bins = {}
    for lo, hi in ((0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 1.01)):
        sel = [r for r in rows if lo <= r["confidence"] < hi]
        if sel:
            bins[f"{lo:.1f}-{min(hi, 1.0):.1f}"] = {"clips": len(sel),
                                                     "cer": round(sum(r["edits"] for r in sel) / sum(r["chars"] for r in sel), 4)}
    result = {"clips": len(rows), "spearman_confidence_vs_accuracy": round(spearman, 3), "cer_by_confidence": bins,
              "rows": rows}
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, ensure_ascii=False))


if __name__ == "__main__":
    main()

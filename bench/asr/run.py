"""ASR benchmark: CER per folder of the shared clips, real-time factor, sequential vs batched, beam 1 vs 5.

    .venv/bin/python bench/asr/run.py --data ../shared/data/asr --models-dir voc-data/models
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from voc.config import AsrSettings
from voc.transcribe import AsrEngine, cer, decode_audio, normalise_for_cer
from voc.transcribe.audio import SAMPLE_RATE
from voc.transcribe.scoring import edit_distance

# Domain vocabulary a customer-service site would configure (products, services, app names). Written
# for the MagicData scenes (insurance/education/finance/tourism), so it favours that folder.
HOTWORDS = ["理财产品", "申购", "赎回", "手续费", "保险", "保单", "理赔", "投保", "课程", "学费", "退款",
            "订单", "机票", "酒店", "客服", "APP", "Java", "4G", "信用卡", "账户"]

CONFIGS: dict[str, dict] = {
    "beam5": {"beam_size": 5},
    "beam1": {"beam_size": 1},
    "beam5+prompt": {"beam_size": 5, "initial_prompt": "以下是普通话客服电话录音。"},
    "beam5+hotwords": {"beam_size": 5, "hotwords": HOTWORDS},
    "batched8": {"beam_size": 5, "batch_size": 8},
}


def load_refs(data: Path) -> dict[str, str]:
    with (data / "transcripts.tsv").open(encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(rows)
        return {r[0]: r[1] for r in rows}


def per_clip(engine: AsrEngine, data: Path, refs: dict[str, str], limit: int | None) -> dict:
    by_folder: dict[str, list[tuple[int, int]]] = {}
    audio_s = wall = cpu = 0.0
    items = sorted(refs.items())
    if limit:
        items = items[:limit]
    for rel, ref in items:
        path = data / rel
        decoded = decode_audio(path)
        t0, c0 = time.perf_counter(), time.process_time()
        tr = engine.transcribe_call(path, rel, None)
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        audio_s += decoded.duration_s
        hyp = "".join(u.text for u in tr.utterances)
        r, h = normalise_for_cer(ref), normalise_for_cer(hyp)
        by_folder.setdefault(rel.split("/")[0], []).append((edit_distance(r, h), len(r)))
    out = {f: round(sum(e for e, _ in v) / sum(n for _, n in v), 4) for f, v in sorted(by_folder.items())}
    all_pairs = [p for v in by_folder.values() for p in v]
    out["all"] = round(sum(e for e, _ in all_pairs) / sum(n for _, n in all_pairs), 4)
    return {"cer": out, "clips": len(items), "audio_s": round(audio_s, 1), "wall_s": round(wall, 1),
            "rtf": round(wall / audio_s, 3), "cpu_s": round(cpu, 1), "cpu_rtf": round(cpu / audio_s, 3)}


def long_file(engine: AsrEngine, data: Path, refs: dict[str, str], n: int, gap_s: float) -> dict:
    """All clips joined into one long recording (as a call is), to measure chunking/batching."""
    pieces, ref_text = [], []
    gap = np.zeros(int(gap_s * SAMPLE_RATE), dtype=np.float32)
    for rel, ref in sorted(refs.items())[:n]:
        pieces += [decode_audio(data / rel).channels[0], gap]
        ref_text.append(ref)
    samples = np.concatenate(pieces)
    t0, c0 = time.perf_counter(), time.process_time()
    segs = engine.transcribe_samples(samples)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    audio_s = len(samples) / SAMPLE_RATE
    return {"clips": n, "audio_s": round(audio_s, 1), "wall_s": round(wall, 1), "rtf": round(wall / audio_s, 3),
            "cpu_s": round(cpu, 1), "cpu_rtf": round(cpu / audio_s, 3),
            "cer": round(cer("".join(ref_text), "".join(s.text for s in segs)), 4)}


def markdown(results: list[dict]) -> str:
    """Result tables (markdown) from one or more results JSON files."""
    lines = ["| config | aishell1_16k | magicdata_cs_16k | tel8k_sim | all | clips | audio s | wall s | RTF (wall) | CPU s | CPU-RTF |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for res in results:
        for name, r in res["per_clip"].items():
            c = r["cer"]
            lines.append(f"| {name} | {c.get('aishell1_16k', '')} | {c.get('magicdata_cs_16k', '')} | {c.get('tel8k_sim', '')} "
                         f"| {c['all']} | {r['clips']} | {r['audio_s']} | {r['wall_s']} | {r['rtf']} | {r['cpu_s']} | {r['cpu_rtf']} |")
    lines += ["", "| long file (clips joined, 1 s gaps) | CER | audio s | wall s | RTF (wall) | CPU s | CPU-RTF |",
              "|---|---|---|---|---|---|---|"]
    for res in results:
        for name, r in res["long_file"].items():
            lines.append(f"| {name} ({r['clips']} clips) | {r['cer']} | {r['audio_s']} | {r['wall_s']} | {r['rtf']} "
                         f"| {r['cpu_s']} | {r['cpu_rtf']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/asr"))
    ap.add_argument("--models-dir", type=Path, default=Path("voc-data/models"))
    ap.add_argument("--configs", default="beam5,beam1,beam5+hotwords",
                    help=f"comma-separated, of {','.join(CONFIGS)} (beam5+prompt is very slow on base)")
    ap.add_argument("--limit", type=int, default=None, help="first N clips only")
    ap.add_argument("--long-modes", default="sequential,batched8", help="which long-file runs (empty = skip)")
    ap.add_argument("--long-clips", type=int, default=30, help="clips joined for the sequential-vs-batched run (0 = skip)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("bench/asr/results.json"))
    ap.add_argument("--report", type=Path, nargs="+", help="print the markdown tables of these results files and exit")
    args = ap.parse_args()
    if args.report:
        print(markdown([json.loads(p.read_text(encoding="utf-8")) for p in args.report]))
        return

    refs = load_refs(args.data)
    env = {"machine": platform.machine(), "cpus": os.cpu_count(), "threads": args.threads,
           "loadavg_start": os.getloadavg()}
    results: dict = {"env": env, "per_clip": {}, "long_file": {}}
    for name in filter(None, args.configs.split(",")):
        engine = AsrEngine(AsrSettings(cpu_threads=args.threads, **CONFIGS[name]), args.models_dir)
        engine.transcribe_call(args.data / sorted(refs)[0], "warmup", None)
        results["per_clip"][name] = per_clip(engine, args.data, refs, args.limit)
        print(name, json.dumps(results["per_clip"][name]), flush=True)
    modes = {"sequential": {}, "batched8": {"batch_size": 8}}
    if args.long_clips:
        for name, kw in ((m, modes[m]) for m in filter(None, args.long_modes.split(","))):
            engine = AsrEngine(AsrSettings(cpu_threads=args.threads, beam_size=5, **kw), args.models_dir)
            results["long_file"][name] = long_file(engine, args.data, refs, args.long_clips, 1.0)
            print(name, json.dumps(results["long_file"][name]), flush=True)
    env["loadavg_end"] = os.getloadavg()
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

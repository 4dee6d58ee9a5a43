"""Ablation: voc's transcribe path against faster-whisper called directly, one difference switched at a time.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/asr/ablation.py --data ../shared/data/asr \\
        --models-dir voc-data/models --out bench/asr/results_ablation.json

"lib" is what a user of the library writes: ``WhisperModel(base, int8).transcribe(path, language="zh",
beam_size=5, vad_filter=True)`` with every other option at the library default, then OpenCC t2s on the text.
"voc" is ``AsrEngine``'s path: voc's decoder (PyAV to 16 kHz), voc's ``transcribe`` keyword arguments
(``voc.transcribe.engine.transcribe_kwargs``), the hallucination guards and cleanup (``guard_segments``), and the
seeded sampler. Each "voc -x" config switches one of those back to the library's choice; each "lib +x" config
switches one of voc's choices on in the library path. "voc (engine)" runs the real ``AsrEngine.transcribe_call``
to show the composed "voc" config is the real thing.

Sets: ``tel8k_sim`` (the shared 8 kHz telephone simulations), ``magicdata_cs_16k`` (16 kHz customer-service
lines) and, with ``--simulate-8k N``, N more 8 kHz clips made here with the same sox command the shared folder
used (from 16 kHz clips that have no shared 8 kHz copy; written under ``--sim-dir``, never into the repository).
CER = summed edits / summed reference characters after ``normalise_for_cer`` (punctuation, spaces and script
removed). One model is loaded per process; results are cached per config in ``--out`` so a rerun only adds the
configs that are missing (``--fresh`` recomputes).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voc.config import AsrSettings
from voc.transcribe import (
    AsrEngine,
    decode_audio,
    get_engine,
    guard_segments,
    normalise_for_cer,
    to_simplified,
)
from voc.transcribe.cleanup import AsrSegment, clean_text
from voc.transcribe.engine import SAMPLING_SEED, default_prompt, transcribe_kwargs
from voc.transcribe.scoring import edit_distance

LIB_KWARGS: dict[str, Any] = {"language": "zh", "beam_size": 5, "vad_filter": True}
SOX_8K = "sox {src} -r 8000 -c 1 -e u-law {tmp} sinc 300-3400 && sox {tmp} -e signed-integer -b 16 {dst}"


@dataclass(frozen=True)
class Path_:
    """One transcription path: how audio is decoded, what ``transcribe`` gets, what happens to the segments."""

    decode: str = "voc"  # "voc": voc.transcribe.decode_audio -> samples; "lib": the file path, decoded by the library
    kwargs: dict[str, Any] = field(default_factory=dict)
    guards: bool = True  # voc's guard_segments (drops + repetition collapse); off = keep every segment
    clean: str = "voc"  # "voc": clean_text (t2s + punctuation); "t2s": OpenCC only
    seed: bool = True  # ctranslate2.set_random_seed before each file
    settings: dict[str, Any] = field(default_factory=dict)  # AsrSettings overrides (guard thresholds, engine)
    engine: bool = False  # run AsrEngine.transcribe_call itself


def voc_path(**settings: Any) -> Path_:
    s = AsrSettings(**settings)
    prompt = s.initial_prompt or default_prompt(s.hotwords)
    return Path_(kwargs=transcribe_kwargs(s, prompt, "，".join(s.hotwords) or None), settings=settings)


def lib_path(**kwargs: Any) -> Path_:
    return Path_(decode="lib", kwargs={**LIB_KWARGS, **kwargs}, guards=False, clean="t2s", seed=False)


def with_kwargs(p: Path_, **changes: Any) -> Path_:
    kw = dict(p.kwargs)
    for k, v in changes.items():
        if v is _DROP:
            kw.pop(k, None)
        else:
            kw[k] = v
    return Path_(p.decode, kw, p.guards, p.clean, p.seed, p.settings, p.engine)


_DROP = object()


# voc's defaults before this ablation; the "voc ..." rows start from them so the table keeps its meaning after the
# defaults changed. "voc default (engine)" is whatever AsrSettings() holds now, through AsrEngine.transcribe_call.
BEFORE = {"vad_min_silence_ms": 500, "temperature_fallback": True, "condition_on_previous_text": False}
# step 1 of the fix (min_silence 2000 ms, no temperature fallback), still without conditioning
STEP1 = {"condition_on_previous_text": False}


def configs() -> dict[str, Path_]:
    voc, lib = voc_path(**BEFORE), lib_path()
    v = voc.kwargs
    return {
        "lib": lib,
        "voc": voc,
        "voc default (engine)": Path_(engine=True),
        # voc with one of its differences switched back to the library's choice
        "voc -decode (library decodes the file)": Path_("lib", v, True, "voc", True),
        "voc -vad_parameters (library VAD defaults)": with_kwargs(voc, vad_parameters=None),
        "voc -word_timestamps": with_kwargs(voc, word_timestamps=False),
        "voc -no_condition (condition_on_previous_text=True)": with_kwargs(voc, condition_on_previous_text=True),
        "voc -guards (keep every segment)": Path_("voc", v, False, "voc", True),
        "voc -cleanup (t2s only)": Path_("voc", v, False, "t2s", True),
        "voc -seed": Path_("voc", v, True, "voc", False),
        # the library with one of voc's choices switched on
        "lib +voc decode": Path_("voc", lib.kwargs, False, "t2s", False),
        "lib +vad min_silence 500 ms": with_kwargs(lib, vad_parameters={"min_silence_duration_ms": 500}),
        "lib +word_timestamps": with_kwargs(lib, word_timestamps=True),
        "lib +condition_on_previous_text=False": with_kwargs(lib, condition_on_previous_text=False),
        "lib +guards": Path_("lib", lib.kwargs, True, "voc", False),
        # candidates for voc's default (temperature fallback: determinism; prompts: known to hurt base)
        "voc temperature 0 (no fallback)": with_kwargs(voc, temperature=0.0),
        "lib temperature 0 (no fallback)": with_kwargs(lib, temperature=0.0),
        "voc min_silence 1000 ms": voc_path(**{**BEFORE, "vad_min_silence_ms": 1000}),
        # step 1 (min_silence 2000 ms, no fallback) with one of the remaining differences switched
        "voc step 1 (engine: min_silence 2000 ms, no fallback)": Path_(engine=True, settings=STEP1),
        "voc step 1 -word_timestamps": voc_path(**STEP1, word_timestamps=False),
        "voc step 1 +condition_on_previous_text": voc_path(**{**STEP1, "condition_on_previous_text": True}),
        "voc min_silence 2000 ms + temperature 0": voc_path(**{**STEP1, "vad_min_silence_ms": 2000}),
    }


def load_refs(data: Path) -> dict[str, str]:
    with (data / "transcripts.tsv").open(encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(rows)
        return {r[0]: r[1] for r in rows}


def simulate_8k(data: Path, refs: dict[str, str], n: int, out_dir: Path) -> dict[str, tuple[Path, str]]:
    """N more telephone simulations (sox, as the shared tel8k_sim folder) of 16 kHz clips without a shared copy."""
    have = {Path(k).stem.removesuffix("_tel8k") for k in refs if k.startswith("tel8k_sim/")}
    pool = [k for k in sorted(refs) if k.startswith("magicdata_cs_16k/") and Path(k).stem not in have]
    pool += [k for k in sorted(refs) if k.startswith("aishell1_16k/") and Path(k).stem not in have]
    # alternate the two sources so a small N still holds both voices
    half = [k for k in pool if k.startswith("magicdata")], [k for k in pool if k.startswith("aishell")]
    picked = [x for pair in zip(half[0][::3], half[1][::3], strict=False) for x in pair][:n]
    out_dir.mkdir(parents=True, exist_ok=True)
    clips = {}
    for rel in picked:
        dst = out_dir / f"{Path(rel).stem}_tel8k.wav"
        if not dst.exists():
            tmp = out_dir / "tmp_ulaw.wav"
            subprocess.run(SOX_8K.format(src=data / rel, tmp=tmp, dst=dst), shell=True, check=True)
        clips[f"tel8k_extra/{dst.name}"] = (dst, refs[rel])
    return clips


def build_calls(data: Path, refs: dict[str, str], n: int, out_dir: Path, per_call: int = 5,
                seed: int = 7) -> dict[str, tuple[Path, str]]:
    """N call-like recordings: ``per_call`` shared 16 kHz clips joined with 0.3-1.6 s pauses over a -60 dBFS noise
    floor (set call16k), and the same recordings through the sox telephone simulation (set call8k). Single
    sentences are one Whisper window with no pauses; a call has pauses (VAD cuts) and more than 30 s (windows)."""
    import random
    import wave

    import numpy as np

    rng = random.Random(seed)
    pool = sorted(k for k in refs if k.startswith(("aishell1_16k/", "magicdata_cs_16k/")))
    rng.shuffle(pool)
    out_dir.mkdir(parents=True, exist_ok=True)
    clips: dict[str, tuple[Path, str]] = {}
    for i in range(min(n, len(pool) // per_call)):
        keys = pool[i * per_call : (i + 1) * per_call]
        wav16, wav8 = out_dir / f"call{i:02d}.wav", out_dir / f"call{i:02d}_tel8k.wav"
        if not wav8.exists():
            parts = [np.zeros(int(0.5 * 16000), np.float32)]
            for k in keys:
                parts += [decode_audio(data / k).channels[0], np.zeros(int(rng.uniform(0.3, 1.6) * 16000), np.float32)]
            noise = np.random.default_rng(seed + i).normal(0, 1e-3, sum(len(x) for x in parts)).astype(np.float32)
            pcm = (np.clip(np.concatenate(parts) + noise, -1, 1) * 32767).astype("<i2")
            with wave.open(str(wav16), "wb") as w:
                w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(pcm.tobytes())
            subprocess.run(SOX_8K.format(src=wav16, tmp=out_dir / "tmp_ulaw.wav", dst=wav8), shell=True, check=True)
        ref = "，".join(refs[k] for k in keys)
        clips[f"call16k/{wav16.name}"] = (wav16, ref)
        clips[f"call8k/{wav8.name}"] = (wav8, ref)
    return clips


def transcribe(model: Any, engine: AsrEngine, path: Path, p: Path_) -> str:
    if p.engine:
        if p.settings:  # the same loaded model, other settings
            engine = get_engine(engine.settings.model_copy(update={**p.settings, "model": engine.model_path}), ".")
        return "".join(u.text for u in engine.transcribe_call(path, path.stem, None).utterances)
    if p.seed:
        import ctranslate2

        ctranslate2.set_random_seed(SAMPLING_SEED)
    audio = decode_audio(path).channels[0] if p.decode == "voc" else str(path)
    segments, _ = model.transcribe(audio, **p.kwargs)
    segs = [AsrSegment(s.start, s.end, s.text, s.avg_logprob, s.no_speech_prob, s.compression_ratio) for s in segments]
    if p.guards:
        segs, _dropped = guard_segments(segs, AsrSettings(**p.settings))
    clean = clean_text if p.clean == "voc" else to_simplified
    return "".join(clean(s.text) for s in segs)


def score(hyps: dict[str, str], clips: dict[str, tuple[Path, str]]) -> dict[str, float]:
    by_set: dict[str, list[tuple[int, int]]] = {}
    for key, (_path, ref) in clips.items():
        r, h = normalise_for_cer(ref), normalise_for_cer(hyps[key])
        by_set.setdefault(key.split("/")[0], []).append((edit_distance(r, h), len(r)))
    out = {k: round(sum(e for e, _ in v) / sum(n for _, n in v), 4) for k, v in sorted(by_set.items())}
    return out


def markdown(results: dict) -> str:
    sets = sorted({k for r in results["configs"].values() for k in r["cer"]})
    lines = ["| config | " + " | ".join(sets) + " | CPU s |", "|---|" + "---|" * (len(sets) + 1)]
    for name, r in results["configs"].items():
        lines.append(f"| {name} | " + " | ".join(str(r["cer"].get(s, "")) for s in sets) + f" | {r['cpu_s']} |")
    return "\n".join(lines)


def itn_rows(results: dict, clips: dict[str, tuple[Path, str]], names: tuple[str, ...]) -> str:
    """CER of the text the store keeps (spoken numbers as digits, voc.text.itn) for some configs: against the
    references as they are (numbers written in words) and against references passed through the same ITN."""
    from voc.text.itn import inverse_normalize

    lines = ["| config, text after ITN | reference | " + " | ".join(SETS) + " |", "|---|---|" + "---|" * len(SETS)]
    for name in names:
        hyps = results["configs"].get(name, {}).get("hyps", {})
        keys = [k for k in clips if k in hyps]
        for label, ref_fn in (("as is", str), ("ITN too", inverse_normalize)):
            sub = {k: (clips[k][0], ref_fn(clips[k][1])) for k in keys}
            cer_by = score({k: inverse_normalize(hyps[k]) for k in keys}, sub)
            lines.append(f"| {name} | {label} | " + " | ".join(str(cer_by.get(x, "")) for x in SETS) + " |")
    return "\n".join(lines)


SETS = ("call16k", "call8k", "magicdata_cs_16k", "tel8k_sim")


def save(results: dict, out: Path, summary: Path) -> None:
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    short = {**results, "configs": {n: {k: v for k, v in r.items() if k != "hyps"} for n, r in results["configs"].items()}}
    summary.write_text(json.dumps(short, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/asr"))
    ap.add_argument("--models-dir", type=Path, default=Path("voc-data/models"))
    ap.add_argument("--sets", default="tel8k_sim,magicdata_cs_16k")
    ap.add_argument("--limit-16k", type=int, default=None, help="first N clips of each 16 kHz set")
    ap.add_argument("--simulate-8k", type=int, default=0, help="also N sox-simulated 8 kHz clips (set tel8k_extra)")
    ap.add_argument("--calls", type=int, default=0, help="also N call-like recordings of 5 clips (sets call8k, call16k)")
    ap.add_argument("--call-sets", default="call8k,call16k")
    ap.add_argument("--sim-dir", type=Path, default=Path("/tmp/voc-tel8k-extra"))
    ap.add_argument("--configs", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("/tmp/voc-asr-ablation.json"),
                    help="full results with every transcript (kept outside the repository: the clips are research-only)")
    ap.add_argument("--summary", type=Path, default=Path("bench/asr/results_ablation.json"),
                    help="CER and settings per config, without transcripts")
    ap.add_argument("--fresh", action="store_true", help="recompute configs already in --out")
    ap.add_argument("--report", action="store_true", help="print the table of --out and exit")
    args = ap.parse_args()
    results = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() and not args.fresh else {}
    if args.report:
        print(markdown(results))
        refs = load_refs(args.data)
        clips = {k: (args.data / k, refs[k]) for k in refs}
        clips.update(build_calls(args.data, refs, args.calls or 8, args.sim_dir / "calls"))
        print()
        print(itn_rows(results, clips, ("lib", "voc default (engine)")))
        return
    refs = load_refs(args.data)
    clips: dict[str, tuple[Path, str]] = {}
    for name in args.sets.split(","):
        keys = sorted(k for k in refs if k.startswith(name + "/"))
        clips.update({k: (args.data / k, refs[k]) for k in (keys if name.startswith("tel8k") else keys[: args.limit_16k])})
    if args.calls:
        calls = build_calls(args.data, refs, args.calls, args.sim_dir / "calls")
        clips.update({k: v for k, v in calls.items() if k.split("/")[0] in args.call_sets.split(",")})
    if args.simulate_8k:
        clips.update(simulate_8k(args.data, refs, args.simulate_8k, args.sim_dir))
    engine = AsrEngine(AsrSettings(device="cpu", cpu_threads=args.threads), args.models_dir)
    model = engine.model  # the one WhisperModel every config uses
    wanted = [c for c in args.configs.split(",") if c] or list(configs())
    results.setdefault("configs", {})
    results["env"] = {"threads": args.threads, "cpus": os.cpu_count(), "clips": len(clips),
                      "loadavg_start": os.getloadavg()}
    for name in wanted:
        p = configs()[name]
        old = results["configs"].get(name, {})
        hyps = {k: h for k, h in old.get("hyps", {}).items() if k in clips}
        if len(hyps) == len(clips) and old.get("cer") == score(hyps, clips):
            continue
        c0 = time.process_time()
        hyps.update({key: transcribe(model, engine, path, p) for key, (path, _ref) in clips.items() if key not in hyps})
        cpu = old.get("cpu_s", 0.0) + time.process_time() - c0
        results["configs"][name] = {"cer": score(hyps, clips), "cpu_s": round(cpu, 1), "hyps": hyps,
                                    "kwargs": {k: v for k, v in p.kwargs.items()}, "decode": p.decode,
                                    "guards": p.guards, "clean": p.clean, "seed": p.seed}
        print(name, json.dumps(results["configs"][name]["cer"]), results["configs"][name]["cpu_s"], flush=True)
        save(results, args.out, args.summary)
    results["env"]["loadavg_end"] = os.getloadavg()
    save(results, args.out, args.summary)
    print(markdown(results))


if __name__ == "__main__":
    main()

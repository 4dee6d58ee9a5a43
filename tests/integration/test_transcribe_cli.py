"""`voc transcribe` with the real model on the first 19 s of a bundled demo recording: JSON Lines, SRT, a bad file."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from voc.cli import app

REPO = Path(__file__).resolve().parents[2]
CALL = REPO / "demo" / "inbox" / "recordings" / "C005.mp3"  # stereo, agent on channel 0 (demo/inbox/calls.csv)
SECONDS = 19.0  # the agent's greeting and the customer's complaint (demo/scripts/C005.json); the whole call takes ~3x longer


def first_seconds(src: Path, dst: Path, seconds: float = SECONDS, rate: int = 16000) -> Path:
    """The start of a stereo recording as a 16 kHz 16-bit stereo WAV."""
    from faster_whisper import decode_audio

    left, right = decode_audio(str(src), sampling_rate=rate, split_stereo=True)
    n = int(seconds * rate)
    pcm = (np.clip(np.stack([left[:n], right[:n]], axis=1), -1, 1) * 32767).astype("<i2")
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return dst


def test_transcribe_json_and_srt_with_a_bad_file_alongside(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOC_MODELS_DIR", str(REPO / "voc-data" / "models"))
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    call = first_seconds(CALL, tmp_path / "C005.wav")
    result = CliRunner().invoke(app, ["transcribe", str(call), str(bad), "--agent-channel", "0", "--json",
                                      "--srt", str(tmp_path / "srt")])
    assert result.exit_code == 3, result.output  # one file failed, the other was transcribed
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    t = lines[0]
    assert t["file"] == str(call) and t["language"] == "zh"
    roles = {u["role"] for u in t["utterances"]}
    assert roles == {"agent", "customer"}
    assert all(u["end"] >= u["start"] for u in t["utterances"])
    assert all(0.0 < u["confidence"] <= 1.0 for u in t["utterances"])  # from the model's log-probabilities
    assert t["metrics"]["agent_talk_s"] > 0 and t["metrics"]["customer_talk_s"] > 0
    srt = (tmp_path / "srt" / "C005.srt").read_text(encoding="utf-8")
    assert srt.startswith("1\n00:00:") and "[agent]" in srt and "[customer]" in srt
    assert "broken.wav" in result.stderr
    assert "look swapped" not in " ".join(result.stderr.split())  # the agent is on channel 0, as given


@pytest.mark.slow
def test_transcribe_warns_when_the_agent_channel_looks_swapped(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOC_MODELS_DIR", str(REPO / "voc-data" / "models"))
    call = first_seconds(CALL, tmp_path / "C005.wav")
    result = CliRunner().invoke(app, ["transcribe", str(call), "--agent-channel", "1", "--json"])
    assert result.exit_code == 0, result.output
    [t] = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    greeting = " ".join(u["text"] for u in t["utterances"] if u["role"] == "customer")
    assert "客服" in greeting, greeting  # the agent's greeting (您好，海川智家客服…), filed under customer
    err = " ".join(result.stderr.split())  # the console wraps long lines
    assert "look swapped" in err and "--agent-channel 0" in err, result.stderr

"""`voc transcribe` on a bundled demo recording with the real model: JSON Lines, SRT, and a bad file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from voc.cli import app

REPO = Path(__file__).resolve().parents[1]
CALL = REPO / "demo" / "inbox" / "recordings" / "C005.mp3"  # stereo, agent on channel 0 (demo/inbox/calls.csv)


def test_transcribe_json_and_srt_with_a_bad_file_alongside(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOC_MODELS_DIR", str(REPO / "voc-data" / "models"))
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    result = CliRunner().invoke(app, ["transcribe", str(CALL), str(bad), "--agent-channel", "0", "--json",
                                      "--srt", str(tmp_path / "srt")])
    assert result.exit_code == 3, result.output  # one file failed, the other was transcribed
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    t = lines[0]
    assert t["file"] == str(CALL) and t["language"] == "zh"
    roles = {u["role"] for u in t["utterances"]}
    assert roles == {"agent", "customer"}
    assert all(u["end"] >= u["start"] for u in t["utterances"])
    assert t["metrics"]["agent_talk_s"] > 0 and t["metrics"]["customer_talk_s"] > 0
    srt = (tmp_path / "srt" / "C005.srt").read_text(encoding="utf-8")
    assert srt.startswith("1\n00:00:") and "[agent]" in srt and "[customer]" in srt
    assert "broken.wav" in result.stderr

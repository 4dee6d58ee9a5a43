"""Honest feedback from the CLI: read commands never create a database, bad settings name their source, users
get only known departments, ingest tells a script that something was quarantined."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from voc.cli import app


def _run(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, stdin: str | None = None):
    return CliRunner().invoke(app, args, env=env or {}, input=stdin)


def test_status_refuses_to_create_a_database(tmp_path: Path):
    db = tmp_path / "nope" / "voc.db"
    res = _run(["status"], {"VOC_DATABASE_URL": f"sqlite:///{db}"})
    assert res.exit_code == 2
    assert "no voc database" in res.output and "VOC_DATABASE_URL" in res.output and "voc init" in res.output
    assert not db.exists() and not db.parent.exists()


def test_init_creates_and_then_status_reads(tmp_path: Path):
    env = {"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}"}
    assert _run(["init"], env).exit_code == 0
    res = _run(["status", "--json"], env)
    assert res.exit_code == 0 and "runs" in json.loads(res.stdout)


def test_a_bad_environment_value_is_blamed_on_the_variable_not_the_file(tmp_path: Path):
    cfg = tmp_path / "voc.yaml"
    cfg.write_text("asr:\n  beam_size: 5\n", encoding="utf-8")
    res = _run(["--config", str(cfg), "config", "show"], {"VOC_ASR__BEAM_SIZE": "abc"})
    assert res.exit_code == 2
    assert "environment variable VOC_ASR__BEAM_SIZE" in res.output and str(cfg) not in res.output.split(":")[1]
    cfg.write_text("asr:\n  beam_size: xyz\n", encoding="utf-8")
    res = _run(["--config", str(cfg), "config", "show"])
    assert res.exit_code == 2 and f"{cfg}: asr.beam_size" in res.output.replace("\n", "")


def test_users_add_refuses_an_unknown_department(tmp_path: Path):
    env = {"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}"}
    res = _run(["users", "add", "li", "--role", "department_owner", "--department", "nosuch", "--password-stdin"],
               env, stdin="a-long-password-1\n")
    assert res.exit_code == 2 and "expected one of" in res.output and "logistics" in res.output
    ok = _run(["users", "add", "li", "--role", "department_owner", "--department", "logistics", "--password-stdin"],
              env, stdin="a-long-password-1\n")
    assert ok.exit_code == 0, ok.output


def test_flags_have_no_bool_metavar_in_help():
    res = _run(["status", "--help"])
    assert res.exit_code == 0 and "<bool>" not in res.output and "print one JSON object" in res.output


def test_a_long_stage_without_a_terminal_reports_how_far_it_is(capsys, monkeypatch):
    """`make demo` into a log: a stage of minutes (transcription) writes plain progress lines, not silence;
    the progress of --json runs (heartbeat off) stays out of the way."""
    from voc.cli import common

    monkeypatch.setattr(common, "HEARTBEAT_S", 0.0)
    with common.Bars(False, heartbeat=True) as bars:
        for done in range(4):
            bars("transcribe", done, 3)
        for done in range(3):  # the next night of a range: the stage's clock starts again
            bars("transcribe", done, 2)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" items")[0].split() for line in lines] == [
        ["transcribe", "1/3"], ["transcribe", "2/3"], ["transcribe", "1/2"]]
    assert lines[-1].endswith(" 0 s so far")
    with common.Bars(False) as quiet:
        quiet("transcribe", 1, 3)
    assert capsys.readouterr().err == ""

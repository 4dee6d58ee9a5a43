from pathlib import Path

import pytest

from voc.config import ConfigError, describe_settings, load_settings


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={})
    assert s.db_url.startswith("sqlite:///")
    assert s.asr.language == "zh"
    assert s.asr.beam_size == 5


def test_precedence_env_over_yaml_over_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "voc.yaml"
    cfg.write_text("seed: 7\nasr:\n  beam_size: 2\n  batch_size: 4\ninbox: from-yaml\n", encoding="utf-8")
    env = {"VOC_ASR__BEAM_SIZE": "3", "VOC_INBOX": "from-env"}
    s = load_settings(environ=env)
    assert s.seed == 7  # yaml
    assert s.asr.beam_size == 3  # env beats yaml
    assert s.asr.batch_size == 4  # yaml
    assert s.inbox == Path("from-env")
    rows = {r["key"]: r["source"] for r in describe_settings(s, cfg, environ=env)}
    assert rows["seed"] == str(cfg)
    assert rows["asr.beam_size"] == "env (VOC_ASR__BEAM_SIZE)"
    assert rows["asr.batch_size"] == str(cfg)
    assert rows["asr.cpu_threads"] == "default"


def test_secrets_masked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"VOC_DATABASE_URL": "postgresql://voc:hunter2@db.example:5432/voc"}
    cfg = tmp_path / "voc.yaml"
    cfg.write_text(
        "report:\n  webhooks:\n    - name: ops\n      kind: wecom\n      url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRETKEY\n",
        encoding="utf-8",
    )
    s = load_settings(environ=env)
    rows = {r["key"]: r["value"] for r in describe_settings(s, cfg, environ=env)}
    assert "hunter2" not in str(rows)
    assert "SECRETKEY" not in str(rows)
    assert rows["database_url"].startswith("postgresql://***@db.example")


def test_bad_yaml_names_file_and_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "voc.yaml").write_text("asr:\n  beam_size: [1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"voc.yaml:\d+"):
        load_settings(environ={})


def test_bad_value_names_setting(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "voc.yaml").write_text("asr:\n  beam_size: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"asr.beam_size"):
        load_settings(environ={})


def test_unknown_key_rejected(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "voc.yaml").write_text("asr:\n  beamsize: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="beamsize"):
        load_settings(environ={})


def test_example_yaml_is_valid(monkeypatch):
    example = Path(__file__).resolve().parents[2] / "voc.example.yaml"
    s = load_settings(example, environ={})
    assert s.asr.language == "zh"


def test_example_yaml_in_sync():
    from voc.config import example_yaml

    example = Path(__file__).resolve().parents[2] / "voc.example.yaml"
    assert example.read_text(encoding="utf-8") == example_yaml(), "regenerate with: voc config example > voc.example.yaml"

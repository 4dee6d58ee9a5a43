"""`voc sentiment` (TEXT, --file, --json) and the sentiment section of `voc status`."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from voc.cli import app
from voc.config import SentimentSettings
from voc.records import Channel, Interaction, Role, Utterance
from voc.sentiment import get_scorer, score_call, score_texts
from voc.store.sentiment import sentiment_overview


def _invoke(args: list[str], tmp_path, stdin: str | None = None):
    env = {"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}"}
    return CliRunner().invoke(app, args, env=env, input=stdin, catch_exceptions=False)


def test_text_prints_label_score_and_escalation_words(tmp_path):
    res = _invoke(["sentiment", "态度太差了，我要投诉，再不解决就打12315"], tmp_path)
    assert res.exit_code == 0, res.output
    first = res.stdout.splitlines()[0].split()
    assert first[0] == "neg" and float(first[1]) < -0.35
    assert "escalation words: 投诉, 12315" in res.stdout
    res = _invoke(["sentiment", "问题解决了，非常感谢，服务很周到"], tmp_path)
    assert res.stdout.split()[0] == "pos" and float(res.stdout.split()[1]) > 0.35


def test_file_json_is_one_array_aligned_with_lines_and_keeps_empty_lines(tmp_path):
    lines = ["质量很好，非常满意，下次还来", "", "太差了，再也不会买了", "   ", "呵呵，真是太快了，等了一个星期", "好的"]
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = _invoke(["sentiment", "--file", str(path), "--json"], tmp_path)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)  # the whole stdout is one JSON document
    assert isinstance(out, list) and len(out) == len(lines)
    # label and score are the original interface; confidence and reason were added (issue 21), nothing removed
    assert all(set(o) == {"label", "score", "confidence", "reason"} and isinstance(o["score"], float) for o in out)
    assert all(0.5 <= o["confidence"] <= 1.0 and isinstance(o["reason"], str) for o in out)
    assert out[0]["reason"] == "model" and out[0]["confidence"] > 0.8  # a clear review: the model, and sure
    assert all(o["label"] in ("pos", "neg", "neu") and -1.0 <= o["score"] <= 1.0 for o in out)
    assert [o["label"] for o in out] == ["pos", "neu", "neg", "neu", "neg", "neu"]
    empty = {"label": "neu", "score": 0.0, "confidence": 0.5, "reason": "empty"}
    assert out[1] == empty and out[3] == empty
    # the scores are the scorer's own (same scorer the pipeline uses), not a label lookup
    expected = get_scorer(SentimentSettings()).score([lines[0], lines[2]])
    assert out[0]["score"] == pytest.approx(float(expected[0]), abs=1e-4)
    assert out[2]["score"] == pytest.approx(float(expected[1]), abs=1e-4)


def test_file_gbk_crlf_and_stdin(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes("服务很好\r\n\r\n快递太慢了，很失望\r\n".encode("gbk"))
    res = _invoke(["sentiment", "-f", str(path), "--json"], tmp_path)
    assert res.exit_code == 0, res.output
    assert [o["label"] for o in json.loads(res.stdout)] == ["pos", "neu", "neg"]
    res = _invoke(["sentiment", "--file", "-"], tmp_path, stdin="服务很好\n\n快递太慢了，很失望\n")
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    assert [r[0] for r in rows] == ["pos", "neu", "neg"]
    assert rows[2][2] == "快递太慢了，很失望" and rows[1][2] == ""


def test_empty_file_gives_an_empty_array(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    res = _invoke(["sentiment", "--file", str(path), "--json"], tmp_path)
    assert res.exit_code == 0 and json.loads(res.stdout) == []


@pytest.mark.parametrize("content", [None, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x80\x81\xfe\xfe" * 8])
def test_missing_or_undecodable_file_exits_2_naming_it(tmp_path, content):
    path = tmp_path / "input_texts.txt"
    if content is not None:
        path.write_bytes(content)
    res = _invoke(["sentiment", "--file", str(path), "--json"], tmp_path)
    assert res.exit_code == 2
    assert "input_texts.txt" in res.stderr
    assert res.stdout == ""  # nothing half-written for a --json consumer


def test_text_and_file_together_or_neither_is_a_usage_error(tmp_path):
    assert _invoke(["sentiment"], tmp_path).exit_code == 2
    path = tmp_path / "t.txt"
    path.write_text("好\n", encoding="utf-8")
    res = _invoke(["sentiment", "很好", "--file", str(path)], tmp_path)
    assert res.exit_code == 2 and "not both" in res.stderr


# ---- voc status ----------------------------------------------------------------------------------
SETTINGS = SentimentSettings()
CALLS = {
    "C-worse": [(Role.CUSTOMER, "你好，我想查一下我的快递"), (Role.AGENT, "请稍等"), (Role.CUSTOMER, "订单号是[ORDER]"),
                (Role.CUSTOMER, "都一个星期了还没到，你们也太慢了"), (Role.CUSTOMER, "我要投诉你们，再不解决我就打12315")],
    "C-better": [(Role.CUSTOMER, "网络老是断，根本用不了，很生气"), (Role.AGENT, "我帮您重置一下"), (Role.CUSTOMER, "嗯，好的"),
                 (Role.CUSTOMER, "现在能用了，非常感谢，你们服务很周到")],
    "C-flat": [(Role.CUSTOMER, "你好，我想问一下这个月的话费"), (Role.AGENT, "一共五十八元"), (Role.CUSTOMER, "好的，知道了")],
}
TEXTS = {"T-bad": "客服态度恶劣，我要去媒体曝光你们", "T-good": "非常满意，谢谢"}


def _fill(store) -> None:
    day = dt.date(2026, 11, 20)
    items = [(Interaction(f"id-{k}", Channel.CALL, day, f"h-{k}", external_id=k), "transcript") for k in CALLS]
    items += [(Interaction(f"id-{k}", Channel.CHAT, day, f"h-{k}", external_id=k, text=t), "text") for k, t in TEXTS.items()]
    store.add_interactions(items)
    scorer = get_scorer(SETTINGS)
    for key, turns in CALLS.items():
        utts = [Utterance(f"id-{key}", i, role, i * 5.0, i * 5.0 + 4, text) for i, (role, text) in enumerate(turns)]
        scores, call = score_call(utts, scorer, SETTINGS)
        store.replace_sentiment(f"id-{key}", scores, call)
    for (score, summary) in score_texts([(f"id-{k}", t) for k, t in TEXTS.items()], scorer, SETTINGS):
        store.replace_sentiment(score.interaction_id, [score], summary)


def test_overview_counts_trajectories_and_escalations(store):
    empty = sentiment_overview(store)
    assert empty["calls"] == {"scored": 0, "improved": 0, "worsened": 0, "flat": 0, "escalations": 0}
    _fill(store)
    got = sentiment_overview(store, SETTINGS.negative_threshold)
    assert got["calls"] == {"scored": 3, "improved": 1, "worsened": 1, "flat": 1, "escalations": 1}
    assert got["texts"] == {"scored": 2, "negative": 1, "escalations": 1}
    assert got["scorers"] == {get_scorer(SETTINGS).name: 5}
    [esc] = got["escalated_calls"]
    assert esc["external_id"] == "C-worse" and esc["trajectory"] == "worsened" and esc["score"] < 0
    assert any("12315" in r for r in esc["reasons"])


def test_status_json_adds_a_sentiment_key_and_prints_a_section(tmp_path):
    from voc.store import Store

    st = Store.open(f"sqlite:///{tmp_path / 'voc.db'}")
    try:
        _fill(st)
    finally:
        st.close()
    res = _invoke(["status", "--json"], tmp_path)
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    # the keys that existed before stay; "sentiment" is only added
    assert {"database", "counts", "channels", "stages", "runs", "failures", "quarantine"} <= set(info)
    assert info["sentiment"]["calls"]["worsened"] == 1 and info["sentiment"]["calls"]["escalations"] == 1
    res = CliRunner().invoke(app, ["status"], env={"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}",
                                                   "COLUMNS": "200"}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "improved" in res.stdout and "escalations" in res.stdout
    assert "escalation call C-worse" in res.stdout and "12315" in res.stdout

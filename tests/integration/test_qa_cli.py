"""`voc qa` commands: score a transcript JSON, work the review queue, calibration, CSV/Parquet export."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from voc.cli import app
from voc.config import QASettings
from voc.qa import load_scripts, score_call
from voc.records import Channel, Interaction, QAResult
from voc.store import Store
from voc.store.review import ReviewQueue
from voc.store.schema import QAReviewRow
from voc.transcribe.jsonio import transcript_from_json


def _invoke(args, tmp_path):
    env = {"VOC_DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}"}
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


RUDE = {
    "call_id": "CLI-1",
    "language": "zh",
    "model": "external",
    "utterances": [
        {"role": "agent", "start": 0.5, "end": 3.0, "text": "您好，很高兴为您服务，请问有什么可以帮您？"},
        {"role": "customer", "start": 3.5, "end": 8.0, "text": "我买的空调坏了，你们太差劲了，我要投诉！"},
        {"role": "agent", "start": 8.5, "end": 11.0, "text": "这不归我管，你自己看说明书。"},
        {"role": "customer", "start": 11.5, "end": 13.0, "text": "什么态度！"},
        {"role": "agent", "start": 13.5, "end": 15.0, "text": "再见。"},
    ],
}


def test_score_json_matches_the_scorer_and_shows_evidence(tmp_path):
    path = tmp_path / "call.json"
    path.write_text(json.dumps(RUDE, ensure_ascii=False), encoding="utf-8")
    res = _invoke(["qa", "score", str(path), "--queue", "retail_after_sales", "--json", "--no-sentiment"], tmp_path)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert 0 <= out["score"] <= 100
    assert all({"rule", "passed", "evidence"} <= set(r) for r in out["rules"])
    t = transcript_from_json(RUDE)
    direct = score_call(t.utterances, t.metrics, [], load_scripts().for_queue("retail_after_sales"), QASettings(), 42,
                        queue="retail_after_sales", interaction_id="CLI-1")
    assert out["score"] == direct.score
    assert [(r["rule"], r["passed"]) for r in out["rules"]] == [(o.rule_id, o.passed) for o in direct.outcomes]
    forbidden = next(r for r in out["rules"] if r["rule"] == "forbidden_phrases")
    assert not forbidden["passed"] and any("这不归我管" in e["text"] for e in forbidden["evidence"])
    assert "forbidden_phrase" in out["review_reasons"]
    # plain text names the failing rule; --sentiment (default) adds the negative customer reason
    res = _invoke(["qa", "score", str(path), "--queue", "retail_after_sales"], tmp_path)
    assert res.exit_code == 0 and "FAIL  forbidden_phrases" in res.stdout and "negative_customer" in res.stdout


def test_score_reads_json_lines_and_rejects_bad_input(tmp_path):
    second = {**RUDE, "call_id": "CLI-2", "utterances": RUDE["utterances"][:1]}
    lines = tmp_path / "calls.jsonl"
    lines.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in (RUDE, second)) + "\n", encoding="utf-8")
    res = _invoke(["qa", "score", str(lines), "--json", "--no-sentiment"], tmp_path)
    assert res.exit_code == 0, res.output
    got = [json.loads(x) for x in res.stdout.splitlines()]
    assert [g["interaction_id"] for g in got] == ["CLI-1", "CLI-2"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"call_id": "X", "utterances": [{"role": "agent", "start": "soon"}]}', encoding="utf-8")
    res = _invoke(["qa", "score", str(bad), "--json"], tmp_path)
    assert res.exit_code == 2 and "bad.json" in res.output
    res = _invoke(["qa", "score", str(tmp_path / "missing.json")], tmp_path)
    assert res.exit_code == 2 and "missing.json" in res.output


def _seed(tmp_path, n=4):
    store = Store.open(f"sqlite:///{tmp_path / 'voc.db'}")
    q = ReviewQueue(store.db)
    for i in range(n):
        iid = f"call-{i}"
        store.add_interaction(Interaction(iid, Channel.CALL, dt.date(2026, 11, 20), f"h{i}", external_id=f"外呼-{i}"),
                              "audio")
        store.replace_qa(QAResult(iid, "retail_after_sales", "retail_after_sales", 40.0 + 10 * i, ()))
        q.enqueue(iid, "retail_after_sales", ["low_score"] if i % 2 else ["forbidden_phrase"], priority=float(i))
    return store, q


def test_queue_workflow_and_calibration(tmp_path):
    store, q = _seed(tmp_path)
    res = _invoke(["qa", "list", "--json"], tmp_path)
    listed = json.loads(res.stdout)
    assert [x["interaction_id"] for x in listed] == ["call-3", "call-2", "call-1", "call-0"]
    assert listed[0]["machine_score"] == 70.0 and listed[0]["status"] == "open"
    assert [x["id"] for x in json.loads(_invoke(["qa", "list", "--json", "--reason", "forbidden"], tmp_path).stdout)] \
        == [listed[1]["id"], listed[3]["id"]]

    res = _invoke(["qa", "claim", "--next", "--as", "alice"], tmp_path)
    assert res.exit_code == 0, res.output
    top = json.loads(res.stdout)
    assert top["interaction_id"] == "call-3" and top["assignee"] == "alice"
    res = _invoke(["qa", "claim", str(top["id"]), "--as", "bob"], tmp_path)
    assert res.exit_code == 1 and "claimed by alice" in res.output
    res = _invoke(["qa", "claim", "call-2", "--as", "bob"], tmp_path)  # by interaction id
    assert res.exit_code == 0 and json.loads(res.stdout)["assignee"] == "bob"
    # bob's lease runs out (qa.claim_lease_minutes, default 30): the list says so and carol can take it over
    with store.db.session() as s:
        s.execute(update(QAReviewRow).where(QAReviewRow.interaction_id == "call-2")
                  .values(claimed_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)))
    held = {x["interaction_id"]: x for x in json.loads(_invoke(["qa", "list", "--json", "--status", "claimed"], tmp_path).stdout)}
    assert held["call-2"]["lease_expired"] and not held["call-3"]["lease_expired"]
    res = _invoke(["qa", "claim", "--next", "--as", "carol"], tmp_path)
    assert json.loads(res.stdout)["interaction_id"] == "call-2"
    assert _invoke(["qa", "resolve", "call-2", "--as", "bob"], tmp_path).exit_code == 1  # bob lost it
    res = _invoke(["qa", "claim", "call-2", "--as", "bob"], tmp_path)
    assert res.exit_code == 1 and "claimed by carol" in res.output
    res = _invoke(["qa", "release", "call-2", "--as", "carol"], tmp_path)
    assert json.loads(res.stdout)["status"] == "open"
    assert json.loads(_invoke(["qa", "claim", "call-2", "--as", "bob"], tmp_path).stdout)["assignee"] == "bob"

    res = _invoke(["qa", "resolve", str(top["id"]), "--as", "alice", "--score", "85", "--comment", "开场白其实有"], tmp_path)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["status"] == "resolved"
    assert _invoke(["qa", "resolve", "call-2", "--as", "bob"], tmp_path).exit_code == 0
    res = _invoke(["qa", "appeal", "call-3", "--as", "agent-7", "--reason", "客户打断了"], tmp_path)
    assert json.loads(res.stdout)["status"] == "appealed"
    res = _invoke(["qa", "decide", "call-3", "--as", "sup", "--score", "72"], tmp_path)
    assert json.loads(res.stdout)["status"] == "closed"

    shown = json.loads(_invoke(["qa", "show", "call-3", "--json"], tmp_path).stdout)
    assert shown["score_override"] == 72 and shown["machine_score"] == 70.0
    assert [h["action"] for h in shown["history"]] == ["enqueued", "claimed", "resolved", "appealed", "appeal decided"]
    assert "rules" in shown
    res = _invoke(["qa", "show", "nope"], tmp_path)
    assert res.exit_code == 2 and "nope" in res.output

    cal = json.loads(_invoke(["qa", "calibration", "--json"], tmp_path).stdout)
    assert cal == ReviewQueue(store.db).calibration().to_dict()
    assert cal["by_reviewer"]["alice"] == {"reviewed": 1, "overrides": 1, "override_share": 1.0, "mean_abs_diff": 15.0}
    assert cal["by_reviewer"]["bob"]["overrides"] == 0
    assert cal["reviewer_vs_reviewer"]["pairs"] == 1 and cal["reviewer_vs_reviewer"]["mean_abs_diff"] == 13.0
    res = _invoke(["qa", "calibration"], tmp_path)
    assert res.exit_code == 0 and "alice" in res.stdout
    store.close()


def test_export_csv_with_bom_and_parquet(tmp_path):
    store, q = _seed(tmp_path, 3)
    q.resolve(q.claim_next("alice").id, "alice", score_override=55, comment="礼貌用语缺失, 需要培训")
    out = tmp_path / "queue.csv"
    res = _invoke(["qa", "export", "--format", "csv", "-o", str(out)], tmp_path)
    assert res.exit_code == 0, res.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig", newline="")))
    assert len(rows) == 3 and {r["external_id"] for r in rows} == {"外呼-0", "外呼-1", "外呼-2"}
    done = next(r for r in rows if r["status"] == "resolved")
    assert done["comment"] == "礼貌用语缺失, 需要培训" and float(done["score_override"]) == 55
    assert float(done["machine_score"]) == 60.0
    res = _invoke(["qa", "export", "--format", "xlsx", "-o", str(out)], tmp_path)
    assert res.exit_code == 2 and "xlsx" in res.output

    pq = pytest.importorskip("pyarrow.parquet")
    pout = tmp_path / "queue.parquet"
    res = _invoke(["qa", "export", "--format", "parquet", "-o", str(pout)], tmp_path)
    assert res.exit_code == 0, res.output
    table = pq.read_table(pout).to_pylist()
    assert [(r["id"], r["status"], r["machine_score"]) for r in table] == \
        [(int(r["id"]), r["status"], float(r["machine_score"])) for r in rows]
    store.close()

"""A step the machine is not sure of costs the agent nothing and sends the call to the review queue (reason
uncertain_step) with the candidate turn as evidence: stage on a real SQLite store, seen through `voc qa`."""

from __future__ import annotations

import datetime as dt
import json

from typer.testing import CliRunner

from voc.cli import app
from voc.config import Settings
from voc.records import Channel, Interaction, Role, Utterance

DAY = dt.date(2026, 12, 2)
A, C = Role.AGENT, Role.CUSTOMER
LINES = [(A, "您好，很高兴为您服务。", None), (C, "我想问一下电饭煲的保修。", None),
         # an identity question in other words, heard by the ASR with low confidence
         (A, "您把下单时留的手机号码报给我一下。", -1.4), (C, "一三八一二。", None),
         (A, "请问有什么可以帮您？", None), (A, "给您申请退款，大概三个工作日内到账。", None),
         (A, "您看这样可以吗？", None), (C, "可以。", None), (A, "感谢您的来电，再见。", None)]


def test_uncertain_step_reaches_the_review_queue_with_evidence(tmp_path):
    from voc.pipeline.qa import run as qa_run
    from voc.store import Store

    url = f"sqlite:///{tmp_path / 'voc.db'}"
    store = Store.open(url)
    store.add_interaction(Interaction("u1", Channel.CALL, DAY, "u1", external_id="U1", queue="retail_after_sales"),
                          "transcript")
    store.replace_transcript("u1", [Utterance("u1", k, r, 2.0 * k, 2.0 * k + 1.8, t, avg_logprob=lp)
                                    for k, (r, t, lp) in enumerate(LINES)], None, language="zh", model="t", options={})
    result = qa_run(store, Settings(database_url=url, qa={"review_sample_rate": 0.0}), DAY)
    assert result.details["uncertain_step"] == 1
    store.close()

    env = {"VOC_DATABASE_URL": url}
    listed = json.loads(CliRunner().invoke(app, ["qa", "list", "--reason", "uncertain_step", "--json"], env=env).stdout)
    assert [i["interaction_id"] for i in listed] == ["u1"]
    shown = json.loads(CliRunner().invoke(app, ["qa", "show", "u1", "--json"], env=env).stdout)
    rule = next(r for r in shown["rules"] if r["rule"] == "identity_check")
    assert rule["verdict"] == "not_sure" and rule["weight"] == 0
    assert rule["evidence"][0]["idx"] == 2 and rule["evidence"][0]["text"] == LINES[2][1]
    plain = CliRunner().invoke(app, ["qa", "show", "u1"], env=env).stdout
    assert "NOT SURE  identity_check" in plain

"""The step model and the three verdicts, without the embedder: a stub reading with chosen probabilities for the
verdict logic, hash vectors for fitting and persistence, the example files and reviewer labels."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from voc.config import QASettings
from voc.qa import UNCERTAIN_STEP, ScriptError, load_scripts, score_call, verdict_of
from voc.qa.examples import Example, training_set
from voc.qa.steps import (
    CallReading,
    TurnClassifier,
    Unit,
    fit_judge,
    judge_from_bytes,
    judge_to_bytes,
    sentences,
)
from voc.records import Role, SentimentScore, Utterance
from voc.store.qa_examples import StepDecision

A, C = Role.AGENT, Role.CUSTOMER
LABELS = ("greeting", "identity_check", "understanding", "empathy", "solution", "confirm_resolution", "closing",
          "forbidden")


class StubJudge:
    """Reads a call as told: ``probs[idx][label]`` per agent turn (0 elsewhere), ``complaints[idx]`` per customer turn."""

    def __init__(self, probs: dict[int, dict[str, float]], complaints: dict[int, float] | None = None) -> None:
        self.probs, self.complaints = probs, complaints or {}

    def read(self, agent):
        units = [Unit("turn", (u.idx,), u.text, {k: self.probs.get(u.idx, {}).get(k, 0.0) for k in LABELS})
                 for u in agent]
        return CallReading(units, lambda u: self.complaints.get(u.idx, 0.0))


@pytest.fixture(scope="module")
def retail():
    return load_scripts().scripts["retail_after_sales"]


def call(lines, logprobs=None):
    logprobs = logprobs or {}
    return [Utterance("c1", i, role, 3.0 * i, 3.0 * i + 2.5, text, avg_logprob=logprobs.get(i))
            for i, (role, text) in enumerate(lines)]


BASE = [(A, "您好，很高兴为您服务。"), (C, "我想问个事。"), (A, "请问您的订单号是多少？"), (C, "一二三。"),
        (A, "请问有什么可以帮您？"), (A, "我这边帮您处理，给您安排退货。"), (A, "您看这样可以吗？"),
        (A, "感谢您的来电，再见。")]


def outcome(result, rule):
    return next(o for o in result.outcomes if o.rule_id == rule)


def test_uncertain_step_is_not_sure_costs_nothing_and_goes_to_review(retail):
    lines = [*BASE[:2], (A, "您方便说一下购买时的号码吗？"), *BASE[3:]]
    judge = StubJudge({2: {"identity_check": 0.45}})
    r = score_call(call(lines), None, [], retail, QASettings(review_sample_rate=0.0), 7, judge=judge)
    o = outcome(r, "identity_check")
    assert verdict_of(o) == "not_sure" and o.passed and o.weight == 0
    assert o.evidence[0]["idx"] == 2 and o.evidence[0]["verdict"] == "not_sure" and o.evidence[0]["probability"] == 0.45
    assert UNCERTAIN_STEP in r.review_reasons
    sure = score_call(call(lines), None, [], retail, QASettings(review_sample_rate=0.0), 7,
                      judge=StubJudge({2: {"identity_check": 0.9}}))
    assert verdict_of(outcome(sure, "identity_check")) == "pass" and UNCERTAIN_STEP not in sure.review_reasons
    assert sure.score == r.score  # not sure neither adds nor costs points


def test_low_asr_confidence_makes_a_model_pass_not_sure(retail):
    lines = [*BASE[:2], (A, "您方便说一下购买时的号码吗？"), *BASE[3:]]
    judge = StubJudge({2: {"identity_check": 0.95}})
    r = score_call(call(lines, {2: -1.6}), None, [], retail, QASettings(), 7, judge=judge)
    assert verdict_of(outcome(r, "identity_check")) == "not_sure"
    assert "ASR" in outcome(r, "identity_check").detail


def test_short_phrase_needs_the_models_support_long_phrase_does_not(retail):
    # 再见 (2 characters) inside another phrase is no closing; 感谢您的来电 is, whatever the model says.
    lines = [*BASE[:7], (A, "我们也不想再见到这种事。")]
    r = score_call(call(lines), None, [], retail, QASettings(), 7, judge=StubJudge({7: {"closing": 0.02}}))
    assert verdict_of(outcome(r, "closing")) == "fail"
    r = score_call(call(BASE), None, [], retail, QASettings(), 7, judge=StubJudge({}))
    assert verdict_of(outcome(r, "closing")) == "pass" and outcome(r, "closing").evidence[0]["how"] == "exact"


def test_empathy_is_due_from_the_first_complaint_turn(retail):
    # C011's shape: the customer complains in turn 1, the agent apologises in turn 2, the sentiment model only
    # rates turn 3 negative: the apology answers the complaint.
    lines = [(A, "您好，很高兴为您服务。"), (C, "空调一直漏水，地板都湿了。"), (A, "非常抱歉给您带来这么大的困扰。"),
             (C, "是不是质量有问题？"), (A, "我这边帮您处理，给您安排退货。"), (A, "感谢您的来电，再见。")]
    late_negative = [SentimentScore("c1", 3, -0.8, "negative")]
    judge = StubJudge({2: {"empathy": 0.97}}, complaints={1: 0.9, 3: 0.3})
    r = score_call(call(lines), None, late_negative, retail, QASettings(), 7, judge=judge)
    assert verdict_of(outcome(r, "empathy")) == "pass" and outcome(r, "empathy").weight > 0
    # without the complaint model only the sentiment counts: the apology came too early
    r = score_call(call(lines), None, late_negative, retail, QASettings(), 7)
    assert not outcome(r, "empathy").passed
    # no complaint and a neutral question that the sentiment model scores negative: not due
    calm = StubJudge({}, complaints={1: 0.1, 3: 0.05})
    r = score_call(call(lines), None, late_negative, retail, QASettings(), 7, judge=calm)
    assert outcome(r, "empathy").weight == 0 and "not required" in outcome(r, "empathy").detail


def test_rude_paraphrase_fails_forbidden_and_honest_help_does_not(retail):
    lines = [*BASE[:5], (A, "说明书上都写着，回去自己翻。"), *BASE[5:]]
    r = score_call(call(lines), None, [], retail, QASettings(), 7, judge=StubJudge({5: {"forbidden": 0.93}}))
    o = outcome(r, "forbidden_phrases")
    assert not o.passed and o.evidence[0]["how"] == "model" and o.evidence[0]["idx"] == 5
    honest = [*BASE[:5], (A, "这个我不知道，不过我马上帮您问技术同事。"), *BASE[5:]]
    r = score_call(call(honest), None, [], retail, QASettings(), 7, judge=StubJudge({5: {"forbidden": 0.03}}))
    assert outcome(r, "forbidden_phrases").passed  # the listed 不知道 (short) is not confirmed by the model


def test_missing_step_keeps_the_closest_turn_as_a_candidate(retail):
    lines = [BASE[0], BASE[1], *BASE[4:]]
    r = score_call(call(lines), None, [], retail, QASettings(), 7, judge=StubJudge({4: {"identity_check": 0.1}}))
    o = outcome(r, "identity_check")
    assert verdict_of(o) == "fail" and o.evidence[0]["candidate"] and o.evidence[0]["probability"] == 0.1


def hash_vectors(texts):
    out = []
    for t in texts:
        seed = int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)
        v = np.random.default_rng(seed).normal(size=16).astype(np.float32)
        out.append(v / np.linalg.norm(v))
    return np.stack(out)


def test_fitted_model_survives_bytes_and_learns_from_ngrams(retail):
    ts = training_set(retail)  # phrases and inline examples only
    judge = fit_judge(ts, hash_vectors, seed=3)
    again = judge_from_bytes(judge_to_bytes(judge), hash_vectors)
    texts = ["感谢您的来电，祝您愉快。", "请问您的订单号是多少？"]
    units = [Utterance("x", i, A, 0, 1, t) for i, t in enumerate(texts)]
    a = [u.probs for u in judge.read(units).units]
    b = [u.probs for u in again.read(units).units]
    assert a == b
    assert a[0]["closing"] > a[0]["identity_check"] and a[1]["identity_check"] > a[1]["closing"]


def test_classifier_without_positives_never_fires():
    ex = [Example("好的"), Example("嗯"), Example("请问贵姓", frozenset({"identity_check"}))]
    clf = TurnClassifier.fit(ex, ("identity_check", "closing"), hash_vectors([e.text for e in ex]))
    p = clf.predict(["再见"], hash_vectors(["再见"]))
    assert p[0, 1] < 1e-6


def test_shipped_example_files_train_every_step_with_counter_examples():
    for name, ts in load_scripts().training.items():
        for label in ts.agent_labels:
            pos = sum(label in e.labels for e in ts.agent)
            neg = sum(label in e.counter for e in ts.agent)
            assert pos >= 25 and neg >= 8, (name, label, pos, neg)
        assert sum("complaint" in e.labels for e in ts.customer) >= 20


def test_reviewer_label_overrides_the_shipped_one():
    from voc.qa.matcher import normalise

    ts = load_scripts().training["retail_after_sales"]
    key = normalise("您看这样可以吗？")[0]
    assert any(normalise(e.text)[0] == key and "confirm_resolution" in e.labels for e in ts.agent)
    taught = ts.with_reviewer_examples([("confirm_resolution", "您看这样可以吗？", False),
                                        ("closing", "那就这样哈，您歇着吧。", True),
                                        ("no_such_rule", "随便", True)])
    e = next(e for e in taught.agent if normalise(e.text)[0] == key)
    assert "confirm_resolution" not in e.labels and "confirm_resolution" in e.counter and e.source == "reviewer"
    assert any(x.text == "那就这样哈，您歇着吧。" and "closing" in x.labels for x in taught.agent)
    assert taught.signature != ts.signature and len(taught.agent) == len(ts.agent) + 1


def test_example_file_naming_an_unknown_step_fails_with_its_line(tmp_path):
    from voc.qa.loader import SHIPPED_RULES

    (tmp_path / "shop.yaml").write_text((SHIPPED_RULES / "retail_after_sales.yaml").read_text(encoding="utf-8")
                                        .replace("name: retail_after_sales", "name: shop")
                                        .replace("example_files: [examples/common.yaml, examples/retail_after_sales.yaml]",
                                                 "example_files: [examples/mine.yaml]"), encoding="utf-8")
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "mine.yaml").write_text("steps:\n  greeting:\n    examples: [您好]\n  greetings:\n"
                                                     "    examples: [你好]\n", encoding="utf-8")
    with pytest.raises(ScriptError) as err:
        load_scripts(tmp_path)
    assert err.value.line == 4 and "greetings" in err.value.message


def test_sentences_and_step_decisions_parse():
    assert sentences("好的，已经为您登记了。请问还有其他可以帮您的吗？") == ["好的，已经为您登记了。", "请问还有其他可以帮您的吗？"]
    assert StepDecision.parse("identity_check=pass@2") == StepDecision("identity_check", True, 2)
    assert StepDecision.parse("empathy=fail") == StepDecision("empathy", False, None)
    with pytest.raises(ValueError, match="RULE=pass"):
        StepDecision.parse("empathy=maybe")


def test_a_closing_said_early_fails_on_timing(retail):
    lines = [*BASE[:7], (A, "那就这样哈，您歇着吧。"), (C, "哦对了，发票怎么开？"), (A, "发票在订单页面申请。")]
    utts = call(lines)
    utts[-2:] = [Utterance("c1", 8, C, 60.0, 63.0, lines[8][1]), Utterance("c1", 9, A, 64.0, 67.0, lines[9][1])]
    judge = StubJudge({7: {"closing": 0.9}})
    o = outcome(score_call(utts, None, [], retail, QASettings(), 7, judge=judge), "closing")
    assert verdict_of(o) == "fail" and "expected within the last 30s" in o.detail and o.evidence[0]["idx"] == 7

"""QA scoring: script validation, rule verdicts with evidence, ASR-tolerant matching, review sampling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voc.config import QASettings
from voc.qa import (
    FORBIDDEN_PHRASE,
    LOW_SCORE,
    NEGATIVE_CUSTOMER,
    PhraseSet,
    PinyinMatcher,
    ScriptError,
    in_sample,
    load_scripts,
    score_call,
)
from voc.qa.loader import SHIPPED_RULES
from voc.records import CallMetrics, Role, SentimentScore, Utterance

A, C = Role.AGENT, Role.CUSTOMER

CLEAN = [
    (A, 0.5, 4.0, "您好，很高兴为您服务，请问有什么可以帮您？"),
    (C, 4.5, 9.0, "我上周买的电饭煲坏了，按键没反应。"),
    (A, 9.5, 12.0, "请问您的订单号是多少？"),
    (C, 12.5, 15.0, "订单号是一二三四五六。"),
    (A, 15.5, 18.0, "好的，我帮您查一下，请稍等。"),
    (A, 30.0, 36.0, "查到了，我这边帮您处理，给您安排师傅上门维修。"),
    (A, 36.5, 39.0, "您看这样可以吗？"),
    (C, 39.5, 41.0, "可以，谢谢。"),
    (A, 41.5, 45.0, "感谢您的来电，祝您生活愉快，再见。"),
]


def make_call(lines, iid: str = "call-1") -> list[Utterance]:
    return [Utterance(iid, i, role, s, e, text) for i, (role, s, e, text) in enumerate(lines)]


def metrics(iid: str = "call-1", duration: float = 45.0, overtalk: float = 1.0, rate: float | None = 240.0) -> CallMetrics:
    return CallMetrics(iid, duration, 25.0, 12.0, 8.0, 11.5, overtalk, 1, rate, 200.0, 0.67)


@pytest.fixture(scope="module")
def book():
    return load_scripts()


@pytest.fixture(scope="module")
def retail(book):
    return book.scripts["retail_after_sales"]


def outcome(result, rule_id):
    return next(o for o in result.outcomes if o.rule_id == rule_id)


def score(lines, script, sentiments=(), m=None, **kw):
    utts = make_call(lines)
    return score_call(utts, m or metrics(), list(sentiments), script, QASettings(review_sample_rate=0.0), seed=7, **kw)


def test_shipped_scripts_load_and_map_queues(book):
    assert {"retail_after_sales", "telecom_billing"} <= set(book.scripts)
    assert book.for_queue("billing").name == "telecom_billing"
    assert book.for_queue("some_new_queue").name == book.default
    assert load_scripts() is book  # cached per folder


def test_clean_call_scores_high_with_evidence(retail):
    result = score(CLEAN, retail)
    assert result.score >= 95, [(o.rule_id, o.detail) for o in result.outcomes if not o.passed]
    greeting = outcome(result, "greeting")
    assert greeting.passed and greeting.evidence[0]["idx"] == 0
    assert greeting.evidence[0]["how"] in {"exact", "regex"} and greeting.evidence[0]["start"] == 0.5
    closing = outcome(result, "closing")
    assert closing.passed and closing.evidence[0]["matched"] in CLEAN[8][3]
    assert outcome(result, "empathy").weight == 0  # customer never negative: not required
    assert result.review_reasons == ()


def test_missing_greeting_fails(retail):
    lines = [(A, 0.5, 4.0, "请问有什么可以帮您？")] + CLEAN[1:]
    result = score(lines, retail)
    assert not outcome(result, "greeting").passed
    assert result.score < score(CLEAN, retail).score


def test_late_greeting_fails_with_time_in_detail(retail):
    lines = [(C, 0.0, 14.0, "喂喂，有人吗？"), (A, 15.0, 18.0, "您好，很高兴为您服务。")] + CLEAN[1:]
    result = score(lines, retail)
    greeting = outcome(result, "greeting")
    assert not greeting.passed
    assert "15.0s" in greeting.detail and greeting.evidence[0]["idx"] == 1


def test_forbidden_phrase_fails_and_goes_to_review(retail):
    lines = CLEAN[:5] + [(A, 30.0, 34.0, "这个我不知道，这不归我管，你自己看说明书吧。")] + CLEAN[6:]
    result = score(lines, retail)
    rule = outcome(result, "forbidden_phrases")
    assert not rule.passed
    assert {e["matched"] for e in rule.evidence} == {"不知道", "这不归我管", "你自己看"}
    assert FORBIDDEN_PHRASE in result.review_reasons


def test_polite_question_is_not_forbidden(retail):
    lines = CLEAN[:6] + [(A, 36.5, 39.0, "不知道您还有没有其他问题？您看这样可以吗？")] + CLEAN[7:]
    assert outcome(score(lines, retail), "forbidden_phrases").passed


def test_another_steps_exact_wording_is_not_claimed_by_a_near_homophone(retail):
    # 还有什么可以帮您 is confirm_resolution's own wording; it must not count as understanding's 请问有什么可以帮您
    lines = [(A, 0.5, 4.0, "您好，很高兴为您服务。")] + CLEAN[1:6] + [(A, 36.5, 39.0, "还有什么可以帮您？")] + CLEAN[7:]
    result = score(lines, retail)
    assert not outcome(result, "understanding").passed
    confirm = outcome(result, "confirm_resolution")
    assert confirm.passed and confirm.evidence[0]["idx"] == 6 and confirm.evidence[0]["how"] == "exact"
    assert outcome(result, "step_order").passed


def test_polite_question_misheard_as_homophone_is_still_excused(retail):
    lines = CLEAN[:6] + [(A, 36.5, 39.0, "不知到您还有没有其他问题？您看这样可以吗？")] + CLEAN[7:]
    assert outcome(score(lines, retail), "forbidden_phrases").passed
    rude = CLEAN[:6] + [(A, 36.5, 39.0, "不知到，你自己去查。")] + CLEAN[7:]
    assert not outcome(score(rude, retail), "forbidden_phrases").passed


def test_forbidden_phrase_heard_as_homophone_still_fires(retail):
    lines = CLEAN[:5] + [(A, 30.0, 34.0, "这不规我管。")] + CLEAN[6:]
    rule = outcome(score(lines, retail), "forbidden_phrases")
    assert not rule.passed and rule.evidence[0]["how"] == "pinyin"


def test_missing_apology_under_negative_sentiment_fails(retail):
    negative = [SentimentScore("call-1", 1, -0.8, "negative")]
    result = score(CLEAN, retail, negative)
    empathy = outcome(result, "empathy")
    assert not empathy.passed and empathy.weight > 0
    assert NEGATIVE_CUSTOMER in result.review_reasons
    apology = CLEAN[:2] + [(A, 9.2, 9.4, "非常抱歉给您带来不便。")] + CLEAN[2:]
    fixed = score(apology, retail, [SentimentScore("call-1", 1, -0.8, "negative")])
    assert outcome(fixed, "empathy").passed and outcome(fixed, "empathy").evidence[0]["idx"] == 2


def test_silence_without_hold_notice_fails(retail):
    no_hold = list(CLEAN)
    no_hold[4] = (A, 15.5, 18.0, "好的。")
    rule = outcome(score(no_hold, retail), "silence_hold")
    assert rule.passed, rule.evidence  # the 12 s gap is under the 20 s limit
    long_gap = list(no_hold)
    long_gap[5:] = [(r, s + 20, e + 20, t) for r, s, e, t in no_hold[5:]]
    result = score(long_gap, retail, m=metrics(duration=65.0))
    rule = outcome(result, "silence_hold")
    assert not rule.passed and rule.evidence[0]["idx"] == 4 and rule.evidence[0]["gap_s"] == 32.0
    with_hold = list(CLEAN)
    with_hold[5:] = [(r, s + 20, e + 20, t) for r, s, e, t in CLEAN[5:]]
    assert outcome(score(with_hold, retail, m=metrics(duration=65.0)), "silence_hold").passed


def test_overtalk_and_speech_rate_use_metrics(retail):
    result = score(CLEAN, retail, m=metrics(overtalk=40.0, rate=420.0))
    assert not outcome(result, "overtalk").passed and not outcome(result, "speech_rate").passed
    text_only = score(CLEAN, retail, m=metrics(rate=None))
    assert outcome(text_only, "speech_rate").weight == 0


def test_asr_homophones_still_match_steps(retail):
    asr = list(CLEAN)
    asr[0] = (A, 0.5, 4.0, "嗯，很高兴为您服物，请问有什么可以帮您")  # 服务 -> 服物, no 您好
    asr[5] = (A, 30.0, 36.0, "查到了我这边帮您处理给您安排师父上门维修")
    asr[8] = (A, 41.5, 45.0, "好的感谢您的来店")  # 来电 -> 来店
    result = score(asr, retail)
    closing = outcome(result, "closing")
    assert closing.passed and closing.evidence[0]["how"] == "pinyin"
    assert closing.evidence[0]["matched"] == "感谢您的来电" and closing.evidence[0]["window"] == "感谢您的来店"
    hit = PinyinMatcher().match(["你好很高兴为您服物"], PhraseSet(("您好很高兴为您服务",)))[0]
    assert hit is not None and hit.how == "pinyin" and hit.similarity >= 0.9


def test_confusable_initials_and_finals_fold():
    m = PinyinMatcher(threshold=1.0, min_chars=1)
    # zh/z, sh/s, in/ing, en/eng: a southern accent (or ASR trained on one) mixes these.
    assert m.match(["我帮您杂询一下"], PhraseSet(("帮您查询",)))[0] is None  # ch->z is not folded
    assert m.match(["请稍登"], PhraseSet(("请稍等",)))[0] is not None  # deng == deng
    assert m.match(["谢谢您的耐兴"], PhraseSet(("耐心",)))[0] is not None  # xin/xing
    assert m.match(["首先是建议你使用"], PhraseSet(("建议您",)))[0] is not None  # ASR writes 您 as 你


def test_short_variants_need_exact_pinyin():
    m = PinyinMatcher(threshold=0.8, min_chars=4)
    assert m.match(["这个不可以"], PhraseSet(("不客气",)))[0] is None  # ke qi vs ke yi: one partial miss
    assert PinyinMatcher(threshold=0.8, min_chars=1).match(["这个不可以"], PhraseSet(("不客气",)))[0] is not None


def test_review_sample_is_deterministic():
    ids = [f"call-{i}" for i in range(2000)]
    first = [in_sample(42, i, 0.1) for i in ids]
    assert first == [in_sample(42, i, 0.1) for i in ids]
    assert 150 < sum(first) < 250
    assert first != [in_sample(43, i, 0.1) for i in ids]
    assert not any(in_sample(42, i, 0.0) for i in ids) and all(in_sample(42, i, 1.0) for i in ids)


def test_low_score_goes_to_review(retail):
    lines = [(C, 0.0, 3.0, "喂？"), (A, 3.0, 5.0, "嗯。"), (C, 5.0, 9.0, "我要退货。"), (A, 9.0, 11.0, "哦。")]
    result = score(lines, retail)
    assert result.score < QASettings().review_score_below and LOW_SCORE in result.review_reasons


# ---- rule file validation ----------------------------------------------------------------------

GOOD = (SHIPPED_RULES / "retail_after_sales.yaml").read_text(encoding="utf-8")


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _broken(tmp_path: Path, text: str) -> ScriptError:
    (tmp_path / "shop.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ScriptError) as err:
        load_scripts(tmp_path)
    return err.value


@pytest.mark.parametrize(
    ("old", "new", "marker", "words"),
    [
        ("    weight: 15\n", "    wieght: 15\n", "wieght", "wieght"),
        ("regex: ['^(喂)?[，, ]?(您|你)好']", "regex: ['(unclosed']", "(unclosed", "does not compile"),
        ("order: [greeting, understanding", "order: [greeting, undrestanding", "undrestanding", "unknown step"),
        ("within_first_s: 10 ", "within_first_s: -3 ", "within_first_s: -3", "greater than 0"),
        ("  max_gap_s: 20\n", "  max_gap_s: 20\n  max_gap_s: 30\n", "max_gap_s: 30", "duplicate key"),
        ("speech_rate: {weight: 5, min_cpm: 150", "speech_rate: {weight: 5, min_cpm: 500", "speech_rate:", "min_cpm"),
        ("name: 结束语", "name: [结束语", "name: [结束语", "not valid YAML"),
    ],
)
def test_validation_errors_name_file_and_line(tmp_path, old, new, marker, words):
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    err = _broken(tmp_path, text)
    assert err.path == tmp_path / "shop.yaml"
    assert words in err.message
    # YAML syntax errors are reported where the parser notices them, which may be a line later.
    assert err.line is not None and 0 <= err.line - _line_of(text, marker) <= 1, str(err)
    assert str(err).startswith(f"{tmp_path / 'shop.yaml'}:{err.line}: ")


def test_queue_map_to_unknown_script_names_line(tmp_path):
    (tmp_path / "shop.yaml").write_text(GOOD.replace("name: retail_after_sales", "name: shop"), encoding="utf-8")
    (tmp_path / "queues.yaml").write_text("default: shop\nqueues:\n  returns: shop\n  vip: shopp\n", encoding="utf-8")
    with pytest.raises(ScriptError, match=r"queues\.yaml:4: queues\.vip: unknown script 'shopp'"):
        load_scripts(tmp_path)


def test_empty_rules_folder_says_what_to_do(tmp_path):
    with pytest.raises(ScriptError, match="no <script>.yaml"):
        load_scripts(tmp_path)


# ---- real data ---------------------------------------------------------------------------------


def test_real_mobilecs_greetings_found(shared_data, book):
    """Every MobileCS call whose first agent turn is annotated 问候 (greeting) passes the greeting rule."""
    script = book.scripts["telecom_billing"]
    checked = 0
    for line in (shared_data / "dialog" / "mobilecs_example.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        utts = [Utterance(d["id"], i, Role(t["role"]), 0.0, 0.0, t["text"]) for i, t in enumerate(d["turns"])]
        result = score_call(utts, None, [], script, QASettings(), seed=1)
        first_agent = next(t for t in d["turns"] if t["role"] == "agent")
        if "问候" in first_agent["intent"]:
            checked += 1
            assert outcome(result, "greeting").passed, (d["id"], first_agent["text"])
        assert 0 <= result.score <= 100
    assert checked >= 5

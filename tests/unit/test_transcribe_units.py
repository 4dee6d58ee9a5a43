"""Pure tests of the transcription package: guards, t2s, metrics, JSON shape, CER (no Whisper run)."""

from __future__ import annotations

import pytest

from voc.config import AsrSettings
from voc.records import Role, Utterance, Word
from voc.transcribe import (
    AsrSegment,
    TranscriptFormatError,
    cer,
    collapse_repetitions,
    compute_call_metrics,
    find_phantom,
    guard_segments,
    to_simplified,
    transcript_from_json,
    transcript_to_json,
)


def utt(idx: int, role: Role, start: float, end: float, text: str, words: tuple[Word, ...] = ()) -> Utterance:
    return Utterance("c1", idx, role, start, end, text, words=words)


def test_traditional_to_simplified():
    assert to_simplified("請問您的訂單號碼是多少？這裡是客服中心") == "请问您的订单号码是多少？这里是客服中心"
    assert to_simplified("APP 4G Java") == "APP 4G Java"


def test_clean_text_full_width_punctuation_after_chinese():
    from voc.transcribe.cleanup import clean_text

    assert clean_text("您好,這裡是客服 ,請問有什麼可以幫您?") == "您好，这里是客服，请问有什么可以帮您？"
    assert clean_text("  利率1.5%, 访问 Amara.org  ") == "利率1.5%, 访问 Amara.org"


def test_phantom_phrase_matches_across_script_and_punctuation():
    phrases = AsrSettings().phantom_phrases
    assert find_phantom("字幕由 Amara.org 社群提供", phrases) == "字幕由Amara.org社群提供"
    assert find_phantom("請不吝點贊訂閱、轉發", phrases) == "请不吝点赞订阅"
    assert find_phantom("您好，请问有什么可以帮您？", phrases) is None


def test_collapse_repetition_keeps_ordinary_doubling():
    assert collapse_repetitions("好的好的，我帮您查一下") == ("好的好的，我帮您查一下", 0)
    text, removed = collapse_repetitions("我们的产品我们的产品我们的产品我们的产品我们的产品很好")
    assert text == "我们的产品我们的产品很好"
    assert removed == len("我们的产品") * 3


def test_guard_segments_drop_reasons():
    asr = AsrSettings()
    segments = [
        AsrSegment(0.0, 2.0, "您好，這裡是售後服務中心", -0.2, 0.01),
        AsrSegment(2.0, 4.0, "字幕由Amara.org社群提供", -0.3, 0.2),
        AsrSegment(4.0, 6.0, "嗯", -1.6, 0.9),  # no-speech with low confidence
        AsrSegment(6.0, 9.0, "对" * 30, -0.4, 0.1),  # a loop and nothing else
        AsrSegment(9.0, 11.0, "退款退款退款退款退款，什么时候到账", -0.3, 0.05),
        AsrSegment(11.0, 11.5, " 。 ", -0.3, 0.05),
        AsrSegment(12.0, 13.0, "好的", -0.2, 0.01),
        AsrSegment(13.0, 14.0, "好的", -0.2, 0.01),
        AsrSegment(14.0, 15.0, "好的", -0.2, 0.01),  # third identical segment in a row
    ]
    kept, dropped = guard_segments(segments, asr)
    assert [k.text for k in kept] == ["您好，这里是售后服务中心", "退款退款，什么时候到账", "好的", "好的"]
    reasons = [(d["start"], d["reason"]) for d in dropped]
    assert reasons == [(2.0, "phantom_phrase"), (4.0, "no_speech"), (6.0, "repetition"),
                       (9.0, "repetition_collapsed"), (11.0, "empty"), (14.0, "repetition")]
    # a confident segment with a high no-speech probability is kept: both conditions are needed
    kept, _ = guard_segments([AsrSegment(0, 1, "您好", -0.2, 0.9)], asr)
    assert len(kept) == 1


def test_metrics_on_hand_built_utterances():
    utterances = [
        utt(0, Role.AGENT, 0.0, 4.0, "您好，请问有什么可以帮您"),  # 11 chars
        utt(1, Role.CUSTOMER, 3.0, 8.0, "我的订单还没到"),  # overlaps agent 3-4
        utt(2, Role.AGENT, 10.0, 12.0, "好的我查一下"),
        utt(3, Role.CUSTOMER, 11.5, 13.0, "谢谢"),  # overlaps agent 11.5-12
    ]
    m = compute_call_metrics("c1", utterances, duration_s=20.0)
    assert m.agent_talk_s == 6.0
    assert m.customer_talk_s == 6.5
    assert m.overtalk_s == 1.5 and m.overtalk_count == 2
    # speech 0-8 and 10-13 -> silence 8-10 and 13-20
    assert m.silence_s == 9.0 and m.longest_silence_s == 7.0
    assert m.agent_speech_rate_cpm == pytest.approx((11 + 6) / (6 / 60), abs=0.1)
    assert m.agent_talk_ratio == pytest.approx(6 / 12.5, abs=1e-4)


def test_metrics_use_words_so_pauses_are_not_talk():
    words = (Word(0.0, 0.5, "您好", 0.9), Word(0.6, 1.0, "请问", 0.9), Word(5.0, 5.5, "在吗", 0.9))
    m = compute_call_metrics("c1", [utt(0, Role.AGENT, 0.0, 5.5, "您好请问在吗", words)])
    assert m.agent_talk_s == pytest.approx(1.5)
    assert m.longest_silence_s == pytest.approx(4.0)
    assert m.duration_s == 5.5


def test_metrics_mono_and_empty():
    m = compute_call_metrics("c1", [utt(0, Role.UNKNOWN, 1.0, 3.0, "喂")], duration_s=5.0)
    assert (m.agent_talk_s, m.customer_talk_s, m.agent_talk_ratio) == (0.0, 0.0, 0.0)
    assert m.silence_s == 3.0 and m.agent_speech_rate_cpm is None
    empty = compute_call_metrics("c1", [], duration_s=10.0)
    assert empty.silence_s == 10.0 and empty.longest_silence_s == 10.0 and empty.overtalk_count == 0


def test_external_json_shape_round_trip():
    external = {
        "call_id": "C001", "language": "zh", "model": "external", "duration_s": 12.0,
        "utterances": [
            {"role": "customer", "start": 4.0, "end": 7.5, "text": "我想退货", "avg_logprob": -0.3},
            {"role": "agent", "start": 0.4, "end": 3.1, "text": "您好，这里是售后"},
        ],
        "extra_key": "ignored",
    }
    t = transcript_from_json(external)
    assert t.interaction_id == "C001"
    assert [u.role for u in t.utterances] == [Role.AGENT, Role.CUSTOMER]  # sorted by start
    assert [u.idx for u in t.utterances] == [0, 1]
    assert t.metrics.duration_s == 12.0 and t.metrics.customer_talk_s == 3.5
    out = transcript_to_json(t)
    assert out["interaction_id"] == out["call_id"] == "C001"
    assert {"language", "model", "utterances", "metrics", "dropped"} <= set(out)
    again = transcript_from_json(out, interaction_id="I-9")
    assert again.interaction_id == "I-9" and again.metrics.agent_talk_s == t.metrics.agent_talk_s
    assert [u.text for u in again.utterances] == [u.text for u in t.utterances]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"utterances": []}, "call_id"),
        ({"call_id": "x", "utterances": [{"role": "boss", "start": 0, "end": 1, "text": "a"}]}, "utterances[0].role"),
        ({"call_id": "x", "utterances": [{"role": "agent", "start": 2, "end": 1, "text": "a"}]}, "start <= end"),
        ({"call_id": "x", "utterances": [{"role": "agent", "start": "0", "end": 1, "text": "a"}]}, "utterances[0].start"),
        ({"call_id": "x", "utterances": [], "metrics": {"duration_s": 1}}, "metrics lacks"),
    ],
)
def test_external_json_errors_name_the_field(bad, message):
    with pytest.raises(TranscriptFormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        transcript_from_json(bad, source="calls/x.json")


def test_cer_normalises_punctuation_and_script():
    assert cer("招会Java的人，不招都会别的。", "招会java的人 不招都会別的") == 0.0
    assert cer("瑞福园茂名店", "瑞福园名店") == pytest.approx(1 / 6)


def test_utterance_confidence_from_log_probabilities():
    sure = Utterance("c1", 0, Role.AGENT, 0.0, 1.0, "您好", avg_logprob=-0.1, no_speech_prob=0.01)
    unsure = Utterance("c1", 1, Role.AGENT, 1.0, 2.0, "锐服圆", avg_logprob=-1.2, no_speech_prob=0.3)
    assert sure.confidence == pytest.approx(0.8958, abs=1e-4)  # exp(-0.1) * 0.99
    assert unsure.confidence == pytest.approx(0.2108, abs=1e-4)  # exp(-1.2) * 0.7
    assert 0.0 <= unsure.confidence < sure.confidence <= 1.0
    # typed text has no recogniser scores and so no confidence; an explicit one is kept
    assert utt(0, Role.CUSTOMER, 0, 0, "你好").confidence is None
    assert Utterance("c1", 0, Role.AGENT, 0, 1, "x", avg_logprob=-0.1, confidence=0.5).confidence == 0.5


def test_confidence_in_transcript_json_round_trip():
    data = {"call_id": "C1", "utterances": [
        {"role": "agent", "start": 0, "end": 1, "text": "您好", "avg_logprob": -0.2, "no_speech_prob": 0.0},
        {"role": "customer", "start": 1, "end": 2, "text": "嗯", "confidence": 0.4},
        {"role": "customer", "start": 2, "end": 3, "text": "我要退款"},
    ]}
    t = transcript_from_json(data)
    assert [u.confidence for u in t.utterances] == [pytest.approx(0.8187, abs=1e-4), 0.4, None]
    out = transcript_to_json(t)["utterances"]
    assert [u["confidence"] for u in out] == [t.utterances[0].confidence, 0.4, None]
    with pytest.raises(TranscriptFormatError, match=r"utterances\[0\]\.confidence"):
        transcript_from_json({"call_id": "C1", "utterances": [{"start": 0, "end": 1, "text": "x", "confidence": 1.5}]})

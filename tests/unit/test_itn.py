"""Inverse text normalisation: spoken Chinese numbers to digits where they are numbers, set phrases left alone."""

import pytest

from voc.config import TextSettings
from voc.records import Role, Utterance
from voc.text import redact_utterances
from voc.text.itn import inverse_normalize, parse_cardinal

CASES = [
    # digit-by-digit readings: phone, ID, card, order numbers, years
    ("我的手机号是幺三八一二三四五六七八", "我的手机号是13812345678"),
    ("幺三八，一二三四，五六七八", "138，1234，5678"),
    ("号码是幺三七七七八八九九零零", "号码是13777889900"),
    ("订单号三零五六七", "订单号30567"),
    ("房间三零五", "房间305"),
    ("二零二六年", "2026年"),
    ("一九九八年出生", "1998年出生"),
    ("二零二六年三月五号", "2026年3月5号"),
    ("验证码是六六八八", "验证码是6688"),
    # cardinals with place units
    ("三百五十块", "350块"),
    ("一共两千五百块钱", "一共2500块钱"),
    ("一百零五", "105"),
    ("一千零十", "1010"),
    ("三百五", "350"),
    ("一万二", "12000"),
    ("两百万", "200万"),
    ("三亿五千万", "350000000"),
    ("二十四小时", "24小时"),
    ("十五号到", "15号到"),
    ("十二个月", "12个月"),
    ("观察三十年来的新增人口曲线", "观察30年来的新增人口曲线"),
    ("清点出三百多斤硬币总共一点二万余元", "清点出300多斤硬币总共1.2万余元"),
    ("第二十三期", "第23期"),
    # decimals and percentages
    ("零点五", "0.5"),
    ("十二点五元", "12.5元"),
    ("百分之五", "5%"),
    ("百分之三十五", "35%"),
    ("百分之零点五", "0.5%"),
    ("百分之百满意", "100%满意"),
    ("利率百分之三点八五", "利率3.85%"),
    # a single numeral becomes a digit only as money, age, date or clock time
    ("两块钱", "2块钱"),
    ("五元", "5元"),
    ("三岁的孩子", "3岁的孩子"),
    ("十分钟", "10分钟"),
    ("三点半", "3点半"),
    ("三点五十分", "3点50分"),
    ("五月一号", "5月1号"),
    # left alone: idioms, words with 一, approximations, bare units
    ("一心一意", "一心一意"),
    ("三心二意", "三心二意"),
    ("您稍等一下", "您稍等一下"),
    ("一五一十地说", "一五一十地说"),
    ("乱七八糟", "乱七八糟"),
    ("七七八八的东西", "七七八八的东西"),
    ("九九八十一难", "九九八十一难"),
    ("一点一滴", "一点一滴"),
    ("有一点点贵", "有一点点贵"),
    ("十分感谢", "十分感谢"),
    ("千万不要", "千万不要"),
    ("万一不行", "万一不行"),
    ("一个问题", "一个问题"),
    ("两个人", "两个人"),
    ("我们一块去", "我们一块去"),
    ("三四百个", "三四百个"),
    ("一两个", "一两个"),
    ("四五个人", "四五个人"),
    ("十几天", "十几天"),
    ("第一次", "第一次"),
    ("统一回复", "统一回复"),
    ("一百个放心", "一百个放心"),
    ("您好，请问有什么可以帮您", "您好，请问有什么可以帮您"),
    ("", ""),
    ("已经13812345678了", "已经13812345678了"),
]


@pytest.mark.parametrize(("spoken", "written"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_inverse_normalize(spoken, written):
    assert inverse_normalize(spoken) == written


def test_case_count():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("spoken", "value"), [("十", 10), ("十五", 15), ("二十", 20), ("一百一十", 110),
                                               ("两千零五", 2005), ("一万零五百", 10500), ("三百五", 350)])
def test_parse_cardinal(spoken, value):
    assert parse_cardinal(spoken) == value


@pytest.mark.parametrize("spoken", ["三四百", "十百", "百", "一二", "万", "七八十"])
def test_parse_cardinal_refuses_what_is_not_one_number(spoken):
    assert parse_cardinal(spoken) is None


def test_spoken_phone_number_in_an_utterance_is_redacted():
    u = Utterance("i1", 0, Role.CUSTOMER, 0.0, 4.0, "我的手机号是幺三八一二三四五六七八，退款三百五十块")
    [out], pii = redact_utterances([u], TextSettings())
    assert "[PHONE]" in out.text and pii.get("PHONE") == 1, out.text
    assert "138" not in out.text and "幺三八" not in out.text
    assert "350块" in out.text

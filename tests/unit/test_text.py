"""Tests for voc.text: normalisation, segmentation, PII redaction and line-preserving redaction."""

from __future__ import annotations

import json

import pytest

from voc.config import TextSettings
from voc.text import (
    domain_vocabulary,
    normalize,
    process_text,
    process_texts,
    redact,
    redact_lines,
    segment,
)
from voc.text.redact import id_checksum_ok, luhn_ok


def _id_number(body17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(c) * w for c, w in zip(body17, weights, strict=True)) % 11]


def _luhn_number(body: str) -> str:
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


ID_NUM = _id_number("11010519491231002")
ID_X = next(n for n in (_id_number(f"32010219880705{i:03d}") for i in range(200)) if n.endswith("X"))
CARD = _luhn_number("622202123456789012")  # 19 digits
CARD16 = _luhn_number("436742012345678")


# --- normalise ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ１２３", "ABC123"),  # full width -> half width
        ("我的訂單還沒發貨", "我的订单还没发货"),  # Traditional -> Simplified
        ("太差了😡😡", "太差了"),  # emoji removed
        ("你好　　请问\t在吗\n", "你好 请问 在吗"),  # whitespace collapsed, no line breaks
        ("怎么还没到？？？！！！", "怎么还没到？！"),  # repeated punctuation
        ("好的,谢谢!", "好的，谢谢！"),  # ASCII punctuation inside Chinese
        ("等了很久......", "等了很久…"),
        ("", ""),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_normalize_keeps_numbers_and_ascii_text():
    assert normalize("price 3.5, ok!") == "price 3.5, ok!"
    assert normalize("2024-03-05 14:30") == "2024-03-05 14:30"


# --- segment ------------------------------------------------------------------------------------

@pytest.mark.parametrize("term", ["退款", "以旧换新", "保修期", "快递员", "工单"])
def test_segment_keeps_domain_terms_whole(term):
    text = f"请问{term}的事情怎么处理，我等了好几天"
    assert term in segment(text)


def test_segment_stopwords_optional_and_placeholders_whole():
    text = "我想问一下那个[PHONE]的退款"
    with_stop = segment(text)
    without = segment(text, drop_stopwords=True)
    assert "[PHONE]" in with_stop and "[PHONE]" in without
    assert "的" in with_stop and "的" not in without
    assert "退款" in without


def test_segment_uses_settings_terms_and_user_dict(tmp_path):
    word = "超能清洁宝"
    assert word not in segment(f"买了{word}坏了")
    assert word in segment(f"买了{word}坏了", TextSettings(domain_terms=[word]))
    udict = tmp_path / "user.txt"
    udict.write_text("# my products\n极光扫地王 5 nz\n", encoding="utf-8")
    settings = TextSettings(user_dict=udict)
    assert "极光扫地王" in segment("极光扫地王不充电", settings)
    assert "极光扫地王" in domain_vocabulary(settings)
    assert {"退款", "以旧换新"} <= set(domain_vocabulary())


def test_missing_user_dict_names_the_file(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        segment("退款", TextSettings(user_dict=missing))


# --- redact: PII in several forms -----------------------------------------------------------------

def _types(text, settings=None):
    return [s.type for s in redact(text, settings).spans]


@pytest.mark.parametrize(
    "text",
    [
        "我手机13812345678",
        "电话是 138 1234 5678 谢谢",
        "号码138-1234-5678",
        "幺三八 一二三四 五六七八",
        "我的号是一三八1234五六七八",
        "幺三八，幺二三四，五六七八，记一下",
        "+86 139 8765 4321",
        "座机 0755-86001234",
        "打 87654321 找我",  # no 1 prefix: the cue decides
        "有事打我电话 8765 4321",
    ],
)
def test_phone_forms(text):
    assert _types(text) == ["PHONE"]
    assert "[PHONE]" in redact(text).text


def test_id_card_with_checksum_and_x():
    assert _types(f"身份证号{ID_NUM}") == ["ID"]
    assert _types(f"证件 {ID_X} 没问题") == ["ID"]
    assert _types(f"我的是{ID_NUM}") == ["ID"]  # checksum + birth date without a cue
    assert id_checksum_ok(ID_NUM) and id_checksum_ok(ID_X)
    wrong_check = ID_NUM[:-1] + ("0" if ID_NUM[-1] != "0" else "1")
    assert not id_checksum_ok(wrong_check)
    assert "ID" not in _types(f"我的是{wrong_check}")  # 18 digits failing the checksum are no ID


def test_bank_card_luhn_and_spaced_groups():
    spaced = " ".join(CARD[i:i + 4] for i in range(0, len(CARD), 4))
    assert _types(f"卡号{CARD}") == ["CARD"]
    assert _types(f"退到这张卡 {spaced} 上") == ["CARD"]
    assert _types(f"信用卡{CARD16}扣了两次") == ["CARD"]


def test_email_name_address():
    red = redact("我叫张伟，邮箱 zhang.wei@example.com，收件人李小明，地址是北京市朝阳区建国路88号3栋201室，电话13912345678")
    assert red.text == "我叫[NAME]，邮箱 [EMAIL]，收件人[NAME]，地址是[ADDR]，电话[PHONE]"
    assert red.counts == {"NAME": 2, "EMAIL": 1, "ADDR": 1, "PHONE": 1}
    assert redact("寄到上海市浦东新区世纪大道100号的快递还没到").text == "寄到[ADDR]的快递还没到"


def test_name_and_address_switches():
    text = "我叫王小明，住在杭州市西湖区文三路90号"
    assert _types(text) == ["NAME", "ADDR"]
    assert _types(text, TextSettings(redact_names=False, redact_addresses=False)) == []
    assert redact(text, TextSettings(redact=False)).text == text


# --- redact: what must stay ----------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "订单号1234567890123456还没发货",
        f"订单号 {CARD} 查一下",  # passes Luhn, but it is an order number
        "单号是 2024030512345678901",
        "运单号SF1234567890123已签收",
        "订单 JD00123456789012",
        "2024年3月5日下单，3月8日到货",
        "2024-03-05 14:30 付款",
        "花了1299元，优惠了200块，实付¥1099.00",
        "买了3台空调，一共12000元",
        "二零二四年三月五号买的",
        "打了3次电话都没人接",
        "我叫了外卖，等了40分钟",
        "住在朝阳区",  # not a detailed address
        "我想办理打两年300，2018版和2019版哪个便宜",  # short comma-separated numbers are a list
    ],
)
def test_non_pii_numbers_stay(text):
    assert redact(text).text == text


def test_order_number_next_to_phone():
    red = redact("订单号123456789012，13812345678是我的电话")
    assert red.text == "订单号123456789012，[PHONE]是我的电话"


def test_spans_index_the_input_and_hold_no_values():
    text = "电话13812345678"
    (span,) = redact(text).spans
    assert (span.type, text[span.start:span.end]) == ("PHONE", "13812345678")
    assert "13812345678" not in repr(redact(text))


# --- lines ----------------------------------------------------------------------------------------

def test_redact_lines_one_out_per_line_in():
    lines = ["电话13812345678\n", "\n", "😀😀\n", "a\u2028b\rc\x85d", "訂單號123\r\n", "   "]
    out = list(redact_lines(lines))
    assert len(out) == len(lines)
    assert out[0] == "电话[PHONE]"
    assert out[1] == "" and out[2] == "" and out[5] == ""
    assert all(len(o.splitlines()) <= 1 and "\n" not in o for o in out)
    assert out[4] == "订单号123"
    # Written back with "\n", the file has exactly as many lines as the input.
    assert len(("\n".join(out) + "\n").split("\n")) - 1 == len(lines)


def test_redact_lines_from_file(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("我叫张伟\n\n卡号6222021234567890\n订单号20240305\n", encoding="utf-8")
    with src.open(encoding="utf-8") as f:
        out = list(redact_lines(f))
    assert out == ["我叫[NAME]", "", "卡号[CARD]", "订单号20240305"]


# --- process ----------------------------------------------------------------------------------------

def test_process_text_and_batch_agree():
    texts = ["我的手機是13812345678，想退貨", "保修期多久？？？", ""]
    batch = process_texts(texts)
    assert batch == [process_text(t) for t in texts]
    assert batch[0].text == "我的手机是[PHONE]，想退货"
    assert batch[0].pii_counts == {"PHONE": 1}
    assert "[PHONE]" in batch[0].tokens and "退货" in batch[0].tokens
    assert batch[1].tokens[0] == "保修期"
    assert batch[2].text == "" and batch[2].tokens == ()


# --- real data ------------------------------------------------------------------------------------

def test_real_dialogues_keep_their_shape(shared_data):
    turns = []
    with (shared_data / "dialog" / "mobilecs_example.jsonl").open(encoding="utf-8") as f:
        for line in f:
            turns += [t["text"] for t in json.loads(line)["turns"]]
    out = process_texts(turns)
    assert len(out) == len(turns)
    # The staged transcripts mask numbers as 0000000; anything redacted must be a number cue, never plain talk.
    changed = [p for p in out if p.pii_counts]
    assert len(changed) < len(turns) * 0.1
    for p in changed:
        assert set(p.pii_counts) <= {"PHONE", "ID", "CARD", "NAME", "ADDR"}
    assert any("流量" in p.tokens for p in out)

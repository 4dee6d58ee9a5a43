"""Inverse text normalisation (ITN) for Chinese transcripts: spoken numbers written as digits where they are numbers.

Whisper writes what it hears; on the phone people read numbers aloud ("幺三八一二三四五六七八", "二零二六年",
"百分之五", "三百五十块"). Writing them as digits makes amounts and dates usable and lets redaction see a phone,
ID or card number. Rules, in order (each leaves the text alone when unsure):

1. Set phrases that contain numerals (一心一意, 一五一十, 九九八十一, 一点一滴 …) are protected first.
2. 百分之 + number -> ``N%`` (百分之五 -> 5%, 百分之零点五 -> 0.5%, 百分之百 -> 100%).
3. Digit readings: three or more digit characters in a row (幺三八…, 二零二六) -> the digits, one for one.
4. Numbers with place units (三百五十, 一万二, 两千五, 十五) -> their value; a trailing 万/亿 stays a unit
   (两百万 -> 200万, 一点二万 -> 1.2万). Approximations (三四百, 七八十) are left as words.
5. Decimals: number + 点 + digit characters (一点二 -> 1.2, 零点五 -> 0.5).
6. A single numeral (or a bare 十) becomes a digit only before a unit that makes it a quantity or a date: money
   (块钱, 元, 毛), age (岁), month/day (月, 号, 日) and clock time (点钟, 点半, 分钟, 秒). So 一下, 一个, 三心二意 and
   十分感谢 stay as they are.
"""

from __future__ import annotations

import re

_DIGITS = {"零": 0, "〇": 0, "幺": 1, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9}
_READ_DIGITS = "零〇幺一二三四五六七八九"  # characters of a digit-by-digit reading (两 is never one)
_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG = {"万": 10_000, "亿": 100_000_000}

# Set phrases whose numerals are not quantities. Longer entries first so that one protects as much as it can.
PROTECTED = tuple(sorted({
    "一心一意", "三心二意", "一五一十", "七七八八", "乱七八糟", "九九归一", "九九八十一", "十有八九", "十之八九",
    "三三两两", "一模一样", "一干二净", "一清二楚", "三番五次", "四面八方", "五花八门", "七上八下", "九牛一毛",
    "一举两得", "独一无二", "接二连三", "三言两语", "丢三落四", "不三不四", "一点一滴", "一点一点", "一点点",
    "一百个放心", "一万个放心", "五十步笑百步", "三十六计", "一千零一夜", "十万火急", "三十而立", "四十不惑",
    "十全十美", "百发百中", "千方百计", "万无一失", "一日三餐", "一日千里", "九死一生", "一石二鸟", "说一不二",
    "七十二变", "八九不离十", "一传十", "十传百", "百里挑一", "一年四季", "一日之计",
}, key=len, reverse=True))

_NUM = r"[零〇幺一二三四五六七八九两十百千万亿]+"
# integer part, optional decimal part (点 + digit characters), optional trailing 万/亿 after a decimal
_NUMBER = re.compile(rf"{_NUM}(?:点[{_READ_DIGITS}]+(?![十百千])[万亿]?)?")
# clock time: 三点五十分 -> 3点50分 (without 分, 三点五十 is left alone)
_TIME = re.compile(r"([零一二两三四五六七八九十]{1,3})点([零一二三四五六七八九十]{1,3})分(?!之)")
_PERCENT = re.compile(rf"百分之({_NUM}(?:点[{_READ_DIGITS}]+)?)")
# what may follow a single numeral (or a bare 十) for it to be written as a digit
_QUANTITY_AFTER = ("块钱", "元", "毛钱", "毛", "岁", "月", "号", "日", "点钟", "点半", "分钟", "秒")
_PRIVATE = 0xE000  # protected phrases are swapped for private-use characters while the rules run


def parse_cardinal(s: str) -> int | None:
    """The value of a Chinese cardinal with place units (三百五十 -> 350, 一万二 -> 12000), None if it is not one.

    Two numerals in a row (三四百: "three or four hundred") and place units out of order are not cardinals."""
    total = section = 0
    digit: int | None = None
    unit_in_section = 0  # the last 十/百/千 of the current section (they must fall)
    last_unit = 0  # the last unit of any kind (for the colloquial tail: 三百五 = 350, 一万二 = 12000)
    zero = False  # a 零 since the last unit (一百零五 = 105, not 150)
    for i, ch in enumerate(s):
        if ch in ("零", "〇"):
            if digit is not None:
                return None
            zero = True
        elif ch in _DIGITS:
            if digit is not None:
                return None
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if digit is None:  # only 十 stands without a numeral, and only first or after 零 (十五, 一千零十)
                if ch != "十" or not (i == 0 or zero):
                    return None
                digit = 1
            if unit_in_section and unit >= unit_in_section:
                return None
            section += digit * unit
            digit, unit_in_section, last_unit, zero = None, unit, unit, False
        elif ch in _BIG:
            section += digit or 0
            if section == 0:
                return None
            total = (total + section) * _BIG[ch] if ch == "亿" else total + section * _BIG[ch]
            section, digit, unit_in_section, last_unit, zero = 0, None, 0, _BIG[ch], False
        else:
            return None
    if digit is not None:
        section += digit * (last_unit // 10) if last_unit >= 100 and not zero else digit
    return total + section


def _reading(s: str) -> str:
    return "".join(str(_DIGITS[c]) for c in s)


def _number_text(s: str) -> str | None:
    """Digits for a number span (no context checks), or None."""
    big = ""
    if s[-1] in _BIG and "点" in s:
        s, big = s[:-1], s[-1]
    if "点" in s:
        whole, frac = s.split("点", 1)
        value = parse_cardinal(whole) if whole else None
        return None if value is None else f"{value}.{_reading(frac)}{big}"
    if all(c in _READ_DIGITS for c in s):
        return _reading(s)
    if s[-1] in _BIG and len(s) > 1 and not any(c in _BIG for c in s[:-1]):
        value = parse_cardinal(s[:-1])
        return None if value is None else f"{value}{s[-1]}"
    value = parse_cardinal(s)
    return None if value is None else str(value)


def _convert(m: re.Match[str]) -> str:
    s = m.group(0)
    after = m.string[m.end():]
    if s[0] in "百千万亿":  # 千万, 万一, 百分百: a bare big unit does not start a number
        return s
    has_unit = any(c in _UNITS or c in _BIG for c in s)
    if "点" not in s and not has_unit:
        if len(s) >= 3 and "两" not in s:
            return _reading(s)
        if len(s) == 1:
            return (_number_text(s) or s) if after.startswith(_QUANTITY_AFTER) else s
        return s  # two numerals: 三五 (three or five), 一一
    if s == "十":
        return "10" if after.startswith(_QUANTITY_AFTER) else s
    return _number_text(s) or s


def _percent(m: re.Match[str]) -> str:
    spoken = m.group(1)
    if spoken == "百":
        return "100%"
    digits = _number_text(spoken)
    return f"{digits}%" if digits is not None else m.group(0)


def _time(m: re.Match[str]) -> str:
    hour, minute = parse_cardinal(m.group(1)), parse_cardinal(m.group(2))
    if hour is None or minute is None or hour > 24 or minute > 59:
        return m.group(0)
    return f"{hour}点{minute}分"


def inverse_normalize(text: str) -> str:
    """``text`` with spoken numbers written as digits (see the module docstring for the rules)."""
    if not text or not any(c in _DIGITS or c in _UNITS or c in _BIG for c in text):
        return text
    saved: list[str] = []

    def protect(m: re.Match[str]) -> str:
        before, after = text[m.start() - 1 : m.start()], text[m.end() : m.end() + 1]
        if (before and before in _READ_DIGITS) or (after and after in _READ_DIGITS):
            return m.group(0)  # inside a longer digit reading (a phone number that holds 七七八八)
        saved.append(m.group(0))
        return chr(_PRIVATE + len(saved) - 1)

    masked = _PROTECTED_RE.sub(protect, text)
    masked = _PERCENT.sub(_percent, masked)
    masked = _TIME.sub(_time, masked)
    masked = _NUMBER.sub(_convert, masked)
    return re.sub("[\ue000-\uf8ff]", lambda m: saved[ord(m.group(0)) - _PRIVATE], masked) if saved else masked


_PROTECTED_RE = re.compile("|".join(map(re.escape, PROTECTED)))

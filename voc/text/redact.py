"""PII redaction: phone, ID card, bank card, e-mail, names and addresses -> typed placeholders.

Numbers are read through a digit view that accepts Arabic, full-width and spoken Chinese digits
(幺三八 一二三四 …) with spaces, dashes and short comma-separated chunks, then classified by the
cue before them (电话 / 订单号 / 身份证 / 卡号), checksums (ID, Luhn) and shape.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from voc.config import TextSettings
from voc.records import PII_PLACEHOLDER_RE

log = logging.getLogger(__name__)

PII_TYPES = ("PHONE", "ID", "CARD", "EMAIL", "ADDR", "NAME")
PLACEHOLDER = {t: f"[{t}]" for t in PII_TYPES}
PLACEHOLDER_RE = PII_PLACEHOLDER_RE


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One redacted stretch: ``type`` is a PII type, offsets index the text given to :func:`redact`."""

    type: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text and what was removed (types and offsets only, never the values)."""

    text: str
    spans: tuple[PiiSpan, ...] = ()

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(s.type for s in self.spans))


# --- digit view ---------------------------------------------------------------------------------

_DIGIT = {str(d): str(d) for d in range(10)}
_DIGIT.update({chr(0xFF10 + d): str(d) for d in range(10)})  # full-width, in case text is not normalised
_DIGIT.update({"零": "0", "〇": "0", "幺": "1", "一": "1", "二": "2", "三": "3", "四": "4",
               "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"})
_SOFT_SEP = set(" -–—_.·\u3000－)）")  # inside one number: 138 1234 5678, 010-8888 6666, (010)8888 6666
_COMMA = set(",，")  # ASR chunks a spoken number with commas: 幺三八，一二三四，五六七八
_MAX_SEP = 3
_SPOKEN_CHUNK = 4  # comma-joined chunks are one number only while each is this short
_SPOKEN_MIN = 10  # ... and only when together they are long enough for a phone number

_CUES = {
    "PHONE": ("手机号码", "手机号", "手机", "电话号码", "电话", "号码", "联系方式", "联系电话", "座机", "固话",
              "打", "拨", "致电", "来电", "回电", "微信号", "微信", "tel", "TEL", "Tel", "mobile", "phone"),
    "ORDER": ("订单号码", "订单编号", "订单号", "订单", "单号码", "单号", "运单", "快递单", "物流单", "工单",
              "编号", "流水号", "发票号", "序列号", "条码", "批次", "合同号", "会员号", "退货单", "SN", "sn",
              "快递号", "取件码", "验证码", "尾号"),
    "ID": ("身份证号码", "身份证号", "身份证", "证件号码", "证件号", "证件"),
    "CARD": ("银行卡号", "银行卡", "信用卡", "储蓄卡", "借记卡", "卡号", "银行账号", "账号", "账户"),
}
_CUE_RE = re.compile("|".join(sorted((re.escape(c) for v in _CUES.values() for c in v), key=len, reverse=True)))
_CUE_TYPE = {c: t for t, v in _CUES.items() for c in v}
_CUE_WINDOW = 12
_CUE_GAP = 6  # a cue names the number only when at most this many non-digit chars sit between them
_HARD_STOP = set("。！？!?；;\n")
_NOT_PII_AFTER = set("元块角毛分年月日号点时个件台次%％岁斤公里米克天周")
_NOT_PII_BEFORE = set("¥￥$")
_DATE_RE = re.compile(r"^\d{4}[-.]\d{1,2}[-.]\d{1,2}$")
_MAX_DIGITS = 19  # the longest number redacted (a bank card); longer digit runs are order numbers or noise
_MIN_DIGITS = 7  # the shortest number redacted (a local phone number after a cue)
_UNCUED_LENGTHS = frozenset({10, 11, 12, 13, 16, 17, 18, 19})  # landline, mobile, +86 mobile, card, ID
_MOBILE_RE = re.compile(r"1[3-9]")
_MOBILE86_RE = re.compile(r"861[3-9]")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_checksum_ok(number: str) -> bool:
    """GB 11643 check digit of an 18-character resident ID number (last may be X)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def _plausible_birth(number: str) -> bool:
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    return 1900 <= year <= 2030 and 1 <= month <= 12 and 1 <= day <= 31


def luhn_ok(number: str) -> bool:
    if not number.isdigit() or not number.isascii():
        return False
    total = sum(map(int, number[-1::-2])) + sum(_LUHN_DOUBLE[c] for c in number[-2::-2])
    return total % 10 == 0


_LUHN_DOUBLE = {str(d): (d * 2 - 9 if d > 4 else d * 2) for d in range(10)}


@dataclass(slots=True)
class _Group:
    start: int
    end: int
    digits: str
    sep_before: str  # separator characters between the previous group and this one


def _digit_runs(text: str) -> Iterator[list[_Group]]:
    """Yield runs of digit groups; groups inside a run are joined by short separators."""
    n, i = len(text), 0
    while i < n:
        if text[i] not in _DIGIT:
            i += 1
            continue
        groups: list[_Group] = []
        sep = ""
        start = j = i
        run_digits = 0
        while True:
            digits = []
            while j < n and text[j] in _DIGIT:
                digits.append(_DIGIT[text[j]])
                j += 1
            run_digits += len(digits)
            # 17 (or 14) digits + X: the ID check character; after a shorter number an x is just a letter ("…620x")
            if (j < n and text[j] in "Xx" and run_digits >= 14
                    and not (j + 1 < n and text[j + 1].isascii() and text[j + 1].isalnum())):
                digits.append("X")
                j += 1
            groups.append(_Group(start, j, "".join(digits), sep))
            k = j
            while k < n and k - j < _MAX_SEP and (text[k] in _SOFT_SEP or text[k] in _COMMA):
                k += 1
            if k > j and k < n and text[k] in _DIGIT:
                sep, start, j = text[j:k], k, k
                continue
            break
        yield from _split_at_commas(groups)
        i = j


def _split_at_commas(groups: list[_Group]) -> Iterator[list[_Group]]:
    # Commas join only short spoken chunks; "单号123456，13812345678" is two numbers.
    runs, run = [], [groups[0]]
    for g in groups[1:]:
        if any(c in _COMMA for c in g.sep_before) and (
            len(g.digits) > _SPOKEN_CHUNK or len(run[-1].digits) > _SPOKEN_CHUNK
        ):
            runs.append(run)
            run = [g]
        else:
            run.append(g)
    runs.append(run)
    for run in runs:
        # Short chunks joined by commas are a list ("300，2018"), unless they add up to a phone number.
        if sum(len(g.digits) for g in run) < _SPOKEN_MIN and any(c in _COMMA for g in run for c in g.sep_before):
            part = [run[0]]
            for g in run[1:]:
                if any(c in _COMMA for c in g.sep_before):
                    yield part
                    part = [g]
                else:
                    part.append(g)
            yield part
        else:
            yield run


def _cue_before(text: str, pos: int) -> str | None:
    """Type of the nearest cue ending within a few non-digit characters before ``pos``."""
    lo = max(0, pos - _CUE_WINDOW)
    window = text[lo:pos]
    for stop in range(len(window) - 1, -1, -1):
        if window[stop] in _HARD_STOP or window[stop] in _DIGIT:
            window = window[stop + 1:]
            lo += stop + 1
            break
    best = None
    for m in _CUE_RE.finditer(window):
        best = m
    if best is None or len(window) - best.end() > _CUE_GAP:
        return None
    return _CUE_TYPE[best.group(0)]


def _classify(digits: str, cue: str | None, strong_only: bool) -> str | None:
    n = len(digits)
    if "X" in digits[:-1]:
        return None
    if n == 18 and id_checksum_ok(digits) and _plausible_birth(digits):
        return "ID"
    if digits.endswith("X"):
        return "ID" if cue == "ID" and n in (15, 18) else None
    if 16 <= n <= 19 and luhn_ok(digits) and cue != "ORDER":
        return "CARD"
    if _is_mobile(digits):
        return "PHONE" if cue != "ORDER" or strong_only else None
    if strong_only or cue == "ORDER":
        return None
    if cue == "ID" and n in (15, 18):
        return "ID"
    if cue == "CARD" and 12 <= n <= 19:
        return "CARD"
    if cue == "PHONE" and 7 <= n <= 13:
        return "PHONE"
    if cue is None and 10 <= n <= 12 and re.match(r"0[1-9]", digits):
        return "PHONE"  # landline with area code
    return None


def _is_mobile(digits: str) -> bool:
    return bool((len(digits) == 11 and _MOBILE_RE.match(digits)) or (len(digits) == 13 and _MOBILE86_RE.match(digits)))


def _numeric_spans(text: str) -> list[PiiSpan]:
    spans: list[PiiSpan] = []
    for run in _digit_runs(text):
        cue = _cue_before(text, run[0].start)
        ends = [0]  # digits before each group: no PII number is longer than _MAX_DIGITS, so longer spans are skipped
        for g in run:
            ends.append(ends[-1] + len(g.digits))
        all_digits = "".join(g.digits for g in run)
        i = 0
        while i < len(run):
            found = None
            last = bisect.bisect_right(ends, ends[i] + _MAX_DIGITS) - 2  # the last group that keeps the span short
            for j in range(min(len(run) - 1, last), i - 1, -1):
                n = ends[j + 1] - ends[i]
                if n < _MIN_DIGITS:
                    break  # shorter still as j falls
                if (i > 0 or cue is None) and n not in _UNCUED_LENGTHS:
                    continue  # no number of this length is PII without a cue
                start, end = run[i].start, run[j].end
                raw = text[start:end]
                if _DATE_RE.match(raw):
                    continue
                digits = all_digits[ends[i]:ends[j + 1]]
                ctx_cue = cue if i == 0 else None
                # An order cue before the run still lets a clearly separate phone/ID/card through.
                strong_only = i > 0 and cue == "ORDER"
                # A mobile number is one whatever touches it ("13912345620元" is no price, "…620x" no product code).
                if (ctx_cue is None or ctx_cue == "ORDER") and not (ctx_cue is None and _is_mobile(digits)):
                    before = text[start - 1] if start > 0 else ""
                    after = text[end] if end < len(text) else ""
                    if (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha()):
                        continue  # part of an alphanumeric id such as SF1234567890123
                    if before in _NOT_PII_BEFORE or after in _NOT_PII_AFTER:
                        continue  # price, date or quantity
                kind = _classify(digits, ctx_cue, strong_only)
                if kind:
                    found = (kind, start, end, j)
                    break
            if found is None:
                i += 1
                continue
            kind, start, end, j = found
            if start > 0 and text[start - 1] == "+":
                start -= 1
            if start > 0 and text[start - 1] in "(（" and any(c in ")）" for c in text[start:end + 1]):
                start -= 1
            if end < len(text) and text[end] in ")）" and text[start] in "(（":
                end += 1
            spans.append(PiiSpan(kind, start, end))
            i = j + 1
    return spans


# --- e-mail, masked phones ------------------------------------------------------------------------

# Linear time on any input: a local part starts only where a run of its characters starts, and no quantifier gives
# characters back (possessive); the last label must begin with 2+ letters (the TLD), checked in _email_spans.
_EMAIL_RE = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]++\s?[@＠]\s?[A-Za-z0-9\-]++(?:\.[A-Za-z0-9\-]++)*+")
_TLD_RE = re.compile(r"[A-Za-z]{2,}")
_MASKED_PHONE_RE = re.compile(r"(?<![0-9])1[3-9][0-9][*＊xX]{4}[0-9]{4}(?![0-9])")

def _email_spans(text: str) -> list[PiiSpan]:
    spans = []
    for m in _EMAIL_RE.finditer(text):
        at = max(m.group(0).find("@"), m.group(0).find("＠"))
        labels = m.group(0)[at + 1:].split(".")
        end = None
        pos = m.start() + at + 1 + len(labels[0])
        for label in labels[1:]:  # the longest domain whose last label starts with a TLD, as a backtracking regex
            tld = _TLD_RE.match(label)
            if tld:
                end = pos + 1 + tld.end()
            pos += 1 + len(label)
        if end is not None:
            spans.append(PiiSpan("EMAIL", m.start(), end))
    return spans


# --- names and addresses after cues ---------------------------------------------------------------

_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季"
    "裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦"
    "戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻"
    "苑迟邝"
)
_COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "慕容", "尉迟", "公孙", "长孙", "夏侯", "轩辕")
_NAME_CUE_RE = re.compile(
    r"(?:我的名字叫|我的名字是|名字叫做|名字叫|名字是|我叫|本人叫|姓名是|姓名为|姓名|收件人是|收件人|收货人是|收货人|"
    r"联系人是|联系人|机主是|机主姓名|机主|户主是|户主|持卡人是|持卡人|开户人|开户名|户名|账户名|寄件人|签收人)"
    r"[是为叫：:\s]*"
)
# "张三是收件人": the role comes after the name.
_NAME_BEFORE_ROLE_RE = re.compile(
    r"([\u4e00-\u9fff]{2,4})(?=(?:是|为)(?:收件人|收货人|联系人|机主|户主|持卡人|开户人|本人))"
)
_SURNAME_CUE_RE = re.compile(r"我姓|免贵姓|本人姓")
_NAME_STOP1 = set("的了是在和跟与及电手地住寄送收联号码先女啊呀吧呢吗哦嗯我你他她请要想说就也还都把被给这那不没")
_NAME_STOP2 = ("小姐", "先生", "女士", "师傅", "老师", "电话", "手机", "地址", "同学", "经理")

_ADDR_CUE_RE = re.compile(
    r"(?:收货地址|寄送地址|详细地址|家庭地址|送货地址|邮寄地址|地址是|地址在|地址为|地址|住址|家住在|家住|住在|我家在|"
    r"邮寄到|寄到|寄往|送到|送货到|发到|发货到|派送到|改到)[是为在：:\s]*"
)
_ADDR_FINE = ("路", "街", "巷", "弄", "胡同", "号", "栋", "幢", "楼", "层", "单元", "室", "小区", "村", "组", "大厦",
              "花园", "公寓", "苑", "社区", "座", "大道", "广场")
_ADDR_FINE_RE = re.compile("|".join(sorted(_ADDR_FINE, key=len, reverse=True)))
_ADDR_END = set("。！？；!?;，,\n")
_ADDR_STOP_RE = re.compile(
    r"电话|手机|联系|收件人|收货人|姓名|号码|身份证|的快递|的包裹|的订单|的东西|的货|但是|可是|结果|怎么|什么|为什么|"
    r"一直|还没|没有|吗|呢|吧|啊|麻烦|谢谢|我|你们"
)
_ADDR_TAIL = re.compile(r"[0-9A-Za-z零一二三四五六七八九十百幺\-#]*(?:号楼|单元|室|号|栋|幢|楼|层|座|户)?")
_ADDR_NOCUE_RE = re.compile(
    r"[\u4e00-\u9fff]{2,6}(?:路|街|大道|巷|弄|胡同)[0-9零一二三四五六七八九十百]+号"
    r"(?:[0-9A-Za-z零一二三四五六七八九十]+(?:号楼|单元|室|栋|幢|楼|层|座))*"
)
_ADDR_MAX = 50


def _name_spans(text: str) -> list[PiiSpan]:
    spans = []
    for m in _NAME_CUE_RE.finditer(text):
        start = pos = m.end()
        limit = 4 if text.startswith(_COMPOUND_SURNAMES, pos) else 3
        if pos >= len(text) or not (text[pos] in _SURNAMES or text.startswith(_COMPOUND_SURNAMES, pos)):
            continue
        while pos < len(text) and pos - start < limit and "\u4e00" <= text[pos] <= "\u9fff":
            if pos > start and (text[pos] in _NAME_STOP1 or text.startswith(_NAME_STOP2, pos)):
                break
            pos += 1
        if pos - start >= 2:
            spans.append(PiiSpan("NAME", start, pos))
    for m in _NAME_BEFORE_ROLE_RE.finditer(text):
        # the regex may start inside a preceding word; keep the last 2-3 chars starting with a surname
        word = m.group(1)
        for size in (3, 2):
            cand = word[-size:]
            if len(word) >= size and (cand[0] in _SURNAMES or cand.startswith(_COMPOUND_SURNAMES)) and not any(
                c in _NAME_STOP1 for c in cand
            ):
                spans.append(PiiSpan("NAME", m.end() - size, m.end()))
                break
    for m in _SURNAME_CUE_RE.finditer(text):
        pos = m.end()
        size = 2 if text.startswith(_COMPOUND_SURNAMES, pos) else 1
        if pos < len(text) and (size == 2 or text[pos] in _SURNAMES):
            spans.append(PiiSpan("NAME", pos, pos + size))
    return spans


def _address_spans(text: str, taken: list[PiiSpan]) -> list[PiiSpan]:
    spans = []
    taken_starts = sorted(s.start for s in taken)
    for m in _ADDR_CUE_RE.finditer(text):
        start = m.end()
        end = start
        while end < len(text) and end - start < _ADDR_MAX and text[end] not in _ADDR_END:
            end += 1
        # stop before other PII and before the sentence moves on ("…的快递还没到")
        k = bisect.bisect_left(taken_starts, start)
        if k < len(taken_starts) and taken_starts[k] < end:
            end = taken_starts[k]
        stop = _ADDR_STOP_RE.search(text, start, end)
        if stop:
            end = stop.start()
        last = None
        for f in _ADDR_FINE_RE.finditer(text, start, end):
            last = f
        if last is None or last.end() - start < 4:
            continue
        tail = _ADDR_TAIL.match(text, last.end(), end)
        end = tail.end() if tail else last.end()
        spans.append(PiiSpan("ADDR", start, end))
    for m in _ADDR_NOCUE_RE.finditer(text):
        spans.append(PiiSpan("ADDR", m.start(), m.end()))
    return spans


# --- public API -------------------------------------------------------------------------------------

_PRIORITY = {"EMAIL": 0, "ID": 1, "CARD": 2, "PHONE": 3, "ADDR": 4, "NAME": 5}


class _Taken:
    """Non-overlapping spans kept sorted by start: overlap checks in O(log n), so redaction stays linear-ish."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.spans: list[PiiSpan] = []

    def free(self, s: PiiSpan) -> bool:
        k = bisect.bisect_left(self.starts, s.start)
        if k < len(self.spans) and self.spans[k].start < s.end:
            return False
        return not (k > 0 and self.spans[k - 1].end > s.start)

    def add(self, s: PiiSpan) -> None:
        k = bisect.bisect_left(self.starts, s.start)
        self.starts.insert(k, s.start)
        self.spans.insert(k, s)


def _resolve(spans: list[PiiSpan]) -> list[PiiSpan]:
    # Numbers and e-mails win over the fuzzier name/address spans; then longer spans first.
    chosen = _Taken()
    for s in sorted(spans, key=lambda s: (_PRIORITY[s.type], s.start - s.end)):
        if chosen.free(s):
            chosen.add(s)
    return chosen.spans


def find_pii(text: str, settings: TextSettings | None = None) -> list[PiiSpan]:
    """PII spans in ``text`` (non-overlapping, in order). Linear in the length of ``text``, whatever it holds."""
    settings = settings or TextSettings()
    spans = _email_spans(text)
    spans += [PiiSpan("PHONE", m.start(), m.end()) for m in _MASKED_PHONE_RE.finditer(text)]
    emails = _Taken()
    for e in sorted(spans, key=lambda s: s.start):
        if emails.free(e):
            emails.add(e)
    spans += [s for s in _numeric_spans(text) if emails.free(s)]
    if settings.redact_addresses:
        spans += _address_spans(text, spans)
    if settings.redact_names:
        spans += _name_spans(text)
    return _resolve(spans)


def redact(text: str, settings: TextSettings | None = None) -> Redaction:
    """Replace PII in ``text`` with ``[PHONE] [ID] [CARD] [EMAIL] [ADDR] [NAME]``.

    Order numbers, prices, dates, times and quantities stay. ``settings.redact=False`` returns
    the text unchanged (not recommended).
    """
    settings = settings or TextSettings()
    if not text or not settings.redact:
        return Redaction(text or "")
    spans = find_pii(text, settings)
    if not spans:
        return Redaction(text)
    out, pos = [], 0
    for s in spans:
        out.append(text[pos:s.start])
        out.append(PLACEHOLDER[s.type])
        pos = s.end
    out.append(text[pos:])
    return Redaction("".join(out), tuple(spans))


_MOBILE_INSIDE = re.compile(r"(?<![0-9])(?:\+?86)?1[3-9][0-9]{9}(?![0-9])")
_IDENTIFIER_PII = ("PHONE", "ID", "CARD", "EMAIL")


def looks_personal(identifier: str) -> bool:
    """True when an identifier (a customer id, call id, record id, file name) holds a phone, ID-card or bank-card
    number or an e-mail address, as redaction finds them in text, or a mobile number glued to other characters
    ("C13912345620"): such an identifier is stored only as a keyed hash (see voc.ingest.guard.pseudonym)."""
    value = normalize_digits(identifier.strip())
    if not value or len(value) > 256:  # an identifier that long is refused by the field limit anyway
        return bool(value)
    return bool(_MOBILE_INSIDE.search(value)) or any(s.type in _IDENTIFIER_PII for s in find_pii(value, _PLAIN))


def normalize_digits(text: str) -> str:
    """Full-width digits as ASCII (identifiers are not normalised like texts)."""
    return text.translate(_FULLWIDTH_DIGITS)


_FULLWIDTH_DIGITS = {0xFF10 + d: ord(str(d)) for d in range(10)}
_PLAIN = TextSettings(redact_names=False, redact_addresses=False)


def redact_lines(lines: Iterable[str], settings: TextSettings | None = None, normalize_text: bool = True) -> Iterator[str]:
    """One redacted line (without its line break) per input line, in order.

    An input line never becomes zero or two lines: trailing line breaks are dropped, any other
    line-breaking character becomes a space, and an empty result is yielded as ``""``.
    """
    from voc.text.normalize import normalize

    counts: Counter[str] = Counter()
    n = 0
    for line in lines:
        n += 1
        line = line.rstrip("\r\n")
        if normalize_text:
            line = normalize(line)
        result = redact(line, settings)
        counts.update(result.counts)
        yield _one_line(result.text)
    log.info("redacted %d lines: %s", n, dict(counts) or "no PII found")


def _one_line(text: str) -> str:
    if len(text.splitlines()) <= 1 and not text.endswith(("\n", "\r")):
        return text
    return " ".join(text.splitlines()).strip()

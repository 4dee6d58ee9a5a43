"""Customer-service adjustments over any scorer: procedural turns are neutral, sarcasm and escalation
words are negative. Review-trained models miss these because spoken complaints are short and indirect."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from voc.sentiment.base import Scorer
from voc.sentiment.lexicon import LexiconScorer

# Threats to escalate outside the call; matched as substrings of the normalised text.
ESCALATION_WORDS = (
    "投诉", "12315", "12345", "315晚会", "曝光", "找你们领导", "找领导", "叫你们领导", "你们经理", "退货退款",
    "律师", "起诉", "法院", "媒体", "记者", "消协", "消费者协会", "工信部", "举报", "差评",
)
# Acknowledgements and fillers: a turn made only of these carries no sentiment.
_FILLER = re.compile(
    r"^(?:好的?|好吧|嗯+|哦+|噢|啊|呃|额|对+|对的|是的?|是啊|行|可以|我?知道了|我?明白了?|了解|收到|喂+|你好|您好|在的?|"
    r"没了|没有了|没(?:有|什么)?问题了?|稍等|等一下|然后呢?|那个|就是|ok|okay|拜拜|再见|[,，.。!！?？~～、\s])+$",
    re.IGNORECASE,
)
# Giving details ("我的手机号是[PHONE]", "订单号是 123"): procedural, whatever the model thinks of digits.
_INFO = re.compile(
    r"^(?:我的?|他的?|她的?|那个)?(?:手机号码?|电话号码?|号码|订单号?|单号|身份证号?|账号|地址|名字|姓名|卡号|工号|快递单号)"
    r"(?:是|为|:|：)?"
)
_PLACEHOLDER = re.compile(r"\[[A-Z_]+\]|[0-9a-zA-Z*#\-_.@]+")
# Sarcasm: a mock-positive frame ("呵呵", "真是太...了") around a complaint cue (waiting, still not).
_SARCASM_FRAME = re.compile(
    r"呵呵|真是太.{1,4}了|真是.{0,2}(?:好|快|棒|厉害|行)|可真.{0,2}(?:好|快|棒|行|厉害)|好一个|服了|"
    r"^(?:太棒了|太好了|真棒|厉害了?|真行)|真是谢谢"
)
_COMPLAINT_CUE = re.compile(
    r"等了|还没|都没|没到|没收到|没人|一个星期|一个月|好几天|几天|半天|又|到现在|至今|一直|三次|多少次|谢谢你们啊|"
    r"什么都不|都不知道|白跑|坏了"
)
# "问题已经解决了", "现在能用了": the customer confirms a fix. Reviews rarely say this, so the review model
# reads "问题" / "解决" as complaint words; on a spoken turn without a complaint cue it is a mild positive.
_RESOLVED = re.compile(r"(?<![没不未])(?:已经|都|终于|总算|现在)?(?:解决了|修好了|能用了|弄好了|处理好了|恢复了)")
RESOLVED_SCORE = 0.4
_QUESTION_END = re.compile(r"[吗呢?？]\s*$")
# Turns up to this many characters are treated as spoken turns: the rules below fire only on them,
# because in long written reviews "呵呵" is often friendly and "投诉" is mentioned in passing.
SPOKEN_MAX_CHARS = 40
NO_CUE_SHRINK = 0.4  # factor on a spoken turn with no sentiment word and no complaint cue
LEXICON_BLEND = 0.4  # share of the lexicon score in a spoken turn that has sentiment words

# Questions and requests ("我想查一下话费", "什么时候能到") are information seeking, not opinions.
_INQUIRY = re.compile(
    r"请问|我想|想问|问一下|咨询|怎么|如何|能不能|可不可以|可以.*吗|什么时候|几点|多少|哪里|哪个|是不是|吗[?？]?$|呢[?？]?$|[?？]$|"
    r"查一下|帮我|办理|开通|取消|改一下|修改"
)


def escalation_words_in(text: str) -> list[str]:
    """Escalation words present in ``text`` (in list order)."""
    return [w for w in ESCALATION_WORDS if w in text]


def is_procedural(text: str) -> bool:
    """True for fillers, acknowledgements and detail-giving turns that should score neutral."""
    stripped = text.strip()
    if not stripped:
        return True
    if _FILLER.match(stripped):
        return True
    if _INFO.match(stripped):
        rest = _PLACEHOLDER.sub("", _INFO.sub("", stripped, count=1))
        return len(re.sub(r"[,，.。!！?？\s]", "", rest)) <= 2
    return not re.sub(r"[,，.。!！?？\s]", "", _PLACEHOLDER.sub("", stripped))


def is_sarcastic_complaint(text: str) -> bool:
    """A mock-positive frame plus a complaint cue: "呵呵，真是太快了，等了一个星期"."""
    return bool(_SARCASM_FRAME.search(text) and _COMPLAINT_CUE.search(text))


class ServiceDomainScorer:
    """Wraps a scorer with the customer-service rules above; ``name`` is ``<base>+cs``."""

    def __init__(self, base: Scorer, sarcasm_score: float = -0.6, escalation_score: float = -0.5) -> None:
        self.base = base
        self.name = f"{base.name}+cs"
        self.sarcasm_score = sarcasm_score
        self.escalation_score = escalation_score
        self._lexicon = LexiconScorer()

    def score(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros(len(texts), dtype=np.float64)
        todo = [i for i, t in enumerate(texts) if not is_procedural(t)]
        if todo:
            out[todo] = self.base.score([texts[i] for i in todo])
        for i in todo:
            text = texts[i].strip()
            if len(text) > SPOKEN_MAX_CHARS:
                continue
            lexical, hits = self._lexicon.raw(text)
            if hits and not escalation_words_in(text) and not is_sarcastic_complaint(text):
                # The review model is out of its domain on spoken turns; the lexicon's negation
                # handling ("没有问题了") is not, so both get a say.
                out[i] = LEXICON_BLEND * math.tanh(lexical / self._lexicon.scale) + (1 - LEXICON_BLEND) * out[i]
            if is_sarcastic_complaint(text):
                out[i] = min(out[i], self.sarcasm_score)
            elif escalation_words_in(text):
                out[i] = min(out[i], self.escalation_score)
            elif _RESOLVED.search(text) and not _COMPLAINT_CUE.search(text) and not _QUESTION_END.search(text):
                out[i] = max(out[i], RESOLVED_SCORE)
            elif hits == 0 and (_INQUIRY.search(text) or not _COMPLAINT_CUE.search(text)):
                # Reviews rarely look like "我想问一下..." or "我叫…机主": on a spoken turn without any
                # sentiment word or complaint cue the review-trained model (trained on mostly negative
                # reviews) reports its prior, which should not read as an opinion.
                out[i] *= NO_CUE_SHRINK
        return out

"""Service type of one interaction (repair, installation, ...) from weighted cue phrases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voc.records import Interaction, Utterance

# Weight 2 = the phrase names the service itself; 1 = a hint. Order of SERVICE_CUES breaks ties: a text
# that both complains and asks for repair is a complaint (it needs handling, not only a technician).
SERVICE_CUES: dict[str, dict[str, int]] = {
    "complaint": {
        "投诉": 2, "差评": 2, "举报": 2, "太差": 1, "垃圾": 1, "不满意": 2, "欺骗": 2, "骗人": 2, "坑人": 2,
        "失望": 1, "态度差": 2, "态度恶劣": 2, "没人管": 1, "没人理": 1, "还没": 1, "一直没": 1, "退款": 1,
        "气死": 1, "恶心": 1, "太慢": 1, "敷衍": 1, "不退": 1, "无法退订": 1, "退订不了": 1, "取消不了": 1,
    },
    "repair": {
        "维修": 2, "报修": 2, "修理": 2, "返修": 2, "坏了": 2, "故障": 2, "修好": 1, "修不好": 1, "不工作": 1,
        "不制冷": 1, "不加热": 1, "不开机": 1, "开不了机": 1, "漏水": 1, "失灵": 1, "死机": 1, "黑屏": 1,
        "异响": 1, "不能用": 1, "用不了": 1,
    },
    "installation": {"安装": 2, "装机": 2, "拆机": 2, "移机": 2, "装好": 1, "装上": 1, "打孔": 1, "支架": 1},
    "maintenance": {"保养": 2, "清洗": 2, "维护": 2, "滤芯": 2, "除垢": 2, "清理": 1, "检修": 1, "年检": 1},
    "praise": {
        "好评": 2, "满意": 2, "感谢": 1, "谢谢": 1, "很好": 1, "不错": 1, "点赞": 2, "给力": 1, "专业": 1,
        "耐心": 1, "赞": 1, "推荐": 1, "喜欢": 1, "物美价廉": 2,
    },
    "consultation": {
        "请问": 2, "咨询": 2, "怎么": 1, "如何": 1, "是否": 1, "能不能": 1, "可以吗": 1, "多少钱": 1,
        "什么时候": 1, "哪里": 1, "是什么": 1, "有没有": 1, "介绍": 1, "吗": 1, "？": 1, "?": 1,
    },
}
_NEGATORS = ("不", "没", "未", "别")


@dataclass(frozen=True, slots=True)
class ServiceTypeResult:
    label: str  # one of voc.routing.departments.SERVICE_TYPES
    score: int
    cues: tuple[str, ...] = ()


def _hits(text: str, cue: str) -> bool:
    start = text.find(cue)
    while start != -1:
        # "不满意" must not count as praise for "满意"; cues that begin with a negator are whole phrases.
        if start == 0 or text[start - 1] not in _NEGATORS or cue[0] in _NEGATORS:
            return True
        start = text.find(cue, start + 1)
    return False


def classify_service_type(text: str) -> ServiceTypeResult:
    """Pick the service type whose cue phrases score highest; ``other`` when none match."""
    lowered = (text or "").lower()
    best = ServiceTypeResult("other", 0)
    for label, cues in SERVICE_CUES.items():
        matched = tuple(c for c in cues if _hits(lowered, c))
        score = sum(cues[c] for c in matched)
        if score > best.score:
            best = ServiceTypeResult(label, score, matched)
    return best


def classify_service_types(texts: Sequence[str]) -> list[ServiceTypeResult]:
    return [classify_service_type(t) for t in texts]


def contact_text(item: Interaction, utterances: Sequence[Utterance] = ()) -> str:
    """What a contact is about: a call's customer side (the agent's questions would make every call a
    consultation), else the whole call; a text's body."""
    if item.channel.value == "call":
        customer = [u.text for u in utterances if u.role.value == "customer"]
        return "。".join(customer or [u.text for u in utterances])
    return item.text or ""

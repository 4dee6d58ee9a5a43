"""Service types of a contact (咨询 consultation, 投诉 complaint, 报修 repair, 安装 installation, 维护 maintenance,
表扬 praise, 建议 suggestion; 'other' when none applies): the examples file, the cue-phrase rules, and the result.

A contact can have several ("维修一直拖，我要投诉" is repair and complaint); the classifier in
:mod:`voc.routing.model` decides them by meaning, with the cue phrases below as evidence that records its reason.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from voc.records import Interaction, Utterance
from voc.routing.departments import SERVICE_TYPES, DepartmentConfigError

DEFAULT_SERVICE_TYPES_FILE = Path(__file__).with_name("service_types.yaml")

# Weight 2 = the phrase names the service itself; 1 = a hint. The classifier adds them as log-odds evidence.
SERVICE_CUES: dict[str, dict[str, int]] = {
    "complaint": {
        "投诉": 2, "差评": 2, "举报": 2, "太差": 1, "垃圾": 1, "不满意": 2, "欺骗": 2, "骗人": 2, "坑人": 2,
        "失望": 1, "态度差": 2, "态度恶劣": 2, "没人管": 1, "没人理": 1, "还没": 1, "一直没": 1, "退款": 1,
        "气死": 1, "恶心": 1, "太慢": 1, "敷衍": 1, "不退": 1, "无法退订": 1, "退订不了": 1, "取消不了": 1,
        "凭什么": 1, "12315": 2, "消协": 2,
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
        "耐心": 1, "赞": 1, "推荐": 1, "喜欢": 1, "物美价廉": 2, "表扬": 2,
    },
    "consultation": {
        "请问": 2, "咨询": 2, "怎么": 1, "如何": 1, "是否": 1, "能不能": 1, "可以吗": 1, "多少钱": 1,
        "什么时候": 1, "哪里": 1, "是什么": 1, "有没有": 1, "介绍": 1, "吗": 1, "？": 1, "?": 1,
    },
    "suggestion": {"建议": 2, "提个意见": 2, "希望能": 1, "希望增加": 2, "要是能": 1, "最好能": 1, "可以考虑": 1},
}
_NEGATORS = ("不", "没", "未", "别")


@dataclass(frozen=True, slots=True)
class ServiceTypeSpec:
    """One service type as configured: what it means and the examples its classifier learns from."""

    id: str
    name_zh: str
    name_en: str
    description: str
    examples: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceTypeResult:
    label: str  # the primary service type: one of voc.routing.departments.SERVICE_TYPES
    score: int  # cue-phrase score of the primary label (0 when decided by meaning alone)
    cues: tuple[str, ...] = ()  # cue phrases of the primary label found in the text
    labels: tuple[str, ...] = ()  # every service type that applies, most likely first ('other' alone when none)
    confidence: float = 0.0  # probability of the primary label
    probabilities: tuple[tuple[str, float], ...] = ()  # per service type, most likely first

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "labels": list(self.labels or (self.label,)), "confidence": round(self.confidence, 4),
                "cues": list(self.cues)}


def _hits(text: str, cue: str) -> bool:
    start = text.find(cue)
    while start != -1:
        # "不满意" must not count as praise for "满意"; cues that begin with a negator are whole phrases.
        if start == 0 or text[start - 1] not in _NEGATORS or cue[0] in _NEGATORS:
            return True
        start = text.find(cue, start + 1)
    return False


def cue_matches(text: str) -> dict[str, tuple[int, tuple[str, ...]]]:
    """Per service type with any cue in ``text``: (score, matched cues)."""
    lowered = (text or "").lower()
    out = {}
    for label, cues in SERVICE_CUES.items():
        matched = tuple(c for c in cues if _hits(lowered, c))
        if matched:
            out[label] = (sum(cues[c] for c in matched), matched)
    return out


def cue_service_type(text: str) -> ServiceTypeResult:
    """The rules alone: the service type whose cue phrases score highest; ``other`` when none match."""
    best = ServiceTypeResult("other", 0, (), ("other",))
    for label, (score, matched) in cue_matches(text).items():
        if score > best.score:
            best = ServiceTypeResult(label, score, matched, (label,))
    return best


def classify_service_type(text: str) -> ServiceTypeResult:
    """Service types of one text with the shipped model (cached per process); see :class:`voc.routing.Router`
    for many texts, learned corrections and precomputed vectors."""
    return classify_service_types([text])[0]


def classify_service_types(texts: Sequence[str]) -> list[ServiceTypeResult]:
    from voc.routing.router import default_router

    return default_router().service_types(list(texts))


def parse_service_types(data: Any, source: str = "service types") -> tuple[ServiceTypeSpec, ...]:
    """Validate the parsed service-types document (pure; used by the loader and tests)."""
    if not isinstance(data, dict) or not isinstance(data.get("service_types"), list) or not data["service_types"]:
        raise DepartmentConfigError(f"{source}: expected a mapping with a non-empty 'service_types:' list")
    out, seen = [], set()
    for i, entry in enumerate(data["service_types"], start=1):
        where = f"{source}: service_types[{i}]"
        if not isinstance(entry, dict) or entry.get("id") not in SERVICE_TYPES or entry.get("id") == "other":
            raise DepartmentConfigError(f"{where}: 'id' must be one of {[s for s in SERVICE_TYPES if s != 'other']}")
        if entry["id"] in seen:
            raise DepartmentConfigError(f"{where}: duplicate id {entry['id']!r}")
        seen.add(entry["id"])
        examples = entry.get("examples") or []
        if not isinstance(examples, list) or not all(isinstance(e, str | int) for e in examples):
            raise DepartmentConfigError(f"{where}: 'examples' must be a list of strings")
        out.append(ServiceTypeSpec(
            id=entry["id"], name_zh=str(entry.get("name_zh") or entry["id"]), name_en=str(entry.get("name_en") or entry["id"]),
            description=str(entry.get("description") or ""),
            examples=tuple(dict.fromkeys(str(e).strip() for e in examples if str(e).strip())),
        ))
    return tuple(out)


@functools.lru_cache(maxsize=4)
def _load_cached(path: Path, mtime_ns: int) -> tuple[ServiceTypeSpec, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DepartmentConfigError(f"{path}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    return parse_service_types(data, str(path))


def load_service_types(path: str | Path | None = None) -> tuple[ServiceTypeSpec, ...]:
    """Service types and their examples from ``path`` (default: the shipped file); cached per file version."""
    resolved = Path(path) if path else DEFAULT_SERVICE_TYPES_FILE
    if not resolved.is_file():
        raise DepartmentConfigError(f"{resolved}: service types file not found (routing.service_types_file)")
    return _load_cached(resolved.resolve(), resolved.stat().st_mtime_ns)


def contact_text(item: Interaction, utterances: Sequence[Utterance] = ()) -> str:
    """What a contact is about: a call's customer side (the agent's questions would make every call a
    consultation), else the whole call; a text's body."""
    if item.channel.value == "call":
        customer = [u.text for u in utterances if u.role.value == "customer"]
        return "。".join(customer or [u.text for u in utterances])
    return item.text or ""

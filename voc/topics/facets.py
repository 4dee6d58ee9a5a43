"""Facets of a complaint: which product (model code), which batch, which problem aspect, where.

A topic says "these complaints are alike"; a quality engineer acts on "X3空调 · 漏水 · 批次 B2311". Facets come from
the text (jieba with the domain dictionary, a model-code pattern, a batch pattern, an aspect lexicon) and from the
record's own attributes (``product``, ``batch``, ``region``), the attribute winning when both are present.
Pure functions; :mod:`voc.pipeline.topics` summarises the facets of each finding's members.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# Problem aspects and the words that name them (simplified Chinese, as texts arrive normalised). A text can
# carry several aspects; the first listed wins ties when one facet must name a topic.
ASPECTS: dict[str, tuple[str, ...]] = {
    "漏水": ("漏水", "滴水", "渗水", "漏了水", "往下滴", "水滴下来", "出水口滴", "积水"),
    "不制冷": ("不制冷", "不凉", "制冷差", "制冷效果差", "吹热风", "不冷"),
    "不制热": ("不制热", "不热", "不出热水", "水不热", "加热慢", "不加热"),
    "噪音": ("噪音", "异响", "响声", "声音很大", "嗡嗡", "咔咔"),
    "跳闸": ("跳闸", "漏电", "短路"),
    "不排水": ("不排水", "排不出水", "排水故障"),
    "涂层脱落": ("涂层", "掉漆", "脱落", "内胆"),
    "故障代码": ("故障码", "报错", "e1", "e2", "e3", "e4", "e5", "e21"),
    "安装时间": ("安装", "预约", "上门时间", "改约", "没人来", "师傅没来", "等了一天"),
    "维修": ("维修", "报修", "修好", "修了", "配件", "返修"),
    "扣费两次": ("扣了两次", "扣费两次", "重复扣费", "扣两次", "多扣"),
    "乱扣费": ("扣费", "乱扣", "扣钱", "账单", "话费", "流量费", "增值业务"),
    "退款慢": ("退款", "退钱", "到账"),
    "物流慢": ("快递", "物流", "发货", "配送", "送货"),
    "登录": ("登录", "闪退", "验证码", "账号", "密码"),
    "优惠券": ("优惠券", "满减", "定金", "活动价", "价保"),
    "服务态度": ("态度", "不耐烦", "挂电话", "敷衍", "推脱"),
}
PRODUCT_NOUNS = ("空调", "洗衣机", "电饭煲", "热水器", "冰箱", "App", "套餐", "宽带")
MODEL = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,2}\d{1,3})(?=\s*(?:" + "|".join(PRODUCT_NOUNS) + r"|型|款|机))", re.I)
BATCH = re.compile(r"(?<![A-Za-z0-9])(B\d{4})(?![0-9])", re.I)
ATTRIBUTE_KEYS = ("product", "batch", "region")
# A facet names a group when at least this share of the group's members carries it.
DOMINANT_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Facets:
    product: str = ""  # attribute product, else model code + noun found in the text ("X3空调")
    batch: str = ""
    region: str = ""
    aspects: tuple[str, ...] = ()


def _text_product(text: str) -> str:
    m = MODEL.search(text)
    if not m:
        return ""
    code = m.group(1).upper()
    rest = text[m.end():].lstrip()
    noun = next((n for n in PRODUCT_NOUNS if rest.startswith(n)), "")
    return code + noun


def aspects_of(text: str) -> tuple[str, ...]:
    """The problem aspects a text names, in :data:`ASPECTS` order."""
    low = text.lower()
    return tuple(a for a, words in ASPECTS.items() if any(w in low for w in words))


def extract_facets(text: str, attributes: Mapping[str, object] | None = None) -> Facets:
    """Facets of one complaint: attributes first (they are what the customer's order says), the text otherwise."""
    attrs = {k: str((attributes or {}).get(k) or "").strip() for k in ATTRIBUTE_KEYS}
    product = attrs["product"] or _text_product(text)
    m = BATCH.search(text)
    batch = (attrs["batch"] or (m.group(1) if m else "")).upper()
    return Facets(product=product, batch=batch, region=attrs["region"], aspects=aspects_of(text))


def _dominant(values: Iterable[str], n: int) -> tuple[str, int]:
    counts = Counter(v for v in values if v)
    if not counts or not n:
        return "", 0
    value, count = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return (value, count) if count / n >= DOMINANT_SHARE else ("", count)


def summarise_facets(facets: Sequence[Facets], top: int = 5) -> dict[str, object]:
    """What a group of complaints is about: the dominant product, aspect and batch (each only when at least
    :data:`DOMINANT_SHARE` of the group carries it), a display name ("X3空调 · 漏水 · 批次 B2311"), and counts by
    batch and region (top ``top`` each). Empty name when nothing dominates."""
    n = len(facets)
    product, n_product = _dominant((f.product for f in facets), n)
    aspect_counts = Counter(a for f in facets for a in f.aspects)
    order = {a: k for k, a in enumerate(ASPECTS)}
    aspect, n_aspect = "", 0
    if aspect_counts:
        # the most frequent aspect; between near-equals (within 10 %) the more specific one listed first
        best = max(aspect_counts.values())
        aspect = min((a for a, c in aspect_counts.items() if c >= 0.9 * best), key=lambda a: order[a])
        n_aspect = aspect_counts[aspect]
        if n_aspect / n < DOMINANT_SHARE:
            aspect = ""
    batch, n_batch = _dominant((f.batch for f in facets), sum(1 for f in facets if f.batch))
    if batch and n_batch < 2:
        batch = ""
    parts = [p for p in (product, aspect, f"批次 {batch}" if batch else "") if p]
    return {
        "name": " · ".join(parts),
        "product": product, "product_count": n_product,
        "aspect": aspect, "aspect_count": n_aspect,
        "batch": batch, "batch_count": n_batch,
        "members": n,
        "by_batch": dict(Counter(f.batch for f in facets if f.batch).most_common(top)),
        "by_region": dict(Counter(f.region for f in facets if f.region).most_common(top)),
        "aspects": dict(aspect_counts.most_common(top)),
    }


def matches(f: Facets, summary: Mapping[str, object]) -> bool:
    """Whether one complaint is about a group's facets: its product (when the group has one) and its aspect
    (when the group has one; a text that names no aspect at all passes on the product alone)."""
    product, aspect = summary.get("product") or "", summary.get("aspect") or ""
    if product and f.product and f.product != product:
        return False
    if aspect and f.aspects and aspect not in f.aspects:
        return False
    return bool(product or aspect)

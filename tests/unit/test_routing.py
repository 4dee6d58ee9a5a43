"""Routing: department config validation, service types, rules, memory, triage and value weighting."""

from __future__ import annotations

import datetime as dt

import pytest

from voc.config import RoutingSettings
from voc.records import Channel, Finding, Interaction
from voc.routing import (
    DepartmentConfigError,
    RouteMemory,
    build_router,
    classify_service_type,
    load_departments,
    parse_departments,
    route_findings,
    route_texts,
    value_weight,
    weigh_findings,
)


@pytest.fixture(scope="module")
def router():
    return build_router(RoutingSettings())


CLEAR = {
    "logistics": "快递三天了还没送到，物流太慢了",
    "after_sales": "空调坏了不制冷，师傅上门维修两次都没修好",
    "installation": "预约了安装师傅一直不来装机",
    "product": "这个手机续航太差，屏幕太小，不好用",
    "manufacturing": "衣服质量太差，做工粗糙还掉色",
    "it_app": "App登录不了，一直提示验证码错误",
    "finance": "发票开错了，还多收费两百块",
    "sales": "想买这款冰箱，门店有货吗",
    "marketing": "宣传说有赠品结果没有，虚假宣传",
    "customer_service": "客服态度很差，电话打不通，没人理",
}


def test_shipped_departments_cover_the_retail_set():
    ids = {d.id for d in load_departments()}
    assert set(CLEAR) <= ids
    assert all(d.keywords and d.description for d in load_departments())


@pytest.mark.parametrize("department", sorted(CLEAR))
def test_clear_examples_route_with_keyword_reasons(router, department):
    decision = router.route(CLEAR[department])
    assert decision.department == department
    assert decision.confidence >= router.min_confidence
    assert "keywords" in decision.reason
    matched = decision.reason.split("keywords ", 1)[1].split(";")[0].split(", ")
    assert all(k in CLEAR[department].lower() for k in matched)


def test_unroutable_text_goes_to_triage(router):
    decision = route_texts(["你好，在吗"], router)[0]
    assert decision.department == "customer_service"
    assert decision.confidence < router.min_confidence
    assert decision.reason.startswith("triage") or "no keyword" in decision.reason
    assert set(decision.to_json()) == {"department", "service_type", "confidence", "reason"}


def test_fallback_department_is_configurable():
    router = build_router(RoutingSettings(fallback_department="sales", min_confidence=0.99))
    decision = router.route("快递有点慢")
    assert decision.department == "sales" and "below min confidence 0.99" in decision.reason


def test_route_texts_keeps_input_order(router):
    texts = [CLEAR["finance"], CLEAR["logistics"], CLEAR["installation"]]
    assert [d.department for d in route_texts(texts, router)] == ["finance", "logistics", "installation"]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("洗衣机坏了，需要报修", "repair"),
        ("新买的热水器什么时候上门安装", "installation"),
        ("油烟机需要清洗保养", "maintenance"),
        ("请问这款冰箱的容量是多少", "consultation"),
        ("我要投诉，你们太差了", "complaint"),
        ("师傅很专业，非常满意，好评", "praise"),
        ("嗯", "other"),
    ],
)
def test_service_type(text, label):
    assert classify_service_type(text).label == label


def test_negated_praise_is_not_praise():
    assert classify_service_type("很不满意").label == "complaint"


def _finding(fid: str, title: str, topic: str | None = None, kind: str = "emerging_topic") -> Finding:
    return Finding(id=fid, kind=kind, run_date=dt.date(2026, 11, 23), title=title, summary="", topic_id=topic)


def test_memory_from_confirmed_route_wins_over_keywords(router):
    finding = _finding("f1", "快递 物流 配送 慢", topic="t-42")
    assert route_findings([finding], router)[0].department == "logistics"
    memory = RouteMemory().confirm("t-42", "sales")
    route = route_findings([finding], router, memory)[0]
    assert route.department == "sales"
    assert "memory" in route.reason and "t-42" in route.reason
    # The memory value is immutable and round-trips through plain dicts for the store.
    assert RouteMemory.from_dict(memory.to_dict()).lookup("t-42").department == "sales"
    assert RouteMemory().lookup("t-42") is None


def test_qa_patterns_go_to_customer_service_and_member_texts_count(router):
    findings = [_finding("qa", "开场白缺失", kind="qa_pattern"), _finding("t", "新话题")]
    routes = route_findings(findings, router, None, {"t": ["安装师傅没带支架", "装机要额外收打孔费"]})
    assert [r.department for r in routes] == ["customer_service", "installation"]
    assert all(r.reason for r in routes)


def test_pinned_topic_in_config(tmp_path):
    deps = parse_departments({"departments": [
        {"id": "customer_service", "name_zh": "客服", "name_en": "CS", "description": "客服"},
        {"id": "logistics", "name_zh": "物流", "name_en": "Logistics", "description": "快递", "pinned_topics": ["t-1"]},
    ]})
    router = build_router(departments=deps)
    assert router.route("随便什么", topic_id="t-1").department == "logistics"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"departments": []}, "non-empty 'departments:'"),
        ({"departments": [{"id": "Bad Id", "name_zh": "x", "name_en": "x", "description": "x"}]}, "lower-case identifier"),
        ({"departments": [{"id": "a", "name_zh": "x", "name_en": "x"}]}, "'description' is required"),
        ({"departments": [{"id": "a", "name_zh": "x", "name_en": "x", "description": "d", "service_types": ["fix"]}]},
         "unknown service type"),
        ({"departments": [{"id": "a", "name_zh": "x", "name_en": "x", "description": "d", "colour": 1}]}, "unknown field"),
    ],
)
def test_invalid_departments_name_file_and_problem(doc, message):
    with pytest.raises(DepartmentConfigError, match=message) as err:
        parse_departments(doc, "my.yaml")
    assert str(err.value).startswith("my.yaml")


def test_bad_yaml_and_missing_fallback(tmp_path):
    bad = tmp_path / "deps.yaml"
    bad.write_text("departments:\n  - id: [unclosed\n", encoding="utf-8")
    with pytest.raises(DepartmentConfigError, match=r"deps.yaml:\d+: not valid YAML"):
        load_departments(bad)
    good = tmp_path / "one.yaml"
    good.write_text("departments:\n  - {id: sales, name_zh: 销售, name_en: Sales, description: 购买}\n", encoding="utf-8")
    with pytest.raises(DepartmentConfigError, match="fallback_department 'customer_service'"):
        build_router(RoutingSettings(departments_file=good))


def _ix(i: str, customer: str | None, tier: str | None = None, value: float | None = None) -> Interaction:
    return Interaction(id=i, channel=Channel.CALL, business_date=dt.date(2026, 11, 23), content_hash=i,
                       customer_id=customer, customer_tier=tier, customer_value=value)


def test_value_weight_counts_customers_once_at_their_tier():
    weights = {"vip": 5.0, "gold": 2.0, "normal": 1.0}
    # Two calls from one VIP count once; an anonymous interaction is its own customer; unknown tier = normal.
    members = [_ix("a", "c1", "VIP"), _ix("b", "c1", "vip"), _ix("c", None), _ix("d", "c2", "bronze")]
    assert value_weight(members, weights) == pytest.approx(5.0 + 1.0 + 1.0)
    # CLV multiplies the tier weight with diminishing returns.
    rich = value_weight([_ix("e", "c3", "gold", 1000.0)], weights, value_scale=1000.0)
    richer = value_weight([_ix("f", "c4", "gold", 10000.0)], weights, value_scale=1000.0)
    assert 2.0 < rich < richer < 2.0 * 10


def test_weigh_findings_ranks_by_value():
    few_vips = _finding("vip", "a")
    many_normal = _finding("normal", "b")
    ranked = weigh_findings(
        [many_normal, few_vips],
        {"vip": [_ix("1", "v1", "vip"), _ix("2", "v2", "vip")], "normal": [_ix(str(i), f"n{i}") for i in range(3, 7)]},
    )
    assert [f.id for f in ranked] == ["vip", "normal"]
    assert ranked[0].customers == 2 and ranked[0].value_weight == pytest.approx(10.0)


@pytest.mark.slow  # routes the 20 % CCKS dev split through the e5 classifier: minutes on 2 busy cores
def test_ccks_dev_split_beats_majority(shared_data, router):
    """On the 20 % development split of CCKS (the part we may look at), routing beats the majority class."""
    import csv
    import random

    import yaml

    from voc.routing.departments import DEFAULT_DEPARTMENTS_FILE

    path = shared_data / "intent" / "ccks2021_telecom_kgqa_train.tsv"
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    idx = list(range(len(rows)))
    random.Random(20240601).shuffle(idx)
    dev = [rows[i] for i in idx[: len(rows) // 5]]
    label_map = yaml.safe_load((DEFAULT_DEPARTMENTS_FILE.parents[2] / "bench/routing/ccks_label_map.yaml").read_text("utf-8"))
    gold = [label_map[r["attribute"].split("|")[0]] for r in dev]
    predicted = [d.department for d in route_texts([r["text"] for r in dev], router)]
    accuracy = sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(dev)
    majority = max(gold.count(g) for g in set(gold)) / len(dev)
    assert accuracy > majority + 0.15

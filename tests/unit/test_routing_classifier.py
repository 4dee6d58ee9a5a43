"""Routing classifier: departments and service types by meaning, triage with the top two candidates, keyword rules
that record their reason and fade when people overrule them, npz round trip, topic routes with hysteresis."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from voc.config import RoutingSettings
from voc.routing import (
    Example,
    PreviousRoute,
    TextClassifier,
    build_router,
    decide_topic_route,
    department_examples,
    load_departments,
    load_service_types,
)

IDS = ["logistics", "finance", "it_app"]


@pytest.fixture(scope="module")
def router():
    return build_router(RoutingSettings())


def test_shipped_files_have_examples_in_customers_words():
    deps = load_departments()
    assert all(len(d.examples) >= 30 for d in deps)
    specs = {s.id: s for s in load_service_types()}
    assert set(specs) == {"consultation", "complaint", "repair", "installation", "maintenance", "praise", "suggestion"}
    assert all(len(s.examples) >= 30 for s in specs.values())
    assert "维修一直拖，我要投诉" in specs["repair"].examples and "维修一直拖，我要投诉" in specs["complaint"].examples


@pytest.mark.parametrize(("text", "department"), [
    ("钱扣了两次", "finance"),
    ("小程序点了没反应", "it_app"),
    ("装热水器的师傅开口就要两百块辅材费", "installation"),
    ("冰箱放了一晚上还是不凉，里面的肉都软了", "after_sales"),
])
def test_indirect_wording_routes_by_meaning(router, text, department):
    assert router.route(text).department == department


def test_multi_label_service_types(router):
    [both, praise, empty] = router.service_types(["维修一直拖，我要投诉", "师傅很专业，非常满意", ""])
    assert {"repair", "complaint"} <= set(both.labels) and both.label in both.labels
    assert praise.labels == ("praise",)
    assert (empty.label, empty.labels) == ("other", ("other",))


def test_triage_reason_names_the_top_two(router):
    d = build_router(RoutingSettings(min_confidence=0.999)).route("快递有点慢")
    assert d.department == "customer_service" and d.reason.startswith("triage: best logistics")
    assert "runner-up" in d.reason and len(d.candidates) >= 2 and d.candidates[0][0] == "logistics"
    assert set(d.to_json()) == {"department", "service_type", "confidence", "reason"}
    assert set(d.to_json(detail=True)) == {"department", "service_type", "confidence", "reason", "service_types",
                                           "candidates"}


def test_confidence_is_read_through_the_reliability_curve(router):
    clf = router.model.departments
    assert 0.5 < clf.confidence(np.array([[0.999, 0.001]]))[0] < 0.995  # never "certain" from 350 examples
    assert clf.confidence(np.array([[0.3, 0.7]]))[0] <= clf.confidence(np.array([[0.1, 0.9]]))[0]


def test_keyword_rule_fades_when_people_overrule_it():
    from voc.routing.model import keyword_trust

    deps = [d for d in load_departments() if d.id in ("logistics", "finance")]
    learned = [Example(f"运费又多收了{k}块", ("finance",), 3.0, "correction") for k in range(10)]
    trust = keyword_trust(deps, department_examples(deps, learned))
    assert trust["logistics"]["运费"] < 0.25 and "快递" not in trust.get("logistics", {})


def test_classifier_round_trips_through_npz_bytes():
    examples = [Example(t, (lab,)) for lab, ts in {
        "logistics": ["快递没到", "物流太慢", "包裹丢了", "送货晚了"],
        "finance": ["多扣钱了", "退款没到", "发票开错", "扣费两次"],
        "it_app": ["登录不了", "页面打不开", "验证码收不到", "闪退"],
    }.items() for t in ts]
    clf = TextClassifier.fit(examples, IDS, None)
    again = TextClassifier.from_bytes(clf.to_bytes())
    texts = ["快递三天没到", "登录失败"]
    assert np.allclose(clf.proba(texts), again.proba(texts))
    assert again.fingerprint == clf.fingerprint and again.labels == tuple(IDS)
    assert [IDS[j] for j in again.proba(texts).argmax(1)] == ["logistics", "it_app"]
    with pytest.raises(ValueError, match="unknown labels"):
        TextClassifier.fit([Example("x", ("sales",))], IDS, None)


def _share(**kw) -> np.ndarray:
    return np.array([kw.get(i, 0.0) for i in IDS])


def test_topic_route_hysteresis_keeps_the_standing_department_until_a_clear_shift():
    prev = PreviousRoute("logistics", dt.date(2026, 11, 18), "emerging:2026-11-18:T1")
    opts = {"min_confidence": 0.35, "fallback": "customer_service", "switch_margin": 0.2}
    kept = decide_topic_route(IDS, _share(logistics=0.40, finance=0.48, it_app=0.12), 9, prev, **opts)
    assert kept.department == "logistics" and kept.reason.startswith("kept logistics (route of 2026-11-18)")
    assert "finance leads by only 0.08" in kept.reason and kept.changed_from is None
    moved = decide_topic_route(IDS, _share(logistics=0.15, finance=0.75, it_app=0.10), 9, prev, **opts)
    assert moved.department == "finance" and moved.changed_from == "logistics"
    assert moved.reason.startswith("changed from logistics (route of 2026-11-18)")
    same = decide_topic_route(IDS, _share(logistics=0.7, finance=0.2, it_app=0.1), 9, prev, **opts)
    assert same.department == "logistics" and "same as the route of 2026-11-18" in same.reason
    first = decide_topic_route(IDS, _share(logistics=0.3, finance=0.28, it_app=0.42), 3, None, **opts)
    assert first.department == "it_app"
    unsure = decide_topic_route(IDS, _share(logistics=0.33, finance=0.33, it_app=0.34), 3, None, **opts)
    assert unsure.department == "customer_service" and "runner-up" in unsure.reason
    # a night that went to triage is no standing route: the next clear night decides
    share = _share(logistics=0.2, finance=0.45, it_app=0.35)
    assert decide_topic_route(IDS, share, 9, PreviousRoute("it_app", dt.date(2026, 11, 18)), **opts).department == "it_app"
    triaged = PreviousRoute("it_app", dt.date(2026, 11, 18), triaged=True)
    clear = decide_topic_route(IDS, share, 9, triaged, **opts)
    assert clear.department == "finance" and "route of" not in clear.reason

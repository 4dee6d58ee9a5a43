"""Facets of complaints (product, batch, problem aspect, region) and the outreach reason written from them."""

from __future__ import annotations

from voc.customers.outreach import contact_reason
from voc.topics.facets import aspects_of, extract_facets, matches, summarise_facets


def test_text_gives_model_code_batch_and_aspect_when_attributes_are_missing() -> None:
    f = extract_facets("新买的X3空调装好第二天就开始漏水，批次b2311，地板都湿了")
    assert (f.product, f.batch, f.region) == ("X3空调", "B2311", "")
    assert f.aspects[0] == "漏水"


def test_attributes_win_over_the_text() -> None:
    f = extract_facets("空调一直滴水", {"product": "X3空调", "batch": "B2311", "region": "杭州", "order_id": "HC1"})
    assert (f.product, f.batch, f.region, f.aspects) == ("X3空调", "B2311", "杭州", ("漏水",))


def test_aspects_cover_billing_tripping_and_installation() -> None:
    assert "扣费两次" in aspects_of("这个月套餐费扣了两次")
    assert "跳闸" in aspects_of("洗衣机一开就跳闸")
    assert "安装时间" in aspects_of("预约安装三次都改约，师傅没来")
    assert "不制冷" in aspects_of("空调开了一小时还是不制冷")
    assert aspects_of("谢谢你们的服务") == ()


def test_summary_names_the_dominant_facets_with_counts_by_batch_and_region() -> None:
    leak = [extract_facets("X3空调漏水", {"product": "X3空调", "batch": "B2311" if k % 3 else "", "region": r})
            for k, r in enumerate(["杭州"] * 5 + ["上海"] * 3 + ["苏州"] * 2)]
    other = [extract_facets("W5洗衣机跳闸", {"product": "W5波轮洗衣机", "region": "武汉"})]
    s = summarise_facets(leak + other)
    assert s["name"] == "X3空调 · 漏水 · 批次 B2311"
    assert (s["product_count"], s["aspect_count"], s["members"]) == (10, 10, 11)
    assert s["by_batch"] == {"B2311": 6} and s["by_region"] == {"杭州": 5, "上海": 3, "苏州": 2, "武汉": 1}
    assert matches(leak[0], s) and not matches(other[0], s)


def test_a_mixed_group_names_nothing() -> None:
    mixed = [extract_facets(t, {"product": p}) for t, p in
             [("快递太慢", "F8冰箱"), ("退款没到账", "R5电饭煲"), ("App闪退", "海川智家App"), ("客服态度差", "")]]
    s = summarise_facets(mixed)
    assert s["name"] == "" and s["product"] == "" and s["aspect"] == ""


def test_reason_is_written_from_the_facet_not_the_keyword_label() -> None:
    facet = {"product": "X3空调", "aspect": "漏水", "batch": "B2311"}
    said = contact_reason("一天/上班族/只能", "complained", "X3空调", "B2311", facet)
    assert said.startswith("回访：您购买的X3空调（批次B2311）漏水问题") and "上班族" not in said
    exposed = contact_reason("一天/上班族/只能", "exposed", "X3空调", "", facet)
    assert "X3空调（批次B2311）可能存在漏水问题" in exposed
    assert "一天/上班族/只能" in contact_reason("一天/上班族/只能", "complained")  # no facet: the label, as before

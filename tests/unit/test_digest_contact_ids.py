"""Digests name each finding's contacts by their visible ids (C009, a chat's own id) with their kind, apart from
topic ids (T0013); the CSV adds topic_id and contact_ids columns; without the mapping the old 'calls:' line stays."""

from __future__ import annotations

import csv
import datetime as dt

from voc.records import Finding, Route
from voc.report import DigestData, render_department, write_digests

RUN = dt.date(2026, 11, 20)
IDS = [f"chat-{k:020x}" for k in range(12)] + ["call-eaab3f1197ace792d751"]


def _data(contacts: bool = True) -> DigestData:
    finding = Finding("emerging:2026-11-20:T0013", "emerging_topic", RUN, "空调/漏水/X3", "", topic_id="T0013",
                      count=13, customers=12, value_weight=20.0, interaction_ids=tuple(IDS),
                      details={"call_ids": ["C009"]})
    mapping = {iid: ("chat", f"T{152 + k:05d}") for k, iid in enumerate(IDS[:-1])} | {IDS[-1]: ("call", "C009")}
    return DigestData(RUN, [finding], [Route(finding.id, "after_sales", 0.8, "keywords 漏水")],
                      contacts=mapping if contacts else {})


def test_department_digest_lists_contacts_by_visible_id_with_their_kind(tmp_path):
    md = render_department(_data(), "after_sales", "md")
    line = next(x for x in md.splitlines() if "contacts:" in x)
    # calls first, ids with their kind (chat T00152 is not topic T0013), the rest counted
    assert line == "- contacts: call C009, " + ", ".join(f"chat T{152 + k:05d}" for k in range(9)) + " (+3)"
    assert "topic T0013" in md and "finding id: emerging:2026-11-20:T0013" in md
    assert "chat-0000" not in md  # the internal ids are not shown
    html = render_department(_data(), "after_sales", "html")
    assert 'call <span class="contact-id" data-channel="call">C009</span>' in html
    assert "finding emerging:2026-11-20:T0013" in html
    paths = write_digests(_data(), tmp_path, ("csv",))
    with (tmp_path / "routes.csv").open(encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    assert tmp_path / "routes.csv" in paths
    assert row["topic_id"] == "T0013" and row["finding_id"] == "emerging:2026-11-20:T0013"
    assert row["contact_ids"].split(";") == ["C009", *(f"T{152 + k:05d}" for k in range(12))]


def test_without_the_mapping_the_calls_line_stays():
    md = render_department(_data(contacts=False), "after_sales", "md")
    assert "calls: C009" in md and "contacts:" not in md


def test_risk_reasons_name_escalated_contacts_with_their_kind():
    from voc.customers import customer_risk
    from voc.customers.model import Contact

    chat = Contact("chat-22e75c62cd5e005404ef", "U0500", "chat", RUN, external_id="T00152", topic_id="T0013",
                   topic_label="空调/漏水", sentiment=-0.9, escalation=True)
    risk = customer_risk([chat], {})
    assert "escalation flagged in 1 contact(s): chat T00152" in risk.reasons

"""D8: quarantine reasons are scrubbed with the same redactor as texts, and it no longer lets a mobile number through
because a price or a letter touches it."""

from __future__ import annotations

import datetime as dt

import pytest


@pytest.mark.parametrize("value", ["13912345620元", "13912345620x", "13912345620块", "¥13912345620"])
def test_a_phone_number_in_a_bad_cell_is_not_kept_in_the_reason(tmp_path, value):
    from voc.config import TextSettings
    from voc.ingest import scan_inbox
    from voc.text import make_cleaner

    inbox = tmp_path / "inbox"
    (inbox / "text").mkdir(parents=True)
    (inbox / "text" / "chats.jsonl").write_text(
        f'{{"id": "A", "text": "hi", "created_at": "2026-11-20T10:00:00+08:00", "customer_value": "{value}"}}\n',
        encoding="utf-8")
    scan = scan_inbox(inbox, today=dt.date(2026, 11, 21), redact=make_cleaner(TextSettings()))
    (rej,) = scan.rejected
    assert "customer_value" in rej.reason and "13912345620" not in rej.reason


def test_the_text_redactor_takes_mobile_numbers_next_to_prices_and_letters():
    from voc.text import redact

    for text in ("转账13912345620元", "号码13912345620x", "SF13912345620"):
        assert "13912345620" not in redact(text).text, text
    for text in ("花了1299元", "运单号SF1234567890123已签收", "订单号13912345620"):  # prices, ids, cued orders stay
        assert redact(text).text == text, text

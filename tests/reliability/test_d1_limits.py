"""D1: one oversized record never stops a night. Texts are cut for analysis (flagged, the original kept in the inbox),
every regex over user text runs in linear time, embeddings look at a bounded prefix, and an item over its time
budget fails alone."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.reliability.conftest import time_limit

N = 100_000
# Inputs that made a backtracking regex (or a pairwise loop) quadratic or worse before.
ADVERSARIAL = {
    "ascii_run": "a" * N,
    "digit_run": "1" * N,
    "spaced_digits": "1 " * (N // 2),
    "dotted_words": "a." * (N // 2),
    "at_then_labels": "a@" + "b." * (N // 2),
    "cjk_run": "投诉" * (N // 2),
    "many_phones": "地址13800138000，" * (N // 16),
    "many_emails": "x@y.com " * (N // 8),
    "cue_digits": "电话1 " * (N // 4),
}


def _redact(text: str) -> None:
    from voc.text import redact

    redact(text)


def _process(text: str) -> None:
    from voc.text import process_text

    process_text(text)


def _normalize(text: str) -> None:
    from voc.text import normalize

    normalize(text)


def _customer_masks(text: str) -> None:
    from voc.customers.model import PII_VALUE, safe_attributes

    PII_VALUE.sub("[PII]", text)
    safe_attributes({"note": text})


def _identifier(text: str) -> None:
    from voc.text import looks_personal

    looks_personal(text)


@pytest.mark.parametrize("case", sorted(ADVERSARIAL))
@pytest.mark.parametrize("fn", [_redact, _normalize, _customer_masks, _identifier, _process],
                         ids=["redact", "normalize", "customer_masks", "identifier", "process_text"])
def test_every_regex_over_user_text_is_linear(fn, case):
    """100k adversarial characters in well under the budget (quadratic code took minutes on these)."""
    text = ADVERSARIAL[case]
    budget = 15.0 if fn is _process else 6.0  # jieba segmentation is linear but not fast on 2 busy cores
    with time_limit(budget, f"{fn.__name__} on {case} ({len(text):,} chars)"):
        fn(text)


def test_redaction_scales_linearly_on_its_worst_input():
    from voc.text import redact

    def seconds(n: int) -> float:
        t0 = time.perf_counter()
        redact("1 " * (n // 2))
        return time.perf_counter() - t0

    small, big = min(seconds(20_000) for _ in range(2)), min(seconds(80_000) for _ in range(2))
    assert big < 8 * small + 0.5, (small, big)  # 4x the input: ~4x the time, never ~16x


def _luhn_complete(body: str) -> str:
    from voc.text.redact import luhn_ok

    return next(body + d for d in "0123456789" if luhn_ok(body + d))


def test_redaction_still_finds_pii_after_the_rewrite():
    from voc.text import redact

    card = _luhn_complete("622202123456789012")
    out = redact(f"邮箱 zhang.san@example.com.cn 电话13812345678，卡号{card} 订单号1234567890123").text
    assert "zhang.san" not in out and "13812345678" not in out and card not in out
    assert "[EMAIL]" in out and "[PHONE]" in out and "1234567890123" in out  # the order number stays
    assert redact("a@b.c1 x@qq.com123").text == "a@b.c1 [EMAIL]123"  # the TLD rule of the old regex


def test_a_huge_chat_is_cut_for_analysis_flagged_and_kept_in_the_inbox(tmp_path: Path):
    from voc.config import LimitSettings
    from voc.ingest import scan_inbox

    inbox = tmp_path / "inbox"
    (inbox / "text").mkdir(parents=True)
    huge = "洗衣机漏水" * 80_000 + "13812345678"
    line = json.dumps({"id": "H1", "text": huge, "created_at": "2026-11-20T10:00:00+08:00"}, ensure_ascii=False)
    (inbox / "text" / "chats.jsonl").write_text(line + "\n", encoding="utf-8")
    with time_limit(20, "scanning a 400k-character chat"):
        scan = scan_inbox(inbox, limits=LimitSettings(max_text_chars=5_000), today=dt.date(2026, 11, 21))
    (cand,) = scan.candidates
    assert len(cand.interaction.text) <= 5_000
    assert cand.interaction.text_truncated_from == len(huge)
    assert (inbox / "text" / "chats.jsonl").read_text(encoding="utf-8") == line + "\n"  # the original is untouched


def test_the_cut_never_splits_a_phone_number():
    from voc.ingest.guard import truncate_text

    text = "啊" * 95 + "13812345678 后面"
    cut, original = truncate_text(text, 100)
    assert original == len(text) and cut == "啊" * 95  # not "…13812": half a number escapes redaction


def test_excerpt_reads_only_the_start_of_a_long_text():
    from voc.customers.model import excerpt

    with time_limit(2, "excerpt of 1M characters"):
        assert excerpt("电话13812345678 " + "a" * 1_000_000) == ("电话[PII] " + "a" * 100)[:60]


def test_embedding_sees_a_bounded_prefix(tmp_path: Path):
    from voc.pipeline.topics import embed_texts
    from voc.store import Store

    class Recorder:
        name, dim, fitted = "recorder", 4, True
        lengths: list[int] = []

        def embed(self, texts):
            self.lengths.extend(len(t) for t in texts)
            return np.ones((len(texts), 4), dtype=np.float32)

    store = Store.open(f"sqlite:///{tmp_path / 'voc.db'}")
    try:
        matrix, new = embed_texts(store, Recorder(), ["短", "长" * 50_000], max_chars=512)
    finally:
        store.close()
    assert matrix.shape == (2, 4) and new == 2 and max(Recorder.lengths) == 512


def test_an_item_over_its_time_budget_fails_alone(tmp_path: Path):
    from voc.pipeline.runner import item_budget, per_item
    from voc.records import Channel, Interaction
    from voc.store import Store

    store = Store.open(f"sqlite:///{tmp_path / 'voc.db'}")
    items = [Interaction(id=f"chat-{i}", channel=Channel.CHAT, business_date=dt.date(2026, 11, 20),
                         content_hash=str(i), external_id=f"C{i}", text="x") for i in range(3)]
    store.add_interactions([(i, "text") for i in items])

    def work(item):
        if item.id == "chat-1":
            time.sleep(30)  # stands for a pathological input

    try:
        with item_budget(0.5):  # (SIGALRM: no outer time_limit here, the budget would step aside for it)
            done, failed, errors = per_item(store, "text", items, work, None)
    finally:
        store.close()
    assert (done, failed) == (2, 1)
    assert errors[0]["id"] == "chat-1" and "limits.item_timeout_s" in errors[0]["reason"]

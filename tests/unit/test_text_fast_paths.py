"""The text stage's fast paths give exactly what the slow libraries give.

``voc.text.segment`` cuts with its own pass over jieba's dictionary (same tokens as
``Tokenizer.lcut(cut_all=False, HMM=True)``), and ``voc.text.normalize`` skips OpenCC for texts without
a character t2s would change. Compared on the demo texts, tricky strings and, where present, 5,000 real
review sentences.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from voc.config import TextSettings
from voc.text import normalize, segment
from voc.text.normalize import _WIDTH_TABLE, _t2s, _t2s_witnesses
from voc.text.segment import _dict_key, _precise, get_tokenizer

REPO = Path(__file__).resolve().parents[2]
TRICKY = [
    "", " ", "——", "。。。", "a", "X3", "abc def 123-456 你好\t世界\r\n再见", "e-mail: a.b@c.com 谢谢",
    "我想投诉X3空调漏水，订单号HC202611200777，花了2999元 !! 😡", "[PHONE]联系我", "以旧换新的保修期是多久",
    "繁體中文測試：這個東西真的很糟糕，發票呢？", "乾隆皇帝", "頭髮", "后来他去了后面的皇后宫", "快递员说明天到货",
    "嗯嗯嗯嗯嗯嗯嗯嗯嗯嗯嗯嗯嗯嗯嗯嗯嗯嗯嗯嗯", "石狮寺前有四十四个石狮子", "南京市长江大桥",
]


def _demo_texts() -> list[str]:
    texts = [json.loads(line)["text"] for line in (REPO / "demo/inbox/text/complaints.jsonl").read_text("utf-8").splitlines()]
    with (REPO / "demo/inbox/text/reviews.csv").open(encoding="utf-8", newline="") as fh:
        texts += [r["text"] for r in csv.DictReader(fh)]
    for path in sorted((REPO / "demo/inbox/transcripts").glob("*.json")):
        texts += [u["text"] for u in json.loads(path.read_text("utf-8"))["utterances"]]
    return texts


def _check(texts: list[str], settings: TextSettings | None = None) -> None:
    tk = get_tokenizer(settings)
    fast = _precise(*_dict_key(settings))
    witnesses = _t2s_witnesses()
    assert witnesses  # built from the t2s dictionaries
    for text in texts:
        for t in (text, normalize(text)):
            assert fast.lcut(t) == tk.lcut(t, cut_all=False, HMM=True), t
        folded = text.translate(_WIDTH_TABLE)
        if witnesses.isdisjoint(folded):  # the skip is taken only when conversion is a no-op
            assert _t2s().convert(folded) == folded, text


def test_fast_paths_match_jieba_and_opencc_on_demo_and_tricky_texts():
    texts = TRICKY + _demo_texts()
    assert len(texts) > 1000
    _check(texts)
    assert normalize("繁體中文測試：這個東西") == "繁体中文测试：这个东西"  # conversion still happens
    assert segment("以旧换新的保修期是多久") == ["以旧换新", "的", "保修期", "是", "多久"]  # domain words


def test_fast_cut_honours_user_words(tmp_path):
    settings = TextSettings(domain_terms=["滚筒漏水险"])
    _check(["这台洗衣机买了滚筒漏水险吗", "滚筒漏水险怎么理赔"], settings)
    assert "滚筒漏水险" in segment("这台洗衣机买了滚筒漏水险吗", settings)


def test_fast_paths_match_on_real_reviews(shared_data):
    texts: list[str] = []
    for name in ("waimai_10k.tsv", "online_shopping_10cats_sample10k.tsv", "chnsenticorp_htl.tsv"):
        path = shared_data / "sentiment" / name
        if not path.is_file():
            pytest.skip(f"{path} not found")
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        texts += [s for r in rows[:600] for s in re.split(r"[。！？!?]", r["text"]) if s.strip()]
    assert len(texts) >= 3000
    _check(texts)

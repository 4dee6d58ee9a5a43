"""Throughput (texts/s) of the shipped model, the default 'auto' scorer and the lexicon on the shopping test split.

    .venv/bin/python bench/sentiment/throughput.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from voc.config import SentimentSettings  # noqa: E402
from voc.sentiment import get_scorer  # noqa: E402
from voc.sentiment.lexicon import LexiconScorer  # noqa: E402
from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel  # noqa: E402
from voc.sentiment.train import load_corpora  # noqa: E402


def main() -> int:
    corpora = load_corpora(REPO.parent / "shared" / "data" / "sentiment", 42, ["shopping"])
    texts = [r.text for r in corpora["shopping"] if r.split == "test"]
    scorers = {"hashlr": LinearSentimentModel.load(SHIPPED_MODEL), "auto": get_scorer(SentimentSettings()),
               "lexicon": LexiconScorer()}
    for s in scorers.values():
        s.score(texts[:50])  # warm caches (jieba dictionary) outside the timing
    mean_len = sum(map(len, texts)) / len(texts)
    for name, scorer in scorers.items():
        best = 0.0
        for _ in range(3):
            t0 = time.perf_counter()
            for i in range(0, len(texts), 512):
                scorer.score(texts[i : i + 512])
            best = max(best, len(texts) / (time.perf_counter() - t0))
        print(f"{name}: {best:.0f} texts/s (best of 3, {len(texts)} texts, mean {mean_len:.0f} chars)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

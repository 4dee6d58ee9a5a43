"""Throughput (texts/s, one process) of the shipped model, the default 'auto' scorer, the lexicon and (with
--e5) the e5-stack option on the shopping test split.

    .venv/bin/python bench/sentiment/throughput.py [--e5]
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
    model = LinearSentimentModel.load(SHIPPED_MODEL)
    scorers = {f"{model.name} (raw model)": model, f"auto ({get_scorer(SentimentSettings()).name})": get_scorer(SentimentSettings()),
               "lexicon": LexiconScorer()}
    if "--e5" in sys.argv:
        scorers["e5-stack"] = get_scorer(SentimentSettings(backend="e5-stack"))
    for s in scorers.values():
        s.score(texts[:50])  # warm caches (jieba dictionary) outside the timing
    mean_len = sum(map(len, texts)) / len(texts)
    for name, scorer in scorers.items():
        best = 0.0
        if name == "e5-stack":
            t0 = time.perf_counter()
            scorer.score(texts[:256])
            print(f"{name}: {256 / (time.perf_counter() - t0):.1f} texts/s (256 texts, once)")
            continue
        for _ in range(3):
            t0 = time.perf_counter()
            for i in range(0, len(texts), 512):
                scorer.score(texts[i : i + 512])
            best = max(best, len(texts) / (time.perf_counter() - t0))
        print(f"{name}: {best:.0f} texts/s (best of 3, {len(texts)} texts, mean {mean_len:.0f} chars)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

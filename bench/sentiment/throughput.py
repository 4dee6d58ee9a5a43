"""Throughput (texts/s, one process) on the shopping test split: the shipped n-gram model, `backend: model`, the
default (`auto` = e5 stack) with its e5 vectors already computed (what the nightly run does: the store's cache,
filled once per text by the embed stage; here the precomputed EmbeddingCache of e5_cache.py), the lexicon, and (with
--e5) the default embedding every text itself (what `voc sentiment --file` does; 256 texts, once).

    OMP_NUM_THREADS=1 .venv/bin/python bench/sentiment/throughput.py [--e5]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from e5_cache import shared_vectors  # noqa: E402

from voc.config import SentimentSettings  # noqa: E402
from voc.sentiment import get_scorer  # noqa: E402
from voc.sentiment.e5 import e5_stack_of  # noqa: E402
from voc.sentiment.lexicon import LexiconScorer  # noqa: E402
from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel  # noqa: E402
from voc.sentiment.train import load_corpora  # noqa: E402


def main() -> int:
    corpora = load_corpora(REPO.parent / "shared" / "data" / "sentiment", 42, ["shopping"])
    texts = [r.text for r in corpora["shopping"] if r.split == "test"]
    model = LinearSentimentModel.load(SHIPPED_MODEL)
    default = get_scorer(SentimentSettings())
    scorers = {f"{model.name} (raw model)": model,
               f"backend model ({get_scorer(SentimentSettings(backend='model')).name})": get_scorer(SentimentSettings(backend="model")),
               "lexicon": LexiconScorer()}
    stack = e5_stack_of(default)
    x = shared_vectors(texts, "cut")
    if stack is not None and x is not None:
        known = dict(zip(stack.e5_inputs(texts), x, strict=True))
        scorers[f"auto ({default.name}), e5 vectors given"] = get_scorer(
            SentimentSettings(), vectors=lambda inputs: np.stack([known[t] for t in inputs]))
    if "--e5" in sys.argv:
        scorers[f"auto ({default.name}), embedding here"] = default
    for s in scorers.values():
        s.score(texts[:50])  # warm caches (jieba dictionary, e5 model) outside the timing
    mean_len = sum(map(len, texts)) / len(texts)
    for name, scorer in scorers.items():
        best = 0.0
        if name.endswith("embedding here"):
            t0 = time.perf_counter()
            scorer.score(texts[50:306])
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

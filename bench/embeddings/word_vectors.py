"""e5 vectors of the largest benchmark vocabulary, computed once (resumable) so every table size reuses them.

The default vocabulary (voc.semantic.static.default_vocab) is a prefix-ordered list: the top-N jieba words, then
the characters, then the domain words, so a smaller table is a subset of the largest one's rows.

    OMP_NUM_THREADS=2 nice -n 10 .venv/bin/python bench/embeddings/word_vectors.py [--size 60000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from voc.semantic.static import default_vocab, embed_words  # noqa: E402
from voc.text.segment import domain_vocabulary  # noqa: E402

CACHE = Path("/tmp/voc-bench-embeddings")
CHUNK = 4096


def vocab(size: int) -> list[str]:
    return default_vocab(size=size, domain_words=domain_vocabulary())


def word_vectors(words: list[str]) -> dict[str, np.ndarray]:
    """word -> raw e5 vector for ``words``, from the cache; missing words are embedded and cached in chunks."""
    CACHE.mkdir(parents=True, exist_ok=True)
    have: dict[str, np.ndarray] = {}
    for part in sorted(CACHE.glob("words-*.npz")):
        with np.load(part) as d:
            have.update(zip([str(w) for w in d["words"]], d["vectors"], strict=True))
    missing = [w for w in words if w not in have]
    t0 = time.perf_counter()
    for start in range(0, len(missing), CHUNK):
        chunk = missing[start : start + CHUNK]
        vecs = embed_words(chunk)
        np.savez(CACHE / f"words-{time.time_ns()}.npz", words=np.array(chunk, dtype=str), vectors=vecs)
        have.update(zip(chunk, vecs, strict=True))
        done = start + len(chunk)
        el = time.perf_counter() - t0
        print(f"{done}/{len(missing)} words, {el:.0f} s, {el / done * 1000:.2f} ms/word", flush=True)
    return {w: have[w] for w in words}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=60_000)
    args = ap.parse_args()
    words = vocab(args.size)
    print(len(words), "words", flush=True)
    word_vectors(words)

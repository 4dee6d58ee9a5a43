"""Training and evaluation helpers for the hashed n-gram scorer (used by bench/sentiment/train.py).

Splits are fixed by a hash of the normalised text and a seed, so a text that occurs in two datasets
(the hotel reviews shared by ChnSentiCorp and online_shopping) always falls into the same split.
"""

from __future__ import annotations

import csv
import logging
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voc.sentiment.base import Scorer
from voc.sentiment.features import (
    FeatureConfig,
    hash_texts,
    inverse_document_frequency,
    normalise,
    rows_to_matrix,
)
from voc.sentiment.model import LinearSentimentModel

log = logging.getLogger(__name__)

DATASETS = {
    "waimai": "waimai_10k.tsv",
    "hotel": "chnsenticorp_htl.tsv",
    "shopping": "online_shopping_10cats_sample10k.tsv",
}
TEST_BUCKETS = 2  # of 10: 20 % test
DEV_BUCKETS = 1  # 10 % dev (model selection); the rest is train


@dataclass(frozen=True, slots=True)
class LabelledText:
    text: str
    label: int  # 1 positive, 0 negative
    dataset: str
    split: str  # train / dev / test


def split_of(text: str, seed: int) -> str:
    bucket = zlib.crc32(f"{seed}:{normalise(text)}".encode()) % 10
    if bucket < TEST_BUCKETS:
        return "test"
    if bucket < TEST_BUCKETS + DEV_BUCKETS:
        return "dev"
    return "train"


def load_dataset(path: Path, name: str, seed: int) -> list[LabelledText]:
    """Read one ``label<TAB>text[...]`` TSV of the shared data (no quoting) into labelled texts."""
    rows: list[LabelledText] = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        if header[:2] != ["label", "text"]:
            raise ValueError(f"{path}:1: expected columns 'label, text', found {header[:2]}")
        for lineno, row in enumerate(reader, start=2):
            if len(row) < 2 or row[0] not in ("0", "1"):
                raise ValueError(f"{path}:{lineno}: expected label 0/1 and a text")
            if row[1].strip():
                rows.append(LabelledText(row[1], int(row[0]), name, split_of(row[1], seed)))
    return rows


def load_corpora(data_dir: Path, seed: int, names: Sequence[str] = tuple(DATASETS)) -> dict[str, list[LabelledText]]:
    """The shared sentiment sets by short name; ``data_dir`` is shared/data/sentiment."""
    out = {}
    for name in names:
        path = Path(data_dir) / DATASETS[name]
        if not path.is_file():
            raise FileNotFoundError(f"{path}: sentiment dataset not found (see shared/data/MANIFEST.md)")
        out[name] = load_dataset(path, name, seed)
    return out


def fit_hashlr(
    texts: Sequence[str],
    labels: Sequence[int],
    config: FeatureConfig,
    c: float = 4.0,
    nb: bool = True,
    use_idf: bool = True,
    class_weight: str | None = None,
    meta: dict | None = None,
) -> LinearSentimentModel:
    """Fit logistic regression over hashed features; with ``nb`` the features are first scaled by
    naive-Bayes log-count ratios (NB-LR, Wang & Manning 2012), folded into the saved weights."""
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    y = np.asarray(labels, dtype=np.int64)
    rows = hash_texts(texts, config)
    idf = inverse_document_frequency(rows, config) if use_idf else None
    x = rows_to_matrix(rows, config, idf)
    ratio = None
    if nb:
        binary = x.copy()
        binary.data[:] = 1.0
        p = np.asarray(binary[y == 1].sum(axis=0)).ravel() + 1.0
        q = np.asarray(binary[y == 0].sum(axis=0)).ravel() + 1.0
        ratio = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
        x = x.multiply(ratio).tocsr()
    clf = LogisticRegression(C=c, solver="liblinear", class_weight=class_weight, max_iter=1000)
    clf.fit(x, y)
    weights = clf.coef_.ravel().astype(np.float32)
    if ratio is not None:
        weights = weights * ratio  # x' = x * r, so w . x' = (w * r) . x
    log.info("fitted hashlr on %d texts in %.1f s", len(texts), time.perf_counter() - t0)
    info = {"c": c, "nb": nb, "idf": use_idf, "class_weight": class_weight, "n_train": len(texts)}
    info.update(meta or {})
    return LinearSentimentModel(config=config, weights=weights, bias=float(clf.intercept_[0]), idf=idf, meta=info)


def evaluate(scorer: Scorer, texts: Sequence[str], labels: Sequence[int], batch_size: int = 512) -> dict[str, float]:
    """Binary accuracy and macro-F1 (score >= 0 = positive) and throughput in texts/s."""
    from sklearn.metrics import accuracy_score, f1_score

    t0 = time.perf_counter()
    scores = np.concatenate(
        [scorer.score(list(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)]
    ) if len(texts) else np.zeros(0)
    seconds = time.perf_counter() - t0
    pred = (scores >= 0).astype(int)
    return {
        "n": len(texts),
        "accuracy": float(accuracy_score(labels, pred)),
        "macro_f1": float(f1_score(labels, pred, average="macro")),
        "texts_per_s": len(texts) / seconds if seconds > 0 else float("inf"),
    }

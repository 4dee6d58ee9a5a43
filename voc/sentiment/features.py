"""Stateless hashing featuriser for Chinese text: char 1-3 grams + jieba words, hashed into a fixed space.

Stateless so the fitted model needs only its weights (and an idf vector) in an npz; no vocabulary to ship.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import jieba
    import scipy.sparse

_SPACE = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """How texts become hashed features; saved with the model so training and inference agree."""

    n_features_log2: int = 20
    char_ngrams: tuple[int, int] = (1, 3)
    words: bool = True
    word_bigrams: bool = True
    sublinear_tf: bool = True

    @property
    def n_features(self) -> int:
        return 1 << self.n_features_log2

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["char_ngrams"] = list(self.char_ngrams)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureConfig:
        data = dict(data)
        data["char_ngrams"] = tuple(data.get("char_ngrams", (1, 3)))
        return cls(**data)


@functools.lru_cache(maxsize=1)
def _tokenizer() -> jieba.Tokenizer:
    # A private tokenizer: other packages may add user words to jieba's global one,
    # which would silently change our features.
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    return tok


def normalise(text: str) -> str:
    """NFKC (full-width -> half-width), lower-case, digits collapsed, whitespace squeezed."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = _DIGITS.sub("0", text)
    return _SPACE.sub(" ", text).strip()


WORDS_MEMO = 16_384  # texts whose jieba words are remembered: the n-gram features and the lexicon cut the same text


@functools.lru_cache(maxsize=WORDS_MEMO)
def words(normalised: str) -> tuple[str, ...]:
    """jieba's words (precise mode, HMM) of an already normalised text, spaces dropped; one cut shared by the n-gram
    features and the lexicon scorer (:mod:`voc.sentiment.lexicon`), which read the same text one after the other."""
    return tuple(w for w in _tokenizer().lcut(normalised, HMM=True) if w.strip())


def tokens(text: str, config: FeatureConfig) -> list[str]:
    """The feature strings of one (already normalised) text, namespaced by kind."""
    out: list[str] = []
    lo, hi = config.char_ngrams
    compact = text.replace(" ", "")
    for n in range(lo, hi + 1):
        out.extend("c" + compact[i : i + n] for i in range(len(compact) - n + 1))
    if config.words:
        ws = words(text)
        out.extend("w" + w for w in ws)
        if config.word_bigrams:
            out.extend("b" + a + "|" + b for a, b in zip(ws, ws[1:], strict=False))
    return out


def _hash(token: str, mask: int) -> int:
    return zlib.crc32(token.encode("utf-8")) & mask


HashedRow = tuple[np.ndarray, np.ndarray]  # (column ids, raw counts)


def hash_texts(texts: Sequence[str], config: FeatureConfig) -> list[HashedRow]:
    """Tokenise and hash each text once; training reuses the rows for idf and for the matrix."""
    mask = config.n_features - 1
    rows: list[HashedRow] = []
    for text in texts:
        counts = Counter(_hash(t, mask) for t in tokens(normalise(text), config))
        rows.append(
            (
                np.fromiter(counts.keys(), dtype=np.int64, count=len(counts)),
                np.fromiter(counts.values(), dtype=np.float32, count=len(counts)),
            )
        )
    return rows


def rows_to_matrix(
    rows: Sequence[HashedRow], config: FeatureConfig, idf: np.ndarray | None = None
) -> scipy.sparse.csr_matrix:
    """Hashed rows -> L2-normalised (sublinear) tf or tf-idf CSR matrix (len(rows), n_features)."""
    import scipy.sparse

    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    cols_all, vals_all = [], []
    for i, (cols, counts) in enumerate(rows):
        vals = 1.0 + np.log(counts) if config.sublinear_tf else counts.copy()
        if idf is not None and len(cols):
            vals = vals * idf[cols]
        norm = float(np.sqrt(np.dot(vals, vals)))
        if norm > 0:
            vals = vals / norm
        cols_all.append(cols)
        vals_all.append(vals.astype(np.float32))
        indptr[i + 1] = indptr[i] + len(cols)
    indices = np.concatenate(cols_all) if cols_all else np.zeros(0, dtype=np.int64)
    data = np.concatenate(vals_all) if vals_all else np.zeros(0, dtype=np.float32)
    return scipy.sparse.csr_matrix((data, indices, indptr), shape=(len(rows), config.n_features))


def featurise(
    texts: Sequence[str], config: FeatureConfig, idf: np.ndarray | None = None
) -> scipy.sparse.csr_matrix:
    """Texts -> feature matrix, shape (len(texts), config.n_features)."""
    return rows_to_matrix(hash_texts(texts, config), config, idf)


def inverse_document_frequency(rows: Sequence[HashedRow], config: FeatureConfig) -> np.ndarray:
    """Smoothed idf over hashed features (as sklearn's TfidfTransformer: ln((1+n)/(1+df)) + 1)."""
    df = np.zeros(config.n_features, dtype=np.int64)
    for cols, _ in rows:
        df[cols] += 1
    n = len(rows)
    return (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)

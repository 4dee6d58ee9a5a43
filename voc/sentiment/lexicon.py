"""Lexicon scorer: the word lists written for voc (voc/sentiment/data/lexicon_*.txt) with negation and degree adverbs."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voc.sentiment.features import normalise, words

DATA = Path(__file__).resolve().parent / "data"
# Polarity words look back this many tokens (within a clause) for negators and degree adverbs.
WINDOW = 3
# Clause after a contrast word ("..., 但是 ...") usually carries the speaker's verdict.
CONTRAST = frozenset({"但", "但是", "可是", "不过", "然而", "就是", "只是"})
CONTRAST_WEIGHT = 1.5
NEGATION_DAMPING = 0.8  # "不好" is a bit milder than "差"
_CLAUSE_END = re.compile(r"^[，,。.!！?？;；~～…、\s]+$")


def read_word_list(path: Path, default_weight: float = 1.0) -> dict[str, float]:
    """``word[<TAB>weight]`` per line; ``#`` starts a comment. Errors name the file and line."""
    words: dict[str, float] = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        try:
            words[parts[0].strip()] = float(parts[1]) if len(parts) > 1 and parts[1].strip() else default_weight
        except ValueError as exc:
            raise ValueError(f"{path}:{lineno}: expected 'word<TAB>number', got {line!r}") from exc
    return words


@dataclass(frozen=True)
class Lexicon:
    polarity: dict[str, float]  # word -> signed weight
    negators: frozenset[str]
    degree: dict[str, float]

    @classmethod
    def from_dir(cls, folder: Path = DATA) -> Lexicon:
        polarity = dict(read_word_list(folder / "lexicon_positive.txt"))
        for word, weight in read_word_list(folder / "lexicon_negative.txt").items():
            polarity[word] = -weight
        return cls(
            polarity=polarity,
            negators=frozenset(read_word_list(folder / "lexicon_negators.txt")),
            degree=read_word_list(folder / "lexicon_degree.txt"),
        )


@functools.lru_cache(maxsize=4)
def get_lexicon(folder: Path = DATA) -> Lexicon:
    """The lexicon in ``folder``, read once per process."""
    return Lexicon.from_dir(folder)


@functools.lru_cache(maxsize=1)
def default_lexicon_scorer() -> LexiconScorer:
    """The shipped lexicon's scorer, built once per process (models that stack the lexicon share it)."""
    return LexiconScorer()


class LexiconScorer:
    """Sum of word polarities (negated/intensified by the words before them), squashed with tanh."""

    def __init__(self, lexicon: Lexicon | None = None, scale: float = 1.5) -> None:
        self.lexicon = lexicon or get_lexicon()
        self.scale = scale
        self.name = "lexicon"

    def _polarity_of(self, token: str) -> float | None:
        lex = self.lexicon
        if token in lex.polarity:
            return lex.polarity[token]
        # jieba keeps some modified words whole ("不好", "不太好", "好慢"): peel off a leading
        # negator or degree adverb (longest first) and score the rest.
        for cut in range(min(len(token) - 1, 3), 0, -1):
            head, rest = token[:cut], token[cut:]
            if head in lex.negators or head in lex.degree:
                inner = self._polarity_of(rest)
                if inner is not None:
                    return -NEGATION_DAMPING * inner if head in lex.negators else lex.degree[head] * inner
        # Sentence-final particles stick to the word ("好了", "差啊").
        if len(token) > 1 and token[-1] in "了啊呀的吧呢哦":
            return self._polarity_of(token[:-1])
        return None

    def raw(self, text: str) -> tuple[float, int]:
        """(summed polarity, number of sentiment hits) of one text."""
        lex = self.lexicon
        toks = words(normalise(text))
        total, hits, weight = 0.0, 0, 1.0
        for i, tok in enumerate(toks):
            if _CLAUSE_END.match(tok):
                continue
            if tok in CONTRAST:
                weight = CONTRAST_WEIGHT
                continue
            polarity = self._polarity_of(tok)
            if polarity is None:
                continue
            nxt = toks[i + 1] if i + 1 < len(toks) else ""
            if tok in lex.degree and self._polarity_of(nxt) is not None:
                continue  # "好慢": 好 intensifies the next word here
            value = polarity
            for prev in reversed(toks[max(0, i - WINDOW) : i]):
                if _CLAUSE_END.match(prev):
                    break
                if prev in lex.negators:
                    value = -NEGATION_DAMPING * value
                elif prev in lex.degree:
                    value *= lex.degree[prev]
            total += weight * value
            hits += 1
        return total, hits

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([math.tanh(self.raw(t)[0] / self.scale) for t in texts], dtype=np.float64)

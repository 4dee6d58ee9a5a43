"""Phrase matchers: exact/regex, pinyin-fuzzy and semantic, behind one small protocol.

A matcher answers "does any variant of this phrase occur in each of these texts, and where?".
The scorer chains them cheapest first (exact, then pinyin, then semantic) and records which one hit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from voc.qa import pinyin

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

Embedder = Callable[[list[str]], "np.ndarray"]

# Punctuation, spaces and the "_" pause mark that transcripts carry do not count for exact matching.
_SKIP = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class PhraseSet:
    """What one rule looks for: phrase variants and optional regular expressions."""

    variants: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    variant: str  # the phrase variant (or regex source) that matched
    how: str  # exact / regex / pinyin / semantic
    similarity: float  # 1.0 for exact and regex
    start: int  # character span of the match in the text (whole text for semantic)
    end: int

    def window(self, text: str) -> str:
        return text[self.start:self.end]


@runtime_checkable
class Matcher(Protocol):
    """Finds the best variant of a phrase set in each text; ``None`` where nothing matches."""

    how: str

    def match(self, texts: Sequence[str], phrases: PhraseSet) -> list[Match | None]: ...


def normalise(text: str) -> tuple[str, list[int]]:
    """Text without punctuation/spaces, lower-cased, plus each kept character's original offset."""
    chars: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        if not _SKIP.fullmatch(ch):
            chars.append(ch.lower())
            offsets.append(i)
    return "".join(chars), offsets


class ExactMatcher:
    """Variant occurs verbatim (ignoring punctuation and spaces), or a regex matches the raw text."""

    how = "exact"

    def match(self, texts: Sequence[str], phrases: PhraseSet) -> list[Match | None]:
        norm_variants = [(v, normalise(v)[0]) for v in phrases.variants]
        out: list[Match | None] = []
        for text in texts:
            out.append(self._one(text, norm_variants, phrases.patterns))
        return out

    @staticmethod
    def _one(text: str, variants: list[tuple[str, str]], patterns: Sequence[re.Pattern[str]]) -> Match | None:
        norm, offsets = normalise(text)
        # Longest variant first: it is the most specific evidence.
        for variant, nv in sorted(variants, key=lambda x: -len(x[1])):
            k = norm.find(nv) if nv else -1
            if k >= 0:
                return Match(variant, "exact", 1.0, offsets[k], offsets[k + len(nv) - 1] + 1)
        for pattern in patterns:
            m = pattern.search(text)
            if m:
                return Match(pattern.pattern, "regex", 1.0, m.start(), max(m.end(), m.start() + 1))
        return None


class PinyinMatcher:
    """Tone-less, confusion-tolerant pinyin search over sliding windows of each text.

    Variants shorter than ``min_chars`` syllables must match their folded pinyin exactly: a
    one-syllable slip in a 2-3 character phrase would otherwise match half the calls.
    """

    how = "pinyin"

    def __init__(self, threshold: float = 0.8, min_chars: int = 4) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"pinyin threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self.min_chars = min_chars

    def match(self, texts: Sequence[str], phrases: PhraseSet) -> list[Match | None]:
        out: list[Match | None] = []
        for text in texts:
            best: Match | None = None
            for variant in phrases.variants:
                n = len(pinyin.syllables(variant))
                if n == 0:
                    continue
                hit = pinyin.search(variant, text, self.threshold if n >= self.min_chars else 1.0)
                if hit and (best is None or hit.similarity > best.similarity
                            or (hit.similarity == best.similarity and len(variant) > len(best.variant))):
                    best = Match(variant, "pinyin", hit.similarity, hit.start, hit.end)
            out.append(best)
        return out


_CLAUSE = re.compile(r"[，。！？；,.!?;_\s]+")


@dataclass
class SemanticMatcher:
    """Cosine similarity between phrase variants and each text's clauses, using any embedder.

    ``embed`` maps a list of strings to an (n, d) array (e.g. :func:`voc.semantic.qa_embedder`). Embeddings are
    cached per text, so a call's utterances are embedded once for all rules.
    """

    embed: Embedder
    threshold: float = 0.945
    how: str = "semantic"
    cache_size: int = 20000
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def _vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        import numpy as np

        todo = sorted({t for t in texts if t not in self._cache})
        if todo:
            if len(self._cache) + len(todo) > self.cache_size:
                self._cache.clear()
            vecs = np.asarray(self.embed(list(todo)), dtype=np.float32)
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            self._cache.update(zip(todo, vecs, strict=True))
        return {t: self._cache[t] for t in texts}

    def match(self, texts: Sequence[str], phrases: PhraseSet) -> list[Match | None]:
        import numpy as np

        variants = [v for v in phrases.variants if v.strip()]
        if not variants or not texts:
            return [None] * len(texts)
        units: list[list[tuple[str, int, int]]] = []  # per text: (clause, start, end)
        for text in texts:
            clauses = [(m.group(), m.start(), m.end()) for m in re.finditer(r"[^，。！？；,.!?;_\s]+", text)]
            if len(clauses) != 1:
                clauses.append((text, 0, len(text)))
            units.append([c for c in clauses if c[0].strip()])
        vec = self._vectors(variants + [c[0] for u in units for c in u])
        V = np.stack([vec[v] for v in variants])
        out: list[Match | None] = []
        for unit in units:
            best: Match | None = None
            for clause, s, e in unit:
                sims = V @ vec[clause]
                k = int(np.argmax(sims))
                if sims[k] >= self.threshold and (best is None or sims[k] > best.similarity):
                    best = Match(variants[k], "semantic", round(float(sims[k]), 4), s, e)
            out.append(best)
        return out

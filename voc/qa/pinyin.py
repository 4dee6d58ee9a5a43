"""Tone-less, confusion-tolerant pinyin keys and approximate phrase search over them.

ASR turns 服务 into 服物 or 您 into 你; comparing syllables instead of characters, with the common
Mandarin confusions (zh/z, ch/c, sh/s, n/l, in/ing, en/eng) folded together, still finds the phrase.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# Longest first so "zh" wins over "z".
_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "r",
             "z", "c", "s", "y", "w")
# Folding both sides of a confusion pair onto one key: speakers (and ASR trained on them) mix these freely.
_INITIAL_FOLD = {"zh": "z", "ch": "c", "sh": "s", "n": "l"}
_FINAL_FOLD = {"ing": "in", "eng": "en"}
# A syllable that shares its initial or its final with the expected one is a near miss, not a full error.
PARTIAL_COST = 0.6

_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_ALNUM = re.compile(r"[0-9A-Za-z]")


@dataclass(frozen=True, slots=True)
class Syllable:
    """One comparable unit of a text: a Han character's folded pinyin, or one letter/digit."""

    initial: str
    final: str
    pos: int  # character offset in the original text

    @property
    def key(self) -> str:
        return self.initial + self.final


@functools.lru_cache(maxsize=8192)
def _fold(syllable: str) -> tuple[str, str]:
    initial = next((i for i in _INITIALS if syllable.startswith(i) and len(syllable) > len(i)), "")
    final = syllable[len(initial):]
    return _INITIAL_FOLD.get(initial, initial), _FINAL_FOLD.get(final, final)


@functools.lru_cache(maxsize=4096)
def syllables(text: str) -> tuple[Syllable, ...]:
    """Folded syllables of ``text``; punctuation, spaces and ASR pause marks are skipped."""
    from pypinyin import Style, lazy_pinyin

    out: list[Syllable] = []
    pos = 0
    for m in _HAN_RUN.finditer(text):
        out.extend(_other(text, pos, m.start()))
        # Convert the whole run at once so pypinyin can use word context for polyphones (还 hai/huan).
        for k, py in enumerate(lazy_pinyin(m.group(), style=Style.NORMAL)):
            # ASR writes the polite 您 as 你 all the time; treating them as one keeps 3-character
            # variants (建议您, 您可以) matchable without loosening the exact-pinyin rule for short phrases.
            initial, final = _fold("ni" if m.group()[k] == "您" else py)
            out.append(Syllable(initial, final, m.start() + k))
        pos = m.end()
    out.extend(_other(text, pos, len(text)))
    return tuple(out)


def _other(text: str, start: int, end: int) -> list[Syllable]:
    return [Syllable("", text[i].lower(), i) for i in range(start, end) if _ALNUM.match(text[i])]


def _cost(a: Syllable, b: Syllable) -> float:
    if a.initial == b.initial and a.final == b.final:
        return 0.0
    if a.initial == b.initial or a.final == b.final:
        return PARTIAL_COST
    return 1.0


@dataclass(frozen=True, slots=True)
class PinyinHit:
    similarity: float  # 1 - weighted edit distance / phrase length
    start: int  # character span in the searched text
    end: int


def search(phrase: str, text: str, threshold: float) -> PinyinHit | None:
    """Best approximate occurrence of ``phrase`` anywhere in ``text`` (semi-global alignment).

    Returns ``None`` when the best window's similarity is below ``threshold``.
    """
    p = syllables(phrase)
    t = syllables(text)
    m, n = len(p), len(t)
    if m == 0 or n == 0:
        return None
    # Cheap bound: each phrase syllable absent from the text costs at least PARTIAL_COST.
    text_keys = {s.key for s in t}
    missing = sum(1 for s in p if s.key not in text_keys)
    if 1.0 - PARTIAL_COST * missing / m < threshold:
        return None
    # Row i holds the cost of aligning p[:i] ending at each text position; starting anywhere is free.
    prev = [0.0] * (n + 1)
    prev_start = list(range(n + 1))
    for i in range(1, m + 1):
        cur = [float(i)] + [0.0] * n
        cur_start = [0] * (n + 1)
        pi = p[i - 1]
        for j in range(1, n + 1):
            best, start = prev[j - 1] + _cost(pi, t[j - 1]), prev_start[j - 1]
            if prev[j] + 1.0 < best:  # phrase syllable dropped by ASR
                best, start = prev[j] + 1.0, prev_start[j]
            if cur[j - 1] + 1.0 < best:  # extra syllable inserted in the text
                best, start = cur[j - 1] + 1.0, cur_start[j - 1]
            cur[j], cur_start[j] = best, start
        prev, prev_start = cur, cur_start
    j_best = min(range(1, n + 1), key=lambda j: (prev[j], j))
    similarity = 1.0 - prev[j_best] / m
    if similarity < threshold:
        return None
    s = prev_start[j_best]
    start = t[min(s, n - 1)].pos
    end = t[j_best - 1].pos + 1
    return PinyinHit(round(similarity, 4), start, max(end, start + 1))

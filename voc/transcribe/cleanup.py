"""Clean Whisper output for Chinese: Traditional -> Simplified, and hallucination guards.

Guards work on :class:`AsrSegment` (a plain copy of a faster-whisper segment) so they can be
tested without a model: phantom subtitle phrases, no-speech segments, repetition loops.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from voc.config import AsrSettings
from voc.records import Word


@dataclass(frozen=True, slots=True)
class AsrSegment:
    """The parts of a faster-whisper ``Segment`` the guards look at; times in seconds of the call."""

    start: float
    end: float
    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0
    words: tuple[Word, ...] = ()


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc  # opencc-python-reimplemented: pure Python, loads its dictionaries once

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional -> Simplified Chinese (OpenCC t2s); other scripts pass through unchanged."""
    return _t2s().convert(text) if text else text


def strip_punct(text: str) -> str:
    """Drop punctuation, symbols and whitespace (used to compare texts, never to store them)."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


@functools.lru_cache(maxsize=64)
def _phantom_keys(phrases: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((p, strip_punct(to_simplified(p)).lower()) for p in phrases if strip_punct(p))


def find_phantom(text: str, phrases: tuple[str, ...] | list[str]) -> str | None:
    """The phantom phrase ``text`` contains (compared without punctuation, case, script), else None."""
    key = strip_punct(to_simplified(text)).lower()
    for phrase, pkey in _phantom_keys(tuple(phrases)):
        if pkey in key:
            return phrase
    return None


# A unit of 1-12 characters repeated 4+ times in a row (Whisper loops: "好的好的好的好的...").
_LOOP = re.compile(r"(.{1,12}?)\1{3,}", re.DOTALL)


def collapse_repetitions(text: str, keep: int = 2) -> tuple[str, int]:
    """Collapse runs of a unit repeated 4+ times to ``keep`` copies; return (text, chars removed).

    Two copies survive because doubled words are ordinary speech ("好的好的", "对对").
    """
    removed = 0

    def _sub(m: re.Match[str]) -> str:
        nonlocal removed
        unit = m.group(1)
        if not strip_punct(unit):  # runs of punctuation/spaces: keep one
            removed += len(m.group(0)) - len(unit)
            return unit
        removed += len(m.group(0)) - len(unit) * keep
        return unit * keep

    return _LOOP.sub(_sub, text), removed


_HALF_TO_FULL = {",": "，", "!": "！", "?": "？", ";": "；", ":": "：", ".": "。"}
# Half-width punctuation right after a Chinese character (Whisper writes "您好,请问"); "1.5" and
# "Amara.org" are untouched because the character before is not Chinese.
_CJK_PUNCT = re.compile(r"(?<=[\u3400-\u9fff])\s*([,!?;:.])")


def clean_text(text: str) -> str:
    """Simplified script, full-width punctuation after Chinese, single spaces, no outer spaces."""
    text = _CJK_PUNCT.sub(lambda m: _HALF_TO_FULL[m.group(1)], to_simplified(text))
    return re.sub(r"\s+", " ", text).strip()


def guard_segments(
    segments: list[AsrSegment] | tuple[AsrSegment, ...], asr: AsrSettings
) -> tuple[list[AsrSegment], list[dict[str, Any]]]:
    """Apply the guards in order; return (kept segments with cleaned text, dropped with reasons).

    Reasons: ``phantom_phrase`` (a known subtitle/outro hallucination), ``no_speech`` (Whisper's
    no-speech probability above ``asr.no_speech_threshold`` with avg logprob below
    ``asr.log_prob_threshold``), ``repetition`` (a segment that is mostly a loop, or the same text
    as the two segments before it), ``empty``. Loops inside an otherwise fine segment are collapsed
    and reported with reason ``repetition_collapsed`` while the segment is kept.
    """
    kept: list[AsrSegment] = []
    dropped: list[dict[str, Any]] = []

    def drop(seg: AsrSegment, reason: str, **extra: Any) -> None:
        dropped.append(
            {"start": round(seg.start, 3), "end": round(seg.end, 3), "text": seg.text, "reason": reason,
             "avg_logprob": seg.avg_logprob, "no_speech_prob": seg.no_speech_prob, **extra}
        )

    for seg in segments:
        text = clean_text(seg.text)
        if not strip_punct(text):
            drop(seg, "empty")
            continue
        phrase = find_phantom(text, asr.phantom_phrases)
        if phrase is not None:
            drop(seg, "phantom_phrase", phrase=phrase)
            continue
        if seg.no_speech_prob > asr.no_speech_threshold and seg.avg_logprob < asr.log_prob_threshold:
            drop(seg, "no_speech")
            continue
        collapsed, removed = collapse_repetitions(text)
        if removed:
            if len(strip_punct(collapsed)) <= 0.35 * len(strip_punct(text)) and len(strip_punct(text)) >= 12:
                drop(seg, "repetition")
                continue
            drop(seg, "repetition_collapsed", kept_text=collapsed)
            text = collapsed
        key = strip_punct(text)
        if len(kept) >= 2 and all(strip_punct(k.text) == key for k in kept[-2:]):
            drop(seg, "repetition", repeated_segments=3)
            continue
        words = tuple(replace(w, word=to_simplified(w.word)) for w in seg.words) if not removed else ()
        kept.append(replace(seg, text=text, words=words))
    return kept, dropped

"""Character error rate for Chinese ASR, on text normalised the same way for reference and hypothesis."""

from __future__ import annotations

from .cleanup import strip_punct, to_simplified


def normalise_for_cer(text: str) -> str:
    """Simplified script, no punctuation/symbols/spaces, Latin lowercased (what CER should compare)."""
    return strip_punct(to_simplified(text)).lower()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance over characters."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(reference: str, hypothesis: str) -> float:
    """Edits / reference length after :func:`normalise_for_cer` (1.0 for an empty reference with output)."""
    ref, hyp = normalise_for_cer(reference), normalise_for_cer(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)

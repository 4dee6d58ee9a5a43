"""Text normalisation: width folding, Traditional -> Simplified, emoji, whitespace and punctuation runs."""

from __future__ import annotations

import functools
import re

# Chinese punctuation that stays full-width; every other full-width ASCII form is folded.
_KEEP_FULLWIDTH = set("，！？：；（）")
_WIDTH_TABLE = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if chr(cp) not in _KEEP_FULLWIDTH}
_WIDTH_TABLE[0x3000] = 0x20  # ideographic space
# Zero-width characters and the emoji variation selector carry no text.
for _cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0xFE0E, 0xFE0F):
    _WIDTH_TABLE[_cp] = None

_EMOJI = re.compile(
    "["
    "\U0001F000-\U0001FAFF"  # mahjong .. symbols & pictographs ext-A (incl. flags, skin tones)
    "\u2600-\u27BF"  # misc symbols, dingbats
    "\u2B00-\u2BFF"  # arrows/stars used as emoji
    "\u2300-\u23FF"  # technical (watch, hourglass)
    "\U000E0020-\U000E007F"  # tag characters of flag sequences
    "]+"
)
_WS = re.compile(r"\s+")
_HAN = r"[\u4e00-\u9fff]"
# Half-width punctuation touching Chinese text is written the Chinese way.
_HALF_TO_FULL = {",": "，", "!": "！", "?": "？", ";": "；", ":": "："}
_HALF_PUNCT_NEAR_HAN = re.compile(rf"(?<={_HAN})\s?([,!?;:])|([,!?;:])\s?(?={_HAN})")
_ELLIPSIS = re.compile(r"(?:\.{3,}|。{2,}|…+)")
_PUNCT_RUN = re.compile(r"([，。！？；：、,!?;:~～\-—_])\1+")


@functools.lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC  # opencc-python-reimplemented

    return OpenCC("t2s")


@functools.lru_cache(maxsize=1)
def _t2s_witnesses() -> frozenset[str] | None:
    """Characters of which a text must hold at least one for t2s to change it, or None if unknown.

    Every entry that changes text (key != first value) contributes a character where key and value
    differ (all its characters when their lengths differ), so a text with none of them contains no
    changing entry and converts to itself: most Simplified text skips the (pure-Python) converter.
    """
    chain = getattr(_t2s(), "_dict_chain_data", None)
    if not isinstance(chain, list):  # pragma: no cover - another OpenCC implementation
        return None
    chars: set[str] = set()
    for group in chain:
        for entry in group if isinstance(group, list) else [group]:
            for key, value in entry[2].items():
                first = value.split(" ")[0]
                if first == key:
                    continue
                if len(first) == len(key):
                    chars.add(next(a for a, b in zip(key, first, strict=True) if a != b))
                else:
                    chars.update(key)
    return frozenset(chars)


def normalize(text: str) -> str:
    """Return ``text`` folded to half-width alphanumerics, Simplified Chinese, no emoji,
    single spaces (never a line break) and no repeated punctuation."""
    if not text:
        return ""
    text = text.translate(_WIDTH_TABLE)
    witnesses = _t2s_witnesses()
    if witnesses is None or not witnesses.isdisjoint(text):
        text = _t2s().convert(text)
    text = _EMOJI.sub(" ", text)
    # Any whitespace (\n, \r, \u2028, \x1c...) becomes one space, so a line stays one line.
    text = _WS.sub(" ", text).strip()
    text = _ELLIPSIS.sub("…", text)
    text = _PUNCT_RUN.sub(r"\1", text)
    text = _HALF_PUNCT_NEAR_HAN.sub(lambda m: _HALF_TO_FULL[m.group(1) or m.group(2)], text)
    text = _PUNCT_RUN.sub(r"\1", text)  # "!！" after the width step above
    return text

"""jieba tokens for topic labels and TF-IDF: stopwords, punctuation and numbers removed."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

# A token is kept when it holds at least one CJK character or Latin letter; pure digits,
# punctuation and emoji say nothing about the topic.
_WORDY = re.compile(r"[\u4e00-\u9fffA-Za-z]")
_LONG_NUMBER = re.compile(r"\d{5,}")
# the redaction placeholders ([PHONE] ...) say that PII was there, not what the complaint is about
_PLACEHOLDER = re.compile(r"\[(?:PHONE|ID|CARD|EMAIL|ADDR|NAME)\]")


@functools.lru_cache(maxsize=8)
def stopwords(extra_file: Path | None = None) -> frozenset[str]:
    """The bundled stopword list, plus one word per line from ``extra_file`` (TextSettings.stopwords)."""
    text = resources.files("voc.semantic").joinpath("stopwords.txt").read_text(encoding="utf-8")
    words = {w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")}
    if extra_file is not None:
        path = Path(extra_file)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: stopword file not found (set text.stopwords to an existing file)")
        words |= {w.strip() for w in path.read_text(encoding="utf-8").splitlines() if w.strip()}
    return frozenset(words)


@functools.lru_cache(maxsize=1)
def _jieba() -> Any:
    import logging

    import jieba

    # jieba logs its dictionary loading at DEBUG/INFO through its own logger; leave handlers alone.
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    logging.getLogger(__name__).debug("jieba dictionary loaded")
    return tokenizer


def tokenize(text: str, stop: Iterable[str] | None = None) -> list[str]:
    """Segment ``text`` with jieba (precise mode); drop stopwords, punctuation, numbers and single Chinese characters."""
    stop_set = stopwords() if stop is None else stop
    out = []
    for tok in _jieba().lcut(_PLACEHOLDER.sub(" ", text)):
        tok = tok.strip().lower()
        if not tok or not _WORDY.search(tok) or tok in stop_set:
            continue
        if len(tok) == 1 and "\u4e00" <= tok <= "\u9fff":  # 等, 得, 后, 请 ...: grammar, not topic
            continue
        if _LONG_NUMBER.search(tok):  # order and tracking numbers identify a case, not a topic
            continue
        out.append(tok)
    return out


TOKENS_MEMO = 65_536  # texts whose default-stopword tokens are remembered (a night labels, then counts, the same; release_memory clears it)


@functools.lru_cache(maxsize=TOKENS_MEMO)
def _default_tokens(text: str) -> tuple[str, ...]:
    return tuple(tokenize(text))


def tokenize_many(texts: Sequence[str], stop: Iterable[str] | None = None) -> list[list[str]]:
    """:func:`tokenize` of each text; with the default stopwords a text's tokens are remembered, so the stages that
    label topics and count terms over the same complaints cut each once."""
    if stop is None:
        return [list(_default_tokens(t)) for t in texts]
    stop_set = frozenset(stop)
    return [tokenize(t, stop_set) for t in texts]

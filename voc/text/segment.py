"""jieba segmentation with the shipped domain dictionary, user dictionaries and stopwords.

A private ``jieba.Tokenizer`` per dictionary configuration is built once per process and cached;
the global jieba tokenizer is never touched.
"""

from __future__ import annotations

import functools
import logging
import re
from importlib import resources
from pathlib import Path

from voc.config import TextSettings

log = logging.getLogger(__name__)

_PLACEHOLDER_SPLIT = re.compile(r"(\[(?:PHONE|ID|CARD|EMAIL|ADDR|NAME)\])")
_USERDICT_LINE = re.compile(r"^(.+?)(?:\s+(\d+))?(?:\s+([A-Za-z]+))?$")


def _data_file(name: str) -> Path:
    return Path(str(resources.files("voc.text") / "data" / name))


def _read_entries(path: Path) -> list[tuple[str, int | None, str | None]]:
    """Parse a jieba-style dictionary (``word [freq] [tag]``); '#' lines are comments."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{path}: dictionary file not found (check text.user_dict in your settings)") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text; save the dictionary as UTF-8") from exc
    entries = []
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _USERDICT_LINE.match(line)
        if m is None:  # pragma: no cover - the pattern matches any non-empty line
            raise ValueError(f"{path}:{lineno}: expected 'word [freq] [tag]'")
        word, freq, tag = m.group(1).strip(), m.group(2), m.group(3)
        entries.append((word, int(freq) if freq else None, tag))
    return entries


def _read_words(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{path}: stopword file not found (check text.stopwords in your settings)") from exc
    return [w.strip() for w in lines if w.strip() and not w.startswith("#")]


def _dict_key(settings: TextSettings | None) -> tuple[str | None, tuple[str, ...]]:
    if settings is None:
        return None, ()
    return (str(settings.user_dict) if settings.user_dict else None), tuple(settings.domain_terms)


@functools.lru_cache(maxsize=8)
def _tokenizer(user_dict: str | None, domain_terms: tuple[str, ...]):
    import jieba

    tk = jieba.Tokenizer()
    tk.initialize()
    entries = _read_entries(_data_file("domain_dict.txt"))
    if user_dict:
        entries += _read_entries(Path(user_dict))
    entries += [(t, None, None) for t in domain_terms]
    for word, freq, tag in entries:
        tk.add_word(word, freq, tag)
    log.debug("jieba tokenizer ready with %d domain entries", len(entries))
    return tk


def get_tokenizer(settings: TextSettings | None = None):
    """The cached private ``jieba.Tokenizer`` for these settings' dictionaries."""
    return _tokenizer(*_dict_key(settings))


@functools.lru_cache(maxsize=8)
def _stopwords(extra: str | None) -> frozenset[str]:
    words = set(_read_words(_data_file("stopwords.txt")))
    if extra:
        words.update(_read_words(Path(extra)))
    return frozenset(words)


def get_stopwords(settings: TextSettings | None = None) -> frozenset[str]:
    """Shipped stopwords plus ``settings.stopwords`` (cached)."""
    extra = str(settings.stopwords) if settings is not None and settings.stopwords else None
    return _stopwords(extra)


def domain_vocabulary(settings: TextSettings | None = None) -> list[str]:
    """Domain words (shipped dictionary, user dictionary, ``domain_terms``), e.g. for ASR hotwords."""
    words = [w for w, _, _ in _read_entries(_data_file("domain_dict.txt"))]
    if settings is not None:
        if settings.user_dict:
            words += [w for w, _, _ in _read_entries(Path(settings.user_dict))]
        words += list(settings.domain_terms)
    return list(dict.fromkeys(words))


def segment(text: str, settings: TextSettings | None = None, drop_stopwords: bool = False) -> list[str]:
    """jieba precise-mode tokens of ``text``; whitespace dropped, redaction placeholders kept whole."""
    if not text:
        return []
    tk = get_tokenizer(settings)
    stop = get_stopwords(settings) if drop_stopwords else frozenset()
    tokens: list[str] = []
    for piece in _PLACEHOLDER_SPLIT.split(text):
        if not piece:
            continue
        if _PLACEHOLDER_SPLIT.fullmatch(piece):
            tokens.append(piece)
            continue
        tokens.extend(t for t in tk.lcut(piece, cut_all=False, HMM=True) if t.strip() and t not in stop)
    return tokens

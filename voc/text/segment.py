"""jieba segmentation with the shipped domain dictionary, user dictionaries and stopwords.

A private ``jieba.Tokenizer`` per dictionary configuration is built once per process and cached;
the global jieba tokenizer is never touched.
"""

from __future__ import annotations

import functools
import logging
import math
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


_UNSEEN = object()


class _PreciseCut:
    """jieba's precise mode with HMM (``Tokenizer.lcut(text, cut_all=False, HMM=True)``), same tokens, faster.

    jieba builds a DAG dict, then scores it with a generator per position calling ``log`` per candidate
    word. This does both in one backward pass over the same dictionary with each word's log
    probability computed once per process (the same float expression, so ties and routes are
    identical), and memoises the HMM cut of unknown character runs. The tokenizer must not get new
    words afterwards (ours are built once and cached).
    """

    def __init__(self, tk) -> None:
        import jieba
        from jieba import finalseg

        self._freq = tk.FREQ
        self._logtotal = math.log(tk.total)
        # fragment -> log probability (a word), None (a prefix of words only) or False (not in the dictionary)
        self._logp: dict[str, float | None | bool] = {}
        self._hmm_cut = finalseg.cut
        self._hmm: dict[str, tuple[str, ...]] = {}
        self._re_han = jieba.re_han_default
        self._re_skip = jieba.re_skip_default

    def _lp(self, word: str) -> float:
        """jieba's ``log(FREQ.get(word) or 1) - log(total)``."""
        return math.log(self._freq.get(word) or 1) - self._logtotal

    def _look(self, frag: str) -> float | None | bool:
        f = self._freq.get(frag)
        v = False if f is None else (self._lp(frag) if f else None)
        if v is not False or len(self._logp) < 1_000_000:  # bounded: unseen fragments are endless
            self._logp[frag] = v
        return v

    def _unknown(self, buf: str, out: list[str]) -> None:
        if len(buf) == 1:
            out.append(buf)
        elif not self._freq.get(buf):
            cut = self._hmm.get(buf)
            if cut is None:
                cut = tuple(self._hmm_cut(buf))
                if len(self._hmm) < 200_000:  # bounded: unknown runs of a long-running worker
                    self._hmm[buf] = cut
            out.extend(cut)
        else:
            out.extend(buf)

    def _block(self, sent: str, out: list[str]) -> None:
        get, look = self._logp.get, self._look
        n = len(sent)
        score = [0.0] * (n + 1)
        nxt = [0] * (n + 1)
        for k in range(n - 1, -1, -1):
            best_s = best_x = None
            i = k
            frag = sent[k]
            while i < n:
                v = get(frag, _UNSEEN)
                if v is _UNSEEN:
                    v = look(frag)
                if v is False:
                    break
                if v is not None:
                    s = v + score[i + 1]
                    if best_s is None or s >= best_s:  # x ascends: ties go to the longer word, as in max()
                        best_s, best_x = s, i
                i += 1
                frag = sent[k:i + 1]
            if best_s is None:
                best_s, best_x = self._lp(sent[k]) + score[k + 1], k
            score[k] = best_s
            nxt[k] = best_x
        x = 0
        buf = ""
        while x < n:
            y = nxt[x] + 1
            if y - x == 1:
                buf += sent[x]
            else:
                if buf:
                    self._unknown(buf, out)
                    buf = ""
                out.append(sent[x:y])
            x = y
        if buf:
            self._unknown(buf, out)

    def lcut(self, sentence: str) -> list[str]:
        out: list[str] = []
        re_han, re_skip = self._re_han, self._re_skip
        for blk in re_han.split(sentence):
            if not blk:
                continue
            if re_han.match(blk):
                self._block(blk, out)
            else:
                for x in re_skip.split(blk):
                    if re_skip.match(x):
                        out.append(x)
                    else:
                        out.extend(x)
        return out


@functools.lru_cache(maxsize=8)
def _precise(user_dict: str | None, domain_terms: tuple[str, ...]) -> _PreciseCut:
    return _PreciseCut(_tokenizer(user_dict, domain_terms))


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
    tk = _precise(*_dict_key(settings))
    stop = get_stopwords(settings) if drop_stopwords else frozenset()
    tokens: list[str] = []
    for piece in _PLACEHOLDER_SPLIT.split(text):
        if not piece:
            continue
        if _PLACEHOLDER_SPLIT.fullmatch(piece):
            tokens.append(piece)
            continue
        tokens.extend(t for t in tk.lcut(piece) if t.strip() and t not in stop)
    return tokens

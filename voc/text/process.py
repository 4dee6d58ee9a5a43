"""The text stage's per-text work: normalise, redact, segment (single and batch)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from voc.config import TextSettings
from voc.records import Utterance
from voc.text.itn import inverse_normalize
from voc.text.normalize import normalize
from voc.text.redact import redact
from voc.text.segment import get_stopwords, get_tokenizer, segment

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProcessedText:
    """A text ready to store: normalised and redacted, with its tokens and what PII was removed."""

    text: str  # normalised + redacted; the only form that may be persisted or exported
    tokens: tuple[str, ...]  # jieba tokens of ``text``; placeholders like [PHONE] stay whole
    pii_counts: dict[str, int] = field(default_factory=dict)  # type -> count, never values
    redacted: bool = True  # False only when settings.redact is off


def process_text(text: str, settings: TextSettings | None = None, drop_stopwords: bool = False) -> ProcessedText:
    """Normalise, redact and segment one text."""
    settings = settings or TextSettings()
    result = redact(normalize(text), settings)
    tokens = segment(result.text, settings, drop_stopwords=drop_stopwords)
    return ProcessedText(result.text, tuple(tokens), result.counts, settings.redact)


def process_texts(
    texts: Iterable[str], settings: TextSettings | None = None, drop_stopwords: bool = False
) -> list[ProcessedText]:
    """:func:`process_text` over many texts, loading the dictionaries once; same order as the input."""
    settings = settings or TextSettings()
    get_tokenizer(settings)  # load dictionaries before the loop (and before any parallel use)
    if drop_stopwords:
        get_stopwords(settings)
    out = [process_text(t, settings, drop_stopwords) for t in texts]
    totals: Counter[str] = Counter()
    for p in out:
        totals.update(p.pii_counts)
    log.info("processed %d texts; PII removed: %s", len(out), dict(totals) or "none")
    return out


def make_cleaner(settings: TextSettings) -> Callable[[str], str]:
    """normalise + redact, as applied to every text before it is stored (normalise only with ``redact: false``)."""
    if not settings.redact:
        return normalize

    def clean(text: str) -> str:
        return redact(normalize(text), settings).text

    return clean


def redact_utterances(utterances: Sequence[Utterance], settings: TextSettings) -> tuple[list[Utterance], dict[str, int]]:
    """Normalise (spoken numbers to digits: :mod:`voc.text.itn`) + redact each utterance; word timings are kept only
    where the text did not change.

    Returns new utterances and the PII counts by type."""
    out, pii = [], {}
    for u in utterances:
        text = inverse_normalize(normalize(u.text))
        if settings.redact:
            r = redact(text, settings)
            text = r.text
            for k, v in r.counts.items():
                pii[k] = pii.get(k, 0) + v
        words = u.words if text == u.text else ()
        out.append(replace(u, text=text, words=words))
    return out, pii

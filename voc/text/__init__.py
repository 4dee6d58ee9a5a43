"""Chinese text handling: normalisation, jieba segmentation with a domain dictionary, PII redaction.

Importing this package is light: jieba and OpenCC load on first use and are cached per process.
"""

from voc.text.normalize import normalize
from voc.text.process import ProcessedText, make_cleaner, process_text, process_texts, redact_utterances
from voc.text.redact import PII_TYPES, PiiSpan, Redaction, find_pii, looks_personal, redact, redact_lines
from voc.text.segment import domain_vocabulary, get_stopwords, get_tokenizer, segment

__all__ = [
    "PII_TYPES",
    "PiiSpan",
    "ProcessedText",
    "Redaction",
    "domain_vocabulary",
    "find_pii",
    "get_stopwords",
    "get_tokenizer",
    "looks_personal",
    "make_cleaner",
    "normalize",
    "process_text",
    "process_texts",
    "redact",
    "redact_lines",
    "redact_utterances",
    "segment",
]

"""Script adherence: per-queue YAML rules, ASR-tolerant phrase matching, call scoring and review reasons."""

from voc.qa.loader import ScriptBook, ScriptError, load_scripts
from voc.qa.matcher import (
    Embedder,
    ExactMatcher,
    Match,
    Matcher,
    PhraseSet,
    PinyinMatcher,
    SemanticMatcher,
)
from voc.qa.patterns import qa_pattern_findings, review_priority
from voc.qa.schema import Script
from voc.qa.scorer import (
    FORBIDDEN_PHRASE,
    LOW_SCORE,
    NEGATIVE_CUSTOMER,
    RANDOM_SAMPLE,
    in_sample,
    review_reasons,
    score_call,
)

__all__ = [
    "FORBIDDEN_PHRASE",
    "LOW_SCORE",
    "NEGATIVE_CUSTOMER",
    "RANDOM_SAMPLE",
    "Embedder",
    "ExactMatcher",
    "Match",
    "Matcher",
    "PhraseSet",
    "PinyinMatcher",
    "Script",
    "ScriptBook",
    "ScriptError",
    "SemanticMatcher",
    "in_sample",
    "qa_pattern_findings",
    "load_scripts",
    "review_priority",
    "review_reasons",
    "score_call",
]

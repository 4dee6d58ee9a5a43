"""Script adherence: per-queue YAML rules, ASR-tolerant phrase matching, steps recognised by meaning (the step
model), call scoring with pass / fail / not sure verdicts, and review reasons."""

from voc.qa.examples import TrainingSet, training_set
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
    FAIL,
    FORBIDDEN_PHRASE,
    LOW_SCORE,
    NEGATIVE_CUSTOMER,
    NOT_SURE,
    PASS,
    RANDOM_SAMPLE,
    UNCERTAIN_STEP,
    in_sample,
    review_reasons,
    score_call,
    verdict_of,
)
from voc.qa.steps import StepJudge, TurnClassifier, fit_judge, judge_from_bytes, judge_to_bytes

__all__ = [
    "FAIL",
    "FORBIDDEN_PHRASE",
    "LOW_SCORE",
    "NEGATIVE_CUSTOMER",
    "NOT_SURE",
    "PASS",
    "RANDOM_SAMPLE",
    "UNCERTAIN_STEP",
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
    "StepJudge",
    "TrainingSet",
    "TurnClassifier",
    "fit_judge",
    "in_sample",
    "judge_from_bytes",
    "judge_to_bytes",
    "qa_pattern_findings",
    "load_scripts",
    "review_priority",
    "review_reasons",
    "score_call",
    "training_set",
    "verdict_of",
]

"""Score one call against its queue's script: per-rule verdicts with evidence, a 0-100 score, review reasons.

Pure over records: the pipeline reads utterances, metrics and sentiment from the store and writes the QAResult.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Any

from voc.config import QASettings
from voc.qa import pinyin
from voc.qa.matcher import (
    Embedder,
    ExactMatcher,
    Match,
    Matcher,
    PhraseSet,
    PinyinMatcher,
    SemanticMatcher,
    normalise,
)
from voc.qa.schema import Forbidden, Overtalk, Script, Silence, SpeechRate, Step
from voc.records import CallMetrics, QAResult, Role, RuleOutcome, SentimentScore, Utterance

log = logging.getLogger(__name__)

# Review reason codes (stable: the store and the web UI filter on them).
LOW_SCORE = "low_score"
FORBIDDEN_PHRASE = "forbidden_phrase"
NEGATIVE_CUSTOMER = "negative_customer"
RANDOM_SAMPLE = "random_sample"

ORDER_RULE = "step_order"
FORBIDDEN_RULE = "forbidden_phrases"
SILENCE_RULE = "silence_hold"
OVERTALK_RULE = "overtalk"
SPEECH_RATE_RULE = "speech_rate"


def score_call(
    utterances: Sequence[Utterance],
    metrics: CallMetrics | None,
    sentiments: Sequence[SentimentScore],
    script: Script,
    settings: QASettings,
    seed: int,
    *,
    queue: str | None = None,
    interaction_id: str | None = None,
    embedder: Embedder | None = None,
) -> QAResult:
    """Score one call. ``embedder`` (e.g. :func:`voc.semantic.qa_embedder`) turns on semantic matching.

    Agent rules look at agent utterances; on mono calls with no agent role they use the unknown-role ones.
    Timing and silence rules are skipped for text channels (all times 0).
    """
    iid = interaction_id or (utterances[0].interaction_id if utterances else None) or (metrics and metrics.interaction_id)
    if not iid:
        raise ValueError("score_call needs utterances, metrics or interaction_id to know which call it scores")
    call = _Call.build(utterances, metrics, sentiments)
    matchers = _matchers(script, settings, embedder)

    outcomes: list[RuleOutcome] = []
    first_hits: dict[str, int] = {}
    # Where a step's own wording is said exactly, a near-homophone of another step must not claim it
    # (还有什么可以帮您 at the close is not 请问有什么可以帮您 at the greeting).
    texts = [u.text for u in call.agent]
    claimed: dict[int, list[tuple[int, int, str]]] = {}
    for step in script.steps:
        for u, m in zip(call.agent, find(texts, step.phrase_set, matchers[:1]), strict=True):
            if m is not None:
                claimed.setdefault(u.idx, []).append((m.start, m.end, step.id))
    for step in script.steps:
        outcome, first_idx = _step(step, call, matchers, script, claimed)
        outcomes.append(outcome)
        if first_idx is not None:
            first_hits[step.id] = first_idx
    if len(script.order) > 1:
        outcomes.append(_order(script, first_hits, call))
    if script.forbidden is not None:
        outcomes.append(_forbidden(script.forbidden, call, settings.fuzzy_pinyin))
    if script.silence is not None:
        outcomes.append(_silence(script.silence, call, matchers))
    if script.overtalk is not None:
        outcomes.append(_overtalk(script.overtalk, metrics))
    if script.speech_rate is not None:
        outcomes.append(_speech_rate(script.speech_rate, metrics))

    total = sum(o.weight for o in outcomes)
    score = 100.0 * sum(o.weight for o in outcomes if o.passed) / total if total > 0 else 100.0
    reasons = review_reasons(iid, score, outcomes, call.min_customer_score, script, settings, seed)
    return QAResult(iid, queue or script.name, script.name, round(score, 1), tuple(outcomes), reasons)


def review_reasons(
    interaction_id: str,
    score: float,
    outcomes: Sequence[RuleOutcome],
    min_customer_score: float | None,
    script: Script,
    settings: QASettings,
    seed: int,
) -> tuple[str, ...]:
    """Why a call should reach a human; a seeded random sample of the remaining calls gets ``random_sample``."""
    reasons: list[str] = []
    if score < settings.review_score_below:
        reasons.append(LOW_SCORE)
    if any(o.rule_id == FORBIDDEN_RULE and not o.passed for o in outcomes):
        reasons.append(FORBIDDEN_PHRASE)
    if min_customer_score is not None and min_customer_score < script.review.negative_below:
        reasons.append(NEGATIVE_CUSTOMER)
    if not reasons and in_sample(seed, interaction_id, settings.review_sample_rate):
        reasons.append(RANDOM_SAMPLE)
    return tuple(reasons)


def in_sample(seed: int, interaction_id: str, rate: float) -> bool:
    """Deterministic coin flip per (seed, call): reruns pick the same calls, a new seed picks others."""
    digest = hashlib.sha256(f"{seed}:{interaction_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


class _Call:
    """The parts of a call the rules need, computed once."""

    def __init__(self, utts: list[Utterance], agent: list[Utterance], duration: float, timed: bool,
                 negative_scores: dict[int, float]) -> None:
        self.utts, self.agent, self.duration, self.timed = utts, agent, duration, timed
        self.customer_scores = negative_scores
        self.min_customer_score = min(negative_scores.values()) if negative_scores else None

    @classmethod
    def build(cls, utterances: Sequence[Utterance], metrics: CallMetrics | None,
              sentiments: Sequence[SentimentScore]) -> _Call:
        utts = sorted(utterances, key=lambda u: (u.start, u.idx))
        agent = [u for u in utts if u.role == Role.AGENT] or [u for u in utts if u.role == Role.UNKNOWN]
        agent_idx = {u.idx for u in agent}
        timed = any(u.end > 0 for u in utts)
        duration = max([u.end for u in utts] + [metrics.duration_s if metrics else 0.0])
        # Customer sentiment: every scored utterance that is not the agent's (idx -1 = whole text).
        scores = {s.idx: s.score for s in sentiments if s.idx not in agent_idx}
        return cls(utts, agent, duration, timed, scores)


def _matchers(script: Script, settings: QASettings, embedder: Embedder | None) -> list[Matcher]:
    matchers: list[Matcher] = [ExactMatcher()]
    if settings.fuzzy_pinyin:
        matchers.append(_pinyin_matcher(script.matching.pinyin_threshold, script.matching.min_fuzzy_chars))
    if embedder is not None:
        matchers.append(_semantic_matcher(embedder, script.matching.semantic_threshold))
    return matchers


@functools.lru_cache(maxsize=32)
def _pinyin_matcher(threshold: float, min_chars: int) -> PinyinMatcher:
    return PinyinMatcher(threshold, min_chars)


@functools.lru_cache(maxsize=8)
def _semantic_matcher(embedder: Embedder, threshold: float) -> SemanticMatcher:
    # One per embedder so the variant embeddings are computed once per process, not once per call.
    return SemanticMatcher(embedder, threshold)


def find(texts: Sequence[str], phrases: PhraseSet, matchers: Sequence[Matcher]) -> list[Match | None]:
    """Cheapest matcher first; a text goes to the next matcher only if the previous ones found nothing."""
    found: list[Match | None] = [None] * len(texts)
    for matcher in matchers:
        todo = [i for i, m in enumerate(found) if m is None]
        if not todo:
            break
        for i, m in zip(todo, matcher.match([texts[i] for i in todo], phrases), strict=True):
            found[i] = m
    return found


def _evidence(u: Utterance, m: Match | None = None, **extra: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {"idx": u.idx, "start": round(u.start, 2), "end": round(u.end, 2), "text": u.text}
    if m is not None:
        ev.update(matched=m.variant, how=m.how, similarity=m.similarity, window=m.window(u.text))
    ev.update(extra)
    return ev


def _step(step: Step, call: _Call, matchers: list[Matcher], script: Script,
          claimed: dict[int, list[tuple[int, int, str]]] | None = None) -> tuple[RuleOutcome, int | None]:
    candidates = call.agent
    if step.when is not None:
        threshold = step.when.customer_sentiment_below
        negative = [u for u in call.utts if call.customer_scores.get(u.idx, 1.0) < threshold]
        if not negative:
            return RuleOutcome(step.id, step.name, True, 0.0, (), f"not required: no customer utterance below {threshold}"), None
        first = negative[0]
        # Empathy has to answer the negative turn, so only what the agent says after it counts.
        candidates = [u for u in call.agent if (u.start, u.idx) > (first.start, first.idx)]
    use = matchers if step.fuzzy else matchers[:1]
    hits = [(u, m) for u, m in zip(candidates, find([u.text for u in candidates], step.phrase_set, use), strict=True) if m]
    claimed = claimed or {}
    hits = [(u, m) for u, m in hits if m.how in ("exact", "regex") or not any(
        sid != step.id and s < m.end and m.start < e for s, e, sid in claimed.get(u.idx, ()))]
    if not hits:
        return RuleOutcome(step.id, step.name, False, step.weight, (), "not found in agent speech"), None
    on_time = [(u, m) for u, m in hits if _on_time(step, u, call)]
    first_idx = hits[0][0].idx
    if on_time:
        u, m = on_time[0]
        return RuleOutcome(step.id, step.name, True, step.weight, (_evidence(u, m),), f"matched ({m.how})"), first_idx
    u, m = hits[0]
    detail = (f"found at {u.start:.1f}s, expected within the first {step.within_first_s:g}s"
              if step.within_first_s is not None and u.start > step.within_first_s
              else f"found ending at {u.end:.1f}s, expected within the last {step.within_last_s:g}s of {call.duration:.1f}s")
    return RuleOutcome(step.id, step.name, False, step.weight, (_evidence(u, m),), detail), first_idx


def _on_time(step: Step, u: Utterance, call: _Call) -> bool:
    if not call.timed:
        return True
    if step.within_first_s is not None and u.start > step.within_first_s:
        return False
    return step.within_last_s is None or u.end >= call.duration - step.within_last_s


def _order(script: Script, first_hits: dict[str, int], call: _Call) -> RuleOutcome:
    pos = {u.idx: k for k, u in enumerate(call.utts)}
    seq = [(sid, first_hits[sid]) for sid in script.order if sid in first_hits]
    for (a, ia), (b, ib) in zip(seq, seq[1:], strict=False):
        if pos[ib] < pos[ia]:
            ev = tuple(_evidence(u) for u in call.utts if u.idx in (ia, ib))
            return RuleOutcome(ORDER_RULE, "步骤顺序", False, script.order_weight, ev,
                               f"{b} (utterance {ib}) came before {a} (utterance {ia})")
    return RuleOutcome(ORDER_RULE, "步骤顺序", True, script.order_weight, (),
                       f"{len(seq)} of {len(script.order)} ordered steps found, in order")


_CJK = r"[\u4e00-\u9fff]"
_ALTERNATION = re.compile(rf"({_CJK}*)\(((?:{_CJK}+\|)*{_CJK}+)\)({_CJK}*)")


def _literals(pattern: str) -> list[str]:
    """The texts a simple exception pattern stands for: ``不知道`` or ``不知道(您|你|是否)``; [] for other regexes."""
    if re.fullmatch(f"{_CJK}{{2,}}", pattern):
        return [pattern]
    m = _ALTERNATION.fullmatch(pattern)
    return [m.group(1) + alt + m.group(3) for alt in m.group(2).split("|")] if m else []


def _forbidden(rule: Forbidden, call: _Call, fuzzy: bool) -> RuleOutcome:
    evidence: list[dict[str, Any]] = []
    for u in call.agent:
        norm, offsets = normalise(u.text)
        for entry in rule.entries:
            excused = [(m.start(), m.end()) for p in entry.unless for m in re.finditer(p, u.text)]
            if fuzzy and entry.fuzzy:  # an exception misheard like the phrase itself still excuses it
                for p in entry.unless:
                    for literal in _literals(getattr(p, "pattern", p)):
                        hit = pinyin.search(literal, u.text, 1.0)
                        if hit:
                            excused.append((hit.start, hit.end))
            needle = normalise(entry.text)[0]
            spans = [(offsets[m.start()], offsets[m.start() + len(needle) - 1] + 1, "exact", 1.0)
                     for m in re.finditer(re.escape(needle), norm)] if needle else []
            if not spans and fuzzy and entry.fuzzy:
                # Exact-length folded pinyin only: a partial match of a 3-character phrase is noise.
                hit = pinyin.search(entry.text, u.text, 1.0)
                if hit:
                    spans.append((hit.start, hit.end, "pinyin", hit.similarity))
            for s, e, how, sim in spans:
                if any(s < ee and ss < e for ss, ee in excused):
                    continue
                evidence.append(_evidence(u, None, matched=entry.text, how=how, similarity=sim, window=u.text[s:e]))
    if evidence:
        return RuleOutcome(FORBIDDEN_RULE, "禁用语", False, rule.weight, tuple(evidence),
                           f"{len(evidence)} forbidden phrase occurrence(s)")
    return RuleOutcome(FORBIDDEN_RULE, "禁用语", True, rule.weight, (), "none found")


def _silence(rule: Silence, call: _Call, matchers: list[Matcher]) -> RuleOutcome:
    name = "静音需提示"
    if not call.timed:
        return RuleOutcome(SILENCE_RULE, name, True, 0.0, (), "not applicable: no timing (text channel)")
    holds = dict(zip((u.idx for u in call.agent), find([u.text for u in call.agent], rule.phrase_set, matchers[:2]),
                     strict=True))
    evidence: list[dict[str, Any]] = []
    last_end, last_utt = 0.0, None
    for u in call.utts:
        gap = u.start - last_end
        if gap > rule.max_gap_s and last_utt is not None:
            notice = [a for a in call.agent if holds.get(a.idx) and last_end - rule.lookback_s <= a.end <= last_end + 0.5]
            if not notice:
                evidence.append(_evidence(last_utt, None, gap_s=round(gap, 1), gap_start=round(last_end, 2)))
        if u.end > last_end:
            last_end, last_utt = u.end, u
    if evidence:
        return RuleOutcome(SILENCE_RULE, name, False, rule.weight, tuple(evidence),
                           f"{len(evidence)} silence(s) over {rule.max_gap_s:g}s without a hold notice before them")
    return RuleOutcome(SILENCE_RULE, name, True, rule.weight, (), f"no unannounced gap over {rule.max_gap_s:g}s")


def _overtalk(rule: Overtalk, metrics: CallMetrics | None) -> RuleOutcome:
    name = "抢话"
    if metrics is None:
        return RuleOutcome(OVERTALK_RULE, name, True, 0.0, (), "not applicable: no call metrics")
    too_long = metrics.overtalk_s > rule.max_s
    too_often = rule.max_count is not None and metrics.overtalk_count > rule.max_count
    detail = f"overtalk {metrics.overtalk_s:.1f}s in {metrics.overtalk_count} stretch(es); limit {rule.max_s:g}s" + (
        f" / {rule.max_count}" if rule.max_count is not None else "")
    return RuleOutcome(OVERTALK_RULE, name, not (too_long or too_often), rule.weight, (), detail)


def _speech_rate(rule: SpeechRate, metrics: CallMetrics | None) -> RuleOutcome:
    name = "语速"
    rate = metrics.agent_speech_rate_cpm if metrics else None
    if rate is None:
        return RuleOutcome(SPEECH_RATE_RULE, name, True, 0.0, (), "not applicable: no agent speech rate")
    ok = rule.min_cpm <= rate <= rule.max_cpm
    return RuleOutcome(SPEECH_RATE_RULE, name, ok, rule.weight, (),
                       f"agent {rate:.0f} chars/min; window {rule.min_cpm:g}-{rule.max_cpm:g}")

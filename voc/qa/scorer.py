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
from voc.qa.examples import FORBIDDEN_LABEL
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
from voc.qa.schema import Condition, Forbidden, Overtalk, Script, Silence, SpeechRate, Step
from voc.qa.steps import CallReading, StepJudge, Unit
from voc.records import CallMetrics, QAResult, Role, RuleOutcome, SentimentScore, Utterance

log = logging.getLogger(__name__)

# Review reason codes (stable: the store and the web UI filter on them).
LOW_SCORE = "low_score"
FORBIDDEN_PHRASE = "forbidden_phrase"
NEGATIVE_CUSTOMER = "negative_customer"
RANDOM_SAMPLE = "random_sample"
UNCERTAIN_STEP = "uncertain_step"

# Verdicts (the ``verdict`` of evidence and of ``voc qa score --json`` rules). A "not sure" outcome is stored with
# passed=True and weight 0 (it costs the agent nothing) and a detail starting with NOT_SURE_DETAIL.
PASS, FAIL, NOT_SURE = "pass", "fail", "not_sure"
NOT_SURE_DETAIL = "not sure"
# Rule variants this short (normalised characters), and regexes, are weak evidence: the step model must support them.
WEAK_RULE_CHARS = 4

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
    judge: StepJudge | None = None,
) -> QAResult:
    """Score one call. ``embedder`` (e.g. :func:`voc.semantic.qa_embedder`) turns on semantic phrase matching;
    ``judge`` (a fitted step model, see :mod:`voc.qa.steps`) recognises steps, complaints and rudeness by meaning,
    with the phrase lists as high-precision rules, and gives "not sure" verdicts (weight 0, review reason
    ``uncertain_step``) where its best evidence is uncertain.

    Agent rules look at agent utterances; on mono calls with no agent role they use the unknown-role ones.
    Timing and silence rules are skipped for text channels (all times 0).
    """
    iid = interaction_id or (utterances[0].interaction_id if utterances else None) or (metrics and metrics.interaction_id)
    if not iid:
        raise ValueError("score_call needs utterances, metrics or interaction_id to know which call it scores")
    call = _Call.build(utterances, metrics, sentiments)
    matchers = _matchers(script, settings, embedder)
    reading = judge.read(call.agent) if judge is not None else None

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
        if reading is not None and step.id in reading_labels(reading):
            outcome, first_idx = _step_by_meaning(step, call, matchers, script, claimed, reading)
        else:
            outcome, first_idx = _step(step, call, matchers, script, claimed)
        outcomes.append(outcome)
        if first_idx is not None:
            first_hits[step.id] = first_idx
    if len(script.order) > 1:
        outcomes.append(_order(script, first_hits, call))
    if script.forbidden is not None:
        if reading is not None and FORBIDDEN_LABEL in reading_labels(reading):
            outcomes.append(_forbidden_by_meaning(script, call, settings.fuzzy_pinyin, reading))
        else:
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
    if any(verdict_of(o) == NOT_SURE for o in outcomes):
        reasons.append(UNCERTAIN_STEP)
    if not reasons and in_sample(seed, interaction_id, settings.review_sample_rate):
        reasons.append(RANDOM_SAMPLE)
    return tuple(reasons)


def verdict_of(outcome: RuleOutcome | dict[str, Any]) -> str:
    """pass / fail / not_sure of a rule outcome (a record or its stored dict)."""
    detail = outcome.get("detail") if isinstance(outcome, dict) else outcome.detail
    passed = outcome.get("passed", True) if isinstance(outcome, dict) else outcome.passed
    if str(detail or "").startswith(NOT_SURE_DETAIL):
        return NOT_SURE
    return PASS if passed else FAIL


def reading_labels(reading: CallReading) -> set[str]:
    return set(reading.units[0].probs) if reading.units else set()


def in_sample(seed: int, interaction_id: str, rate: float) -> bool:
    """Deterministic coin flip per (seed, call): reruns pick the same calls, a new seed picks others."""
    digest = hashlib.sha256(f"{seed}:{interaction_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


class _Call:
    """The parts of a call the rules need, computed once."""

    def __init__(self, utts: list[Utterance], agent: list[Utterance], duration: float, timed: bool,
                 negative_scores: dict[int, float]) -> None:
        self.utts, self.agent, self.duration, self.timed = utts, agent, duration, timed
        self.by_idx = {u.idx: u for u in utts}
        self.agent_idx = {u.idx for u in agent}
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
        threshold = step.when.customer_sentiment_below if step.when.customer_sentiment_below is not None else -1.0
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


def _weak(m: Match) -> bool:
    return m.how == "regex" or len(normalise(m.variant)[0]) <= WEAK_RULE_CHARS


def _low_asr(utts: Sequence[Utterance], script: Script) -> bool:
    return any(u.avg_logprob is not None and u.avg_logprob < script.model.asr_min_logprob for u in utts)


def _unit_evidence(unit: Unit, call: _Call, label: str, verdict: str) -> dict[str, Any]:
    utts = [call.by_idx[i] for i in unit.idxs]
    first, last = utts[0], utts[-1]
    ev: dict[str, Any] = {"idx": first.idx, "start": round(first.start, 2), "end": round(last.end, 2),
                          "text": unit.text if len(utts) > 1 else first.text, "how": "model",
                          "probability": round(unit.probs.get(label, 0.0), 3), "unit": unit.kind, "verdict": verdict}
    if unit.kind == "sentence":
        ev["window"] = unit.text
    # what was recognised (a phrase hit names its phrase; the model names the words it judged): evidence items
    # always carry 'matched', as the --json shape promises
    ev["matched"] = unit.text
    if len(utts) > 1:
        ev["idxs"] = [u.idx for u in utts]
    return ev


def not_sure(rule_id: str, name: str, evidence: Sequence[dict[str, Any]], why: str) -> RuleOutcome:
    """A "not sure" verdict: no points either way (weight 0); the evidence goes to a reviewer."""
    return RuleOutcome(rule_id, name, True, 0.0, tuple({**e, "verdict": NOT_SURE} for e in evidence),
                       f"{NOT_SURE_DETAIL}: {why}")


def _first_complaint(when: Condition, call: _Call, reading: CallReading, script: Script) -> Utterance | None:
    """The first customer turn that complains: rated a complaint by the model, or scored negative by the sentiment
    model and rated at least half as likely a complaint (a neutral question scored negative does not count)."""
    bar = script.model.complaint_at
    for u in call.utts:
        if u.idx in call.agent_idx or u.role != Role.CUSTOMER or not u.text.strip():
            continue
        neg = (when.customer_sentiment_below is not None
               and call.customer_scores.get(u.idx, 1.0) < when.customer_sentiment_below)
        pc = reading.complaint(u)
        if pc is None:
            if neg:
                return u
            continue
        if (when.customer_complains and pc >= bar) or (neg and pc >= bar / 2):
            return u
    return None


def _step_by_meaning(step: Step, call: _Call, matchers: list[Matcher], script: Script,
                     claimed: dict[int, list[tuple[int, int, str]]], reading: CallReading
                     ) -> tuple[RuleOutcome, int | None]:
    """Phrase hits as rules (short ones and regexes need the model's support), else the model's best unit."""
    m = script.model
    candidates = call.agent
    if step.when is not None:
        first = _first_complaint(step.when, call, reading, script)
        if first is None:
            return RuleOutcome(step.id, step.name, True, 0.0, (), "not required: the customer did not complain"), None
        # Any apology or acknowledgement after the customer's first complaint answers it.
        candidates = [u for u in call.agent if (u.start, u.idx) > (first.start, first.idx)]
    allowed = {u.idx for u in candidates}
    rule_hits = _rule_hits(step, candidates, matchers, script, claimed, reading)
    units = [un for un in reading.units if set(un.idxs) <= allowed]
    pos = {u.idx: k for k, u in enumerate(call.utts)}

    def on_time(un: Unit) -> bool:
        # Every turn of a window must be on time: a closing said early must not ride on the late turn after it.
        return all(_on_time(step, call.by_idx[i], call) for i in un.idxs)

    said = [un for un in units if un.probs.get(step.id, 0.0) >= m.pass_at]
    found_at = [pos[u.idx] for u, _, _ in rule_hits] + [pos[un.idxs[0]] for un in said]
    first_idx = call.utts[min(found_at)].idx if found_at else None

    def shaky(un_or_utt: Unit | Utterance) -> bool:
        idxs = un_or_utt.idxs if isinstance(un_or_utt, Unit) else (un_or_utt.idx,)
        return _low_asr([call.by_idx[i] for i in idxs], script)

    # Evidence from speech the ASR was sure of decides; evidence only from speech it was unsure of asks a person.
    timely_rules = [(u, mt, p) for u, mt, p in rule_hits if _on_time(step, u, call)]
    sure_rules = [h for h in timely_rules if not shaky(h[0])]
    if sure_rules:
        # The evidence a reviewer sees: the hit the model finds most convincing (a long phrase before a short one).
        u, mt, p = max(sure_rules, key=lambda h: (not _weak(h[1]), h[2]))
        ev = _evidence(u, mt, probability=round(p, 3), verdict=PASS)
        return RuleOutcome(step.id, step.name, True, step.weight, (ev,), f"matched ({mt.how})"), first_idx
    timely = [un for un in units if on_time(un)]
    best = max(timely, key=lambda un: un.probs.get(step.id, 0.0), default=None)
    p_best = best.probs.get(step.id, 0.0) if best else 0.0
    sure_best = max((un for un in timely if not shaky(un)), key=lambda un: un.probs.get(step.id, 0.0), default=None)
    if sure_best is not None and sure_best.probs.get(step.id, 0.0) >= m.pass_at:
        p = sure_best.probs[step.id]
        return RuleOutcome(step.id, step.name, True, step.weight, (_unit_evidence(sure_best, call, step.id, PASS),),
                           f"matched by meaning (p={p:.2f})"), first_idx
    if timely_rules:
        u, mt, p = timely_rules[0]
        ev = _evidence(u, mt, probability=round(p, 3))
        return not_sure(step.id, step.name, [ev], f"matched ({mt.how}) in speech the ASR was unsure of"), None
    if best is not None and p_best >= m.pass_at:
        return not_sure(step.id, step.name, [_unit_evidence(best, call, step.id, NOT_SURE)],
                        f"said by meaning (p={p_best:.2f}) in speech the ASR was unsure of"), None
    if best is not None and p_best >= m.fail_below:
        return not_sure(step.id, step.name, [_unit_evidence(best, call, step.id, NOT_SURE)],
                        f"best evidence p={p_best:.2f}, between {m.fail_below:g} and {m.pass_at:g}"), None
    if rule_hits or said:
        return _found_late(step, call, rule_hits, said), first_idx
    misheard = [un for un in units if un.probs.get(step.id, 0.0) >= m.fail_below / 2 and shaky(un)]
    if misheard:
        un = max(misheard, key=lambda x: x.probs.get(step.id, 0.0))
        return not_sure(step.id, step.name, [_unit_evidence(un, call, step.id, NOT_SURE)],
                        f"not found, but the ASR was unsure of the likeliest turn (p={un.probs.get(step.id, 0.0):.2f})"), None
    # The closest the agent came, for the reviewer (and as the text a reviewer's "it was said" labels).
    closest = () if best is None else ({**_unit_evidence(best, call, step.id, FAIL), "candidate": True},)
    return RuleOutcome(step.id, step.name, False, step.weight, closest,
                       f"not found in agent speech (best p={p_best:.2f})"), None


def _rule_hits(step: Step, candidates: Sequence[Utterance], matchers: list[Matcher], script: Script,
               claimed: dict[int, list[tuple[int, int, str]]], reading: CallReading
               ) -> list[tuple[Utterance, Match, float]]:
    """Phrase hits the step model does not contradict: a short phrase or a regex needs its support."""
    use = matchers if step.fuzzy else matchers[:1]
    hits = [(u, mt) for u, mt in zip(candidates, find([u.text for u in candidates], step.phrase_set, use), strict=True)
            if mt and not (mt.how not in ("exact", "regex") and any(
                sid != step.id and s < mt.end and mt.start < e for s, e, sid in claimed.get(u.idx, ())))]
    out = []
    for u, mt in hits:
        p = reading.turn_prob(step.id, u.idx)
        if p >= (script.model.rule_confirm if _weak(mt) else script.model.rule_veto):
            out.append((u, mt, p))
    return out


def _found_late(step: Step, call: _Call, rule_hits: Sequence[tuple[Utterance, Match, float]],
                said: Sequence[Unit]) -> RuleOutcome:
    """The step was said, but not in its time window."""
    late_units = sorted(said, key=lambda un: -un.probs.get(step.id, 0.0))
    if rule_hits:
        u, mt, _ = rule_hits[0]
        ev, last = _evidence(u, mt, verdict=FAIL), u
    else:
        u, last = call.by_idx[late_units[0].idxs[0]], call.by_idx[late_units[0].idxs[-1]]
        ev = _unit_evidence(late_units[0], call, step.id, FAIL)
    detail = (f"found at {u.start:.1f}s, expected within the first {step.within_first_s:g}s"
              if step.within_first_s is not None and u.start > step.within_first_s
              else f"found ending at {last.end:.1f}s, expected within the last {step.within_last_s:g}s of "
                   f"{call.duration:.1f}s")
    return RuleOutcome(step.id, step.name, False, step.weight, (ev,), detail)


def _forbidden_by_meaning(script: Script, call: _Call, fuzzy: bool, reading: CallReading) -> RuleOutcome:
    """Listed phrases (short ones need the model's support; any can be overruled as a counter-example) and rude or
    dismissive turns in other words."""
    rule, m = script.forbidden, script.model
    assert rule is not None
    evidence: list[dict[str, Any]] = []
    flagged: set[int] = set()
    for u, ev in _forbidden_hits(rule, call, fuzzy):
        p = reading.turn_prob(FORBIDDEN_LABEL, u.idx)
        weak = len(normalise(str(ev.get("matched", "")))[0]) <= WEAK_RULE_CHARS
        if p >= (m.rule_confirm if weak else m.rule_veto):
            evidence.append({**ev, "probability": round(p, 3), "verdict": FAIL})
            flagged.add(u.idx)
    units = [un for un in reading.units if un.kind != "window"]
    for un in units:
        if un.probs.get(FORBIDDEN_LABEL, 0.0) >= m.pass_at and un.idxs[0] not in flagged:
            evidence.append(_unit_evidence(un, call, FORBIDDEN_LABEL, FAIL))
            flagged.add(un.idxs[0])
    if evidence:
        sure = [e for e in evidence if not _low_asr([call.by_idx[e["idx"]]], script)]
        if not sure:
            return not_sure(FORBIDDEN_RULE, "禁用语", evidence, "possible violation in speech the ASR was unsure of")
        return RuleOutcome(FORBIDDEN_RULE, "禁用语", False, rule.weight, tuple(sorted(evidence, key=lambda e: e["start"])),
                           f"{len(evidence)} forbidden phrase occurrence(s)")
    best = max(units, key=lambda un: un.probs.get(FORBIDDEN_LABEL, 0.0), default=None)
    if best is not None and best.probs.get(FORBIDDEN_LABEL, 0.0) >= m.fail_below:
        p = best.probs[FORBIDDEN_LABEL]
        return not_sure(FORBIDDEN_RULE, "禁用语", [_unit_evidence(best, call, FORBIDDEN_LABEL, NOT_SURE)],
                        f"possibly rude or dismissive (p={p:.2f}, between {m.fail_below:g} and {m.pass_at:g})")
    return RuleOutcome(FORBIDDEN_RULE, "禁用语", True, rule.weight, (), "none found")


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


def _forbidden_hits(rule: Forbidden, call: _Call, fuzzy: bool) -> list[tuple[Utterance, dict[str, Any]]]:
    hits: list[tuple[Utterance, dict[str, Any]]] = []
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
                hits.append((u, _evidence(u, None, matched=entry.text, how=how, similarity=sim, window=u.text[s:e])))
    return hits


def _forbidden(rule: Forbidden, call: _Call, fuzzy: bool) -> RuleOutcome:
    evidence = [ev for _, ev in _forbidden_hits(rule, call, fuzzy)]
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

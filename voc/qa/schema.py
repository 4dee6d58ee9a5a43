"""Pydantic schema of a QA script YAML (steps, forbidden phrases, silence, overtalk, speech rate).

See voc/qa/scripts/retail_after_sales.yaml for a commented example of every field.
"""

from __future__ import annotations

import re
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from voc.qa.matcher import PhraseSet


class _Strict(BaseModel):
    # Typos in a rule file must fail loudly, not silently disable a rule.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _compile(patterns: list[str]) -> list[str]:
    for i, p in enumerate(patterns):
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"regex #{i + 1} {p!r} does not compile: {exc}") from exc
    return patterns


class Condition(_Strict):
    """When a conditional step applies: once the customer complains (either test that is set)."""

    customer_sentiment_below: float | None = Field(
        None, ge=-1, le=1, description="the step is required once a customer utterance scores below this"
    )
    customer_complains: bool = Field(
        False, description="the step is required once a customer turn reads as a complaint (step model, by meaning)"
    )

    @model_validator(mode="after")
    def _has_a_test(self) -> Condition:
        if self.customer_sentiment_below is None and not self.customer_complains:
            raise ValueError("a condition needs customer_sentiment_below, customer_complains: true, or both")
        return self


class Step(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    weight: float = Field(10.0, ge=0)
    phrases: list[str] = Field(default_factory=list)
    regex: list[str] = Field(default_factory=list)
    within_first_s: float | None = Field(None, gt=0, description="must start within N s of the call start")
    within_last_s: float | None = Field(None, gt=0, description="must end within the last N s of the call")
    when: Condition | None = Field(None, description="conditional step: only required when this holds")
    fuzzy: bool = Field(True, description="allow pinyin/semantic matching for this step")
    examples: list[str] = Field(default_factory=list, description="more ways agents say this step (train the step model)")
    counter_examples: list[str] = Field(
        default_factory=list, description="lines that look like this step but are not it (train the step model)")

    _check_regex = field_validator("regex")(_compile)

    @model_validator(mode="after")
    def _has_something_to_match(self) -> Step:
        if not self.phrases and not self.regex:
            raise ValueError("a step needs at least one entry in 'phrases' or 'regex'")
        return self

    @cached_property
    def phrase_set(self) -> PhraseSet:
        return PhraseSet(tuple(self.phrases), tuple(re.compile(p) for p in self.regex))


class ForbiddenPhrase(_Strict):
    text: str = Field(min_length=1)
    unless: list[str] = Field(
        default_factory=list,
        description="context phrases (regex) that make an occurrence acceptable, e.g. 不知道您 for polite questions",
    )
    fuzzy: bool = Field(True, description="also match by folded pinyin (always exact-length, never partial)")

    _check_unless = field_validator("unless")(_compile)


class Forbidden(_Strict):
    weight: float = Field(20.0, ge=0)
    phrases: list[ForbiddenPhrase | str] = Field(min_length=1)
    examples: list[str] = Field(default_factory=list, description="rude or dismissive lines in other words (step model)")
    counter_examples: list[str] = Field(
        default_factory=list, description="lines that are not violations, e.g. honest uncertainty that still helps")

    @cached_property
    def entries(self) -> tuple[ForbiddenPhrase, ...]:
        return tuple(p if isinstance(p, ForbiddenPhrase) else ForbiddenPhrase(text=p) for p in self.phrases)


class Silence(_Strict):
    weight: float = Field(10.0, ge=0)
    max_gap_s: float = Field(20.0, gt=0, description="a gap longer than this needs a hold notice before it")
    hold_phrases: list[str] = Field(min_length=1)
    lookback_s: float = Field(15.0, ge=0, description="the hold notice must end at most this long before the gap")

    @cached_property
    def phrase_set(self) -> PhraseSet:
        return PhraseSet(tuple(self.hold_phrases))


class Overtalk(_Strict):
    weight: float = Field(5.0, ge=0)
    max_s: float = Field(10.0, ge=0, description="total seconds both parties speak at once")
    max_count: int | None = Field(None, ge=0)


class SpeechRate(_Strict):
    weight: float = Field(5.0, ge=0)
    min_cpm: float = Field(120.0, ge=0, description="agent characters per minute of own talk time")
    max_cpm: float = Field(330.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> SpeechRate:
        if self.min_cpm >= self.max_cpm:
            raise ValueError(f"min_cpm ({self.min_cpm}) must be below max_cpm ({self.max_cpm})")
        return self


class Matching(_Strict):
    pinyin_threshold: float = Field(0.8, gt=0, le=1, description="min similarity of a fuzzy pinyin window")
    min_fuzzy_chars: int = Field(4, ge=1, description="shorter variants must match their pinyin exactly")
    semantic_threshold: float = Field(0.945, gt=0, le=1, description="min cosine similarity (e5-small scale)")


class Model(_Strict):
    """The step model: which agent turns say which step, by meaning (e5 + character n-grams, calibrated)."""

    pass_at: float = Field(0.6, gt=0, lt=1, description="a step passes on a turn the model rates at least this likely")
    fail_below: float = Field(0.3, gt=0, lt=1, description="below this on every turn the step fails; between: not sure")
    rule_confirm: float = Field(0.15, ge=0, lt=1, description="a short phrase (<= 4 characters) or regex hit counts only "
                                "where the model rates the step at least this likely")
    rule_veto: float = Field(0.0, ge=0, lt=1, description="a longer phrase hit is overruled where the model rates the "
                             "turn below this for the step (0: never; the phrase may be one clause of a turn that is "
                             "mostly another step)")
    asr_min_logprob: float = Field(-1.0, description="evidence from an utterance whose ASR avg_logprob is below this is "
                                   "not sure")
    complaint_at: float = Field(0.5, gt=0, lt=1, description="a customer turn is a complaint when the model rates it at "
                                "least this likely (or negative sentiment and at least half this)")

    @model_validator(mode="after")
    def _ordered(self) -> Model:
        if self.fail_below > self.pass_at:
            raise ValueError(f"fail_below ({self.fail_below}) must not be above pass_at ({self.pass_at})")
        return self


class Review(_Strict):
    negative_below: float = Field(-0.6, ge=-1, le=1, description="a customer utterance below this sends the call to review")


class Script(_Strict):
    """One queue's script: what the agent must say, when, and what never to say."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    description: str = ""
    version: int = 1
    steps: list[Step] = Field(min_length=1)
    order: list[str] = Field(default_factory=list, description="step ids that must first occur in this order")
    order_weight: float = Field(5.0, ge=0)
    forbidden: Forbidden | None = None
    silence: Silence | None = None
    overtalk: Overtalk | None = None
    speech_rate: SpeechRate | None = None
    matching: Matching = Field(default_factory=Matching)
    model: Model = Field(default_factory=Model)
    review: Review = Field(default_factory=Review)
    example_files: list[str] = Field(
        default_factory=list, description="YAML files of training examples for the step model, relative to the rules folder")

    @field_validator("steps")
    @classmethod
    def _unique_ids(cls, steps: list[Step]) -> list[Step]:
        seen: set[str] = set()
        for step in steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice")
            seen.add(step.id)
        return steps

    @field_validator("order")
    @classmethod
    def _order_known(cls, order: list[str], info: ValidationInfo) -> list[str]:
        # A field validator (not a model one) so the error points at the 'order' line of the file.
        ids = {s.id for s in info.data.get("steps", [])}
        unknown = [o for o in order if o not in ids]
        if ids and unknown:
            raise ValueError(f"order names unknown step(s) {unknown}; expected ids from: {sorted(ids)}")
        return order


class QueueMap(_Strict):
    """queues.yaml: which script each queue uses."""

    default: str | None = None
    queues: dict[str, str] = Field(default_factory=dict)


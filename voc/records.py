"""Typed records that the pipeline stages exchange.

Records are plain frozen dataclasses: they import nothing of voc, serialise with
:func:`to_dict`, and carry no behaviour beyond small derived properties.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
from dataclasses import dataclass, field
from typing import Any

# What redaction leaves in place of PII ([PHONE], [ID], ...): the one format every stage can recognise.
PII_PLACEHOLDER_RE = re.compile(r"\[(?:PHONE|ID|CARD|EMAIL|ADDR|NAME)\]")


class Role(enum.StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    UNKNOWN = "unknown"


class Channel(enum.StrEnum):
    """Where an interaction came from."""

    CALL = "call"
    CHAT = "chat"
    TICKET = "ticket"
    REVIEW = "review"
    EMAIL = "email"
    OTHER = "other"


def visible_id(external_id: str | None, interaction_id: str) -> str:
    """The one id a person sees and types for a contact: the source's call id or record id (``C009``, the chat's own
    id), or the internal id (``call-eaab3f11…``, a content hash) when the source gave none. The internal id stays a
    detail: every command that takes an id accepts both."""
    return external_id or interaction_id


def contact_label(channel: str, contact_id: str) -> str:
    """A contact id with its kind in front (``call C009``, ``chat T00152``) for text where topic ids (``T0013``) may
    appear next to it."""
    return f"{channel} {contact_id}"


@dataclass(frozen=True, slots=True)
class Interaction:
    """One customer contact: a call recording, a chat, a ticket or a review."""

    id: str  # stable id derived from the content hash (see voc.ingest)
    channel: Channel
    business_date: dt.date
    content_hash: str
    external_id: str | None = None  # the source system's id (call id, ticket id)
    source_path: str | None = None  # audio or text file it came from
    started_at: dt.datetime | None = None
    queue: str | None = None
    agent_id: str | None = None
    customer_id: str | None = None
    customer_tier: str | None = None  # e.g. vip / gold / normal
    customer_value: float | None = None  # CLV or any number; larger = more valuable
    agent_channel: int | None = None  # stereo audio: index of the agent's channel (0 or 1)
    text: str | None = None  # text channels: the (redacted once the text stage ran) body
    attributes: dict[str, Any] = field(default_factory=dict)  # product, order, region, ...
    # the body's original length when only its first limits.max_text_chars characters were kept for analysis
    text_truncated_from: int | None = None

    @property
    def contact_id(self) -> str:
        """The id people see and type for this contact (see :func:`visible_id`)."""
        return visible_id(self.external_id, self.id)


@dataclass(frozen=True, slots=True)
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True, slots=True)
class Utterance:
    """A stretch of speech (or a chat message) by one party."""

    interaction_id: str
    idx: int
    role: Role
    start: float  # seconds from the start of the call; 0 for text messages
    end: float
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    words: tuple[Word, ...] = ()
    # How sure the recogniser was, 0..1 (None for typed text): given, or derived from avg_logprob and
    # no_speech_prob by asr_confidence() when the record is built (so stored and older transcripts have one too).
    confidence: float | None = None

    def __post_init__(self) -> None:
        if self.confidence is None and self.avg_logprob is not None:
            object.__setattr__(self, "confidence", asr_confidence(self.avg_logprob, self.no_speech_prob))


def asr_confidence(avg_logprob: float, no_speech_prob: float | None = None) -> float:
    """An utterance's recognition confidence: exp(avg_logprob), the geometric mean of its tokens' probabilities,
    times (1 - no_speech_prob), the model's belief that the window holds speech; rounded to 4 places.

    A word's confidence is its own probability (``Word.probability``). See voc/transcribe/README.md for how the
    number relates to errors on the shared clips."""
    import math

    p = math.exp(min(0.0, avg_logprob)) * (1.0 - min(1.0, max(0.0, no_speech_prob or 0.0)))
    return round(p, 4)


@dataclass(frozen=True, slots=True)
class CallMetrics:
    """Talk-time figures for one call, computed from the per-channel speech timeline."""

    interaction_id: str
    duration_s: float
    agent_talk_s: float
    customer_talk_s: float
    silence_s: float  # time in which nobody speaks
    longest_silence_s: float
    overtalk_s: float  # both speak at once
    overtalk_count: int
    agent_speech_rate_cpm: float | None  # characters per minute of own talk time
    customer_speech_rate_cpm: float | None
    agent_talk_ratio: float  # agent talk / (agent + customer talk)


@dataclass(frozen=True, slots=True)
class Transcript:
    """What the transcription stage produces for one call."""

    interaction_id: str
    utterances: tuple[Utterance, ...]
    metrics: CallMetrics
    language: str
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    dropped: tuple[dict[str, Any], ...] = ()  # segments rejected by hallucination guards, with reason


@dataclass(frozen=True, slots=True)
class SentimentScore:
    """Sentiment of one utterance or text: score in [-1, 1] (negative .. positive)."""

    interaction_id: str
    idx: int  # utterance idx; -1 for the whole text of a text-channel interaction
    score: float
    label: str  # negative / neutral / positive


@dataclass(frozen=True, slots=True)
class CallSentiment:
    interaction_id: str
    score: float  # overall customer sentiment in [-1, 1]
    start_score: float
    end_score: float
    trajectory: str  # improving / worsening / stable
    escalation: bool
    reasons: tuple[str, ...] = ()
    scorer: str = ""


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """One QA rule's verdict on one call, with the evidence a reviewer can check."""

    rule_id: str
    name: str
    passed: bool
    weight: float
    evidence: tuple[dict[str, Any], ...] = ()  # {"idx", "start", "text", "matched", "how"}
    detail: str = ""


@dataclass(frozen=True, slots=True)
class QAResult:
    interaction_id: str
    queue: str
    script: str
    score: float  # 0..100
    outcomes: tuple[RuleOutcome, ...]
    review_reasons: tuple[str, ...] = ()  # why it should go to the review queue, empty if not


@dataclass(frozen=True, slots=True)
class TopicAssignment:
    interaction_id: str
    topic_id: str
    similarity: float


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a department should know: an emerging topic, a trend, a QA failure pattern."""

    id: str
    kind: str  # emerging_topic / topic_trend / qa_pattern
    run_date: dt.date
    title: str
    summary: str
    topic_id: str | None = None
    count: int = 0
    customers: int = 0
    value_weight: float = 0.0
    examples: tuple[str, ...] = ()
    interaction_ids: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Route:
    finding_id: str
    department: str
    confidence: float
    reason: str


@dataclass(frozen=True, slots=True)
class StageResult:
    """What every stage returns: small and JSON-able (the DAGs pass it through XCom)."""

    stage: str
    run_date: str
    processed: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    errors: tuple[dict[str, str], ...] = ()  # {"id": ..., "reason": ...}
    details: dict[str, Any] = field(default_factory=dict)  # resolved options, model id, counts


def to_dict(record: Any) -> Any:
    """Convert a record (or nested records) to JSON-able builtins."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: to_dict(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if isinstance(record, enum.Enum):
        return record.value
    if isinstance(record, dt.datetime | dt.date):
        return record.isoformat()
    if isinstance(record, dict):
        return {str(k): to_dict(v) for k, v in record.items()}
    if isinstance(record, list | tuple):
        return [to_dict(v) for v in record]
    return record

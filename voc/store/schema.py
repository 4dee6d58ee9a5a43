"""SQLAlchemy 2 schema of the voc store (SQLite by default, PostgreSQL in production).

Text columns only ever hold PII-redacted text: the stages redact before they write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_date: Mapped[dt.date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16))  # running / done / failed
    trigger: Mapped[str] = mapped_column(String(32), default="cli")
    stages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class StageRun(Base):
    __tablename__ = "stage_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # running / done / failed
    processed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InteractionRow(Base):
    __tablename__ = "interactions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), index=True)
    business_date: Mapped[dt.date] = mapped_column(Date, index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(128), index=True)
    source_path: Mapped[str | None] = mapped_column(Text)
    source_kind: Mapped[str] = mapped_column(String(16), default="text")  # audio / transcript / text
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    queue: Mapped[str | None] = mapped_column(String(64), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    customer_tier: Mapped[str | None] = mapped_column(String(32))
    customer_value: Mapped[float | None] = mapped_column(Float)
    agent_channel: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)  # redacted
    tokens: Mapped[list[Any] | None] = mapped_column(JSON)  # jieba tokens of text (text channels)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    service_type: Mapped[str | None] = mapped_column(String(32))
    text_truncated_from: Mapped[int | None] = mapped_column(Integer)  # original length of a body cut for analysis
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_interaction_external"),)


class QuarantineRow(Base):
    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    detected_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (UniqueConstraint("path", "content_hash", "reason", name="uq_quarantine"),)


class ItemStatus(Base):
    """Per-interaction, per-stage progress: lets a crashed run resume and isolates failures."""

    __tablename__ = "item_status"
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # done / failed
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class UtteranceRow(Base):
    __tablename__ = "utterances"
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)  # redacted
    tokens: Mapped[list[Any] | None] = mapped_column(JSON)
    avg_logprob: Mapped[float | None] = mapped_column(Float)
    no_speech_prob: Mapped[float | None] = mapped_column(Float)
    words: Mapped[list[Any] | None] = mapped_column(JSON)  # only for utterances without redactions


class TranscriptRow(Base):
    __tablename__ = "transcripts"
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    model: Mapped[str] = mapped_column(String(200))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dropped: Mapped[list[Any]] = mapped_column(JSON, default=list)
    pii: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # counts by type, never values


class CallMetricsRow(Base):
    __tablename__ = "call_metrics"
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    duration_s: Mapped[float] = mapped_column(Float)
    agent_talk_s: Mapped[float] = mapped_column(Float)
    customer_talk_s: Mapped[float] = mapped_column(Float)
    silence_s: Mapped[float] = mapped_column(Float)
    longest_silence_s: Mapped[float] = mapped_column(Float)
    overtalk_s: Mapped[float] = mapped_column(Float)
    overtalk_count: Mapped[int] = mapped_column(Integer)
    agent_speech_rate_cpm: Mapped[float | None] = mapped_column(Float)
    customer_speech_rate_cpm: Mapped[float | None] = mapped_column(Float)
    agent_talk_ratio: Mapped[float] = mapped_column(Float)


class SentimentRow(Base):
    __tablename__ = "sentiment"
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)  # -1 = whole text
    score: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(16))


class CallSentimentRow(Base):
    __tablename__ = "call_sentiment"
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    start_score: Mapped[float] = mapped_column(Float)
    end_score: Mapped[float] = mapped_column(Float)
    trajectory: Mapped[str] = mapped_column(String(16))
    escalation: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    scorer: Mapped[str] = mapped_column(String(100))


class QAResultRow(Base):
    __tablename__ = "qa_results"
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    queue: Mapped[str] = mapped_column(String(64))
    script: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    outcomes: Mapped[list[Any]] = mapped_column(JSON)
    review_reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    scored_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QAReviewRow(Base):
    """The review queue: one item per call that needs a human."""

    __tablename__ = "qa_reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), unique=True)
    queue: Mapped[str] = mapped_column(String(64), index=True)
    reasons: Mapped[list[Any]] = mapped_column(JSON)
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open / claimed / resolved / appealed / closed
    assignee: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    score_override: Mapped[float | None] = mapped_column(Float)
    comment: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    appeal_reason: Mapped[str | None] = mapped_column(Text)
    appealed_by: Mapped[str | None] = mapped_column(String(64))
    appealed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    history: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TopicRow(Base):
    __tablename__ = "topics"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    label: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[Any]] = mapped_column(JSON, default=list)
    examples: Mapped[list[Any]] = mapped_column(JSON, default=list)
    size: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    merged_into: Mapped[str | None] = mapped_column(String(16))
    created_on: Mapped[dt.date] = mapped_column(Date)
    last_seen: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # registry state (centroid etc.)


class TopicVersionRow(Base):
    __tablename__ = "topic_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic_id: Mapped[str] = mapped_column(String(16), index=True)
    run_date: Mapped[dt.date] = mapped_column(Date)
    event: Mapped[str] = mapped_column(String(16))  # created / updated / merged
    label: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TopicAssignmentRow(Base):
    __tablename__ = "topic_assignments"
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    topic_id: Mapped[str] = mapped_column(String(16), index=True)
    similarity: Mapped[float] = mapped_column(Float)
    business_date: Mapped[dt.date] = mapped_column(Date, index=True)
    # the night that made this assignment (a complaint from the noise pool is assigned on a later night)
    assigned_on: Mapped[dt.date | None] = mapped_column(Date, index=True)


class EmbeddingRow(Base):
    __tablename__ = "embeddings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of model + text
    model: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32 little-endian


class FindingRow(Base):
    __tablename__ = "findings"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    run_date: Mapped[dt.date] = mapped_column(Date, index=True)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    topic_id: Mapped[str | None] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer, default=0)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    value_weight: Mapped[float] = mapped_column(Float, default=0.0)
    examples: Mapped[list[Any]] = mapped_column(JSON, default=list)
    interaction_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RouteRow(Base):
    __tablename__ = "routes"
    finding_id: Mapped[str] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)


class RouteMemoryRow(Base):
    """Confirmed topic -> department routes; routing prefers them over rules."""

    __tablename__ = "route_memory"
    topic_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    department: Mapped[str] = mapped_column(String(64))
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
    confirmed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DeliveryRow(Base):
    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_date: Mapped[dt.date] = mapped_column(Date, index=True)
    department: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(64))  # webhook name or file format
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # sha256 of the message sent, set once every part of it was delivered: the same digest is not sent again
    content_hash: Mapped[str | None] = mapped_column(String(64))
    is_update: Mapped[bool] = mapped_column(Boolean, default=False)  # replaced a digest delivered before


class UserRow(Base):
    """People who use the web app. Only hashes are stored: scrypt for passwords, sha256 for API tokens."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))  # reviewer / supervisor / department_owner
    department: Mapped[str | None] = mapped_column(String(64))  # department owners: whose digests they see
    password_hash: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottleRow(Base):
    """Failed-login counters per user name and per client address, shared by every web worker (atomic updates)."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "user:<name>" / "addr:<address>"
    failures: Mapped[int] = mapped_column(Integer, default=0)  # attempts in the current window (reserved before the check)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    strikes: Mapped[int] = mapped_column(Integer, default=0)  # lockouts in a row: each doubles the next one
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class SiteKeyRow(Base):
    """Random keys made once per installation (the identifier HMAC when VOC_ID_SECRET is not set)."""

    __tablename__ = "site_keys"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))  # hex
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


Index("ix_utterances_interaction", UtteranceRow.interaction_id)


class IngestFileRow(Base):
    """The ingest manifest: an inbox text file as a scan last read it (size, modification time, hash), so the next
    scan with the same settings (``scan_key``) skips it unread while it is unchanged."""

    __tablename__ = "ingest_files"
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)  # relative to the inbox
    scan_key: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    complete: Mapped[bool] = mapped_column(Boolean, default=True)  # False: rows dated too late, read it again
    rows: Mapped[int] = mapped_column(Integer, default=0)  # candidates it yielded
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ComplaintDayRow(Base):
    """Term-burst history, one row per business date counted: how many complaints the date had and the state of the
    store they were counted from (``source_key``: the date's interactions and their text/transcribe/sentiment
    results, plus the complaint rule's settings). A date whose key changed is counted again."""

    __tablename__ = "complaint_days"
    business_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    docs: Mapped[int] = mapped_column(Integer)
    source_key: Mapped[str] = mapped_column(String(64))
    counted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ComplaintTermRow(Base):
    """Term-burst history: in how many of a date's complaints a topic token occurs (its document frequency)."""

    __tablename__ = "complaint_terms"
    term: Mapped[str] = mapped_column(Text, primary_key=True)
    business_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    docs: Mapped[int] = mapped_column(Integer)


Index("ix_complaint_terms_date", ComplaintTermRow.business_date)


class CustomerContactRow(Base):
    """The customer view's copy of one contact as the report last read it (its interaction, topic, sentiment and QA
    columns, and the state of its text: content hash, ingest time, text/transcribe item status), with its repeat
    link (``repeat_of``: the most recent earlier contact of the same customer within the repeat window about the
    same issue). A contact whose stored copy differs from the store's rows is read again, with its customer's other
    contacts; the rest are taken from here (:mod:`voc.store.customer_aggregates`)."""

    __tablename__ = "customer_contacts"
    interaction_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_key: Mapped[str | None] = mapped_column(String(64))  # normalised customer id (None: unknown customer)
    business_date: Mapped[dt.date] = mapped_column(Date)
    customer_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    external_id: Mapped[str | None] = mapped_column(String(128))
    queue: Mapped[str | None] = mapped_column(String(64))
    queue_key: Mapped[str] = mapped_column(String(64))  # the queue, else the channel (the FCR queue grouping)
    agent_id: Mapped[str | None] = mapped_column(String(64))
    customer_tier: Mapped[str | None] = mapped_column(String(32))
    customer_value: Mapped[float | None] = mapped_column(Float)
    service_type: Mapped[str | None] = mapped_column(String(32))
    topic_id: Mapped[str | None] = mapped_column(String(16))
    assigned_on: Mapped[dt.date | None] = mapped_column(Date)  # the night that made its topic assignment
    call_score: Mapped[float | None] = mapped_column(Float)
    trajectory: Mapped[str | None] = mapped_column(String(16))
    escalation: Mapped[bool | None] = mapped_column(Boolean)
    text_score: Mapped[float | None] = mapped_column(Float)
    qa_score: Mapped[float | None] = mapped_column(Float)
    review_status: Mapped[str | None] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))
    ingested_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    text_updated: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    text_attempts: Mapped[int | None] = mapped_column(Integer)
    transcribe_updated: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    transcribe_attempts: Mapped[int | None] = mapped_column(Integer)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # the PII-free ones links compare
    excerpt: Mapped[str] = mapped_column(Text, default="")
    repeat_of: Mapped[str | None] = mapped_column(String(40))
    repeat_days: Mapped[int | None] = mapped_column(Integer)
    repeat_match: Mapped[str | None] = mapped_column(Text)
    fcr: Mapped[int] = mapped_column(Integer, default=0)  # 0: a first contact no repeat followed, 1: one did, 2: a repeat


Index("ix_customer_contacts_customer", CustomerContactRow.customer_key, CustomerContactRow.business_date)
# covers the nightly FCR counts (an index-only scan of the period) and the date-range reads
Index("ix_customer_contacts_counts", CustomerContactRow.business_date, CustomerContactRow.queue_key,
      CustomerContactRow.agent_id, CustomerContactRow.topic_id, CustomerContactRow.service_type, CustomerContactRow.fcr,
      CustomerContactRow.customer_key)
Index("ix_customer_contacts_assigned_on", CustomerContactRow.assigned_on)
Index("ix_customer_contacts_review", CustomerContactRow.review_status)
# the customer view asks for the item statuses written since it last looked
Index("ix_item_status_updated_at", ItemStatus.updated_at)


class CustomerRiskRow(Base):
    """The churn risk of one customer over the lookback period the customer view was last built for (customers
    without a risk signal have no row)."""

    __tablename__ = "customer_risks"
    customer_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[float] = mapped_column(Float, index=True)
    points: Mapped[float] = mapped_column(Float)
    risk: Mapped[dict[str, Any]] = mapped_column(JSON)  # voc.customers.CustomerRisk fields


class CustomerViewStateRow(Base):
    """What the stored customer view was built for: the settings it depends on (``source_key``), the period
    (``since`` .. ``until``), the topic labels its risk reasons name, and when it looked at the store."""

    __tablename__ = "customer_view_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_key: Mapped[str] = mapped_column(String(64))
    since: Mapped[dt.date] = mapped_column(Date)
    until: Mapped[dt.date] = mapped_column(Date)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))  # changes written since are read next

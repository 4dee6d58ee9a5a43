"""Read model of the customer view: contact rows with their topic, sentiment and QA; topic labels, departments and
findings. No tables of its own: everything comes from interactions, topic_assignments, sentiment, call_sentiment,
qa_results, qa_reviews, topics, findings, routes and route_memory. :mod:`voc.pipeline.customers` turns the rows
into :class:`voc.customers.Contact` records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, func, or_, select

from voc.records import Finding
from voc.store.repo import Store
from voc.store.schema import (
    CallSentimentRow,
    FindingRow,
    InteractionRow,
    QAResultRow,
    QAReviewRow,
    RouteMemoryRow,
    RouteRow,
    SentimentRow,
    TopicAssignmentRow,
    TopicRow,
)


class ContactRow(NamedTuple):
    """One interaction as the customer view reads it (joined with its topic, sentiment, QA and review)."""

    interaction_id: str
    customer_id: str | None
    channel: str
    business_date: dt.date
    started_at: dt.datetime | None
    external_id: str | None
    queue: str | None
    agent_id: str | None
    customer_tier: str | None
    customer_value: float | None
    service_type: str | None
    attributes: dict[str, Any] | None
    text: str | None
    topic_id: str | None
    call_score: float | None
    trajectory: str | None
    escalation: bool | None
    text_score: float | None
    qa_score: float | None
    review_status: str | None


def latest_business_date(store: Store) -> dt.date | None:
    with store.db.session() as s:
        return s.scalar(select(func.max(InteractionRow.business_date)))


def topic_labels(store: Store, topic_ids: Iterable[str] | None = None) -> dict[str, str]:
    with store.db.session() as s:
        q = select(TopicRow.id, TopicRow.label)
        ids = None if topic_ids is None else sorted(set(topic_ids))
        if ids is not None:
            q = q.where(TopicRow.id.in_(ids))
        return {tid: label for tid, label in s.execute(q)}


def topic_departments(store: Store, until: dt.date) -> dict[str, str]:
    """Owning department per topic: the route of its latest finding up to ``until``, else route memory."""
    out: dict[str, str] = {}
    with store.db.session() as s:
        for tid, dept in s.execute(select(RouteMemoryRow.topic_id, RouteMemoryRow.department)):
            out[tid] = dept
        rows = s.execute(
            select(FindingRow.topic_id, RouteRow.department, FindingRow.run_date, FindingRow.id)
            .join(RouteRow, RouteRow.finding_id == FindingRow.id)
            .where(FindingRow.topic_id.is_not(None), FindingRow.run_date <= until)
            .order_by(FindingRow.run_date, FindingRow.id)
        )
        for tid, dept, _, _ in rows:  # later findings overwrite earlier ones
            out[tid] = dept
    return out


def _query():
    return (
        select(
            InteractionRow.id, InteractionRow.customer_id, InteractionRow.channel, InteractionRow.business_date,
            InteractionRow.started_at, InteractionRow.external_id, InteractionRow.queue, InteractionRow.agent_id,
            InteractionRow.customer_tier, InteractionRow.customer_value, InteractionRow.service_type,
            InteractionRow.attributes, InteractionRow.text, TopicAssignmentRow.topic_id, CallSentimentRow.score,
            CallSentimentRow.trajectory, CallSentimentRow.escalation, SentimentRow.score, QAResultRow.score,
            QAReviewRow.status,
        )
        .outerjoin(TopicAssignmentRow, TopicAssignmentRow.interaction_id == InteractionRow.id)
        .outerjoin(CallSentimentRow, CallSentimentRow.interaction_id == InteractionRow.id)
        .outerjoin(SentimentRow, and_(SentimentRow.interaction_id == InteractionRow.id, SentimentRow.idx == -1))
        .outerjoin(QAResultRow, QAResultRow.interaction_id == InteractionRow.id)
        .outerjoin(QAReviewRow, QAReviewRow.interaction_id == InteractionRow.id)
    )


def contact_rows(
    store: Store,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    customer_id: str | None = None,
    interaction_ids: Sequence[str] | None = None,
    attribute_values: Mapping[tuple[str, ...], Iterable[tuple[str, ...]]] | None = None,
) -> list[ContactRow]:
    """Contact rows (one per interaction) filtered by business-date range, customer, ids or attribute values.

    ``attribute_values`` maps attribute names (('batch',), ('product', 'region')) to value tuples; an interaction
    matches when any key's attributes equal one of its tuples (JSON lookups work on SQLite and PostgreSQL).
    """
    q = _query()
    if since is not None:
        q = q.where(InteractionRow.business_date >= since)
    if until is not None:
        q = q.where(InteractionRow.business_date <= until)
    if customer_id is not None:
        q = q.where(InteractionRow.customer_id == customer_id)
    if interaction_ids is not None:
        if not interaction_ids:
            return []
        q = q.where(InteractionRow.id.in_(sorted(set(interaction_ids))))
    if attribute_values is not None:
        clauses = []
        for parts, values in attribute_values.items():
            for value in values:
                clauses.append(and_(*(InteractionRow.attributes[p].as_string() == v for p, v in zip(parts, value, strict=True))))
        if not clauses:
            return []
        q = q.where(InteractionRow.customer_id.is_not(None), or_(*clauses))
    with store.db.session() as s:
        return [ContactRow(*row) for row in s.execute(q).all()]


def topic_member_ids(store: Store, topic_id: str, since: dt.date, until: dt.date) -> list[str]:
    with store.db.session() as s:
        return list(s.scalars(
            select(TopicAssignmentRow.interaction_id).where(
                TopicAssignmentRow.topic_id == topic_id,
                TopicAssignmentRow.business_date >= since, TopicAssignmentRow.business_date <= until)))


def _finding(row: FindingRow) -> Finding:
    return Finding(id=row.id, kind=row.kind, run_date=row.run_date, title=row.title, summary=row.summary,
                   topic_id=row.topic_id, count=row.count, customers=row.customers, value_weight=row.value_weight,
                   examples=tuple(row.examples or ()), interaction_ids=tuple(row.interaction_ids or ()),
                   details=dict(row.details or {}))


def emerging_findings(store: Store, run_date: dt.date) -> list[tuple[Finding, str | None]]:
    """The run date's emerging-topic findings with their routed department (None when not routed)."""
    with store.db.session() as s:
        rows = s.execute(
            select(FindingRow, RouteRow.department)
            .outerjoin(RouteRow, RouteRow.finding_id == FindingRow.id)
            .where(FindingRow.kind == "emerging_topic", FindingRow.run_date == run_date)
            .order_by(FindingRow.value_weight.desc(), FindingRow.id)
        ).all()
        return [(_finding(f), dept) for f, dept in rows]


def latest_topic_finding(store: Store, topic_id: str, until: dt.date | None = None) -> tuple[Finding, str | None] | None:
    """The newest finding about ``topic_id`` (emerging ones first on the same date) with its department."""
    with store.db.session() as s:
        q = (select(FindingRow, RouteRow.department)
             .outerjoin(RouteRow, RouteRow.finding_id == FindingRow.id)
             .where(FindingRow.topic_id == topic_id))
        if until is not None:
            q = q.where(FindingRow.run_date <= until)
        rows = s.execute(q).all()
        if not rows:
            return None
        f, dept = max(rows, key=lambda r: (r[0].run_date, r[0].kind == "emerging_topic", r[0].id))
        return _finding(f), dept

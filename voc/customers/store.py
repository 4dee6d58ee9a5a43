"""Reading the customer view out of the store: contacts with their topic, sentiment, QA and department.

No tables of its own: everything is computed from interactions, topic_assignments, sentiment,
call_sentiment, qa_results, qa_reviews, topics, findings, routes and route_memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select

from voc.customers.model import PII_VALUE, Contact, customer_key, safe_attributes
from voc.customers.outreach import key_parts
from voc.records import Finding
from voc.store import Store
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

EXCERPT_CHARS = 60


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


def service_departments(departments: Sequence[Any]) -> dict[str, str]:
    """Service type -> the first department (in file order) that owns it."""
    out: dict[str, str] = {}
    for d in departments:
        for st in d.service_types:
            out.setdefault(st, d.id)
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


def load_contacts(
    store: Store,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    customer_id: str | None = None,
    interaction_ids: Sequence[str] | None = None,
    attribute_values: Mapping[str, Iterable[tuple[str, ...]]] | None = None,
    topic_departments: Mapping[str, str] | None = None,
    service_departments: Mapping[str, str] | None = None,
    fallback_department: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[Contact]:
    """Contacts (one per interaction) filtered by business-date range, customer, ids or attribute values.

    ``attribute_values`` maps a match key ('batch', 'product+region') to value tuples; an interaction
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
        for key, values in attribute_values.items():
            parts = key_parts(key)
            for value in values:
                clauses.append(and_(*(InteractionRow.attributes[p].as_string() == v for p, v in zip(parts, value, strict=True))))
        if not clauses:
            return []
        q = q.where(InteractionRow.customer_id.is_not(None), or_(*clauses))
    with store.db.session() as s:
        rows = s.execute(q).all()
    if labels is None:
        labels = topic_labels(store, {r[13] for r in rows if r[13]})
    topic_departments = topic_departments or {}
    service_departments = service_departments or {}
    out = []
    for (iid, cid, channel, day, started, ext, queue, agent, tier, value, stype, attrs, text, topic, call_score,
         trajectory, escalation, text_score, qa_score, review) in rows:
        department = (topic_departments.get(topic) if topic else None) or service_departments.get(stype or "")
        out.append(Contact(
            interaction_id=iid, customer_id=customer_key(cid), channel=channel, business_date=day, started_at=started,
            external_id=ext, queue=queue, agent_id=agent, customer_tier=tier, customer_value=value,
            service_type=stype, topic_id=topic, topic_label=labels.get(topic) if topic else None,
            department=department or (fallback_department if (topic or stype) else None),
            sentiment=call_score if call_score is not None else text_score, trajectory=trajectory,
            escalation=bool(escalation), qa_score=qa_score, qa_review=review,
            attributes=safe_attributes(attrs), excerpt=PII_VALUE.sub("[PII]", text or "")[:EXCERPT_CHARS],
        ))
    return out


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

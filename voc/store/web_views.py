"""Read models for the web app: the review queue listing, review items, recordings and topic pages.

Plain records out, no presentation: :mod:`voc.web.views` shapes them into what pages and the API show.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from voc.store.repo import Store
from voc.store.review import OPEN, ReviewItem, _item
from voc.store.schema import (
    CallSentimentRow,
    FindingRow,
    InteractionRow,
    QAResultRow,
    QAReviewRow,
    RouteRow,
    TopicAssignmentRow,
    TopicRow,
    UtteranceRow,
)

__all__ = [
    "PREVIEW_CHARS", "KnownId", "QueueFilter", "QueueRow", "TopicCall", "TopicDetail", "TopicFinding", "TopicInfo",
    "TopicRoute", "TopicSummary", "contact_previews", "known_ids", "next_open_item",
    "queue_choices", "queue_rows", "recording_source", "review_for_interaction", "review_item", "topic_detail",
    "topic_summaries",
]

PREVIEW_CHARS = 80


@dataclass(frozen=True, slots=True)
class QueueFilter:
    queue: str | None = None
    reason: str | None = None
    status: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    sentiment: str | None = None  # negative / neutral / positive
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    mine: bool = False
    limit: int = 200


@dataclass(frozen=True, slots=True)
class QueueRow:
    """A review item with what the queue listing shows of its call."""

    item: ReviewItem
    external_id: str | None
    business_date: dt.date | None
    channel: str | None
    agent_id: str | None
    qa_score: float | None
    sentiment: float | None


@dataclass(frozen=True, slots=True)
class TopicRoute:
    """The latest routed finding of a topic."""

    department: str
    confidence: float
    reason: str
    run_date: dt.date
    finding: str  # its title


@dataclass(frozen=True, slots=True)
class TopicInfo:
    id: str
    label: str
    keywords: tuple[Any, ...]
    examples: tuple[Any, ...]
    size: int
    status: str
    merged_into: str | None
    created_on: dt.date | None
    last_seen: dt.date | None


@dataclass(frozen=True, slots=True)
class TopicSummary:
    topic: TopicInfo
    recent: int  # assignments in the window asked for
    route: TopicRoute | None


@dataclass(frozen=True, slots=True)
class TopicFinding:
    id: str
    kind: str
    run_date: dt.date
    title: str
    summary: str
    count: int
    customers: int
    examples: tuple[Any, ...]
    department: str | None
    confidence: float | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class TopicCall:
    interaction_id: str
    external_id: str | None
    business_date: dt.date
    similarity: float
    preview: str | None = None  # the start of the (redacted) text: the customer's words first


@dataclass(frozen=True, slots=True)
class KnownId:
    """A visible id met in generated text (a digest) and what it is."""

    kind: str  # contact | topic | customer | finding
    target: str  # interaction id, topic id, customer id or finding id
    customer_id: str | None = None  # a contact's customer


@dataclass(frozen=True, slots=True)
class TopicDetail:
    topic: TopicInfo
    daily: list[tuple[dt.date, int]]  # days with assignments only, oldest first
    findings: list[TopicFinding]  # newest first, at most 20
    calls: list[TopicCall]  # newest first, at most 20
    route: TopicRoute | None


# ---- review queue ---------------------------------------------------------------------------
def _queue_query(f: QueueFilter, *, reviewer: str | None, me: str, negative_below: float, positive_above: float):
    q = (
        select(QAReviewRow, InteractionRow.external_id, InteractionRow.business_date, InteractionRow.channel,
               InteractionRow.agent_id, QAResultRow.score, CallSentimentRow.score)
        .join(InteractionRow, InteractionRow.id == QAReviewRow.interaction_id)
        .outerjoin(QAResultRow, QAResultRow.interaction_id == QAReviewRow.interaction_id)
        .outerjoin(CallSentimentRow, CallSentimentRow.interaction_id == QAReviewRow.interaction_id)
    )
    if reviewer is not None:
        q = q.where(or_(QAReviewRow.status == OPEN, QAReviewRow.assignee == reviewer))
    if f.mine:
        q = q.where(QAReviewRow.assignee == me)
    if f.status:
        q = q.where(QAReviewRow.status == f.status)
    if f.queue:
        q = q.where(QAReviewRow.queue == f.queue)
    if f.score_min is not None:
        q = q.where(QAResultRow.score >= f.score_min)
    if f.score_max is not None:
        q = q.where(QAResultRow.score <= f.score_max)
    if f.date_from is not None:
        q = q.where(InteractionRow.business_date >= f.date_from)
    if f.date_to is not None:
        q = q.where(InteractionRow.business_date <= f.date_to)
    if f.sentiment == "negative":
        q = q.where(CallSentimentRow.score < negative_below)
    elif f.sentiment == "positive":
        q = q.where(CallSentimentRow.score > positive_above)
    elif f.sentiment == "neutral":
        q = q.where(CallSentimentRow.score >= negative_below, CallSentimentRow.score <= positive_above)
    q = q.order_by(QAReviewRow.priority.desc(), QAReviewRow.id)
    if not f.reason:  # reasons are a JSON list: that filter runs in Python, before the limit
        q = q.limit(f.limit)
    return q


def queue_rows(store: Store, f: QueueFilter, *, reviewer: str | None, me: str, negative_below: float,
               positive_above: float) -> list[QueueRow]:
    """Review items matching ``f``, highest priority first. ``reviewer``: only items open or held by that name;
    ``me``: whose items ``f.mine`` means; the thresholds split call sentiment into negative / neutral / positive."""
    q = _queue_query(f, reviewer=reviewer, me=me, negative_below=negative_below, positive_above=positive_above)
    out: list[QueueRow] = []
    with store.db.session() as s:
        for row, ext, day, channel, agent, score, senti in s.execute(q):
            if f.reason and not any(str(r).startswith(f.reason) for r in row.reasons or ()):
                continue
            out.append(QueueRow(_item(row), ext, day, channel, agent, score, senti))
            if len(out) >= f.limit:
                break
    return out


def queue_choices(store: Store) -> tuple[list[str], list[str]]:
    """Queue names and reason kinds (the part before ``:``) present in the review queue, sorted."""
    with store.db.session() as s:
        queues = sorted(q for q in s.scalars(select(QAReviewRow.queue).distinct()) if q)
        reasons: set[str] = set()
        for rs in s.scalars(select(QAReviewRow.reasons).limit(5000)):
            reasons.update(str(r).split(":", 1)[0] for r in rs or ())
    return queues, sorted(reasons)


def next_open_item(store: Store, *, after: int | None = None) -> ReviewItem | None:
    """The highest-priority open item (other than ``after``): where a reviewer goes after resolving one."""
    q = select(QAReviewRow).where(QAReviewRow.status == OPEN)
    if after is not None:
        q = q.where(QAReviewRow.id != after)
    with store.db.session() as s:
        row = s.scalars(q.order_by(QAReviewRow.priority.desc(), QAReviewRow.id).limit(1)).first()
        return _item(row) if row is not None else None


def review_item(store: Store, item_id: int) -> ReviewItem | None:
    with store.db.session() as s:
        row = s.get(QAReviewRow, item_id)
        return _item(row) if row is not None else None


def review_for_interaction(store: Store, interaction_id: str) -> ReviewItem | None:
    with store.db.session() as s:
        row = s.scalars(select(QAReviewRow).where(QAReviewRow.interaction_id == interaction_id)).first()
        return _item(row) if row is not None else None


def recording_source(store: Store, interaction_id: str) -> tuple[str | None, str | None] | None:
    """``(source_path, source_kind)`` of an interaction, or None when there is no such interaction."""
    with store.db.session() as s:
        row = s.get(InteractionRow, interaction_id)
        return (row.source_path, row.source_kind) if row is not None else None


# ---- topics -----------------------------------------------------------------------------------
def _topic(t: TopicRow) -> TopicInfo:
    return TopicInfo(t.id, t.label, tuple(t.keywords or ()), tuple(t.examples or ()), t.size, t.status, t.merged_into,
                     t.created_on, t.last_seen)


def _routes_by_topic(s) -> dict[str, TopicRoute]:
    """The latest routed finding per topic."""
    q = (select(FindingRow.topic_id, FindingRow.run_date, FindingRow.title, RouteRow.department, RouteRow.confidence,
                RouteRow.reason)
         .join(RouteRow, RouteRow.finding_id == FindingRow.id)
         .where(FindingRow.topic_id.is_not(None))
         .order_by(FindingRow.run_date))
    return {topic_id: TopicRoute(dept, conf, reason, day, title)
            for topic_id, day, title, dept, conf, reason in s.execute(q)}


def topic_summaries(store: Store, *, days: int = 30) -> list[TopicSummary]:
    """Every topic, largest first, with its assignments in the last ``days`` days of data and its route."""
    with store.db.session() as s:
        last = s.scalar(select(func.max(TopicAssignmentRow.business_date)))
        recent = {} if last is None else dict(s.execute(
            select(TopicAssignmentRow.topic_id, func.count())
            .where(TopicAssignmentRow.business_date >= last - dt.timedelta(days=days - 1))
            .group_by(TopicAssignmentRow.topic_id)).all())
        routes = _routes_by_topic(s)
        rows = list(s.scalars(select(TopicRow).order_by(TopicRow.size.desc(), TopicRow.id)))
        return [TopicSummary(_topic(t), recent.get(t.id, 0), routes.get(t.id)) for t in rows]


def _topic_findings(s, topic_id: str) -> list[TopicFinding]:
    q = (select(FindingRow, RouteRow).outerjoin(RouteRow, RouteRow.finding_id == FindingRow.id)
         .where(FindingRow.topic_id == topic_id).order_by(FindingRow.run_date.desc()).limit(20))
    return [TopicFinding(f.id, f.kind, f.run_date, f.title, f.summary, f.count, f.customers, tuple(f.examples or ()),
                         r.department if r else None, r.confidence if r else None, r.reason if r else None)
            for f, r in s.execute(q)]


def topic_detail(store: Store, topic_id: str) -> TopicDetail | None:
    """One topic with its daily counts, latest findings (with routes) and latest calls; None if there is none."""
    with store.db.session() as s:
        t = s.get(TopicRow, topic_id)
        if t is None:
            return None
        t_info = _topic(t)
        daily = [(d, n) for d, n in s.execute(
            select(TopicAssignmentRow.business_date, func.count()).where(TopicAssignmentRow.topic_id == topic_id)
            .group_by(TopicAssignmentRow.business_date).order_by(TopicAssignmentRow.business_date))]
        calls = [TopicCall(*c) for c in s.execute(
            select(TopicAssignmentRow.interaction_id, InteractionRow.external_id, TopicAssignmentRow.business_date,
                   TopicAssignmentRow.similarity)
            .join(InteractionRow, InteractionRow.id == TopicAssignmentRow.interaction_id)
            .where(TopicAssignmentRow.topic_id == topic_id)
            .order_by(TopicAssignmentRow.business_date.desc(), TopicAssignmentRow.similarity.desc())
            .limit(20))]
    previews = contact_previews(store, [c.interaction_id for c in calls])
    calls = [TopicCall(c.interaction_id, c.external_id, c.business_date, c.similarity, previews.get(c.interaction_id))
             for c in calls]
    with store.db.session() as s:
        return TopicDetail(t_info, daily, _topic_findings(s, topic_id), calls, _routes_by_topic(s).get(topic_id))


# ---- contacts: previews, ids met in digests, route notes --------------------------------------------
def contact_previews(store: Store, interaction_ids: list[str], chars: int = PREVIEW_CHARS) -> dict[str, str]:
    """The start of each contact's stored (redacted) text; for a call, its customer's utterances (else all)."""
    ids = sorted(set(interaction_ids))
    if not ids:
        return {}
    out: dict[str, str] = {}
    with store.db.session() as s:
        for iid, text in s.execute(select(InteractionRow.id, InteractionRow.text).where(InteractionRow.id.in_(ids))):
            if text and text.strip():
                out[iid] = text.strip()
        rest = [i for i in ids if i not in out]
        lines: dict[str, list[tuple[bool, int, str]]] = {}
        if rest:
            for iid, idx, role, text in s.execute(
                    select(UtteranceRow.interaction_id, UtteranceRow.idx, UtteranceRow.role, UtteranceRow.text)
                    .where(UtteranceRow.interaction_id.in_(rest))):
                lines.setdefault(iid, []).append((role != "customer", idx, text))
        for iid, got in lines.items():
            customer = [t for other, _, t in sorted(got) if not other]
            out[iid] = " ".join(customer or [t for _, _, t in sorted(got, key=lambda x: x[1])])
    return {k: v if len(v) <= chars else v[: chars - 1] + "…" for k, v in out.items()}


def known_ids(store: Store, tokens: set[str]) -> dict[str, KnownId]:
    """Which of ``tokens`` are contact ids (external or internal), topic, customer or finding ids."""
    if not tokens:
        return {}
    keys = sorted(tokens)[:5000]
    out: dict[str, KnownId] = {}
    with store.db.session() as s:
        for cid in s.scalars(select(InteractionRow.customer_id).where(InteractionRow.customer_id.in_(keys)).distinct()):
            out[cid] = KnownId("customer", cid)
        for tid in s.scalars(select(TopicRow.id).where(TopicRow.id.in_(keys))):
            out[tid] = KnownId("topic", tid)
        for fid in s.scalars(select(FindingRow.id).where(FindingRow.id.in_(keys))):
            out[fid] = KnownId("finding", fid)
        rows = s.execute(select(InteractionRow.id, InteractionRow.external_id, InteractionRow.customer_id)
                         .where(or_(InteractionRow.external_id.in_(keys), InteractionRow.id.in_(keys))))
        for iid, ext, cust in rows:
            for key in (iid, ext):
                if key in tokens:
                    out[key] = KnownId("contact", iid, cust)
    return out


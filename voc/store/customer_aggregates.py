"""The customer view kept across nights (tables ``customer_contacts``, ``customer_risks``, ``customer_view_state``):
each contact of the view's window as the report last read it, with its repeat link; each customer's churn risk for
the period the view was last built for; and what it was built for. A night finds the contacts that may have
changed since the view last looked (:func:`candidates`: dates whose contact count differs, item statuses written
since, dates run since, topic assignments of those nights, review rows whose status differs), compares just those
with their stored copies in the database (:func:`changed_contacts`), reads the stored copies of just the customers
it recomputes, and sums FCR counts (an index-only scan) and ranks risks in SQL. :mod:`voc.pipeline.customers`
decides what is recomputed (``refresh_customer_view``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.orm import aliased

from voc.store.repo import Store
from voc.store.schema import (
    CallSentimentRow,
    CustomerContactRow,
    CustomerRiskRow,
    CustomerViewStateRow,
    InteractionRow,
    ItemStatus,
    QAResultRow,
    QAReviewRow,
    Run,
    SentimentRow,
    TopicAssignmentRow,
    utcnow,
)

IN_CHUNK = 500
# The stored copy's columns compared with the store's rows, in the order of ChangedRow's fields after the text.
_COMPARED = ("customer_id", "channel", "business_date", "started_at", "external_id", "queue", "agent_id",
             "customer_tier", "customer_value", "service_type", "topic_id", "assigned_on", "call_score", "trajectory", "escalation",
             "text_score", "qa_score", "review_status", "content_hash", "ingested_at", "text_updated", "text_attempts",
             "transcribe_updated", "transcribe_attempts")


class ChangedRow(NamedTuple):
    """A contact whose stored copy is missing or differs: its columns now, and the customer of the old copy."""

    interaction_id: str
    attributes: dict[str, Any] | None
    text: str | None
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
    topic_id: str | None
    assigned_on: dt.date | None
    call_score: float | None
    trajectory: str | None
    escalation: bool | None
    text_score: float | None
    qa_score: float | None
    review_status: str | None
    content_hash: str
    ingested_at: dt.datetime | None
    text_updated: dt.datetime | None
    text_attempts: int | None
    transcribe_updated: dt.datetime | None
    transcribe_attempts: int | None
    old_customer_key: str | None


class ViewState(NamedTuple):
    source_key: str
    since: dt.date
    until: dt.date
    labels: dict[str, str]
    checked_at: dt.datetime  # when the view looked at the store (the changes written since are candidates next time)


# Stored columns a night reads back to recompute a customer (not the columns only compared).
_READ = ("interaction_id", "customer_key", "business_date", "channel", "started_at", "external_id", "queue",
         "agent_id", "customer_tier", "customer_value", "service_type", "topic_id", "call_score", "trajectory",
         "escalation", "text_score", "qa_score", "review_status", "attributes", "excerpt", "repeat_of", "repeat_days",
         "repeat_match", "fcr")


def _current():
    """The store's columns of a contact, in :data:`_COMPARED` order (after id, attributes, text)."""
    text_st, tr_st = aliased(ItemStatus), aliased(ItemStatus)
    cols = [InteractionRow.id, InteractionRow.attributes, InteractionRow.text, InteractionRow.customer_id,
            InteractionRow.channel, InteractionRow.business_date, InteractionRow.started_at, InteractionRow.external_id,
            InteractionRow.queue, InteractionRow.agent_id, InteractionRow.customer_tier, InteractionRow.customer_value,
            InteractionRow.service_type, TopicAssignmentRow.topic_id, TopicAssignmentRow.assigned_on, CallSentimentRow.score,
            CallSentimentRow.trajectory, CallSentimentRow.escalation, SentimentRow.score, QAResultRow.score,
            QAReviewRow.status, InteractionRow.content_hash, InteractionRow.ingested_at, text_st.updated_at,
            text_st.attempts, tr_st.updated_at, tr_st.attempts]
    joins = [
        (TopicAssignmentRow, TopicAssignmentRow.interaction_id == InteractionRow.id),
        (CallSentimentRow, CallSentimentRow.interaction_id == InteractionRow.id),
        (SentimentRow, and_(SentimentRow.interaction_id == InteractionRow.id, SentimentRow.idx == -1)),
        (QAResultRow, QAResultRow.interaction_id == InteractionRow.id),
        (QAReviewRow, QAReviewRow.interaction_id == InteractionRow.id),
        (text_st, and_(text_st.interaction_id == InteractionRow.id, text_st.stage == "text")),
        (tr_st, and_(tr_st.interaction_id == InteractionRow.id, tr_st.stage == "transcribe")),
    ]
    return cols, joins


def _date_counts(s: Any, table: Any, since: dt.date, until: dt.date) -> dict[dt.date, int]:
    q = (select(table.business_date, func.count()).where(table.business_date >= since, table.business_date <= until)
         .group_by(table.business_date))
    return {d: int(n) for d, n in s.execute(q)}


def candidates(store: Store, since: dt.date, until: dt.date, checked: dt.datetime | None) -> tuple[set[str], set[dt.date]]:
    """(interaction ids, business dates) whose contacts may differ from their stored copies, for contacts dated in
    [since, until]: every contact of a date whose count of interactions differs from its stored copies (new, late
    or deleted contacts) or that was run since ``checked`` (a reprocessed or re-routed date); contacts with an item
    status written since ``checked`` (a stage's result), with a topic assignment made on a night run since (or a
    stored one from such a night), or whose review row's status differs from the stored one (reviews change in the
    web app). ``checked`` None: every date. Index range scans and one index-only count per date."""
    with store.db.session() as s:
        have = _date_counts(s, InteractionRow, since, until)
        kept = _date_counts(s, CustomerContactRow, since, until)
        dates = {d for d in have.keys() | kept.keys() if have.get(d) != kept.get(d)}
        ids: set[str] = set()
        if checked is None:
            return ids, set(have) | set(kept)
        ran = set(s.scalars(select(Run.run_date).distinct().where(Run.started_at >= checked)))
        dates |= {d for d in ran if since <= d <= until}
        ids.update(s.scalars(select(ItemStatus.interaction_id).distinct().where(ItemStatus.updated_at >= checked)))
        if ran:
            nights = sorted(ran)
            ids.update(s.scalars(select(TopicAssignmentRow.interaction_id).where(TopicAssignmentRow.assigned_on.in_(nights))))
            ids.update(s.scalars(select(CustomerContactRow.interaction_id).where(CustomerContactRow.assigned_on.in_(nights))))
        ids.update(s.scalars(
            select(QAReviewRow.interaction_id)
            .outerjoin(CustomerContactRow, CustomerContactRow.interaction_id == QAReviewRow.interaction_id)
            .where(QAReviewRow.status.is_distinct_from(CustomerContactRow.review_status))))
        ids.update(s.scalars(
            select(CustomerContactRow.interaction_id)
            .outerjoin(QAReviewRow, QAReviewRow.interaction_id == CustomerContactRow.interaction_id)
            .where(CustomerContactRow.review_status.is_not(None), QAReviewRow.id.is_(None))))
    return ids, dates


def changed_contacts(store: Store, since: dt.date, until: dt.date, ids: Iterable[str] = (),
                     dates: Iterable[dt.date] | None = None) -> list[ChangedRow]:
    """Contacts dated in [since, until] whose stored copy is missing or differs in any compared column, among
    ``ids`` and the contacts dated on ``dates`` (``dates`` None: all of them)."""
    cols, joins = _current()
    q = select(*cols, CustomerContactRow.customer_key)
    q = q.select_from(InteractionRow)
    for table, on in joins:
        q = q.outerjoin(table, on)
    q = q.outerjoin(CustomerContactRow, CustomerContactRow.interaction_id == InteractionRow.id)
    differs = [cur.is_distinct_from(getattr(CustomerContactRow, name)) for cur, name in zip(cols[3:], _COMPARED, strict=True)]
    q = q.where(InteractionRow.business_date >= since, InteractionRow.business_date <= until,
                or_(CustomerContactRow.interaction_id.is_(None), *differs))
    out: dict[str, ChangedRow] = {}
    with store.db.session() as s:
        if dates is None:
            return [ChangedRow(*row) for row in s.execute(q).all()]
        days = sorted(set(dates))
        if days:
            out.update((r[0], ChangedRow(*r)) for r in s.execute(q.where(InteractionRow.business_date.in_(days))))
        wanted = sorted(set(ids) - out.keys())
        for k in range(0, len(wanted), IN_CHUNK):
            out.update((r[0], ChangedRow(*r)) for r in s.execute(q.where(InteractionRow.id.in_(wanted[k : k + IN_CHUNK]))))
    return list(out.values())


def gone_contacts(store: Store, since: dt.date, until: dt.date, ids: Iterable[str] = (),
                  dates: Iterable[dt.date] | None = None) -> list[tuple[str, str | None]]:
    """(interaction id, customer key) of stored copies dated in [since, until] whose interaction is gone or now
    dated outside that range, among ``ids`` and the copies dated on ``dates`` (None: all)."""
    q = (select(CustomerContactRow.interaction_id, CustomerContactRow.customer_key)
         .outerjoin(InteractionRow, InteractionRow.id == CustomerContactRow.interaction_id)
         .where(CustomerContactRow.business_date >= since, CustomerContactRow.business_date <= until,
                or_(InteractionRow.id.is_(None), InteractionRow.business_date < since,
                    InteractionRow.business_date > until)))
    out: dict[str, str | None] = {}
    with store.db.session() as s:
        if dates is None:
            return [(i, k) for i, k in s.execute(q)]
        days = sorted(set(dates))
        if days:
            out.update((i, k) for i, k in s.execute(q.where(CustomerContactRow.business_date.in_(days))))
        wanted = sorted(set(ids) - out.keys())
        for k in range(0, len(wanted), IN_CHUNK):
            out.update((i, c) for i, c in s.execute(q.where(CustomerContactRow.interaction_id.in_(wanted[k : k + IN_CHUNK]))))
    return list(out.items())


def customers_between(store: Store, ranges: Iterable[tuple[dt.date, dt.date]]) -> set[str]:
    """Customers with a stored contact dated in any of the [since, until] ranges."""
    out: set[str] = set()
    with store.db.session() as s:
        for lo, hi in ranges:
            if lo > hi:
                continue
            out.update(s.scalars(select(CustomerContactRow.customer_key).distinct().where(
                CustomerContactRow.business_date >= lo, CustomerContactRow.business_date <= hi,
                CustomerContactRow.customer_key.is_not(None))))
    return out


def customers_leaving(store: Store, since: dt.date, until: dt.date) -> set[str]:
    """Customers with a stored contact dated in [since, until] that can change their risk by leaving the view's
    window: one a repeat followed or that names a tier or value (any other is in no chain of the window and named
    nowhere in the risk: its customer's risk stays as it is)."""
    c = CustomerContactRow
    with store.db.session() as s:
        return set(s.scalars(select(c.customer_key).distinct().where(
            c.business_date >= since, c.business_date <= until, c.customer_key.is_not(None),
            or_(c.fcr != 0, and_(c.customer_tier.is_not(None), c.customer_tier != ""), c.customer_value.is_not(None)))))


def customers_with_topics(store: Store, topic_ids: Iterable[str], since: dt.date, until: dt.date) -> set[str]:
    """Customers with a stored contact in one of ``topic_ids`` dated in [since, until]."""
    wanted = sorted(set(topic_ids))
    out: set[str] = set()
    with store.db.session() as s:
        for k in range(0, len(wanted), IN_CHUNK):
            out.update(s.scalars(select(CustomerContactRow.customer_key).distinct().where(
                CustomerContactRow.topic_id.in_(wanted[k : k + IN_CHUNK]), CustomerContactRow.customer_key.is_not(None),
                CustomerContactRow.business_date >= since, CustomerContactRow.business_date <= until)))
    return out


def stored_contacts(store: Store, customer_keys: Iterable[str], since: dt.date, until: dt.date,
                    skip: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The stored copies of the customers' contacts dated in [since, until] (dicts of the columns a recompute
    reads), but those in ``skip``."""
    keys, skipped = sorted(set(customer_keys)), set(skip)
    table = CustomerContactRow.__table__
    cols = [table.c[name] for name in _READ]
    out: list[dict[str, Any]] = []
    with store.db.session() as s:
        for k in range(0, len(keys), IN_CHUNK):
            q = select(*cols).where(table.c.customer_key.in_(keys[k : k + IN_CHUNK]),
                                    table.c.business_date >= since, table.c.business_date <= until)
            out.extend(dict(zip(_READ, r, strict=True)) for r in s.execute(q) if r[0] not in skipped)
    return out


def replace_customer_view(store: Store, contacts: Sequence[Mapping[str, Any]], remove: Iterable[str],
                          customers: Iterable[str], risks: Iterable[tuple[str, float, float, dict[str, Any]]],
                          state: ViewState, *, before: dt.date, relinked: Sequence[Mapping[str, Any]] = (),
                          reset: bool = False) -> None:
    """One transaction: drop the stored copies ``remove`` and those dated before ``before``, write ``contacts``
    (whole copies, replacing theirs), set the link columns of the copies in ``relinked`` (interaction_id, repeat_of,
    repeat_days, repeat_match, fcr), replace the risk rows of ``customers`` by ``risks`` (key, score, points, risk)
    and record ``state``; ``reset``: every stored copy and risk is dropped first (a rebuild)."""
    table = CustomerContactRow.__table__
    gone = sorted(set(remove) | {c["interaction_id"] for c in contacts})
    keys = sorted(set(customers))
    risks = list(risks)
    with store.db.session() as s:
        if reset:
            s.execute(delete(CustomerContactRow))
            s.execute(delete(CustomerRiskRow))
        else:
            s.execute(delete(CustomerContactRow).where(CustomerContactRow.business_date < before))
            for k in range(0, len(gone), IN_CHUNK):
                s.execute(delete(CustomerContactRow).where(CustomerContactRow.interaction_id.in_(gone[k : k + IN_CHUNK])))
            for k in range(0, len(keys), IN_CHUNK):
                s.execute(delete(CustomerRiskRow).where(CustomerRiskRow.customer_key.in_(keys[k : k + IN_CHUNK])))
        rows = list(contacts)
        for k in range(0, len(rows), 2000):
            s.execute(store.db.insert(table), rows[k : k + 2000])
        if relinked:
            stmt = (update(table).where(table.c.interaction_id == bindparam("b_id"))
                    .values(repeat_of=bindparam("b_of"), repeat_days=bindparam("b_days"),
                            repeat_match=bindparam("b_match"), fcr=bindparam("b_fcr")))
            s.execute(stmt, [{"b_id": r["interaction_id"], "b_of": r["repeat_of"], "b_days": r["repeat_days"],
                              "b_match": r["repeat_match"], "b_fcr": r["fcr"]} for r in relinked])
        if risks:
            s.execute(store.db.insert(CustomerRiskRow), [
                {"customer_key": key, "score": score, "points": points, "risk": risk} for key, score, points, risk in risks])
        s.execute(delete(CustomerViewStateRow))
        s.execute(store.db.insert(CustomerViewStateRow), [
            {"id": 1, "source_key": state.source_key, "since": state.since, "until": state.until,
             "labels": dict(state.labels), "checked_at": state.checked_at}])


def clock() -> dt.datetime:
    """The clock the store stamps item statuses and runs with (``checked_at`` is compared with those stamps)."""
    return utcnow()


def run_started(store: Store, run_date: dt.date) -> dt.datetime | None:
    """When the latest run of ``run_date`` started (None: never run)."""
    with store.db.session() as s:
        return s.scalar(select(func.max(Run.started_at)).where(Run.run_date == run_date))


def view_state(store: Store) -> ViewState | None:
    with store.db.session() as s:
        row = s.execute(select(CustomerViewStateRow.source_key, CustomerViewStateRow.since, CustomerViewStateRow.until,
                               CustomerViewStateRow.labels, CustomerViewStateRow.checked_at)
                        .where(CustomerViewStateRow.id == 1)).first()
    return ViewState(row[0], row[1], row[2], dict(row[3] or {}), row[4]) if row else None


def forget_customer_view(store: Store) -> None:
    """Drop the stored view (the next night rebuilds it): used when a night cannot keep it (see the pipeline)."""
    with store.db.session() as s:
        s.execute(delete(CustomerViewStateRow))


def repeat_counts(store: Store, since: dt.date, until: dt.date) -> list[tuple[str, str | None, str | None, str | None,
                                                                              int, int, int]]:
    """(queue key, agent id, topic id, service type, contacts, repeats, first contacts no repeat followed) over the
    known customers' stored contacts dated in [since, until] (an index-only scan)."""
    c = CustomerContactRow
    q = (select(c.queue_key, c.agent_id, c.topic_id, c.service_type, func.count(),
                func.sum(case((c.fcr == 2, 1), else_=0)), func.sum(case((c.fcr == 0, 1), else_=0)))
         .where(c.business_date >= since, c.business_date <= until, c.customer_key.is_not(None))
         .group_by(c.queue_key, c.agent_id, c.topic_id, c.service_type))
    with store.db.session() as s:
        return [(qk, a, t, st, int(n), int(r or 0), int(ok or 0)) for qk, a, t, st, n, r, ok in s.execute(q)]


def unknown_contacts(store: Store, since: dt.date, until: dt.date) -> int:
    """Stored contacts dated in [since, until] without a customer."""
    with store.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(CustomerContactRow).where(
            CustomerContactRow.customer_key.is_(None), CustomerContactRow.business_date >= since,
            CustomerContactRow.business_date <= until)) or 0)


def top_risks(store: Store, limit: int | None) -> list[tuple[str, dict[str, Any]]]:
    """(customer key, risk) of the stored risks scoring at least the ``limit``-th highest score (all when no limit);
    the caller orders them and cuts ties."""
    q = select(CustomerRiskRow.customer_key, CustomerRiskRow.risk)
    with store.db.session() as s:
        if limit:
            floor = s.scalar(select(CustomerRiskRow.score).order_by(CustomerRiskRow.score.desc())
                             .offset(limit - 1).limit(1))
            if floor is not None:
                q = q.where(CustomerRiskRow.score >= floor)
        return [(k, dict(r)) for k, r in s.execute(q)]

"""Routing's learning memory: labelled examples from people's confirmations and corrections, the fitted routing
model (npz bytes, refitted when the examples change), service-type sets per contact, and the topic routes that
earlier nights decided (what the hysteresis of topic routes starts from). Functions over a :class:`voc.store.Store`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from voc.records import Route
from voc.store.schema import Base, FindingRow, RouteMemoryRow, RouteRow, TopicAssignmentRow, utcnow

if TYPE_CHECKING:
    from voc.store import Store

__all__ = [
    "ExampleRow",
    "LearnedExample",
    "RoutingModelRow",
    "ServiceTypeSetRow",
    "StoredModel",
    "add_examples",
    "confirm_route",
    "examples",
    "load_models",
    "previous_topic_routes",
    "recent_topic_members",
    "save_models",
    "service_type_sets",
    "set_service_type_sets",
    "topics_with_examples",
]

TASKS = ("department", "service_type")


class ExampleRow(Base):
    """A text labelled by a person (or learned from route memory); the routing model trains on every row."""

    __tablename__ = "routing_examples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(16), index=True)  # department | service_type
    text: Mapped[str] = mapped_column(Text)  # redacted contact text, as stored in interactions/utterances
    labels: Mapped[list[Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16))  # confirm | correction | memory | manual
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    finding_id: Mapped[str | None] = mapped_column(String(64))
    topic_id: Mapped[str | None] = mapped_column(String(16), index=True)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoutingModelRow(Base):
    """A fitted classifier (npz bytes) and the fingerprint of the examples it was fitted on."""

    __tablename__ = "routing_models"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # departments | service_types
    fingerprint: Mapped[str] = mapped_column(String(64))
    embedder: Mapped[str] = mapped_column(String(200))
    trained_on: Mapped[int] = mapped_column(Integer)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ServiceTypeSetRow(Base):
    """Every service type of a contact (interactions.service_type keeps the primary one)."""

    __tablename__ = "service_type_sets"
    interaction_id: Mapped[str] = mapped_column(String(40), ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True)
    labels: Mapped[list[Any]] = mapped_column(JSON)
    probabilities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@dataclass(frozen=True, slots=True)
class LearnedExample:
    id: int
    task: str
    text: str
    labels: tuple[str, ...]
    source: str
    weight: float
    finding_id: str | None
    topic_id: str | None
    created_by: str | None
    created_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class StoredModel:
    name: str
    fingerprint: str
    embedder: str
    trained_on: int
    state: bytes
    details: dict[str, Any]
    fitted_at: dt.datetime | None


def add_examples(store: Store, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert labelled examples (keys: task, text, labels, source, weight, finding_id, topic_id, created_by, created_at).
    Returns how many were added; an identical (task, text, labels, source, finding) row is not added twice."""
    with store.db.session() as s:
        return _insert_examples(s, rows)


def _insert_examples(s: Any, rows: Iterable[Mapping[str, Any]]) -> int:
    added = 0
    for r in rows:
        if r["task"] not in TASKS:
            raise ValueError(f"routing example task must be one of {TASKS}, got {r['task']!r}")
        text = (r.get("text") or "").strip()
        if not text:
            continue
        labels = list(r["labels"])
        same = s.scalars(select(ExampleRow).where(
            ExampleRow.task == r["task"], ExampleRow.text == text, ExampleRow.source == r["source"],
            ExampleRow.finding_id.is_(None) if r.get("finding_id") is None else ExampleRow.finding_id == r["finding_id"],
        )).all()
        if any(list(x.labels) == labels for x in same):
            continue
        s.add(ExampleRow(task=r["task"], text=text, labels=labels, source=r["source"], weight=float(r.get("weight", 1.0)),
                         finding_id=r.get("finding_id"), topic_id=r.get("topic_id"), created_by=r.get("created_by"),
                         created_at=r.get("created_at") or utcnow()))
        added += 1
    return added


def confirm_route(store: Store, finding_id: str, department: str, by: str | None = None, note: str | None = None,
                  examples: Iterable[Mapping[str, Any]] = ()) -> tuple[Route, str, int]:
    """A person's confirmation or correction, in one transaction: the route fixed to ``department`` (confirmed,
    confidence 1; reason "confirmed by X" or "corrected from D by X", then ``: note`` when given), the topic
    remembered for later nights (route memory), and ``examples`` stored as labelled examples with the source
    ``confirm`` or ``correction`` (a department other than the routed one). Returns (route, source, examples added);
    raises KeyError for an unknown finding. Store.confirm_route calls this without note and examples."""
    with store.db.session() as s:
        finding = s.get(FindingRow, finding_id)
        if finding is None:
            raise KeyError(f"unknown finding {finding_id}")
        row = s.get(RouteRow, finding_id)
        who = by or "a reviewer"
        moved = row is not None and row.department != department
        reason = f"corrected from {row.department} by {who}" if moved else f"confirmed by {who}"
        if note:
            reason = f"{reason}: {note}"[:2000]
        if row is None:
            s.add(RouteRow(finding_id=finding_id, department=department, confidence=1.0, reason=reason, confirmed=True))
        else:
            row.department, row.confidence, row.reason, row.confirmed = department, 1.0, reason, True
        if finding.topic_id:
            s.merge(RouteMemoryRow(topic_id=finding.topic_id, department=department, confirmed_by=by,
                                   confirmed_at=utcnow()))
        source = "correction" if moved else "confirm"
        added = _insert_examples(s, [{**e, "source": source} for e in examples])
    return Route(finding_id, department, 1.0, reason), source, added


def examples(store: Store, task: str | None = None) -> list[LearnedExample]:
    """Learned examples, oldest first (a later label for the same text wins when the model is fitted)."""
    q = select(ExampleRow).order_by(ExampleRow.id)
    if task is not None:
        q = q.where(ExampleRow.task == task)
    with store.db.session() as s:
        return [LearnedExample(r.id, r.task, r.text, tuple(r.labels or ()), r.source, r.weight, r.finding_id, r.topic_id,
                               r.created_by, r.created_at) for r in s.scalars(q)]


def topics_with_examples(store: Store) -> set[str]:
    with store.db.session() as s:
        return {t for t in s.scalars(select(ExampleRow.topic_id).where(ExampleRow.topic_id.is_not(None)).distinct())}


def save_models(store: Store, models: Mapping[str, StoredModel]) -> None:
    with store.db.session() as s:
        for name, m in models.items():
            s.merge(RoutingModelRow(name=name, fingerprint=m.fingerprint, embedder=m.embedder, trained_on=m.trained_on,
                                    state=m.state, details=dict(m.details), fitted_at=m.fitted_at or utcnow()))


def load_models(store: Store) -> dict[str, StoredModel]:
    with store.db.session() as s:
        return {r.name: StoredModel(r.name, r.fingerprint, r.embedder, r.trained_on, r.state, dict(r.details or {}),
                                    r.fitted_at) for r in s.scalars(select(RoutingModelRow))}


def set_service_type_sets(store: Store, sets: Mapping[str, tuple[Sequence[str], Mapping[str, float]]]) -> None:
    """Replace the service-type sets of these interactions: id -> (labels, probability per type)."""
    ids = list(sets)
    with store.db.session() as s:
        for k in range(0, len(ids), 500):
            s.execute(delete(ServiceTypeSetRow).where(ServiceTypeSetRow.interaction_id.in_(ids[k : k + 500])))
        s.add_all(ServiceTypeSetRow(interaction_id=iid, labels=list(labels), probabilities=dict(probs))
                  for iid, (labels, probs) in sets.items())


def service_type_sets(store: Store, interaction_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    ids = list(interaction_ids)
    with store.db.session() as s:
        for k in range(0, len(ids), 500):
            for r in s.scalars(select(ServiceTypeSetRow).where(ServiceTypeSetRow.interaction_id.in_(ids[k : k + 500]))):
                out[r.interaction_id] = tuple(r.labels or ())
    return out


def previous_topic_routes(store: Store, topic_ids: Iterable[str], before: dt.date) -> dict[str, dict[str, Any]]:
    """Per topic, the route of its latest finding dated before ``before``: department, run_date, finding_id,
    confirmed, triaged (a night's own earlier findings never count, so rerunning a night gives the same answer)."""
    wanted = sorted({t for t in topic_ids if t})
    out: dict[str, dict[str, Any]] = {}
    if not wanted:
        return out
    with store.db.session() as s:
        rows = s.execute(
            select(FindingRow.topic_id, FindingRow.run_date, FindingRow.id, RouteRow.department, RouteRow.confirmed,
                   RouteRow.reason)
            .join(RouteRow, RouteRow.finding_id == FindingRow.id)
            .where(FindingRow.topic_id.in_(wanted), FindingRow.run_date < before, FindingRow.kind != "qa_pattern")
            .order_by(FindingRow.run_date, FindingRow.id)
        )
        for tid, day, fid, dept, confirmed, reason in rows:  # later findings overwrite earlier ones
            out[tid] = {"department": dept, "run_date": day, "finding_id": fid, "confirmed": bool(confirmed),
                        "triaged": not confirmed and (reason or "").startswith("triage")}
    return out


def recent_topic_members(store: Store, topic_ids: Iterable[str], since: dt.date, until: dt.date,
                         limit: int = 60) -> dict[str, list[str]]:
    """Up to ``limit`` member interaction ids per topic in [since, until], most recent first."""
    wanted = sorted({t for t in topic_ids if t})
    out: dict[str, list[str]] = {t: [] for t in wanted}
    if not wanted:
        return out
    with store.db.session() as s:
        rows = s.execute(
            select(TopicAssignmentRow.topic_id, TopicAssignmentRow.interaction_id)
            .where(TopicAssignmentRow.topic_id.in_(wanted), TopicAssignmentRow.business_date >= since,
                   TopicAssignmentRow.business_date <= until)
            .order_by(TopicAssignmentRow.business_date.desc(), TopicAssignmentRow.interaction_id)
        )
        for tid, iid in rows:
            if len(out[tid]) < limit:
                out[tid].append(iid)
    return out

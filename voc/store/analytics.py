"""Store access for the date-level stages: embeddings cache, topic registry, findings, routes, deliveries.

A mixin of :class:`voc.store.Store` (kept apart from the per-interaction repository for readability).
Every ``replace_*`` method is idempotent for its run date, so rerunning a stage for a date leaves the same rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select

from voc.records import Finding, Route
from voc.store.schema import (
    DeliveryRow,
    EmbeddingRow,
    FindingRow,
    RouteMemoryRow,
    RouteRow,
    TopicAssignmentRow,
    TopicRow,
    TopicVersionRow,
)

REGISTRY_SNAPSHOT = "_registry"  # topic_versions rows holding the whole registry after a run date
SNAPSHOTS_KEPT = 8  # run dates whose registry snapshot is kept (a rerun restores the one before its date)
_CHUNK = 500


def embedding_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()


def _finding(row: FindingRow) -> Finding:
    return Finding(
        id=row.id, kind=row.kind, run_date=row.run_date, title=row.title, summary=row.summary, topic_id=row.topic_id,
        count=row.count, customers=row.customers, value_weight=row.value_weight, examples=tuple(row.examples or ()),
        interaction_ids=tuple(row.interaction_ids or ()), details=dict(row.details or {}),
    )


def _chunks(seq: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for k in range(0, len(seq), n):
        yield seq[k : k + n]


class AnalyticsStore:
    db: Any  # voc.store.db.Database, set by Store

    # ---- embeddings cache ------------------------------------------------------------------
    def cached_embeddings(self, model: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors already computed by ``model`` for any of ``texts`` (by text)."""
        keys = {embedding_key(model, t): t for t in texts}
        out: dict[str, np.ndarray] = {}
        with self.db.session() as s:
            for chunk in _chunks(list(keys)):
                # two columns, not ORM objects: a night looks up tens of thousands (issue 22)
                for key, vector in s.execute(select(EmbeddingRow.key, EmbeddingRow.vector)
                                             .where(EmbeddingRow.key.in_(list(chunk)))):
                    out[keys[key]] = np.frombuffer(vector, dtype="<f4").copy()
        return out

    def cached_texts(self, model: str, texts: Sequence[str]) -> set[str]:
        """Which of ``texts`` have a vector of ``model`` cached (reads keys only, no vectors)."""
        keys = {embedding_key(model, t): t for t in texts}
        out: set[str] = set()
        with self.db.session() as s:
            for chunk in _chunks(list(keys)):
                out.update(keys[k] for k in s.scalars(select(EmbeddingRow.key).where(EmbeddingRow.key.in_(list(chunk)))))
        return out

    def put_embeddings(self, model: str, texts: Sequence[str], vectors: np.ndarray) -> int:
        """Add vectors for texts not cached yet; returns how many rows were added."""
        have = self.cached_embeddings(model, texts)
        added = 0
        seen: set[str] = set()
        with self.db.session() as s:
            for text, vec in zip(texts, vectors, strict=True):
                if text in have or text in seen:
                    continue
                seen.add(text)
                v = np.asarray(vec, dtype="<f4")
                s.add(EmbeddingRow(key=embedding_key(model, text), model=model, dim=int(v.shape[0]), vector=v.tobytes()))
                added += 1
        return added

    # ---- topic registry ----------------------------------------------------------------------
    def topic_registry_before(self, run_date: dt.date) -> tuple[dt.date | None, dict[str, Any] | None]:
        """The registry as it stood after the latest run date before ``run_date`` (None: start empty)."""
        q = (
            select(TopicVersionRow)
            .where(TopicVersionRow.topic_id == REGISTRY_SNAPSHOT, TopicVersionRow.run_date < run_date)
            .order_by(TopicVersionRow.run_date.desc())
            .limit(1)
        )
        with self.db.session() as s:
            row = s.scalars(q).first()
            return (row.run_date, dict(row.details)) if row else (None, None)

    def latest_topic_date(self) -> dt.date | None:
        q = select(TopicVersionRow.run_date).where(TopicVersionRow.topic_id == REGISTRY_SNAPSHOT)
        with self.db.session() as s:
            dates = list(s.scalars(q))
        return max(dates) if dates else None

    def save_topic_run(self, run_date: dt.date, registry: dict[str, Any], topics: Sequence[Any],
                       events: Sequence[Any]) -> None:
        """Persist one night: the registry snapshot, the current topics, and the night's topic events.

        ``topics`` are :class:`voc.topics.Topic`, ``events`` the :class:`voc.topics.TopicEvent` of ``run_date``.
        """
        with self.db.session() as s:
            s.execute(delete(TopicVersionRow).where(TopicVersionRow.run_date == run_date))
            s.add(TopicVersionRow(topic_id=REGISTRY_SNAPSHOT, run_date=run_date, event="snapshot", label="",
                                  size=len(topics), details=registry))
            for e in events:
                s.add(TopicVersionRow(topic_id=e.topic_id, run_date=run_date, event=e.kind, label="",
                                      size=int(e.size or 0), details={"other": e.other_id, "similarity": e.similarity,
                                                                       "version": e.version}))
            s.execute(delete(TopicRow).where(TopicRow.id.not_in([t.id for t in topics])))
            for t in topics:
                row = s.get(TopicRow, t.id) or TopicRow(id=t.id)
                row.label, row.keywords, row.examples = t.label, list(t.keywords), list(t.examples)
                row.size, row.status, row.merged_into = t.size, t.status, t.merged_into
                row.created_on, row.last_seen = t.created, t.last_seen
                row.state = {"version": t.version, "embedder": t.embedder}
                s.merge(row)
            # Keep the snapshots of the SNAPSHOTS_KEPT run dates up to this one (a rerun of one of those nights
            # restores the night before it). Only dates before this night are pruned: when an old night is
            # reprocessed, the nights after it keep their snapshots until they are reprocessed in turn.
            earlier = sorted(set(s.scalars(select(TopicVersionRow.run_date).where(
                TopicVersionRow.topic_id == REGISTRY_SNAPSHOT, TopicVersionRow.run_date <= run_date))), reverse=True)
            if len(earlier) > SNAPSHOTS_KEPT:
                s.execute(delete(TopicVersionRow).where(TopicVersionRow.topic_id == REGISTRY_SNAPSHOT,
                                                        TopicVersionRow.run_date < earlier[SNAPSHOTS_KEPT - 1]))

    def topics(self, status: str | None = None) -> list[dict[str, Any]]:
        q = select(TopicRow).order_by(TopicRow.id)
        if status:
            q = q.where(TopicRow.status == status)
        with self.db.session() as s:
            return [{"id": t.id, "label": t.label, "keywords": list(t.keywords or ()), "examples": list(t.examples or ()),
                     "size": t.size, "status": t.status, "merged_into": t.merged_into,
                     "created_on": t.created_on.isoformat(), "last_seen": t.last_seen.isoformat()}
                    for t in s.scalars(q)]

    def replace_topic_assignments(self, run_date: dt.date, rows: Sequence[tuple[str, str, float, dt.date]]) -> None:
        """A night's assignments, (interaction_id, topic_id, similarity, business_date); the date's earlier ones go.

        Rows of earlier dates (documents from the noise pool that found a topic tonight) keep their own date.
        """
        with self.db.session() as s:
            s.execute(delete(TopicAssignmentRow).where((TopicAssignmentRow.business_date == run_date)
                                                       | (TopicAssignmentRow.assigned_on == run_date)))
            ids = [r[0] for r in rows]
            for chunk in _chunks(ids):  # an item re-dated by reprocessing keeps one row
                s.execute(delete(TopicAssignmentRow).where(TopicAssignmentRow.interaction_id.in_(list(chunk))))
            s.flush()
            s.add_all(TopicAssignmentRow(interaction_id=i, topic_id=t, similarity=float(sim), business_date=d,
                                         assigned_on=run_date) for i, t, sim, d in rows)

    def assigned_before(self, ids: Sequence[str], night: dt.date) -> set[str]:
        """Which of ``ids`` already had a topic before ``night`` (assignments made on or after it do not count,
        so a rerun of a night sees the same noise pool as its first run)."""
        out: set[str] = set()
        with self.db.session() as s:
            for chunk in _chunks(list(ids)):
                q = select(TopicAssignmentRow.interaction_id).where(
                    TopicAssignmentRow.interaction_id.in_(list(chunk)),
                    func.coalesce(TopicAssignmentRow.assigned_on, TopicAssignmentRow.business_date) < night)
                out.update(s.scalars(q))
        return out

    def topic_counts(self, since: dt.date, until: dt.date) -> list[tuple[str, dt.date]]:
        """(topic_id, business_date) per assigned interaction in the date range."""
        q = select(TopicAssignmentRow.topic_id, TopicAssignmentRow.business_date).where(
            TopicAssignmentRow.business_date >= since, TopicAssignmentRow.business_date <= until)
        with self.db.session() as s:
            return [(t, d) for t, d in s.execute(q)]

    def add_topic_assignments(self, rows: Sequence[tuple[str, str, float, dt.date]],
                              assigned_on: dt.date | None = None) -> None:
        """Add or overwrite single assignments (``voc watch``), leaving the date's other rows alone.

        The nightly topics stage later replaces the whole date with :meth:`replace_topic_assignments`.
        ``assigned_on`` (default: each row's business date) is the night the row counts for: ``voc watch`` passes
        its own day, so a late complaint of a night already run is still in the next night's noise pool.
        """
        with self.db.session() as s:
            ids = [r[0] for r in rows]
            for chunk in _chunks(ids):
                s.execute(delete(TopicAssignmentRow).where(TopicAssignmentRow.interaction_id.in_(list(chunk))))
            s.flush()
            s.add_all(TopicAssignmentRow(interaction_id=i, topic_id=t, similarity=float(sim), business_date=d,
                                         assigned_on=assigned_on or d) for i, t, sim, d in rows)

    def topic_events(self, topic_id: str) -> list[dict[str, Any]]:
        """History of one topic from topic_versions, oldest first: its own events and topics merged into it."""
        q = (select(TopicVersionRow).where(TopicVersionRow.topic_id != REGISTRY_SNAPSHOT)
             .where((TopicVersionRow.topic_id == topic_id) | (TopicVersionRow.event == "merged"))
             .order_by(TopicVersionRow.run_date, TopicVersionRow.id))
        with self.db.session() as s:
            rows = [r for r in s.scalars(q)
                    if r.topic_id == topic_id or (r.details or {}).get("other") == topic_id]
            return [{"date": r.run_date.isoformat(), "event": r.event, "topic_id": r.topic_id,
                     "other": (r.details or {}).get("other"), "size": r.size,
                     "similarity": (r.details or {}).get("similarity"), "version": (r.details or {}).get("version")}
                    for r in rows]

    def latest_topic_finding(self, topic_id: str, kinds: Sequence[str] | None = None) -> Finding | None:
        """The most recent finding about ``topic_id`` (any kind unless ``kinds``)."""
        q = select(FindingRow).where(FindingRow.topic_id == topic_id)
        if kinds is not None:
            q = q.where(FindingRow.kind.in_(list(kinds)))
        q = q.order_by(FindingRow.run_date.desc(), FindingRow.id).limit(1)
        with self.db.session() as s:
            row = s.scalars(q).first()
            return _finding(row) if row else None

    def topic_assignments(self, ids: Sequence[str]) -> dict[str, tuple[str, float]]:
        out: dict[str, tuple[str, float]] = {}
        with self.db.session() as s:
            for chunk in _chunks(list(ids)):
                q = select(TopicAssignmentRow).where(TopicAssignmentRow.interaction_id.in_(list(chunk)))
                for r in s.scalars(q):
                    out[r.interaction_id] = (r.topic_id, r.similarity)
        return out

    # ---- findings and routes -----------------------------------------------------------------
    def replace_findings(self, run_date: dt.date, kinds: Sequence[str], findings: Sequence[Finding]) -> None:
        """Replace the date's findings of ``kinds`` (their routes go too, unless confirmed by a person)."""
        with self.db.session() as s:
            old = list(s.scalars(select(FindingRow.id).where(FindingRow.run_date == run_date,
                                                              FindingRow.kind.in_(list(kinds)))))
            confirmed = {r.finding_id: r for r in s.scalars(select(RouteRow).where(RouteRow.finding_id.in_(old),
                                                                                       RouteRow.confirmed.is_(True)))}
            kept = {fid: (r.department, r.confidence, r.reason) for fid, r in confirmed.items()}
            s.execute(delete(RouteRow).where(RouteRow.finding_id.in_(old)))
            s.execute(delete(FindingRow).where(FindingRow.id.in_(old)))
            s.flush()
            for f in findings:
                s.add(FindingRow(id=f.id, kind=f.kind, run_date=f.run_date, title=f.title, summary=f.summary,
                                 topic_id=f.topic_id, count=f.count, customers=f.customers, value_weight=f.value_weight,
                                 examples=list(f.examples), interaction_ids=list(f.interaction_ids),
                                 details=dict(f.details)))
            s.flush()
            for fid, (dept, conf, reason) in kept.items():
                if any(f.id == fid for f in findings):
                    s.add(RouteRow(finding_id=fid, department=dept, confidence=conf, reason=reason, confirmed=True))

    def update_findings(self, findings: Sequence[Finding]) -> None:
        """Write back customers/value weight (and details) of existing findings."""
        with self.db.session() as s:
            for f in findings:
                row = s.get(FindingRow, f.id)
                if row is not None:
                    row.customers, row.value_weight, row.details = f.customers, f.value_weight, dict(f.details)

    def findings(self, run_date: dt.date | None = None, ids: Sequence[str] | None = None,
                 since: dt.date | None = None, kinds: Sequence[str] | None = None) -> list[Finding]:
        q = select(FindingRow)
        if run_date is not None:
            q = q.where(FindingRow.run_date == run_date)
        if since is not None:
            q = q.where(FindingRow.run_date >= since)
        if ids is not None:
            q = q.where(FindingRow.id.in_(list(ids)))
        if kinds is not None:
            q = q.where(FindingRow.kind.in_(list(kinds)))
        q = q.order_by(FindingRow.run_date, FindingRow.value_weight.desc(), FindingRow.id)
        with self.db.session() as s:
            return [_finding(r) for r in s.scalars(q)]

    def replace_routes(self, routes: Sequence[Route]) -> int:
        """Write routes; a route a person confirmed is never overwritten. Returns how many were written."""
        written = 0
        with self.db.session() as s:
            for r in routes:
                row = s.get(RouteRow, r.finding_id)
                if row is not None and row.confirmed:
                    continue
                if row is None:
                    row = RouteRow(finding_id=r.finding_id)
                    s.add(row)
                row.department, row.confidence, row.reason, row.confirmed = r.department, r.confidence, r.reason, False
                written += 1
        return written

    def routes(self, finding_ids: Sequence[str]) -> list[Route]:
        out: list[Route] = []
        with self.db.session() as s:
            for chunk in _chunks(list(finding_ids)):
                for r in s.scalars(select(RouteRow).where(RouteRow.finding_id.in_(list(chunk)))):
                    out.append(Route(r.finding_id, r.department, r.confidence,
                                     r.reason + (" (confirmed)" if r.confirmed and "(confirmed)" not in r.reason else "")))
        order = {f: i for i, f in enumerate(finding_ids)}
        return sorted(out, key=lambda r: order.get(r.finding_id, 0))

    def confirm_route(self, finding_id: str, department: str, by: str | None = None) -> Route:
        """A person confirms (or corrects) a finding's department; its topic remembers it for later nights
        (:func:`voc.store.routing_examples.confirm_route` without a note or examples)."""
        from voc.store.routing_examples import confirm_route

        return confirm_route(self, finding_id, department, by)[0]

    def route_memory(self) -> dict[str, dict[str, int]]:
        """Confirmed topic -> department routes, in :class:`voc.routing.RouteMemory` form."""
        with self.db.session() as s:
            return {r.topic_id: {r.department: 1} for r in s.scalars(select(RouteMemoryRow))}

    # ---- deliveries --------------------------------------------------------------------------
    def add_deliveries(self, run_date: dt.date, rows: Sequence[Mapping[str, Any]]) -> None:
        with self.db.session() as s:
            s.add_all(DeliveryRow(run_date=run_date, department=r.get("department", ""), target=r["target"],
                                  kind=r["kind"], status=r["status"], attempts=int(r.get("attempts", 0)),
                                  error=r.get("error"), location=r.get("location"),
                                  content_hash=r.get("content_hash"), is_update=bool(r.get("is_update")))
                      for r in rows)

    def delivered_digests(self, run_date: dt.date) -> dict[tuple[str, str], str]:
        """(department, webhook) -> content hash of the digest last delivered in full for ``run_date``."""
        q = (select(DeliveryRow.department, DeliveryRow.target, DeliveryRow.content_hash)
             .where(DeliveryRow.run_date == run_date, DeliveryRow.content_hash.is_not(None))
             .order_by(DeliveryRow.id))
        with self.db.session() as s:
            return {(dept, target): h for dept, target, h in s.execute(q)}  # later rows win

    def deliveries(self, run_date: dt.date | None = None) -> list[dict[str, Any]]:
        q = select(DeliveryRow).order_by(DeliveryRow.id)
        if run_date is not None:
            q = q.where(DeliveryRow.run_date == run_date)
        with self.db.session() as s:
            return [{"run_date": r.run_date.isoformat(), "department": r.department, "target": r.target, "kind": r.kind,
                     "status": r.status, "attempts": r.attempts, "error": r.error, "location": r.location,
                     "at": r.at.isoformat()} for r in s.scalars(q)]

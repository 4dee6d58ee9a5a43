"""The QA review queue: enqueue, claim, resolve, appeal — safe when reviewers race.

Claims are compare-and-set updates (``... WHERE status = 'open'``), so two reviewers can never
hold the same item; on PostgreSQL ``claim_next`` also picks with ``FOR UPDATE SKIP LOCKED`` so
concurrent reviewers get different items without waiting on each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from voc.store.db import Database
from voc.store.schema import QAReviewRow, utcnow

OPEN, CLAIMED, RESOLVED, APPEALED, CLOSED = "open", "claimed", "resolved", "appealed", "closed"


class ReviewError(RuntimeError):
    """The action is not allowed in the item's current state (message says why)."""


@dataclass(frozen=True, slots=True)
class ReviewItem:
    id: int
    interaction_id: str
    queue: str
    reasons: tuple[str, ...]
    priority: float
    status: str
    assignee: str | None
    score_override: float | None
    comment: str | None
    appeal_reason: str | None
    history: tuple[dict[str, Any], ...]
    created_at: dt.datetime


def _item(row: QAReviewRow) -> ReviewItem:
    return ReviewItem(row.id, row.interaction_id, row.queue, tuple(row.reasons or ()), row.priority, row.status,
                      row.assignee, row.score_override, row.comment, row.appeal_reason, tuple(row.history or ()),
                      row.created_at)


def _event(action: str, who: str | None, **extra: Any) -> dict[str, Any]:
    return {"action": action, "by": who, "at": utcnow().isoformat(), **extra}


class ReviewQueue:
    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue(self, interaction_id: str, queue: str, reasons: Sequence[str], priority: float) -> str:
        """Add or refresh an item. Items already claimed or reviewed keep their state."""
        with self.db.session() as s:
            row = s.scalars(select(QAReviewRow).where(QAReviewRow.interaction_id == interaction_id)).first()
            if row is None:
                s.add(QAReviewRow(interaction_id=interaction_id, queue=queue, reasons=list(reasons), priority=priority,
                                  status=OPEN, history=[_event("enqueued", None, reasons=list(reasons))]))
                return "new"
            if row.status == OPEN:
                row.reasons, row.priority, row.queue = list(reasons), priority, queue
                return "updated"
            return "kept"

    def withdraw(self, interaction_id: str) -> bool:
        """Remove an open item whose call no longer needs review (e.g. after reprocessing)."""
        with self.db.session() as s:
            row = s.scalars(select(QAReviewRow).where(QAReviewRow.interaction_id == interaction_id)).first()
            if row is not None and row.status == OPEN:
                s.delete(row)
                return True
            return False

    def get(self, item_id: int) -> ReviewItem:
        with self.db.session() as s:
            row = s.get(QAReviewRow, item_id)
            if row is None:
                raise ReviewError(f"review item {item_id} does not exist")
            return _item(row)

    def items(self, *, status: str | None = None, queue: str | None = None, reason: str | None = None,
              assignee: str | None = None, limit: int = 200) -> list[ReviewItem]:
        q = select(QAReviewRow)
        if status:
            q = q.where(QAReviewRow.status == status)
        if queue:
            q = q.where(QAReviewRow.queue == queue)
        if assignee:
            q = q.where(QAReviewRow.assignee == assignee)
        q = q.order_by(QAReviewRow.priority.desc(), QAReviewRow.id)
        with self.db.session() as s:
            rows = [_item(r) for r in s.scalars(q)]
        if reason:
            rows = [r for r in rows if any(x.startswith(reason) for x in r.reasons)]
        return rows[:limit]

    def claim(self, item_id: int, reviewer: str) -> ReviewItem:
        with self.db.session() as s:
            res = s.execute(
                update(QAReviewRow)
                .where(QAReviewRow.id == item_id, QAReviewRow.status == OPEN)
                .values(status=CLAIMED, assignee=reviewer, claimed_at=utcnow())
            )
            if res.rowcount != 1:
                row = s.get(QAReviewRow, item_id)
                if row is None:
                    raise ReviewError(f"review item {item_id} does not exist")
                raise ReviewError(f"review item {item_id} is {row.status}" + (f" by {row.assignee}" if row.assignee else ""))
            row = s.get(QAReviewRow, item_id)
            s.refresh(row)
            row.history = [*row.history, _event("claimed", reviewer)]
            return _item(row)

    def claim_next(self, reviewer: str, queue: str | None = None) -> ReviewItem | None:
        """Claim the highest-priority open item (None when the queue is empty)."""
        for _ in range(20):  # lost races on SQLite just retry with the next item
            with self.db.session() as s:
                q = select(QAReviewRow.id).where(QAReviewRow.status == OPEN)
                if queue:
                    q = q.where(QAReviewRow.queue == queue)
                q = q.order_by(QAReviewRow.priority.desc(), QAReviewRow.id).limit(1)
                if self.db.dialect == "postgresql":
                    q = q.with_for_update(skip_locked=True)
                item_id = s.scalar(q)
                if item_id is None:
                    return None
                res = s.execute(
                    update(QAReviewRow)
                    .where(QAReviewRow.id == item_id, QAReviewRow.status == OPEN)
                    .values(status=CLAIMED, assignee=reviewer, claimed_at=utcnow())
                )
                if res.rowcount == 1:
                    row = s.get(QAReviewRow, item_id)
                    s.refresh(row)
                    row.history = [*row.history, _event("claimed", reviewer)]
                    return _item(row)
        return None

    def _transition(self, item_id: int, who: str, allowed: set[str], action: str, *, must_own: bool,
                    **changes: Any) -> ReviewItem:
        with self.db.session() as s:
            q = select(QAReviewRow).where(QAReviewRow.id == item_id)
            if self.db.dialect == "postgresql":
                q = q.with_for_update()
            row = s.scalars(q).first()
            if row is None:
                raise ReviewError(f"review item {item_id} does not exist")
            if row.status not in allowed:
                raise ReviewError(f"cannot {action} review item {item_id}: it is {row.status}")
            if must_own and row.assignee != who:
                raise ReviewError(f"cannot {action} review item {item_id}: it is claimed by {row.assignee}, not {who}")
            for k, v in changes.items():
                setattr(row, k, v)
            row.history = [*row.history, _event(action, who, **{k: v for k, v in changes.items()
                                                                if k in ("score_override", "comment", "appeal_reason")})]
            return _item(row)

    def release(self, item_id: int, reviewer: str) -> ReviewItem:
        return self._transition(item_id, reviewer, {CLAIMED}, "released", must_own=True, status=OPEN, assignee=None,
                                claimed_at=None)

    def annotate(self, item_id: int, reviewer: str, *, score_override: float | None = None,
                 comment: str | None = None) -> ReviewItem:
        """Record a score override and/or a comment on one's claimed item, without resolving it yet."""
        if score_override is not None and not 0 <= score_override <= 100:
            raise ReviewError("score_override must be between 0 and 100")
        changes: dict[str, Any] = {}
        if score_override is not None:
            changes["score_override"] = score_override
        if comment is not None:
            changes["comment"] = comment
        if not changes:
            raise ReviewError("give a score override, a comment or both")
        return self._transition(item_id, reviewer, {CLAIMED}, "annotated", must_own=True, **changes)

    def resolve(self, item_id: int, reviewer: str, *, score_override: float | None = None,
                comment: str | None = None) -> ReviewItem:
        if score_override is not None and not 0 <= score_override <= 100:
            raise ReviewError("score_override must be between 0 and 100")
        return self._transition(item_id, reviewer, {CLAIMED}, "resolved", must_own=True, status=RESOLVED,
                                score_override=score_override, comment=comment, resolved_by=reviewer,
                                resolved_at=utcnow())

    def appeal(self, item_id: int, by: str, reason: str) -> ReviewItem:
        if not reason.strip():
            raise ReviewError("an appeal needs a reason")
        return self._transition(item_id, by, {RESOLVED}, "appealed", must_own=False, status=APPEALED,
                                appeal_reason=reason, appealed_by=by, appealed_at=utcnow())

    def decide_appeal(self, item_id: int, supervisor: str, *, score_override: float | None = None,
                      comment: str | None = None) -> ReviewItem:
        changes: dict[str, Any] = {"status": CLOSED}
        if score_override is not None:
            changes["score_override"] = score_override
        if comment:
            changes["comment"] = comment
        return self._transition(item_id, supervisor, {APPEALED}, "appeal decided", must_own=False, **changes)

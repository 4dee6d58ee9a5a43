"""The QA review queue: enqueue, claim, resolve, appeal, calibration — safe when reviewers race.

Claims are compare-and-set updates (``... WHERE status = 'open' OR <lease expired>``), so two
reviewers can never hold the same item; on PostgreSQL ``claim_next`` also picks with
``FOR UPDATE SKIP LOCKED`` so concurrent reviewers get different items without waiting on each other.

Step decisions: resolve, annotate (an override) and the decision of an appeal may carry the reviewer's verdict per rule
(:class:`~voc.store.qa_examples.StepDecision`); each is stored, in the same transaction, as a labelled example the
step model learns from (``voc qa retrain``).

Leases: a claim older than ``lease_minutes`` (setting ``qa.claim_lease_minutes``) is open again for
``claim``/``claim_next`` — checked in the same compare-and-set condition, so no background job is
needed. Until someone else takes it over, the original reviewer may still resolve or release it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select, update

from voc.store.db import Database
from voc.store.qa_examples import StepDecision, record_step_decisions, step_agreement, step_model_reports
from voc.store.schema import QAResultRow, QAReviewRow, utcnow

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
    claimed_at: dt.datetime | None = None


def _item(row: QAReviewRow) -> ReviewItem:
    return ReviewItem(row.id, row.interaction_id, row.queue, tuple(row.reasons or ()), row.priority, row.status,
                      row.assignee, row.score_override, row.comment, row.appeal_reason, tuple(row.history or ()),
                      row.created_at, row.claimed_at)


def _event(action: str, who: str | None, **extra: Any) -> dict[str, Any]:
    return {"action": action, "by": who, "at": utcnow().isoformat(), **extra}


class ReviewQueue:
    def __init__(self, db: Database, lease_minutes: float = 30.0) -> None:
        if lease_minutes <= 0:
            raise ValueError(f"lease_minutes must be positive, got {lease_minutes}")
        self.db = db
        self.lease_minutes = lease_minutes

    def _claimable(self):
        """Open, or claimed longer ago than the lease (SQL condition; evaluated at the update)."""
        cutoff = utcnow() - dt.timedelta(minutes=self.lease_minutes)
        return or_(QAReviewRow.status == OPEN,
                   and_(QAReviewRow.status == CLAIMED, QAReviewRow.claimed_at.is_not(None),
                        QAReviewRow.claimed_at < cutoff))

    def _claimed(self, s, item_id: int, reviewer: str, before: tuple[str, str | None]) -> ReviewItem:
        row = s.get(QAReviewRow, item_id)
        s.refresh(row)
        extra = {"lease_expired_for": before[1]} if before[0] == CLAIMED and before[1] else {}
        row.history = [*row.history, _event("claimed", reviewer, **extra)]
        return _item(row)

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
        """Claim one item: it must be open, or claimed with an expired lease (then ``reviewer`` takes it over)."""
        with self.db.session() as s:
            before = s.execute(select(QAReviewRow.status, QAReviewRow.assignee).where(QAReviewRow.id == item_id)).first()
            if before is None:
                raise ReviewError(f"review item {item_id} does not exist")
            res = s.execute(
                update(QAReviewRow)
                .where(QAReviewRow.id == item_id, self._claimable())
                .values(status=CLAIMED, assignee=reviewer, claimed_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if res.rowcount != 1:
                row = s.get(QAReviewRow, item_id)
                s.refresh(row)
                raise ReviewError(f"review item {item_id} is {row.status}" + (f" by {row.assignee}" if row.assignee else ""))
            return self._claimed(s, item_id, reviewer, (before[0], before[1]))

    def claim_next(self, reviewer: str, queue: str | None = None) -> ReviewItem | None:
        """Claim the highest-priority open item (None when the queue is empty)."""
        for _ in range(20):  # lost races on SQLite just retry with the next item
            with self.db.session() as s:
                q = select(QAReviewRow.id, QAReviewRow.status, QAReviewRow.assignee).where(self._claimable())
                if queue:
                    q = q.where(QAReviewRow.queue == queue)
                q = q.order_by(QAReviewRow.priority.desc(), QAReviewRow.id).limit(1)
                if self.db.dialect == "postgresql":
                    q = q.with_for_update(skip_locked=True)
                picked = s.execute(q).first()
                if picked is None:
                    return None
                item_id = picked[0]
                res = s.execute(
                    update(QAReviewRow)
                    .where(QAReviewRow.id == item_id, self._claimable())
                    .values(status=CLAIMED, assignee=reviewer, claimed_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
                if res.rowcount == 1:
                    return self._claimed(s, item_id, reviewer, (picked[1], picked[2]))
        return None

    def _transition(self, item_id: int, who: str, allowed: set[str], action: str, *, must_own: bool,
                    steps: Sequence[StepDecision] = (), source: str = "resolve", **changes: Any) -> ReviewItem:
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
            recorded: list[dict[str, Any]] = []
            if steps:
                try:
                    recorded = record_step_decisions(s, row.interaction_id, steps, source=source, reviewer=who,
                                                     review_id=row.id)
                except ValueError as exc:
                    raise ReviewError(str(exc)) from None
            for k, v in changes.items():
                setattr(row, k, v)
            extra = {k: v for k, v in changes.items() if k in ("score_override", "comment", "appeal_reason")}
            if recorded:
                extra["steps"] = recorded
            row.history = [*row.history, _event(action, who, **extra)]
            return _item(row)

    def release(self, item_id: int, reviewer: str) -> ReviewItem:
        return self._transition(item_id, reviewer, {CLAIMED}, "released", must_own=True, status=OPEN, assignee=None,
                                claimed_at=None)

    def annotate(self, item_id: int, reviewer: str, *, score_override: float | None = None,
                 comment: str | None = None, steps: Sequence[StepDecision] = ()) -> ReviewItem:
        """Record a score override, a comment and/or step verdicts (overrides) on one's claimed item, without
        resolving it yet."""
        if score_override is not None and not 0 <= score_override <= 100:
            raise ReviewError("score_override must be between 0 and 100")
        changes: dict[str, Any] = {}
        if score_override is not None:
            changes["score_override"] = score_override
        if comment is not None:
            changes["comment"] = comment
        if not changes and not steps:
            raise ReviewError("give a score override, a comment, step verdicts or several")
        return self._transition(item_id, reviewer, {CLAIMED}, "annotated", must_own=True, steps=steps,
                                source="override", **changes)

    def resolve(self, item_id: int, reviewer: str, *, score_override: float | None = None,
                comment: str | None = None, steps: Sequence[StepDecision] = ()) -> ReviewItem:
        """Resolve one's claimed item; ``steps``: the reviewer's verdict per rule, kept as labelled examples."""
        if score_override is not None and not 0 <= score_override <= 100:
            raise ReviewError("score_override must be between 0 and 100")
        return self._transition(item_id, reviewer, {CLAIMED}, "resolved", must_own=True, steps=steps,
                                source="resolve", status=RESOLVED, score_override=score_override, comment=comment,
                                resolved_by=reviewer, resolved_at=utcnow())

    def appeal(self, item_id: int, by: str, reason: str) -> ReviewItem:
        if not reason.strip():
            raise ReviewError("an appeal needs a reason")
        return self._transition(item_id, by, {RESOLVED}, "appealed", must_own=False, status=APPEALED,
                                appeal_reason=reason, appealed_by=by, appealed_at=utcnow())

    def decide_appeal(self, item_id: int, supervisor: str, *, score_override: float | None = None,
                      comment: str | None = None, steps: Sequence[StepDecision] = ()) -> ReviewItem:
        """Close an appealed item; ``steps`` supersede the first reviewer's step verdicts on the same rules."""
        changes: dict[str, Any] = {"status": CLOSED}
        if score_override is not None:
            changes["score_override"] = score_override
        if comment:
            changes["comment"] = comment
        return self._transition(item_id, supervisor, {APPEALED}, "appeal decided", must_own=False, steps=steps,
                                source="appeal", **changes)

    # ---- calibration -------------------------------------------------------------------------

    def calibration(self, *, pass_mark: float = 70.0, tolerance: float = 5.0,
                    queue: str | None = None) -> CalibrationReport:
        """How reviewers compare with the machine score and, after appeals, with each other.

        Reviewer vs machine: each first review (the ``resolved`` event) of an item with a machine score;
        an override counts when the reviewer gave a score, ``mean_abs_diff`` is |override - machine| over
        those overrides. Reviewer vs reviewer: items whose appeal was decided; the second reviewer's score
        (or the first one's when the appeal kept it) against the first reviewer's (or the machine's when
        the first reviewer did not override). ``agreement`` = share within ``tolerance`` points,
        ``same_verdict`` = share on the same side of ``pass_mark``.
        """
        q = select(QAReviewRow, QAResultRow.score).outerjoin(
            QAResultRow, QAResultRow.interaction_id == QAReviewRow.interaction_id
        ).where(QAReviewRow.status.in_([RESOLVED, APPEALED, CLOSED]))
        if queue:
            q = q.where(QAReviewRow.queue == queue)
        per: dict[str, list[float | None]] = {}  # reviewer -> [override-diff or None per review]
        pairs: list[tuple[str, str, float, float]] = []
        with self.db.session() as s:
            rows = [(r, machine) for r, machine in s.execute(q)]
        for row, machine in rows:
            first = next((h for h in row.history or () if h.get("action") == "resolved"), None)
            if first is None:
                continue
            first_score = first.get("score_override")
            if machine is not None:
                per.setdefault(first.get("by") or "?", []).append(
                    abs(first_score - machine) if first_score is not None else None)
            decided = next((h for h in reversed(row.history or ()) if h.get("action") == "appeal decided"), None)
            if decided is None:
                continue
            a = first_score if first_score is not None else machine
            if a is None:
                continue
            b = decided.get("score_override")
            pairs.append((first.get("by") or "?", decided.get("by") or "?", a, b if b is not None else a))

        def stats(diffs: list[float | None]) -> ReviewerCalibration:
            over = [d for d in diffs if d is not None]
            return ReviewerCalibration(len(diffs), len(over), round(len(over) / len(diffs), 3) if diffs else 0.0,
                                       round(sum(over) / len(over), 2) if over else None)

        everyone = [d for ds in per.values() for d in ds]
        diffs = [abs(a - b) for _, _, a, b in pairs]
        by_pair: dict[tuple[str, str], list[float]] = {}
        for first_by, second_by, a, b in pairs:
            by_pair.setdefault((first_by, second_by), []).append(abs(a - b))
        rr = ReviewerAgreement(
            pairs=len(pairs),
            mean_abs_diff=round(sum(diffs) / len(diffs), 2) if diffs else None,
            agreement=round(sum(d <= tolerance for d in diffs) / len(diffs), 3) if diffs else None,
            same_verdict=round(sum((a >= pass_mark) == (b >= pass_mark) for _, _, a, b in pairs) / len(pairs), 3)
            if pairs else None,
            tolerance=tolerance,
            by_pair=tuple({"first": f, "second": sec, "n": len(ds), "mean_abs_diff": round(sum(ds) / len(ds), 2)}
                          for (f, sec), ds in sorted(by_pair.items())),
        )
        script = None
        if queue:
            with self.db.session() as s:
                script = s.scalars(select(QAResultRow.script).where(QAResultRow.queue == queue).limit(1)).first()
        return CalibrationReport(stats(everyone), {k: stats(v) for k, v in sorted(per.items())}, rr,
                                 step_agreement(self.db, script), tuple(step_model_reports(self.db, script, limit=5)))


@dataclass(frozen=True, slots=True)
class ReviewerCalibration:
    """One reviewer (or everyone) against the machine score."""

    reviewed: int  # first reviews of items that have a machine score
    overrides: int  # of those, how many gave their own score
    override_share: float
    mean_abs_diff: float | None  # mean |override - machine score| over the overrides


@dataclass(frozen=True, slots=True)
class ReviewerAgreement:
    """First reviewer against the second review of appealed items."""

    pairs: int
    mean_abs_diff: float | None
    agreement: float | None  # share of pairs within ``tolerance`` points
    same_verdict: float | None  # share of pairs on the same side of the pass mark
    tolerance: float
    by_pair: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    reviewer_vs_machine: ReviewerCalibration
    by_reviewer: dict[str, ReviewerCalibration]
    reviewer_vs_reviewer: ReviewerAgreement
    # per rule: reviewers' step decisions vs the machine's verdict when they decided (voc.store.qa_examples)
    by_step: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the newest step-model refits: agreement with reviewers per step before and after each
    retrains: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"reviewer_vs_machine": asdict(self.reviewer_vs_machine),
                "by_reviewer": {k: asdict(v) for k, v in self.by_reviewer.items()},
                "reviewer_vs_reviewer": {**asdict(self.reviewer_vs_reviewer),
                                         "by_pair": list(self.reviewer_vs_reviewer.by_pair)},
                "by_step": dict(self.by_step), "retrains": list(self.retrains)}

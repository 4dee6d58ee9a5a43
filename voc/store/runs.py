"""Runs, stage runs and per-item stage status: what ran for which business date, and what each item still needs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select

from voc.records import StageResult
from voc.store.db import Database
from voc.store.schema import InteractionRow, ItemStatus, Run, StageRun, utcnow


class RunStore:
    """Mixin of :class:`voc.store.Store`: runs, stage runs and item status."""

    db: Database

    # ---- runs -------------------------------------------------------------------------------
    def start_run(self, run_date: dt.date, stages: Sequence[str], trigger: str, key: str | None = None) -> int:
        """Record a run. With ``key`` (an orchestrator's run id), a running run with the same key, date and
        trigger is reused, so a retried start task does not leave an orphan run behind."""
        with self.db.session() as s:
            if key:
                q = select(Run).where(Run.run_date == run_date, Run.trigger == trigger, Run.status == "running")
                for run in s.scalars(q.order_by(Run.id.desc())):
                    if (run.details or {}).get("key") == key:
                        return run.id
            run = Run(run_date=run_date, status="running", trigger=trigger, stages=list(stages),
                      details={"key": key} if key else {})
            s.add(run)
            s.flush()
            return run.id

    def resumable_run(self, run_date: dt.date) -> int | None:
        """The latest unfinished run for the date, if any (a crash left it 'running' or 'failed')."""
        with self.db.session() as s:
            row = s.scalars(
                select(Run).where(Run.run_date == run_date).order_by(Run.id.desc()).limit(1)
            ).first()
            if row is not None and row.status in ("running", "failed"):
                return row.id
            return None

    def finish_run(self, run_id: int, status: str, details: dict[str, Any] | None = None) -> None:
        with self.db.session() as s:
            run = s.get(Run, run_id)
            run.status = status
            run.finished_at = utcnow()
            if details is not None:
                run.details = {**(run.details or {}), **details}

    def latest_run(self, run_date: dt.date) -> dict[str, Any] | None:
        """{"id", "status", "stages"} of the newest run of the date, or None."""
        with self.db.session() as s:
            row = s.scalars(select(Run).where(Run.run_date == run_date).order_by(Run.id.desc()).limit(1)).first()
            return None if row is None else {"id": row.id, "status": row.status, "stages": list(row.stages or [])}

    def close_stale(self, run_date: dt.date, keep_run: int | None = None) -> int:
        """Close what a killed process left 'running' for ``run_date``: its stage rows become 'failed' (interrupted),
        and so do its runs other than ``keep_run`` (the one being resumed). Call it only while holding the date's
        run lock (:mod:`voc.store.locks`), when nothing else can be running; runs of an orchestrator (a ``key``)
        are left alone. Returns the number of stage rows closed."""
        now = utcnow()
        closed = 0
        with self.db.session() as s:
            runs = [r for r in s.scalars(select(Run).where(Run.run_date == run_date, Run.status == "running"))
                    if not (r.details or {}).get("key")]
            for run in runs:
                for row in s.scalars(select(StageRun).where(StageRun.run_id == run.id, StageRun.status == "running")):
                    row.status, row.finished_at = "failed", now
                    row.error = "interrupted: the process stopped before the stage finished (closed on the next run)"
                    closed += 1
                if run.id != keep_run:
                    run.status, run.finished_at = "failed", now
        return closed

    def reopen_run(self, run_id: int) -> None:
        with self.db.session() as s:
            s.get(Run, run_id).status = "running"

    def done_stages(self, run_id: int) -> set[str]:
        with self.db.session() as s:
            return set(
                s.scalars(select(StageRun.stage).where(StageRun.run_id == run_id, StageRun.status == "done"))
            )

    def start_stage(self, run_id: int, stage: str) -> int:
        with self.db.session() as s:
            row = StageRun(run_id=run_id, stage=stage, status="running")
            s.add(row)
            s.flush()
            return row.id

    def finish_stage(self, stage_run_id: int, result: StageResult | None, error: str | None = None) -> None:
        with self.db.session() as s:
            row = s.get(StageRun, stage_run_id)
            row.finished_at = utcnow()
            if result is not None:
                row.status = "done"
                row.processed, row.skipped, row.failed = result.processed, result.skipped, result.failed
                row.seconds = result.seconds
                row.details = {"errors": list(result.errors)[:200], **result.details}
            else:
                row.status = "failed"
                row.error = error

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.db.session() as s:
            out = []
            for run in s.scalars(select(Run).order_by(Run.id.desc()).limit(limit)):
                stages = s.scalars(select(StageRun).where(StageRun.run_id == run.id).order_by(StageRun.id))
                out.append(
                    {
                        "id": run.id,
                        "run_date": run.run_date.isoformat(),
                        "status": run.status,
                        "trigger": run.trigger,
                        "started_at": run.started_at.isoformat() if run.started_at else None,
                        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                        "stages": [
                            {
                                "stage": st.stage,
                                "status": st.status,
                                "processed": st.processed,
                                "skipped": st.skipped,
                                "failed": st.failed,
                                "seconds": round(st.seconds, 3),
                                "error": st.error,
                            }
                            for st in stages
                        ],
                    }
                )
            return out

    # ---- per-item stage status ------------------------------------------------------------
    def mark(self, stage: str, interaction_id: str, status: str, error: str | None = None) -> None:
        """Record an item's outcome for a stage: one atomic upsert, so two workers marking the same item never
        collide on the primary key (the later outcome wins, attempts counts both)."""
        stmt = self.db.insert(ItemStatus).values(interaction_id=interaction_id, stage=stage, status=status, error=error,
                                                 attempts=1, updated_at=utcnow())
        stmt = stmt.on_conflict_do_update(
            index_elements=["interaction_id", "stage"],
            set_={"status": status, "error": error, "attempts": ItemStatus.attempts + 1, "updated_at": utcnow()})
        with self.db.session() as s:
            s.execute(stmt)

    def reset(self, stages: Iterable[str], interaction_ids: Iterable[str]) -> int:
        ids = list(interaction_ids)
        with self.db.session() as s:
            res = s.execute(
                delete(ItemStatus).where(ItemStatus.stage.in_(list(stages)), ItemStatus.interaction_id.in_(ids))
            )
            return res.rowcount or 0

    def item_errors(self, stage: str | None = None) -> list[dict[str, Any]]:
        q = select(ItemStatus, InteractionRow.external_id, InteractionRow.source_path).join(
            InteractionRow, InteractionRow.id == ItemStatus.interaction_id
        ).where(ItemStatus.status == "failed")
        if stage:
            q = q.where(ItemStatus.stage == stage)
        with self.db.session() as s:
            return [
                {"id": st.interaction_id, "external_id": ext, "path": path, "stage": st.stage, "reason": st.error}
                for st, ext, path in s.execute(q)
            ]

    def stage_counts(self) -> dict[str, dict[str, int]]:
        with self.db.session() as s:
            out: dict[str, dict[str, int]] = {}
            for stage, status, n in s.execute(
                select(ItemStatus.stage, ItemStatus.status, func.count()).group_by(ItemStatus.stage, ItemStatus.status)
            ):
                out.setdefault(stage, {})[status] = n
            return out

    def counts(self) -> dict[str, int]:
        from voc.store import schema

        tables = {
            "interactions": schema.InteractionRow,
            "utterances": schema.UtteranceRow,
            "call_metrics": schema.CallMetricsRow,
            "sentiment": schema.SentimentRow,
            "call_sentiment": schema.CallSentimentRow,
            "qa_results": schema.QAResultRow,
            "qa_reviews": schema.QAReviewRow,
            "topics": schema.TopicRow,
            "topic_assignments": schema.TopicAssignmentRow,
            "findings": schema.FindingRow,
            "routes": schema.RouteRow,
            "deliveries": schema.DeliveryRow,
            "quarantine": schema.QuarantineRow,
        }
        with self.db.session() as s:
            return {name: s.scalar(select(func.count()).select_from(t)) for name, t in tables.items()}

    def channel_counts(self) -> dict[str, int]:
        with self.db.session() as s:
            return dict(
                s.execute(select(InteractionRow.channel, func.count()).group_by(InteractionRow.channel)).all()
            )

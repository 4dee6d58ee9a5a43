"""Repository: the only place that turns records into rows and back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select

from voc.records import (
    CallMetrics,
    CallSentiment,
    Channel,
    Interaction,
    QAResult,
    Role,
    SentimentScore,
    StageResult,
    Utterance,
    Word,
)
from voc.store.analytics import AnalyticsStore
from voc.store.db import Database
from voc.store.schema import (
    CallMetricsRow,
    CallSentimentRow,
    InteractionRow,
    ItemStatus,
    QAResultRow,
    QuarantineRow,
    Run,
    SentimentRow,
    StageRun,
    TranscriptRow,
    UtteranceRow,
    utcnow,
)

AddOutcome = str  # "new" | "duplicate" | "conflict"


def _interaction(row: InteractionRow) -> Interaction:
    return Interaction(
        id=row.id,
        channel=Channel(row.channel),
        business_date=row.business_date,
        content_hash=row.content_hash,
        external_id=row.external_id,
        source_path=row.source_path,
        started_at=row.started_at,
        queue=row.queue,
        agent_id=row.agent_id,
        customer_id=row.customer_id,
        customer_tier=row.customer_tier,
        customer_value=row.customer_value,
        agent_channel=row.agent_channel,
        text=row.text,
        attributes=dict(row.attributes or {}),
    )


def _utterance(row: UtteranceRow) -> Utterance:
    words = tuple(Word(**w) for w in (row.words or ()))
    return Utterance(
        interaction_id=row.interaction_id,
        idx=row.idx,
        role=Role(row.role),
        start=row.start,
        end=row.end,
        text=row.text,
        avg_logprob=row.avg_logprob,
        no_speech_prob=row.no_speech_prob,
        words=words,
    )


class Store(AnalyticsStore):
    """Typed access to the voc database. One instance per process is enough."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, url: str, *, schema: str | None = None) -> Store:
        return cls(Database(url, schema=schema))

    def close(self) -> None:
        self.db.dispose()

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

    # ---- ingest -----------------------------------------------------------------------------
    def add_interaction(self, inter: Interaction, source_kind: str) -> AddOutcome:
        """Insert unless present. Same id = duplicate; same external id with other content = conflict."""
        return self.add_interactions([(inter, source_kind)])[0]

    def add_interactions(self, items: Sequence[tuple[Interaction, str]]) -> list[AddOutcome]:
        """Bulk form of :meth:`add_interaction`, one transaction per 1,000 items."""
        outcomes: list[AddOutcome] = []
        for k in range(0, len(items), 1000):
            chunk = items[k : k + 1000]
            with self.db.session() as s:
                ids = [i.id for i, _ in chunk]
                have_ids = set(s.scalars(select(InteractionRow.id).where(InteractionRow.id.in_(ids))))
                keys = {(i.channel.value, i.external_id) for i, _ in chunk if i.external_id}
                exts = [e for _, e in keys]
                have_ext: dict[tuple[str, str], str] = {}
                if exts:
                    for ch, ext, h in s.execute(
                        select(InteractionRow.channel, InteractionRow.external_id, InteractionRow.content_hash).where(
                            InteractionRow.external_id.in_(exts))):
                        have_ext[(ch, ext)] = h
                for inter, source_kind in chunk:
                    key = (inter.channel.value, inter.external_id)
                    if inter.id in have_ids:
                        outcomes.append("duplicate")
                        continue
                    if inter.external_id and key in have_ext:
                        outcomes.append("duplicate" if have_ext[key] == inter.content_hash else "conflict")
                        continue
                    s.add(_interaction_row(inter, source_kind))
                    have_ids.add(inter.id)
                    if inter.external_id:
                        have_ext[key] = inter.content_hash
                    outcomes.append("new")
        return outcomes

    def add_quarantine(self, path: str, reason: str, content_hash: str = "") -> bool:
        with self.db.session() as s:
            exists = s.scalars(
                select(QuarantineRow.id).where(
                    QuarantineRow.path == path,
                    QuarantineRow.content_hash == content_hash,
                    QuarantineRow.reason == reason,
                )
            ).first()
            if exists is not None:
                return False
            s.add(QuarantineRow(path=path, reason=reason, content_hash=content_hash))
            return True

    def quarantine(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            return [
                {"path": q.path, "reason": q.reason, "detected_at": q.detected_at.isoformat()}
                for q in s.scalars(select(QuarantineRow).order_by(QuarantineRow.id))
            ]

    # ---- interactions -----------------------------------------------------------------------
    def interactions(
        self,
        *,
        run_date: dt.date | None = None,
        since: dt.date | None = None,
        until: dt.date | None = None,
        channels: Iterable[str] | None = None,
        ids: Iterable[str] | None = None,
        source_kinds: Iterable[str] | None = None,
        pending_stage: str | None = None,
    ) -> list[Interaction]:
        """Interactions matching every filter given, ordered by date then id.

        ``pending_stage`` keeps only those not yet done for that stage (failed ones are retried).
        """
        q = select(InteractionRow)
        if run_date is not None:
            q = q.where(InteractionRow.business_date == run_date)
        if since is not None:
            q = q.where(InteractionRow.business_date >= since)
        if until is not None:
            q = q.where(InteractionRow.business_date <= until)
        if channels is not None:
            q = q.where(InteractionRow.channel.in_(list(channels)))
        if ids is not None:
            q = q.where(InteractionRow.id.in_(list(ids)))
        if source_kinds is not None:
            q = q.where(InteractionRow.source_kind.in_(list(source_kinds)))
        if pending_stage is not None:
            done = select(ItemStatus.interaction_id).where(
                ItemStatus.stage == pending_stage, ItemStatus.status == "done"
            )
            q = q.where(InteractionRow.id.not_in(done))
        q = q.order_by(InteractionRow.business_date, InteractionRow.id)
        with self.db.session() as s:
            return [_interaction(r) for r in s.scalars(q)]

    def source_kind(self, interaction_id: str) -> str:
        with self.db.session() as s:
            return s.get(InteractionRow, interaction_id).source_kind

    def resolve_ids(self, keys: Iterable[str]) -> list[str]:
        """Accept interaction ids or external ids (call ids); return interaction ids."""
        keys = list(keys)
        with self.db.session() as s:
            rows = s.scalars(
                select(InteractionRow.id).where(
                    (InteractionRow.id.in_(keys)) | (InteractionRow.external_id.in_(keys))
                )
            )
            return list(rows)

    def update_interaction_text(self, interaction_id: str, text: str, tokens: list[str] | None = None) -> None:
        with self.db.session() as s:
            row = s.get(InteractionRow, interaction_id)
            row.text = text
            row.tokens = tokens

    def interaction_tokens(self, ids: Sequence[str]) -> dict[str, list[str]]:
        with self.db.session() as s:
            rows = s.execute(select(InteractionRow.id, InteractionRow.tokens).where(InteractionRow.id.in_(list(ids))))
            return {i: t or [] for i, t in rows}

    def set_service_types(self, values: dict[str, str]) -> None:
        with self.db.session() as s:
            for iid, st in values.items():
                s.get(InteractionRow, iid).service_type = st

    # ---- per-item stage status ------------------------------------------------------------
    def mark(self, stage: str, interaction_id: str, status: str, error: str | None = None) -> None:
        with self.db.session() as s:
            row = s.get(ItemStatus, (interaction_id, stage))
            if row is None:
                s.add(ItemStatus(interaction_id=interaction_id, stage=stage, status=status, error=error))
            else:
                row.status, row.error = status, error
                row.attempts = (row.attempts or 0) + 1

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

    # ---- transcripts ------------------------------------------------------------------------
    def replace_transcript(
        self,
        interaction_id: str,
        utterances: Sequence[Utterance],
        metrics: CallMetrics | None,
        *,
        language: str,
        model: str,
        options: dict[str, Any],
        dropped: Sequence[dict[str, Any]] = (),
        pii: dict[str, int] | None = None,
    ) -> None:
        """Replace everything the transcription stage owns for one call (utterances must be redacted)."""
        with self.db.session() as s:
            s.execute(delete(UtteranceRow).where(UtteranceRow.interaction_id == interaction_id))
            s.execute(delete(CallMetricsRow).where(CallMetricsRow.interaction_id == interaction_id))
            s.execute(delete(TranscriptRow).where(TranscriptRow.interaction_id == interaction_id))
            s.flush()
            for u in utterances:
                s.add(_utterance_row(u))
            if metrics is not None:
                s.add(CallMetricsRow(**{f: getattr(metrics, f) for f in CallMetrics.__dataclass_fields__}))
            s.add(
                TranscriptRow(
                    interaction_id=interaction_id,
                    language=language,
                    model=model,
                    options=options,
                    dropped=list(dropped),
                    pii=pii or {},
                )
            )

    def utterances(self, interaction_id: str) -> list[Utterance]:
        with self.db.session() as s:
            rows = s.scalars(
                select(UtteranceRow).where(UtteranceRow.interaction_id == interaction_id).order_by(UtteranceRow.idx)
            )
            return [_utterance(r) for r in rows]

    def utterances_for(self, interaction_ids: Sequence[str]) -> dict[str, list[Utterance]]:
        out: dict[str, list[Utterance]] = {i: [] for i in interaction_ids}
        with self.db.session() as s:
            for chunk_start in range(0, len(interaction_ids), 500):
                chunk = list(interaction_ids[chunk_start : chunk_start + 500])
                rows = s.scalars(
                    select(UtteranceRow)
                    .where(UtteranceRow.interaction_id.in_(chunk))
                    .order_by(UtteranceRow.interaction_id, UtteranceRow.idx)
                )
                for r in rows:
                    out[r.interaction_id].append(_utterance(r))
        return out

    def set_tokens(self, tokens: dict[tuple[str, int], list[str]]) -> None:
        with self.db.session() as s:
            for (iid, idx), toks in tokens.items():
                row = s.get(UtteranceRow, (iid, idx))
                if row is not None:
                    row.tokens = toks

    def call_metrics(self, interaction_id: str) -> CallMetrics | None:
        with self.db.session() as s:
            row = s.get(CallMetricsRow, interaction_id)
            if row is None:
                return None
            return CallMetrics(**{f: getattr(row, f) for f in CallMetrics.__dataclass_fields__})

    def transcript_info(self, interaction_id: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.get(TranscriptRow, interaction_id)
            if row is None:
                return None
            return {"language": row.language, "model": row.model, "options": row.options, "dropped": row.dropped, "pii": row.pii}

    # ---- sentiment and QA ------------------------------------------------------------------

    def replace_sentiment(self, interaction_id: str, scores: Sequence[SentimentScore], call: CallSentiment | None) -> None:
        with self.db.session() as s:
            s.execute(delete(SentimentRow).where(SentimentRow.interaction_id == interaction_id))
            s.execute(delete(CallSentimentRow).where(CallSentimentRow.interaction_id == interaction_id))
            s.flush()
            for sc in scores:
                s.add(SentimentRow(interaction_id=interaction_id, idx=sc.idx, score=sc.score, label=sc.label))
            if call is not None:
                s.add(CallSentimentRow(interaction_id=interaction_id, score=call.score, start_score=call.start_score,
                                       end_score=call.end_score, trajectory=call.trajectory, escalation=call.escalation,
                                       reasons=list(call.reasons), scorer=call.scorer))

    def sentiment_scores(self, interaction_id: str) -> list[SentimentScore]:
        with self.db.session() as s:
            rows = s.scalars(select(SentimentRow).where(SentimentRow.interaction_id == interaction_id).order_by(SentimentRow.idx))
            return [SentimentScore(r.interaction_id, r.idx, r.score, r.label) for r in rows]

    def call_sentiments(self, ids: Sequence[str]) -> dict[str, CallSentiment]:
        out: dict[str, CallSentiment] = {}
        with self.db.session() as s:
            for k in range(0, len(ids), 500):
                for r in s.scalars(select(CallSentimentRow).where(CallSentimentRow.interaction_id.in_(list(ids[k:k + 500])))):
                    out[r.interaction_id] = CallSentiment(r.interaction_id, r.score, r.start_score, r.end_score, r.trajectory,
                                                          r.escalation, tuple(r.reasons or ()), r.scorer)
        return out

    def replace_qa(self, result: QAResult) -> None:
        from voc.records import to_dict

        with self.db.session() as s:
            s.execute(delete(QAResultRow).where(QAResultRow.interaction_id == result.interaction_id))
            s.flush()
            s.add(QAResultRow(interaction_id=result.interaction_id, queue=result.queue, script=result.script,
                              score=result.score, outcomes=to_dict(list(result.outcomes)),
                              review_reasons=list(result.review_reasons)))

    def qa_results(self, ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        q = select(QAResultRow)
        if ids is not None:
            q = q.where(QAResultRow.interaction_id.in_(list(ids)))
        with self.db.session() as s:
            return [{"interaction_id": r.interaction_id, "queue": r.queue, "script": r.script, "score": r.score,
                     "outcomes": r.outcomes, "review_reasons": r.review_reasons} for r in s.scalars(q)]


def _interaction_row(inter: Interaction, source_kind: str) -> InteractionRow:
    return InteractionRow(
        id=inter.id,
        channel=inter.channel.value,
        business_date=inter.business_date,
        content_hash=inter.content_hash,
        external_id=inter.external_id,
        source_path=inter.source_path,
        source_kind=source_kind,
        started_at=inter.started_at,
        queue=inter.queue,
        agent_id=inter.agent_id,
        customer_id=inter.customer_id,
        customer_tier=inter.customer_tier,
        customer_value=inter.customer_value,
        agent_channel=inter.agent_channel,
        text=inter.text,
        attributes=dict(inter.attributes),
    )


def _utterance_row(u: Utterance) -> UtteranceRow:
    return UtteranceRow(
        interaction_id=u.interaction_id,
        idx=u.idx,
        role=u.role.value,
        start=u.start,
        end=u.end,
        text=u.text,
        avg_logprob=u.avg_logprob,
        no_speech_prob=u.no_speech_prob,
        words=[{"start": w.start, "end": w.end, "word": w.word, "probability": w.probability} for w in u.words] or None,
    )


"""Repository: the only place that turns records into rows and back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from voc.records import (
    CallMetrics,
    CallSentiment,
    Channel,
    Interaction,
    QAResult,
    Role,
    SentimentScore,
    Utterance,
    Word,
)
from voc.store.analytics import AnalyticsStore
from voc.store.batch import BatchWrites
from voc.store.db import Database
from voc.store.ingest_files import IngestManifest
from voc.store.runs import RunStore
from voc.store.schema import (
    CallMetricsRow,
    CallSentimentRow,
    InteractionRow,
    ItemStatus,
    QAResultRow,
    QuarantineRow,
    SentimentRow,
    SiteKeyRow,
    TranscriptRow,
    UtteranceRow,
    utcnow,
)
from voc.store.term_counts import TermCounts

AddOutcome = str  # "new" | "duplicate" | "conflict"


# The columns an Interaction is built from: selected as plain rows (no ORM identity map), a fifth of the text
# stage's CPU at 100,000 items a night went into loading ORM objects only to copy them into records.
_INTERACTION_COLUMNS = ("id", "channel", "business_date", "content_hash", "external_id", "source_path", "started_at",
                        "queue", "agent_id", "customer_id", "customer_tier", "customer_value", "agent_channel", "text",
                        "attributes", "text_truncated_from")


def _interaction(row: Any) -> Interaction:
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
        text_truncated_from=row.text_truncated_from,
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


class Store(RunStore, AnalyticsStore, BatchWrites, IngestManifest, TermCounts):
    """Typed access to the voc database. One instance per process is enough."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, url: str, *, schema: str | None = None) -> Store:
        return cls(Database(url, schema=schema))

    def close(self) -> None:
        self.db.dispose()

    def _lock_item(self, session: Any, interaction_id: str) -> None:
        """Serialise two writers replacing one item's rows (their delete + insert would collide on the primary key):
        a row lock on PostgreSQL; SQLite lets one writer in at a time anyway (and a read first would only risk a
        stale snapshot there)."""
        if self.db.dialect == "postgresql":
            session.execute(select(InteractionRow.id).where(InteractionRow.id == interaction_id).with_for_update())

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
                    # ON CONFLICT DO NOTHING: another process ingesting the same inbox right now is no error
                    row = _interaction_row(inter, source_kind)
                    values = {c.key: getattr(row, c.key) for c in InteractionRow.__table__.columns
                              if getattr(row, c.key) is not None}
                    inserted = self.db.insert_new(s, InteractionRow, values)
                    have_ids.add(inter.id)
                    if inter.external_id:
                        have_ext[key] = inter.content_hash
                    outcomes.append("new" if inserted else "duplicate")
        return outcomes

    def add_quarantine(self, path: str, reason: str, content_hash: str = "") -> bool:
        """Record a refused input once (True when it is new); concurrent scans of one inbox do not collide."""
        with self.db.session() as s:
            return self.db.insert_new(s, QuarantineRow, {"path": path, "reason": reason, "content_hash": content_hash,
                                                         "detected_at": utcnow()})

    def site_key(self, name: str) -> bytes:
        """A random 32-byte key made once for this database and kept in it (race-safe: the first writer wins)."""
        import secrets

        stmt = self.db.insert(SiteKeyRow).values(name=name, value=secrets.token_hex(32), created_at=utcnow())
        with self.db.session() as s:
            s.execute(stmt.on_conflict_do_nothing())
            return bytes.fromhex(s.scalar(select(SiteKeyRow.value).where(SiteKeyRow.name == name)))

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
        q = select(*(getattr(InteractionRow, c) for c in _INTERACTION_COLUMNS))
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
            return [_interaction(r) for r in s.execute(q)]

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
        """Store each interaction's service type: one UPDATE executed for all rows, one transaction."""
        if not values:
            return
        table = InteractionRow.__table__
        stmt = update(table).where(table.c.id == bindparam("b_id")).values(service_type=bindparam("b_type"))
        with self.db.session() as s:
            s.connection().execute(stmt, [{"b_id": iid, "b_type": st} for iid, st in values.items()])

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
            self._lock_item(s, interaction_id)
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
            self._lock_item(s, interaction_id)
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
            self._lock_item(s, result.interaction_id)
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
        text_truncated_from=inter.text_truncated_from,
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


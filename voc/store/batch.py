"""Batched stage writes: many items' results and their item-status marks in one transaction.

The per-item stages (text, sentiment, embed) compute a batch of results and hand them here; each call below is one
transaction holding every row the batch writes *and* the ``item_status`` marks of its items (done and failed), so
a killed process leaves each batch either wholly recorded or not at all (the next run redoes it), and one
multi-row statement (``executemany``) replaces a session and a commit per record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from voc.records import CallSentiment, SentimentScore
from voc.store.db import Database
from voc.store.schema import (
    CallSentimentRow,
    EmbeddingRow,
    InteractionRow,
    ItemStatus,
    SentimentRow,
    UtteranceRow,
    utcnow,
)

Failed = tuple[str, str]  # (interaction id, reason)
SentimentWrite = tuple[str, Sequence[SentimentScore], CallSentiment | None]


class BatchWrites:
    """Mixin of :class:`voc.store.Store`: the batched write paths of the per-item stages."""

    db: Database

    def _lock_items(self, session: Session, ids: Sequence[str]) -> None:
        """Row locks on the batch's interactions (PostgreSQL), taken in id order so two writers of overlapping
        batches queue instead of deadlocking; SQLite admits one writer at a time anyway."""
        if self.db.dialect == "postgresql" and ids:
            session.execute(select(InteractionRow.id).where(InteractionRow.id.in_(sorted(set(ids))))
                            .order_by(InteractionRow.id).with_for_update())

    def _mark_many(self, session: Session, stage: str, done: Sequence[str], failed: Sequence[Failed]) -> None:
        """Upsert the items' status rows (one statement, executed for many rows): the later outcome wins and
        ``attempts`` counts each, as :meth:`RunStore.mark` does for one item."""
        now = utcnow()
        rows = [{"interaction_id": i, "stage": stage, "status": "done", "error": None, "attempts": 1, "updated_at": now}
                for i in done]
        rows += [{"interaction_id": i, "stage": stage, "status": "failed", "error": reason, "attempts": 1,
                  "updated_at": now} for i, reason in failed]
        if not rows:
            return
        stmt = self.db.insert(ItemStatus)
        stmt = stmt.on_conflict_do_update(
            index_elements=["interaction_id", "stage"],
            set_={"status": stmt.excluded.status, "error": stmt.excluded.error, "attempts": ItemStatus.attempts + 1,
                  "updated_at": stmt.excluded.updated_at})
        session.execute(stmt, rows)

    def mark_many(self, stage: str, done: Sequence[str] = (), failed: Sequence[Failed] = ()) -> None:
        """Record many items' outcomes for ``stage`` in one transaction."""
        with self.db.session() as s:
            self._mark_many(s, stage, done, failed)

    def write_embeddings(self, stage: str, vectors: Mapping[str, tuple[Sequence[str], np.ndarray]],
                         done: Sequence[str], failed: Sequence[Failed] = ()) -> None:
        """The embed stage's batch: per embedder name ``(texts, vectors)`` added to the vector cache (a text cached
        already, by another writer too, is left as it is) and the status of every item, in one transaction."""
        from voc.store.analytics import embedding_key

        rows = []
        for model, (texts, vecs) in vectors.items():
            seen: set[str] = set()
            for text, vec in zip(texts, vecs, strict=True):
                if text in seen:
                    continue
                seen.add(text)
                v = np.asarray(vec, dtype="<f4")
                rows.append({"key": embedding_key(model, text), "model": model, "dim": int(v.shape[0]),
                             "vector": v.tobytes()})
        with self.db.session() as s:
            if rows:
                stmt = self.db.insert(EmbeddingRow).on_conflict_do_nothing(index_elements=["key"])
                for k in range(0, len(rows), 500):
                    s.execute(stmt, rows[k : k + 500])
            self._mark_many(s, stage, done, failed)

    def write_texts(self, stage: str, texts: Sequence[tuple[str, str, list[str]]],
                    utterance_tokens: dict[tuple[str, int], list[str]], done: Sequence[str],
                    failed: Sequence[Failed] = ()) -> None:
        """The text stage's batch: ``(id, redacted text, tokens)`` of text items, tokens of call utterances keyed
        ``(id, idx)``, and the status of every item in the batch, in one transaction."""
        table, utt = InteractionRow.__table__, UtteranceRow.__table__
        with self.db.session() as s:
            if texts:
                stmt = (update(table).where(table.c.id == bindparam("b_id"))
                        .values(text=bindparam("b_text"), tokens=bindparam("b_tokens")))
                s.connection().execute(stmt, [{"b_id": i, "b_text": t, "b_tokens": k} for i, t, k in texts])
            if utterance_tokens:
                stmt = (update(utt).where(utt.c.interaction_id == bindparam("b_id"), utt.c.idx == bindparam("b_idx"))
                        .values(tokens=bindparam("b_tokens")))
                s.connection().execute(stmt, [{"b_id": i, "b_idx": idx, "b_tokens": k}
                                              for (i, idx), k in utterance_tokens.items()])
            self._mark_many(s, stage, done, failed)

    def write_sentiments(self, stage: str, results: Sequence[SentimentWrite], failed: Sequence[Failed] = ()) -> None:
        """The sentiment stage's batch: for each ``(id, scores, call summary)`` the item's old rows are replaced;
        every item of ``results`` is marked done and those of ``failed`` failed, in one transaction."""
        ids = [r[0] for r in results]
        scores: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        for iid, item_scores, call in results:
            scores += [{"interaction_id": iid, "idx": sc.idx, "score": sc.score, "label": sc.label} for sc in item_scores]
            if call is not None:
                calls.append({"interaction_id": iid, "score": call.score, "start_score": call.start_score,
                              "end_score": call.end_score, "trajectory": call.trajectory,
                              "escalation": call.escalation, "reasons": list(call.reasons), "scorer": call.scorer})
        with self.db.session() as s:
            if ids:
                self._lock_items(s, ids)
                for k in range(0, len(ids), 500):
                    chunk = ids[k : k + 500]
                    s.execute(delete(SentimentRow).where(SentimentRow.interaction_id.in_(chunk)))
                    s.execute(delete(CallSentimentRow).where(CallSentimentRow.interaction_id.in_(chunk)))
            conn = s.connection()
            if scores:
                conn.execute(SentimentRow.__table__.insert(), scores)
            if calls:
                conn.execute(CallSentimentRow.__table__.insert(), calls)
            self._mark_many(s, stage, ids, failed)

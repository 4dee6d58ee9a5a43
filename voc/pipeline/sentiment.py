"""Sentiment boundary: score the date's customer utterances and texts; store per-utterance and per-call scores."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from voc.config import Settings
from voc.pipeline.runner import ProgressFn, per_item_batched, select_items, stage, timed
from voc.records import Interaction, StageResult
from voc.store import Store


@stage("sentiment")
def run(store: Store, settings: Settings, run_date: dt.date, batch: Sequence[str] | None = None,
        progress: ProgressFn | None = None, *, now: dt.datetime | None = None) -> StageResult:
    """Customer sentiment per utterance and per call (trajectory, escalation); one score per text."""
    from voc.sentiment import get_scorer, score_call, score_texts

    t0 = time.perf_counter()
    items = select_items(store, "sentiment", run_date, batch)
    scorer = get_scorer(settings.sentiment)
    calls = [i for i in items if i.channel.value == "call"]
    utts = store.utterances_for([i.id for i in calls])
    texts = [(i.id, i.text or "") for i in items if i.channel.value != "call"]
    # text channels are scored in one batch; each result is then stored per item
    text_scores = {iid: r for (iid, _t), r in zip(texts, score_texts(texts, scorer, settings.sentiment), strict=True)}
    silent = 0

    def work(item: Interaction) -> tuple[list[Any], Any]:
        nonlocal silent
        if item.channel.value == "call":
            u = utts.get(item.id) or []
            if not u:  # no speech: nothing to score, and no row claims a sentiment
                silent += 1
                return [], None
            scores, call = score_call(u, scorer, settings.sentiment)
            return list(scores), call
        score, summary = text_scores[item.id]
        return [score], summary

    def write(results: list[tuple[Interaction, Any]], failed: list[tuple[str, str]]) -> None:
        store.write_sentiments("sentiment", [(item.id, scores, call) for item, (scores, call) in results], failed)

    done, failed, errors = per_item_batched(store, "sentiment", items, work, write, progress)
    details: dict[str, Any] = {"scorer": scorer.name, "calls_without_speech": silent}
    return timed("sentiment", run_date, t0, processed=done, failed=failed, skipped=silent, errors=tuple(errors),
                 details=details)


def overview(store: Store, settings: Settings) -> dict[str, Any]:
    """Sentiment across stored calls for ``voc status`` (trajectories, negative share, escalations)."""
    from voc.store.sentiment import sentiment_overview

    return sentiment_overview(store, settings.sentiment.negative_threshold)

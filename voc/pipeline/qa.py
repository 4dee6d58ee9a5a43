"""QA boundary: score the date's calls against their queue's script; calls that need a person go to the review
queue."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

from voc.config import Settings
from voc.pipeline.runner import ProgressFn, per_item, select_items, stage, timed
from voc.records import Interaction, StageResult
from voc.store import Store


@stage("qa")
def run(store: Store, settings: Settings, run_date: dt.date, batch: Sequence[str] | None = None,
        progress: ProgressFn | None = None, *, now: dt.datetime | None = None) -> StageResult:
    """Score each call against its queue's script; calls that need a human go to the review queue."""
    from voc.qa import load_scripts, review_priority
    from voc.qa import score_call as qa_score
    from voc.semantic import qa_embedder
    from voc.store.review import ReviewQueue

    t0 = time.perf_counter()
    items = select_items(store, "qa", run_date, batch, channels=["call"])
    book = load_scripts(settings.qa.rules_dir)
    embedder = qa_embedder() if settings.qa.semantic_matching else None
    queue = ReviewQueue(store.db)
    utts = store.utterances_for([i.id for i in items])
    enqueued = 0
    scores: list[float] = []

    def work(item: Interaction) -> None:
        nonlocal enqueued
        script = book.for_queue(item.queue, settings.qa.default_script)
        result = qa_score(utts.get(item.id) or [], store.call_metrics(item.id), store.sentiment_scores(item.id), script,
                          settings.qa, settings.seed, queue=item.queue, interaction_id=item.id, embedder=embedder)
        store.replace_qa(result)
        scores.append(result.score)
        if result.review_reasons:
            prio = review_priority(result.score, result.review_reasons, item.customer_tier, settings.routing.tier_weights)
            queue.enqueue(item.id, item.queue or script.name, list(result.review_reasons), prio)
            enqueued += 1
        else:
            queue.withdraw(item.id)

    done, failed, errors = per_item(store, "qa", items, work, progress)
    mean = round(sum(scores) / len(scores), 1) if scores else None
    return timed("qa", run_date, t0, processed=done, failed=failed, errors=tuple(errors),
                 details={"review_enqueued": enqueued, "mean_score": mean, "semantic": bool(embedder),
                          "scripts": sorted(book.scripts)})

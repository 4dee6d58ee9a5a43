"""Sentiment boundary: score the date's customer utterances and texts; store per-utterance and per-call scores."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from voc.config import Settings
from voc.pipeline.embed import sentiment_texts
from voc.pipeline.runner import ProgressFn, per_item_batched, select_items, stage, timed
from voc.records import Interaction, StageResult
from voc.store import Store


@stage("sentiment")
def run(store: Store, settings: Settings, run_date: dt.date, batch: Sequence[str] | None = None,
        progress: ProgressFn | None = None, *, now: dt.datetime | None = None) -> StageResult:
    """Customer sentiment per utterance and per call (trajectory, escalation); one score per text."""
    from voc.sentiment import score_call, score_texts

    t0 = time.perf_counter()
    items = select_items(store, "sentiment", run_date, batch)
    calls = [i for i in items if i.channel.value == "call"]
    utts = store.utterances_for([i.id for i in calls])
    texts = [(i.id, i.text or "") for i in items if i.channel.value != "call"]
    # the e5 inputs the embed stage computed ahead (job_texts("sentiment"): the same e5_inputs_needed decision)
    scorer, e5_info = shared_vectors(store, settings, [t for i in items for t in sentiment_texts(i, utts.get(i.id) or [])],
                                     progress)
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
    details: dict[str, Any] = {"scorer": scorer.name, "calls_without_speech": silent, **e5_info}
    return timed("sentiment", run_date, t0, processed=done, failed=failed, skipped=silent, errors=tuple(errors),
                 details=details)


def shared_vectors(store: Store, settings: Settings, texts: Sequence[str], progress: ProgressFn | None = None,
                   chunk: int = 256) -> tuple[Any, dict[str, int]]:
    """The configured scorer, reading e5 vectors through the store's embedding cache when it is e5-based.

    Which of ``texts`` need a vector is :func:`voc.sentiment.e5.e5_inputs_needed` (the embed stage's decision:
    not procedural turns, and with a cascade band (sentiment.e5_band below 0.5) only the texts the n-gram model is unsure of); their e5
    inputs (the first 512 characters, the string ``embed_texts`` keys for topics and routing) are looked up in one
    pass, and those no stage has embedded yet are embedded in chunks (progress as stage 'sentiment e5') and written
    to the cache, so later stages and reruns reuse them. The returned scorer remembers the n-gram decisions made
    here, so scoring runs the n-gram model no second time.
    """
    from voc.pipeline.lazy_embedder import lazy_embedder
    from voc.pipeline.topics import embed_texts
    from voc.sentiment import get_scorer
    from voc.sentiment.e5 import EMBEDDER, e5_embedder, e5_inputs_needed, e5_stack_of

    if e5_stack_of(get_scorer(settings.sentiment)) is None:
        return get_scorer(settings.sentiment), {}
    known: dict[str, np.ndarray] = {}
    embedder = lazy_embedder(EMBEDDER, e5_embedder)  # loaded only for inputs the embed stage did not cache

    def vectors(batch: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(batch) if t not in known]
        if missing:  # a text the prefetch did not see (not expected): through the cache all the same
            known.update(zip(missing, embed_texts(store, embedder, missing)[0], strict=True))
        return np.stack([known[t] for t in batch]) if len(batch) else np.zeros((0, embedder.dim), dtype=np.float32)

    scorer = get_scorer(settings.sentiment, vectors=vectors)
    inputs = sorted(set(e5_inputs_needed(scorer, texts)))
    embedded = 0
    for k in range(0, len(inputs), chunk):
        part = inputs[k : k + chunk]
        rows, new = embed_texts(store, embedder, part)
        known.update(zip(part, rows, strict=True))
        embedded += new
        if progress and len(inputs) > chunk:
            progress("sentiment e5", min(k + chunk, len(inputs)), len(inputs))
    return scorer, {"e5_vectors": len(inputs), "e5_embedded": embedded}


def overview(store: Store, settings: Settings) -> dict[str, Any]:
    """Sentiment across stored calls for ``voc status`` (trajectories, negative share, escalations)."""
    from voc.store.sentiment import sentiment_overview

    return sentiment_overview(store, settings.sentiment.negative_threshold)

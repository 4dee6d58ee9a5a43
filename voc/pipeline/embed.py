"""Embed boundary: every vector the night's jobs will look up, computed once per text, in batches, into the store's
vector cache, before those jobs run (``text → embed → sentiment → qa → topics → routing → report``).

:func:`job_texts` is the one statement of which texts of an item each job embeds, exactly as the job looks them up
(embedder name + text is the cache key): the topics stage (complaint texts), routing (service types, finding
routes) and repeat linking (contact texts), the QA step model (the agents' sentences) and an e5-based sentiment
scorer. Those jobs take their texts through the same helpers (:func:`embed_key`, :func:`contact_key`,
:func:`agent_sentences`, :func:`sentiment_texts`), so after this stage they find every vector in the cache and embed
nothing (tests/integration/test_embed_stage.py counts the embedder calls). The jobs keep embedding what they miss (a
rerun of one stage alone, texts of earlier nights), so the stage is an optimisation and a unit of scale-out — the
nightly DAG maps it over batches of items like transcription — not a precondition.

Each job keeps its configured embedder; jobs whose embedders share a name share the vectors (topics and routing both
use e5 by default: one vector per contact text). A backend fitted per night (``topics.embedder: tfidf``) cannot be
computed ahead and is left to its job.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from voc.config import Settings
from voc.pipeline.runner import ProgressFn, open_store, per_item_batched, select_items, stage, timed
from voc.records import Interaction, Role, StageResult, Utterance
from voc.store import Store

JOBS = ("topics", "routing", "qa", "sentiment")
EMBED_BATCH = 1024  # items whose texts one embedder call and one transaction cover (the PyTorch engine sorts by length within a call: 256 items cost 1.4x)
PLAN_BATCH = 500  # items per mapped Airflow task (``[voc] embed_batch_items``)


def embed_key(text: str, settings: Settings) -> str:
    """The form of a complaint text that the topics stage embeds and caches: its first ``limits.embed_max_chars``
    characters (e5 reads no further itself: ``E5_MAX_CHARS`` = 512)."""
    return text[: settings.limits.embed_max_chars]


def contact_key(text: str, settings: Settings) -> str:
    """The form of a contact's text that routing and repeat linking embed and cache: cut like topics'
    (:func:`embed_key`) when the routing embedder reads no further than that cut anyway (e5 reads its first
    ``E5_MAX_CHARS``), so both jobs share one vector per text with no vector changed; whole for any other embedder,
    whose vector the cut could change."""
    from voc.semantic.embedders import E5_MAX_CHARS

    if settings.routing.embedder == "e5" and settings.limits.embed_max_chars >= E5_MAX_CHARS:
        return embed_key(text, settings)
    return text


def agent_sentences(utterances: Sequence[Utterance]) -> list[str]:
    """The sentences the agent side of a call said, as the QA step model splits, judges and looks them up."""
    from voc.qa.steps import sentences

    return [s for u in utterances if u.role != Role.CUSTOMER for s in sentences(u.text)]


def sentiment_texts(item: Interaction, utterances: Sequence[Utterance]) -> list[str]:
    """The texts the sentiment stage scores for an item: a call's customer turns, a text's body."""
    from voc.sentiment import customer_turns

    if item.channel.value == "call":
        return [u.text for u in customer_turns(utterances)]
    return [item.text or ""]


def job_texts(job: str, item: Interaction, utterances: Sequence[Utterance], settings: Settings) -> list[str]:
    """The texts of ``item`` (with its ``utterances``) that ``job`` embeds, as the keys it looks up in the cache.

    * ``topics``: the complaint text (:func:`voc.topics.complaints.complaint_text`, stripped, cut by
      :func:`embed_key`) of every contact long enough to be a complaint; whether it is one needs tonight's sentiment,
      so each candidate is embedded (routing asks for the same text anyway).
    * ``routing``: what the contact is about (:func:`voc.routing.contact_text`, stripped, :func:`contact_key`),
      empty ones included (the service-type model embeds them too); repeat linking uses the same vectors.
    * ``qa``: a call's agent sentences (:func:`agent_sentences`), for the step model.
    * ``sentiment``: with an e5-based scorer (``sentiment.backend: auto``, ``e5-stack``), the head's e5 inputs of the
      texts it scores (:func:`sentiment_texts`) that need one, as :func:`voc.sentiment.e5.e5_inputs_needed` decides
      for the sentiment stage too: not procedural turns (rules score them), and with a cascade band (sentiment.e5_band below 0.5) only the
      texts the n-gram model is unsure of (it runs here, ~1 ms a text); else none.
    """
    if job == "topics":
        from voc.topics.complaints import complaint_text, is_complaint

        text = complaint_text(item, utterances).strip()
        if len(text) < settings.topics.min_chars:
            return []
        known = known_text_score(item, settings)
        if known is not None and not is_complaint(item, text, known, settings):
            return []  # its sentiment, known without e5, already says it is no complaint
        return [embed_key(text, settings)]
    if job == "routing":
        from voc.routing import contact_text

        if reads_as_praise(item, settings):
            return []  # service type from its words and the average vector (pipeline.routing.contact_vectors)
        return [contact_key(contact_text(item, utterances).strip(), settings)]
    if job == "qa":
        return agent_sentences(utterances) if item.channel.value == "call" else []
    if job == "sentiment":
        from voc.sentiment.e5 import e5_inputs_needed

        scorer = _sentiment_scorer(settings)
        return e5_inputs_needed(scorer, sentiment_texts(item, utterances)) if scorer is not None else []
    raise ValueError(f"unknown embedding job {job!r}; expected one of {', '.join(JOBS)}")


_GATES: dict[tuple[Any, ...], Any] = {}


def _gate_scorer(settings: Settings) -> Any:
    """The configured sentiment scorer as the sentiment stage builds it (customer-service rules included), for the
    scores it gives without e5; built once per process and setting, remembering its n-gram decisions."""
    from voc.sentiment import get_scorer

    key = (settings.sentiment.backend, settings.sentiment.e5_band, str(settings.sentiment.model_path),
           settings.sentiment.st_model)
    if key not in _GATES:
        def refuse(inputs: Sequence[str]) -> np.ndarray:
            raise RuntimeError("the praise gate asked for e5 vectors; it scores only texts that need none")

        _GATES.clear()
        _GATES[key] = get_scorer(settings.sentiment, vectors=refuse)
    return _GATES[key]


def known_text_score(item: Interaction, settings: Settings) -> float | None:
    """A text contact's sentiment score where the configured scorer gives it without an e5 vector (a cascade band
    below 0.5: the n-gram model is sure), as the sentiment stage will store it; None for calls, for texts that go
    through e5, and with every text through e5 (sentiment.e5_band 0.5)."""
    if item.channel.value == "call" or _sentiment_scorer(settings) is None:
        return None  # the gate saves e5 for the cascade of the e5 stack (the default); other scorers read no e5
    from voc.sentiment.e5 import scores_without_e5

    return scores_without_e5(_gate_scorer(settings), sentiment_texts(item, ()))[0]


def reads_as_praise(item: Interaction, settings: Settings) -> bool:
    """A text contact whose sentiment, known without e5, is praise (>= ``sentiment.positive_threshold``): no topic
    (never a complaint) and no routing vector (routing types it with the average praise text, which exists for e5:
    voc.pipeline.routing.praise_reference; repeat linking compares no praise by text)."""
    if settings.routing.embedder != "e5":
        return False
    known = known_text_score(item, settings)
    return known is not None and known >= settings.sentiment.positive_threshold


def _sentiment_scorer(settings: Settings) -> Any:
    """The configured sentiment scorer (built once per process) when it reads e5 vectors, else None."""
    from voc.sentiment import get_scorer
    from voc.sentiment.e5 import e5_stack_of

    scorer = get_scorer(settings.sentiment)
    return scorer if e5_stack_of(scorer) is not None else None


@dataclass(frozen=True, slots=True)
class EmbedJob:
    """One job's embedder as the stage sees it: the cache namespace (the embedder's name), how to load it, and
    which texts the job finds without the store (shipped vectors) and so needs no cached vector for."""

    job: str
    embedder: str
    load: Callable[[], Any]
    known: Callable[[str], bool] = lambda _t: False


def embed_jobs(store: Store | None, settings: Settings) -> tuple[list[EmbedJob], dict[str, str]]:
    """The jobs whose vectors can be computed ahead, with their configured embedders; and why the others cannot."""
    from voc.pipeline.lazy_embedder import lazy_embedder
    from voc.pipeline.routing import routing_embedder
    from voc.pipeline.topics import configured_topic_embedder

    jobs: list[EmbedJob] = []
    skipped: dict[str, str] = {}
    topic = configured_topic_embedder(settings)  # e5 loads only if a text is not cached yet (lazy_embedder)
    if topic.fitted:
        jobs.append(EmbedJob("topics", topic.name, lambda: topic))
    else:
        skipped["topics"] = f"{settings.topics.embedder}: its vector space is fitted on each night's complaints"
    route = routing_embedder(settings)
    if route is not None:
        jobs.append(EmbedJob("routing", route.name, lambda: route))
    else:
        skipped["routing"] = "routing.embedder: none"
    if settings.qa.step_model:
        from voc.pipeline.qa import StepVectors
        from voc.qa import load_scripts
        from voc.semantic import text_hash

        vectors = StepVectors(store, load_scripts(settings.qa.rules_dir))
        jobs.append(EmbedJob("qa", vectors.name, vectors.embedder, lambda t: text_hash(t) in vectors.shipped))
    else:
        skipped["qa"] = "qa.step_model: off"
    if _sentiment_scorer(settings) is not None:
        from voc.sentiment.e5 import EMBEDDER, e5_embedder

        sentiment = lazy_embedder(EMBEDDER, e5_embedder)
        jobs.append(EmbedJob("sentiment", sentiment.name, lambda: sentiment))
    return jobs, skipped


@stage("embed")
def run(store: Store, settings: Settings, run_date: dt.date, batch: Sequence[str] | None = None,
        progress: ProgressFn | None = None, *, now: dt.datetime | None = None) -> StageResult:
    """Vectors of every text the later jobs look up (topics, routing, QA steps, e5 sentiment), each computed once."""
    t0 = time.perf_counter()
    items = select_items(store, "embed", run_date, batch)
    jobs, skipped = embed_jobs(store, settings) if items else ([], {})
    loaders: dict[str, Callable[[], Any]] = {}
    for j in jobs:
        loaders.setdefault(j.embedder, j.load)  # jobs sharing an embedder share its vectors (and one model)
    utts = store.utterances_for([i.id for i in items if i.channel.value == "call"])
    tally = {"asked": 0, "cached": 0, "embedded": 0}
    per_job: dict[str, int] = {j.job: 0 for j in jobs}

    def work(item: Interaction) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for j in jobs:
            texts = [t for t in job_texts(j.job, item, utts.get(item.id, ()), settings) if not j.known(t)]
            per_job[j.job] += len(texts)
            out.setdefault(j.embedder, set()).update(texts)
        return out

    def write(results: list[tuple[Interaction, dict[str, set[str]]]], failed: list[tuple[str, str]]) -> None:
        wanted: dict[str, set[str]] = {}
        for _item, out in results:
            for name, texts in out.items():
                wanted.setdefault(name, set()).update(texts)
        vectors: dict[str, tuple[list[str], np.ndarray]] = {}
        asked = cached = 0
        for name, texts in wanted.items():
            have = store.cached_texts(name, list(texts))
            todo = sorted(texts - have)
            asked, cached = asked + len(texts), cached + len(have)
            if todo:
                vectors[name] = (todo, np.asarray(loaders[name]().embed(todo), dtype=np.float32))
        store.write_embeddings("embed", vectors, [item.id for item, _ in results], failed)
        tally["asked"] += asked
        tally["cached"] += cached
        tally["embedded"] += sum(len(t) for t, _v in vectors.values())

    done, failed, errors = per_item_batched(store, "embed", items, work, write, progress, size=EMBED_BATCH)
    details = {"jobs": {j.job: j.embedder for j in jobs}, "not_ahead": skipped, "texts_per_job": per_job,
               "texts": tally["asked"], "cached_before": tally["cached"], "embedded": tally["embedded"]}
    return timed("embed", run_date, t0, processed=done, failed=failed, errors=tuple(errors), details=details)


def plan_batches(store: Store, run_date: dt.date, size: int = PLAN_BATCH) -> list[list[str]]:
    """Items of the date still to embed, in batches of ``size`` ids (one mapped Airflow task each)."""
    ids = [i.id for i in store.interactions(run_date=run_date, pending_stage="embed")]
    size = max(1, size)
    return [ids[k : k + size] for k in range(0, len(ids), size)]


def batches_for(settings: Settings, run_date: dt.date, size: int = PLAN_BATCH) -> list[list[str]]:
    """:func:`plan_batches` with a store of its own (an Airflow task's entry point)."""
    store = open_store(settings)
    try:
        return plan_batches(store, run_date, size)
    finally:
        store.close()

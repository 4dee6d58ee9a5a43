"""Pipeline stages and the embedded runner.

One function per stage, ``stage(store, settings, run_date, batch=None) -> StageResult``; the
CLI and the Airflow DAGs both call these. Store I/O happens here, at the stage boundary; the
algorithms live in the stage packages and work on typed records.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from voc.config import Settings
from voc.records import StageResult, to_dict
from voc.store import Store

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)


class StageFn(Protocol):
    def __call__(
        self, store: Store, settings: Settings, run_date: dt.date, batch: Sequence[str] | None = None,
        progress: ProgressFn | None = None,
    ) -> StageResult: ...


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    fn: StageFn
    per_item: bool  # tracks item_status rows (resumable per interaction)
    doc: str


STAGES: dict[str, Stage] = {}


def stage(name: str, per_item: bool = True) -> Callable[[StageFn], StageFn]:
    def register(fn: StageFn) -> StageFn:
        STAGES[name] = Stage(name, fn, per_item, (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "")
        return fn

    return register


class StageError(RuntimeError):
    """A whole stage could not run (missing model, bad config); items were not touched."""


def _noop(_stage: str, _done: int, _total: int) -> None:
    pass


def _timed(name: str, run_date: dt.date, t0: float, **kw: Any) -> StageResult:
    return StageResult(stage=name, run_date=run_date.isoformat(), seconds=round(time.perf_counter() - t0, 3), **kw)


def _select(store: Store, stage_name: str, run_date: dt.date, batch: Sequence[str] | None, **filters: Any):
    """Items for a stage: the given batch (ids), else the run date's items not yet done."""
    if batch is not None:
        return store.interactions(ids=batch, pending_stage=stage_name, **filters)
    return store.interactions(run_date=run_date, pending_stage=stage_name, **filters)


def _per_item(store: Store, stage_name: str, items, work: Callable[[Any], None], progress: ProgressFn | None):
    """Run ``work`` on each item; a failure is recorded for that item and the rest go on."""
    progress = progress or _noop
    done = failed = 0
    errors: list[dict[str, str]] = []
    total = len(items)
    for i, item in enumerate(items, 1):
        try:
            work(item)
        except Exception as exc:  # isolate per item; the reason is stored and reported
            failed += 1
            reason = f"{type(exc).__name__}: {exc}"
            errors.append({"id": item.id, "external_id": item.external_id or "", "reason": reason})
            store.mark(stage_name, item.id, "failed", reason)
            log.warning("%s failed for %s (%s): %s", stage_name, item.id, item.external_id, reason)
        else:
            done += 1
            store.mark(stage_name, item.id, "done")
        progress(stage_name, i, total)
    return done, failed, errors


def text_cleaner(settings: Settings) -> Callable[[str], str]:
    """normalise + redact, as applied to every text before it is stored."""
    from voc.text import normalize, redact

    if not settings.text.redact:
        return normalize

    def clean(text: str) -> str:
        return redact(normalize(text), settings.text).text

    return clean


# ---- ingest ------------------------------------------------------------------------------------
def ingest_inbox(store: Store, settings: Settings, inbox=None, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Scan the inbox and add what is new; returns the public ``voc ingest --json`` object."""
    from voc.ingest import scan_inbox

    inbox = inbox or settings.inbox
    redact = text_cleaner(settings)
    scan = scan_inbox(inbox, settings.timezone, redact=redact)
    ingested = duplicates = 0
    quarantined: list[dict[str, str]] = []
    outcomes = store.add_interactions([(c.interaction, c.source_kind) for c in scan.candidates])
    for i, (cand, outcome) in enumerate(zip(scan.candidates, outcomes, strict=True), 1):
        if outcome == "new":
            ingested += 1
        elif outcome == "duplicate":
            duplicates += 1
        else:
            reason = f"duplicate id {cand.interaction.external_id} with different content (already ingested)"
            store.add_quarantine(cand.origin, reason, cand.interaction.content_hash)
            quarantined.append({"path": cand.origin, "reason": reason})
        if progress:
            progress("ingest", i, len(scan.candidates))
    for rej in scan.rejected:
        store.add_quarantine(rej.path, rej.reason, rej.content_hash)
        quarantined.append({"path": rej.path, "reason": rej.reason})
    return {"ingested": ingested, "duplicates": duplicates, "quarantined": quarantined, "notes": scan.notes}


@stage("ingest", per_item=False)
def ingest(store, settings, run_date, batch=None, progress=None) -> StageResult:
    """Scan the inbox: new calls and texts in, bad files quarantined with a reason."""
    t0 = time.perf_counter()
    out = ingest_inbox(store, settings, progress=progress)
    return _timed(
        "ingest", run_date, t0, processed=out["ingested"], skipped=out["duplicates"], failed=len(out["quarantined"]),
        errors=tuple({"id": q["path"], "reason": q["reason"]} for q in out["quarantined"]),
        details={"inbox": str(settings.inbox), "notes": out["notes"]},
    )


# ---- the runner --------------------------------------------------------------------------------
DEFAULT_ORDER = ("ingest", "transcribe", "text", "sentiment", "qa", "topics", "routing", "report")


@dataclass(slots=True)
class RunSummary:
    run_id: int
    run_date: str
    status: str
    resumed: bool
    stages: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "run_date": self.run_date, "status": self.status, "resumed": self.resumed,
                "stages": self.stages}


def available_stages() -> list[str]:
    return [s for s in DEFAULT_ORDER if s in STAGES]


def resolve_stages(requested: Iterable[str] | None) -> list[str]:
    names = list(requested) if requested else available_stages()
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)}; expected one of: {', '.join(available_stages())}")
    order = {n: i for i, n in enumerate(DEFAULT_ORDER)}
    return sorted(dict.fromkeys(names), key=lambda n: order.get(n, 99))


def run_stage(store: Store, settings: Settings, name: str, run_date: dt.date, batch: Sequence[str] | None = None,
              progress: ProgressFn | None = None) -> StageResult:
    """Run one stage outside a recorded run (the DAG tasks use :func:`run_stage_recorded`)."""
    return STAGES[name].fn(store, settings, run_date, batch, progress)


def run(store: Store, settings: Settings, run_date: dt.date, stages: Iterable[str] | None = None, *,
        trigger: str = "cli", resume: bool = True, progress: ProgressFn | None = None) -> RunSummary:
    """Run the stages for one business date in-process, recording the run and each stage.

    A run for the same date that crashed or failed is resumed: stages it finished are skipped,
    and within a stage only items not yet done are processed.
    """
    names = resolve_stages(stages)
    run_id = store.resumable_run(run_date) if resume else None
    resumed = run_id is not None
    if resumed:
        store.reopen_run(run_id)
        skip = store.done_stages(run_id)
    else:
        run_id = store.start_run(run_date, names, trigger)
        skip = set()
    summary = RunSummary(run_id, run_date.isoformat(), "running", resumed)
    for name in names:
        if name in skip:
            summary.stages.append({"stage": name, "status": "skipped (done in this run before)"})
            continue
        stage_run = store.start_stage(run_id, name)
        try:
            result = STAGES[name].fn(store, settings, run_date, None, progress)
        except Exception as exc:
            store.finish_stage(stage_run, None, f"{type(exc).__name__}: {exc}")
            store.finish_run(run_id, "failed")
            summary.status = "failed"
            summary.stages.append({"stage": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}"})
            log.exception("stage %s failed for %s", name, run_date)
            return summary
        store.finish_stage(stage_run, result)
        summary.stages.append({"status": "done", **to_dict(replace(result, errors=result.errors[:20]))})
    store.finish_run(run_id, "done", {"stages": names})
    summary.status = "done"
    return summary


def reprocess(store: Store, settings: Settings, stages: Sequence[str], *, call_ids: Sequence[str] = (),
              since: dt.date | None = None, until: dt.date | None = None,
              progress: ProgressFn | None = None) -> dict[str, Any]:
    """Rerun chosen stages for chosen interactions (ids or call ids) or a date range."""
    names = resolve_stages(stages)
    if call_ids:
        ids = store.resolve_ids(call_ids)
        missing = sorted(set(call_ids) - set(ids) - {i.external_id for i in store.interactions(ids=ids)})
        if missing:
            raise ValueError(f"unknown call/interaction id(s): {', '.join(missing)}")
        items = store.interactions(ids=ids)
    elif since is not None:
        items = store.interactions(since=since, until=until)
    else:
        raise ValueError("give call ids or a start date")
    per_item = [n for n in names if STAGES[n].per_item]
    reset = store.reset(per_item, [i.id for i in items])
    results = []
    dates = sorted({i.business_date for i in items})
    for name in names:
        if name == "ingest":
            continue
        if STAGES[name].per_item:
            res = STAGES[name].fn(store, settings, dates[0] if dates else dt.date.today(), [i.id for i in items], progress)
            results.append(to_dict(res))
        else:  # date-level stages (topics, routing, report) rerun per affected date
            for d in dates:
                results.append(to_dict(STAGES[name].fn(store, settings, d, None, progress)))
    return {"items": len(items), "reset": reset, "dates": [d.isoformat() for d in dates], "stages": results}


# ---- transcribe --------------------------------------------------------------------------------
def plan_batches(store: Store, settings: Settings, run_date: dt.date) -> list[list[str]]:
    """Calls of the date still to transcribe, in batches of ``asr.batch_calls`` (one mapped task each)."""
    ids = [i.id for i in store.interactions(run_date=run_date, channels=["call"], pending_stage="transcribe")]
    size = settings.asr.batch_calls
    return [ids[k : k + size] for k in range(0, len(ids), size)]


def _redact_utterances(utterances, settings: Settings):
    """Normalise + redact each utterance; word timings are kept only where nothing was redacted."""
    from voc.text import normalize, redact

    out, pii = [], {}
    for u in utterances:
        text = normalize(u.text)
        if settings.text.redact:
            r = redact(text, settings.text)
            text = r.text
            for k, v in r.counts.items():
                pii[k] = pii.get(k, 0) + v
        words = u.words if text == u.text else ()
        out.append(replace(u, text=text, words=words))
    return out, pii


@stage("transcribe")
def transcribe(store, settings, run_date, batch=None, progress=None) -> StageResult:
    """Transcribe the date's calls (or an external transcript), redact, and store utterances + metrics."""
    import json as _json
    from pathlib import Path

    from voc.transcribe import get_engine, transcript_from_json

    t0 = time.perf_counter()
    items = _select(store, "transcribe", run_date, batch, channels=["call"])
    kinds = {i.id: store.source_kind(i.id) for i in items}
    engine = get_engine(settings.asr, settings.models_dir) if "audio" in kinds.values() else None
    models: set[str] = set()

    def work(item) -> None:
        path = Path(item.source_path or "")
        if kinds[item.id] == "transcript":
            data = _json.loads(path.read_text(encoding="utf-8-sig"))
            transcript = transcript_from_json(data, item.id, source=path.name)
        else:
            transcript = engine.transcribe_call(path, item.id, item.agent_channel)
        utterances, pii = _redact_utterances(transcript.utterances, settings)
        clean = text_cleaner(settings)  # rejected segments are stored (as evidence) redacted too
        dropped = [{**d, "text": clean(str(d.get("text", "")))} for d in transcript.dropped]
        store.replace_transcript(item.id, utterances, transcript.metrics, language=transcript.language,
                                 model=transcript.model, options=transcript.options, dropped=dropped, pii=pii)
        models.add(transcript.model)

    done, failed, errors = _per_item(store, "transcribe", items, work, progress)
    details: dict[str, Any] = {"models": sorted(models)}
    if engine is not None:
        details["options"] = engine.options
    return _timed("transcribe", run_date, t0, processed=done, failed=failed, errors=tuple(errors), details=details)


# ---- text -------------------------------------------------------------------------------------
@stage("text")
def text(store, settings, run_date, batch=None, progress=None) -> StageResult:
    """Normalise, redact and segment utterances and text-channel bodies (idempotent)."""
    from voc.text import get_tokenizer, process_text

    t0 = time.perf_counter()
    items = _select(store, "text", run_date, batch)
    get_tokenizer(settings.text)  # dictionaries load once, before the loop
    calls = [i.id for i in items if i.channel.value == "call"]
    utts = store.utterances_for(calls)
    pii_total: dict[str, int] = {}

    def work(item) -> None:
        if item.channel.value == "call":
            tokens = {}
            for u in utts.get(item.id, []):
                p = process_text(u.text, settings.text)
                tokens[(item.id, u.idx)] = list(p.tokens)
            store.set_tokens(tokens)
        else:
            p = process_text(item.text or "", settings.text)
            for k, v in p.pii_counts.items():
                pii_total[k] = pii_total.get(k, 0) + v
            store.update_interaction_text(item.id, p.text, list(p.tokens))

    done, failed, errors = _per_item(store, "text", items, work, progress)
    return _timed("text", run_date, t0, processed=done, failed=failed, errors=tuple(errors),
                  details={"pii_removed_late": pii_total})


# ---- orchestrator entry points (Airflow tasks call these; each opens its own store) ---------------
def open_store(settings: Settings) -> Store:
    return Store.open(settings.db_url)


def begin_run(settings: Settings, run_date: dt.date, trigger: str, stages: Sequence[str] | None = None,
              key: str | None = None) -> int:
    """Record the start of an orchestrated run; returns its id (passed along through XCom).

    ``key`` identifies the orchestrator's run (e.g. the Airflow dag/run id): calling again with the same key while
    that run is still running returns the same id (a retried task makes no second run).
    """
    store = open_store(settings)
    try:
        return store.start_run(run_date, resolve_stages(stages), trigger, key=key)
    finally:
        store.close()


def run_recorded_stage(settings: Settings, run_id: int | None, name: str, run_date: dt.date,
                       batch: Sequence[str] | None = None) -> dict[str, Any]:
    """Run one stage (or one batch of it) and record it under ``run_id``; returns the small JSON result.

    Raises on a stage-level failure so the orchestrator retries the task; per-item failures are
    recorded in the store and reported in the result.
    """
    if name not in STAGES:
        raise ValueError(f"unknown stage {name}; expected one of: {', '.join(available_stages())}")
    store = open_store(settings)
    try:
        stage_run = store.start_stage(run_id, name if batch is None else f"{name}[{len(batch)}]") if run_id else None
        try:
            result = STAGES[name].fn(store, settings, run_date, batch, None)
        except Exception as exc:
            if stage_run:
                store.finish_stage(stage_run, None, f"{type(exc).__name__}: {exc}")
            raise
        if stage_run:
            store.finish_stage(stage_run, result)
        return to_dict(replace(result, errors=result.errors[:50]))
    finally:
        store.close()


def end_run(settings: Settings, run_id: int, results: Sequence[dict[str, Any]] = (), status: str = "done") -> dict[str, Any]:
    """Close an orchestrated run as ``done`` or ``failed`` (a teardown task passes the DAG's outcome)."""
    store = open_store(settings)
    try:
        store.finish_run(run_id, status, {"stages": [r.get("stage") for r in results if isinstance(r, dict)]})
        return {"run_id": run_id, "status": status}
    finally:
        store.close()


def batches_for(settings: Settings, run_date: dt.date) -> list[list[str]]:
    store = open_store(settings)
    try:
        return plan_batches(store, settings, run_date)
    finally:
        store.close()


# ---- sentiment ----------------------------------------------------------------------------------
@stage("sentiment")
def sentiment(store, settings, run_date, batch=None, progress=None) -> StageResult:
    """Customer sentiment per utterance and per call (trajectory, escalation); one score per text."""
    from voc.sentiment import get_scorer, score_call, score_texts

    t0 = time.perf_counter()
    items = _select(store, "sentiment", run_date, batch)
    scorer = get_scorer(settings.sentiment)
    calls = [i for i in items if i.channel.value == "call"]
    utts = store.utterances_for([i.id for i in calls])
    texts = [i for i in items if i.channel.value != "call"]
    # text channels are scored in one batch; each result is then stored per item
    text_scores = {iid: r for (iid, _t), r in zip(
        [(i.id, i.text or "") for i in texts],
        score_texts([(i.id, i.text or "") for i in texts], scorer, settings.sentiment), strict=True)}
    silent = 0

    def work(item) -> None:
        nonlocal silent
        if item.channel.value == "call":
            u = utts.get(item.id) or []
            if not u:  # no speech: nothing to score, and no row claims a sentiment
                silent += 1
                store.replace_sentiment(item.id, [], None)
                return
            scores, call = score_call(u, scorer, settings.sentiment)
            store.replace_sentiment(item.id, scores, call)
        else:
            score, summary = text_scores[item.id]
            store.replace_sentiment(item.id, [score], summary)

    done, failed, errors = _per_item(store, "sentiment", items, work, progress)
    return _timed("sentiment", run_date, t0, processed=done, failed=failed, skipped=silent, errors=tuple(errors),
                  details={"scorer": getattr(scorer, "name", type(scorer).__name__), "calls_without_speech": silent})


# ---- QA -----------------------------------------------------------------------------------------
def review_priority(score: float, reasons: Sequence[str], tier: str | None, tier_weights: dict[str, float]) -> float:
    """Higher first: low scores, more reasons, valuable customers."""
    weight = tier_weights.get((tier or "normal").lower(), tier_weights.get("normal", 1.0))
    bonus = 25.0 if "forbidden_phrase" in reasons else 0.0
    return round((100.0 - score) + bonus + 10.0 * len(reasons) + 5.0 * weight, 2)


@stage("qa")
def qa(store, settings, run_date, batch=None, progress=None) -> StageResult:
    """Score each call against its queue's script; calls that need a human go to the review queue."""
    from voc.qa import e5_embedder, load_scripts
    from voc.qa import score_call as qa_score
    from voc.store.review import ReviewQueue

    t0 = time.perf_counter()
    items = _select(store, "qa", run_date, batch, channels=["call"])
    book = load_scripts(settings.qa.rules_dir)
    embedder = e5_embedder() if settings.qa.semantic_matching else None
    queue = ReviewQueue(store.db)
    utts = store.utterances_for([i.id for i in items])
    enqueued = 0
    scores: list[float] = []

    def work(item) -> None:
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

    done, failed, errors = _per_item(store, "qa", items, work, progress)
    mean = round(sum(scores) / len(scores), 1) if scores else None
    return _timed("qa", run_date, t0, processed=done, failed=failed, errors=tuple(errors),
                  details={"review_enqueued": enqueued, "mean_score": mean, "semantic": bool(embedder),
                           "scripts": sorted(book.scripts)})


# ---- topics -------------------------------------------------------------------------------------
COMPLAINT_CHANNELS = ("call", "chat", "ticket", "email", "other")  # customer-initiated contacts
TREND_DAYS = 14  # days of daily counts a topic finding carries (digest sparkline)


def complaint_docs(store: Store, settings: Settings, since: dt.date, until: dt.date | None = None,
                   exclude_assigned_before: dt.date | None = None,
                   ids: Sequence[str] | None = None) -> list[tuple[Any, str]]:
    """Complaints of the date range as (interaction, redacted text).

    Calls contribute their customer side; contacts the customer started (call, chat, ticket, e-mail) count
    unless they read as praise (sentiment >= ``sentiment.positive_threshold``); reviews count only when
    negative (below ``topics.review_max_score``). Texts shorter than ``topics.min_chars`` are skipped.
    ``exclude_assigned_before`` drops items that had a topic before that night (the noise pool of a night);
    ``ids`` keeps only those interactions (``voc watch``: the items that just arrived).
    """
    items = store.interactions(since=since, until=until or since, ids=ids)
    if exclude_assigned_before is not None and items:
        assigned = store.assigned_before([i.id for i in items], exclude_assigned_before)
        items = [i for i in items if i.id not in assigned]
    scores = store.call_sentiments([i.id for i in items])
    calls = [i.id for i in items if i.channel.value == "call"]
    utts = store.utterances_for(calls)
    out = []
    for item in items:
        summary = scores.get(item.id)
        score = summary.score if summary is not None else 0.0
        if item.channel.value == "call":
            text = "。".join(u.text for u in utts.get(item.id, []) if u.role.value == "customer")
        else:
            text = item.text or ""
        limit = settings.topics.review_max_score if item.channel.value not in COMPLAINT_CHANNELS \
            else settings.sentiment.positive_threshold
        if len(text.strip()) >= settings.topics.min_chars and score < limit:
            out.append((item, text.strip()))
    return out


def _embed_docs(store: Store, settings: Settings, texts: Sequence[str]):
    """Embeddings of ``texts`` through the store's cache (only new texts hit the model)."""

    from voc.topics import TfidfSvdEmbedder, get_embedder

    embedder = get_embedder(settings.topics, settings.seed)
    if isinstance(embedder, TfidfSvdEmbedder) and not embedder.fitted:
        embedder.fit(list(texts))
    vectors, new = embed_texts(store, embedder, texts)
    return embedder, list(vectors), new


def embed_texts(store: Store, embedder: Any, texts: Sequence[str]) -> tuple[Any, int]:
    """``(len(texts), dim)`` float32 vectors through the store's embeddings cache, and how many were new."""
    import numpy as np

    cached = store.cached_embeddings(embedder.name, texts)
    missing = sorted({t for t in texts if t not in cached})
    if missing:
        vectors = np.asarray(embedder.embed(missing), dtype=np.float32)
        store.put_embeddings(embedder.name, missing, vectors)
        cached.update(zip(missing, vectors, strict=True))
    if not texts:
        return np.zeros((0, getattr(embedder, "dim", 0)), dtype=np.float32), 0
    return np.stack([cached[t] for t in texts]), len(missing)


def _topic_finding(kind: str, run_date: dt.date, topic_id: str, label: str, members: Sequence[str], examples,
                   title: str, summary: str, details: dict[str, Any]) -> Any:
    from voc.records import Finding

    prefix = "emerging" if kind == "emerging_topic" else "trend"
    return Finding(id=f"{prefix}:{run_date}:{topic_id}",
                   kind=kind, run_date=run_date, title=title or label, summary=summary, topic_id=topic_id,
                   count=len(members), examples=tuple(examples), interaction_ids=tuple(members), details=details)


def _tonight_labels(tokens: dict[str, list[str]], members: dict[str, list[str]]) -> dict[str, str]:
    """Label each topic by what its complaints of tonight say (c-TF-IDF against tonight's other complaints): a
    topic's own label comes from the night it was created and may not describe tonight's news.

    ``tokens``: tonight's complaints' topic tokens by interaction id."""
    from voc.topics.clustering import NOISE, label_clusters, topic_label

    topic_of = {iid: tid for tid, ids in members.items() for iid in ids}
    groups = [topic_of.get(iid, NOISE) for iid in tokens]
    if not tokens or all(g == NOISE for g in groups):
        return {}
    keywords = label_clusters(list(tokens.values()), groups, top_n=3)
    return {tid: topic_label(kws) for tid, kws in keywords.items() if kws}


def _term_burst_findings(store: Store, settings: Settings, run_date: dt.date, docs: Sequence[tuple[Any, str]],
                         today: dict[str, list[str]], members: dict[str, list[str]], topic_findings: list[Any],
                         labels: dict[str, str]) -> list[Any]:
    """Bursting terms of the night as findings; a burst inside an emerging topic is folded into that finding.

    ``today``: tonight's complaints' topic tokens by interaction id."""
    from voc.records import Finding
    from voc.topics.bursts import detect_term_bursts, dominant_topic
    from voc.topics.tokens import tokenize_many

    tonight = [(i, t) for i, t in docs if i.business_date == run_date]
    if not tonight:
        return []
    history_docs = complaint_docs(store, settings, run_date - dt.timedelta(days=settings.topics.window_days),
                                  run_date - dt.timedelta(days=1))
    history: dict[dt.date, list[list[str]]] = {}
    for (item, _t), toks in zip(history_docs, tokenize_many([t for _i, t in history_docs]), strict=True):
        history.setdefault(item.business_date, []).append(toks)
    texts = {i.id: t for i, t in tonight}
    topic_of = {iid: tid for tid, ids in members.items() for iid in ids}
    out = []
    for b in detect_term_bursts(today, history, run_date, settings.topics):
        topic_id = dominant_topic(b.doc_ids, topic_of)
        folded = next((f for f in topic_findings if f.kind == "emerging_topic" and f.topic_id == topic_id
                       and len(set(f.interaction_ids) & set(b.doc_ids)) * 2 >= b.count), None)
        if folded is not None:
            folded.details.setdefault("burst_terms", []).extend(b.terms)
            continue
        examples = sorted((texts[i] for i in b.doc_ids), key=len)[: settings.topics.examples]
        where = f" (mostly in {topic_id} {labels.get(topic_id, '')})" if topic_id else ""
        out.append(Finding(
            id=f"terms:{run_date}:{b.terms[0]}", kind="emerging_terms", run_date=run_date,
            title=" / ".join(b.terms[:4]), topic_id=topic_id,
            summary=(f"{b.count} complaints today mention {' / '.join(b.terms[:4])}; history predicts "
                     f"{b.expected:.1f} (x{b.growth:.1f}, z {b.z:.1f}){where}"),
            count=b.count, examples=tuple(examples), interaction_ids=b.doc_ids,
            details={"kind": "terms", "terms": list(b.terms), "count": b.count, "expected": b.expected,
                     "ratio": b.growth, "growth": round(b.growth - 1.0, 3), "z": b.z, "p_value": b.p_value, "history_days": b.history_days}))
    return out


@stage("topics", per_item=False)
def topics(store, settings, run_date, batch=None, progress=None) -> StageResult:
    """Place the date's complaints in stable topics (new ones clustered), then flag emerging topics."""
    from voc.topics import TopicDoc, TopicRegistry, daily_counts, detect_emerging, update_topics
    from voc.topics.tokens import tokenize_many

    t0 = time.perf_counter()
    prev_date, state = store.topic_registry_before(run_date)
    registry = TopicRegistry.from_dict(state) if state else TopicRegistry()
    docs = complaint_docs(store, settings, run_date)
    pool: list[tuple[Any, str]] = []
    if settings.topics.pool_days:  # earlier nights' noise gets another chance to form a topic with tonight's
        pool = complaint_docs(store, settings, run_date - dt.timedelta(days=settings.topics.pool_days),
                              run_date - dt.timedelta(days=1), exclude_assigned_before=run_date)
        docs = docs + pool
    (progress or _noop)("topics", 0, len(docs))
    new_vectors = 0
    vectors: list[Any] = []
    embedder = None
    if docs:
        embedder, vectors, new_vectors = _embed_docs(store, settings, [t for _i, t in docs])
    topic_docs = [TopicDoc(i.id, text, i.business_date, vec) for (i, text), vec in zip(docs, vectors, strict=True)]
    dates = {i.id: i.business_date for i, _t in docs}
    result = update_topics(registry, topic_docs, settings.topics, run_date, seed=settings.seed, embedder=embedder,
                           merge_threshold=settings.topics.merge_threshold)
    final = result.registry
    store.save_topic_run(run_date, final.to_dict(), final.topics, [e for e in final.events if e.date == run_date])
    store.replace_topic_assignments(run_date, [(a.interaction_id, a.topic_id, a.similarity, dates[a.interaction_id])
                                              for a in result.assignments])
    (progress or _noop)("topics", len(docs), len(docs))

    # emerging: today's count per topic against its own history (merged topics count for their survivor)
    since = run_date - dt.timedelta(days=settings.topics.window_days)
    rows = []
    for tid, day in store.topic_counts(since, run_date):
        try:
            rows.append((final.resolve(tid), day))
        except KeyError:  # assignments of a topic from a registry that was reset
            continue
    labels = {t.id: t.label for t in final.topics}
    per_day = daily_counts(rows)
    flagged = detect_emerging(per_day, run_date, settings.topics, labels, result.examples_today)
    members: dict[str, list[str]] = {}  # tonight's documents per topic (pool documents keep their own date)
    for a in result.assignments:
        if dates[a.interaction_id] == run_date:
            members.setdefault(a.topic_id, []).append(a.interaction_id)
    counts_today = {tid: len(ids) for tid, ids in members.items()}
    tonight_docs = [(i, t) for i, t in docs if i.business_date == run_date]
    tonight_tokens = {i.id: toks for (i, _t), toks in
                      zip(tonight_docs, tokenize_many([t for _i, t in tonight_docs]), strict=True)}
    tonight_label = _tonight_labels(tonight_tokens, members)
    findings = []
    for e in flagged:
        summary = (f"{e.topic_id} «{e.label}»: new topic, {e.count} complaints today" if e.kind == "new" else
                   f"{e.topic_id} «{e.label}»: spike, {e.count} complaints today vs {e.baseline:.1f}/day over "
                   f"{e.history_days} days (x{e.growth:.1f}, z {e.z:.1f})")
        findings.append(_topic_finding(
            "emerging_topic", run_date, e.topic_id, e.label, members.get(e.topic_id, []), e.examples,
            tonight_label.get(e.topic_id, e.label), summary,
            {"kind": e.kind, "count": e.count, "baseline": e.baseline, "ratio": e.growth,
             "growth": "new" if e.kind == "new" else round(e.growth - 1.0, 3), "z": e.z,
             "p_value": e.p_value, "first_seen": e.first_seen.isoformat(),
             "keywords": list(final.get(e.topic_id).keywords)}))
    emerging_ids = {e.topic_id for e in flagged}
    trend = sorted(((tid, n) for tid, n in counts_today.items() if tid not in emerging_ids
                    and n >= settings.topics.trend_min_count), key=lambda x: (-x[1], x[0]))[: settings.topics.trend_top_n]
    for tid, n in trend:
        findings.append(_topic_finding(
            "topic_trend", run_date, tid, labels.get(tid, tid), members.get(tid, []), result.examples_today.get(tid, ()),
            tonight_label.get(tid, labels.get(tid, tid)), f"{tid} «{labels.get(tid, tid)}»: {n} complaints today",
            {"count": n, "keywords": list(final.get(tid).keywords)}))
    bursts = _term_burst_findings(store, settings, run_date, docs, tonight_tokens, members, findings, labels)
    findings += bursts
    for k, f in enumerate(findings):
        if f.topic_id:
            f.details["topic_label"] = labels.get(f.topic_id, "")
        terms = f.details.get("burst_terms")
        if terms:  # the words that burst tonight say best what is new
            head = "/".join(list(dict.fromkeys(terms))[:4])
            findings[k] = replace(f, title=head if head in f.title else f"{head} · {f.title}")
    for f in findings:  # daily counts of the last two weeks, for the digests' sparkline
        if f.topic_id:
            f.details["trend"] = [per_day.get(f.topic_id, {}).get(run_date - dt.timedelta(days=k), 0)
                                  for k in range(TREND_DAYS - 1, -1, -1)]
    store.replace_findings(run_date, ["emerging_topic", "emerging_terms", "topic_trend"], findings)
    details = {**result.stats, "pool_docs": len(pool), "pool_assigned": sum(dates[a.interaction_id] != run_date
                                                                           for a in result.assignments),
               "embedded_new": new_vectors, "registry_from": prev_date.isoformat() if prev_date else None,
               "active_topics": len(final.active), "term_bursts": [f.title for f in bursts], "emerging": [
                   {"topic_id": e.topic_id, "kind": e.kind, "label": e.label, "count": e.count, "z": e.z} for e in flagged]}
    tonight = sum(counts_today.values())
    return _timed("topics", run_date, t0, processed=tonight, skipped=len(docs) - len(pool) - tonight, details=details)


# ---- routing ------------------------------------------------------------------------------------
def _interaction_text(item, utts) -> str:
    """What a contact is about: a call's customer side (the agent's questions would make every call a
    consultation), else the whole call; a text's body."""
    if item.channel.value == "call":
        said = utts.get(item.id, [])
        customer = [u.text for u in said if u.role.value == "customer"]
        return "。".join(customer or [u.text for u in said])
    return item.text or ""


def qa_pattern_findings(store: Store, settings: Settings, run_date: dt.date, calls: Sequence[Any]) -> list[Any]:
    """QA rules failed by several of the date's calls (forbidden phrases: by any) as findings for the owner of agents."""
    from voc.qa.scorer import FORBIDDEN_RULE
    from voc.records import Finding

    failed: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    examples: dict[str, list[str]] = {}
    for r in store.qa_results([c.id for c in calls]):
        for o in r["outcomes"]:
            if o.get("passed", True):
                continue
            rid = str(o.get("rule_id"))
            failed.setdefault(rid, []).append(r["interaction_id"])
            names[rid] = str(o.get("name") or rid)
            for ev in o.get("evidence") or ():
                if ev.get("text") and len(examples.setdefault(rid, [])) < 3:
                    examples[rid].append(str(ev["text"]))
    total = len(calls)
    out = []
    for rid, ids in sorted(failed.items()):
        if len(ids) < settings.routing.qa_pattern_min_calls and rid != FORBIDDEN_RULE:
            continue
        out.append(Finding(
            id=f"qa:{run_date}:{rid}", kind="qa_pattern", run_date=run_date,
            title=f"QA: {names[rid]} failed in {len(ids)} of {total} calls",
            summary=f"script rule {rid} ({names[rid]}) failed in {len(ids)} calls", count=len(ids),
            examples=tuple(examples.get(rid, ())), interaction_ids=tuple(sorted(set(ids))),
            details={"rule_id": rid, "calls_scored": total}))
    return out


@stage("routing", per_item=False)
def routing(store, settings, run_date, batch=None, progress=None) -> StageResult:
    """Service type per interaction; findings weighted by customer value and routed to owning departments."""
    from voc.routing import RouteMemory, build_router, classify_service_type, route_findings, weigh_findings

    t0 = time.perf_counter()
    items = store.interactions(run_date=run_date)
    by_id = {i.id: i for i in items}
    utts = store.utterances_for([i.id for i in items if i.channel.value == "call"])
    texts = {i.id: _interaction_text(i, utts) for i in items}
    service = {iid: classify_service_type(t).label for iid, t in texts.items()}
    store.set_service_types(service)

    calls = [i for i in items if i.channel.value == "call"]
    store.replace_findings(run_date, ["qa_pattern"], qa_pattern_findings(store, settings, run_date, calls))
    findings = store.findings(run_date=run_date)
    missing = {iid for f in findings for iid in f.interaction_ids if iid not in by_id}
    if missing:  # a finding may point at items re-dated by reprocessing
        by_id.update({i.id: i for i in store.interactions(ids=sorted(missing))})
    members = {f.id: [by_id[i] for i in f.interaction_ids if i in by_id] for f in findings}
    weighed = weigh_findings(findings, members, settings.routing.tier_weights, settings.routing.value_scale)
    for f in weighed:
        tiers: dict[str, int] = {}
        for i in members.get(f.id, []):
            tier = (i.customer_tier or "unknown").lower()
            tiers[tier] = tiers.get(tier, 0) + 1
        f.details["tiers"] = tiers
        f.details["vip_customers"] = len({i.customer_id for i in members.get(f.id, [])
                                          if i.customer_id and (i.customer_tier or "").lower() == "vip"})
        f.details["call_ids"] = sorted(i.external_id or i.id for i in members.get(f.id, [])
                                       if i.channel.value == "call")[:20]
    store.update_findings(weighed)
    router = build_router(settings.routing)
    memory = RouteMemory.from_dict(store.route_memory())
    member_texts = {f.id: [texts.get(i) or "" for i in f.interaction_ids[:20]] for f in weighed}
    routes = route_findings(weighed, router, memory, member_texts)
    written = store.replace_routes(routes)
    by_dept: dict[str, int] = {}
    for r in store.routes([f.id for f in weighed]):
        by_dept[r.department] = by_dept.get(r.department, 0) + 1
    types: dict[str, int] = {}
    for v in service.values():
        types[v] = types.get(v, 0) + 1
    return _timed("routing", run_date, t0, processed=len(weighed), skipped=len(routes) - written,
                  details={"findings": len(weighed), "by_department": by_dept, "service_types": types,
                           "confirmed_kept": len(routes) - written, "memory_topics": len(memory.to_dict())})


# ---- report -------------------------------------------------------------------------------------
def digest_data(store: Store, settings: Settings, run_date: dt.date) -> Any:
    """Everything the date's digests show, read from the store."""
    from voc.report import DigestData
    from voc.routing import load_departments

    findings = store.findings(run_date=run_date)
    routes = store.routes([f.id for f in findings])
    items = store.interactions(run_date=run_date)
    volumes: dict[str, int] = {}
    for i in items:
        volumes[i.channel.value] = volumes.get(i.channel.value, 0) + 1
    sums = store.call_sentiments([i.id for i in items])
    sentiment: dict[str, float] = {}
    if sums:
        vals = [s.score for s in sums.values()]
        sentiment = {"scored": len(vals), "mean": round(sum(vals) / len(vals), 3),
                     "negative_share": round(sum(v < settings.sentiment.negative_threshold for v in vals) / len(vals), 3),
                     "escalations": sum(s.escalation for s in sums.values())}
        call_ids = {i.id for i in items if i.channel.value == "call"}
        for s in sums.values():
            if s.interaction_id in call_ids:
                key = f"calls_{s.trajectory}"
                sentiment[key] = sentiment.get(key, 0) + 1
    qa_rows = store.qa_results([i.id for i in items if i.channel.value == "call"])
    qa: dict[str, float] = {}
    if qa_rows:
        scores = [r["score"] for r in qa_rows]
        qa = {"scored": len(scores), "mean_score": round(sum(scores) / len(scores), 1),
              "below_threshold": sum(s < settings.qa.review_score_below for s in scores),
              "sent_to_review": sum(bool(r["review_reasons"]) for r in qa_rows)}
    names = {d.id: d.display_name for d in load_departments(settings.routing.departments_file)}
    return DigestData(run_date=run_date, findings=findings, routes=routes, department_names=names, volumes=volumes,
                      sentiment=sentiment, qa=qa, top_n=settings.report.top_n)


def _customer_section(store: Store, settings: Settings, run_date: dt.date, data: Any, out_dir) -> tuple[Any, list]:
    """Customer view (repeat contacts, churn risk, outreach) when voc.customers is installed."""
    try:
        from voc.customers import build_customer_report, write_customer_exports
    except ImportError:
        return data, []
    report = build_customer_report(store, settings, run_date)
    paths = write_customer_exports(report, out_dir)
    if "customers" in getattr(type(data), "__dataclass_fields__", {}):
        data = replace(data, customers=report.to_digest())
    return data, list(paths)


@stage("report", per_item=False)
def report(store, settings, run_date, batch=None, progress=None) -> StageResult:
    """Write the department digests and the management overview; send them to the configured webhooks."""
    from pathlib import Path

    from voc.report import build_notifiers, deliver_digests, write_digests
    from voc.routing import load_departments

    t0 = time.perf_counter()
    out_dir = Path(settings.exports_dir) / run_date.isoformat()
    if out_dir.is_dir():  # the date's digests are regenerated whole: no stale department files from a rerun
        import shutil

        shutil.rmtree(out_dir)
    data = digest_data(store, settings, run_date)
    data, extra = _customer_section(store, settings, run_date, data, out_dir)
    paths = write_digests(data, out_dir, settings.report.formats) + extra
    store.add_deliveries(run_date, [{"department": "", "target": "files", "kind": "files", "status": "written",
                                     "attempts": 1, "location": str(out_dir)}])
    sent = failed = 0
    errors: tuple[str, ...] = ()
    age = (dt.date.today() - run_date).days
    too_old = age > settings.report.webhook_max_age_days
    if settings.report.webhooks and too_old:
        log.info("report %s: %d days old, digests written but not sent (report.webhook_max_age_days=%d)",
                 run_date, age, settings.report.webhook_max_age_days)
    notifiers = build_notifiers(settings.report) if settings.report.webhooks and not too_old else []
    if notifiers:
        dept_hooks = {d.id: d.webhooks for d in load_departments(settings.routing.departments_file)}
        try:
            deliveries = deliver_digests(data, notifiers, dept_hooks)
        finally:
            for n in notifiers:
                n.close()
        rows = [{"department": d.department, "target": d.webhook, "kind": d.kind, "status": d.status,
                 "attempts": d.attempts, "error": d.error or None,
                 "location": f"part {d.part}/{d.parts}, HTTP {d.http_status}"} for d in deliveries]
        store.add_deliveries(run_date, rows)
        sent = sum(d.status == "delivered" for d in deliveries)
        failed = len(deliveries) - sent
        errors = tuple(f"webhook {d.webhook} ({d.department}): {d.error}" for d in deliveries
                       if d.status != "delivered" and d.error)
    return _timed("report", run_date, t0, processed=len(paths), failed=failed, errors=errors[:20],
                  details={"dir": str(out_dir), "files": len(paths), "findings": len(data.findings),
                           "webhooks_sent": sent, "webhooks_failed": failed})

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


def begin_run(settings: Settings, run_date: dt.date, trigger: str, stages: Sequence[str] | None = None) -> int:
    """Record the start of an orchestrated run; returns its id (passed along through XCom)."""
    store = open_store(settings)
    try:
        return store.start_run(run_date, resolve_stages(stages), trigger)
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

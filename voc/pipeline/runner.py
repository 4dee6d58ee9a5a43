"""The embedded runner: the stage registry, per-item bookkeeping, recorded runs, resume and reprocessing.

Each stage module of :mod:`voc.pipeline` registers one ``run(store, settings, run_date, batch=None, progress=None,
*, now=None) -> StageResult`` with :func:`stage`; the CLI, the web app and the Airflow DAGs call the functions here.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import gc
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from voc.config import Settings
from voc.records import Interaction, StageResult, to_dict
from voc.store import Store
from voc.store.locks import run_lock

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)

DEFAULT_ORDER = ("ingest", "transcribe", "text", "embed", "sentiment", "qa", "topics", "routing", "report")


class StageFn(Protocol):
    def __call__(
        self, store: Store, settings: Settings, run_date: dt.date, batch: Sequence[str] | None = None,
        progress: ProgressFn | None = None, *, now: dt.datetime | None = None,
    ) -> StageResult: ...


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    fn: StageFn
    per_item: bool  # tracks item_status rows (resumable per interaction)
    doc: str


STAGES: dict[str, Stage] = {}


def stage(name: str, per_item: bool = True) -> Callable[[StageFn], StageFn]:
    """Register ``fn`` as the stage ``name`` (its docstring's first line is the stage's description)."""

    def register(fn: StageFn) -> StageFn:
        STAGES[name] = Stage(name, fn, per_item, (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "")
        return fn

    return register


class StageError(RuntimeError):
    """A whole stage could not run (missing model, bad config); items were not touched."""


def noop_progress(_stage: str, _done: int, _total: int) -> None:
    pass


def utcnow() -> dt.datetime:
    """The wall clock, read only at the entry points (CLI, DAG tasks); logic takes ``now`` as an argument."""
    return dt.datetime.now(dt.UTC)


def timed(name: str, run_date: dt.date, t0: float, **kw: Any) -> StageResult:
    return StageResult(stage=name, run_date=run_date.isoformat(), seconds=round(time.perf_counter() - t0, 3), **kw)


def select_items(store: Store, stage_name: str, run_date: dt.date, batch: Sequence[str] | None,
                 **filters: Any) -> list[Interaction]:
    """Items for a stage: the given batch (ids), else the run date's items not yet done."""
    if batch is not None:
        return store.interactions(ids=batch, pending_stage=stage_name, **filters)
    return store.interactions(run_date=run_date, pending_stage=stage_name, **filters)


class ItemTimeout(Exception):
    """One item ran past its stage's time budget (``limits.item_timeout_s``)."""


_ITEM_BUDGET: contextvars.ContextVar[float] = contextvars.ContextVar("voc_item_budget", default=0.0)


@contextlib.contextmanager
def item_budget(seconds: float) -> Iterator[None]:
    """Within the block, :func:`per_item` gives each item at most ``seconds`` (0 = no budget)."""
    token = _ITEM_BUDGET.set(max(0.0, seconds))
    try:
        yield
    finally:
        _ITEM_BUDGET.reset(token)


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`ItemTimeout` in the block after ``seconds``: SIGALRM, so only in the main thread on POSIX and
    only where no other timer runs (pytest-timeout, a caller's alarm); elsewhere the block runs unbounded."""
    usable = (seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
              and signal.getitimer(signal.ITIMER_REAL)[0] == 0)
    if not usable:
        yield
        return

    def expire(_signum: int, _frame: Any) -> None:
        raise ItemTimeout(f"took longer than {seconds:g} s (limits.item_timeout_s); the stage went on without it")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def per_item(store: Store, stage_name: str, items: Sequence[Interaction], work: Callable[[Interaction], None],
             progress: ProgressFn | None) -> tuple[int, int, list[dict[str, str]]]:
    """Run ``work`` on each item, each within the current :func:`item_budget`; a failure (or an item over the
    budget) is recorded for that item and the rest go on."""
    progress = progress or noop_progress
    done = failed = 0
    errors: list[dict[str, str]] = []
    total = len(items)
    budget = _ITEM_BUDGET.get()
    for i, item in enumerate(items, 1):
        try:
            with _deadline(budget):
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


WRITE_BATCH = 500  # items whose results one transaction writes (per_item_batched)


def per_item_batched(store: Store, stage_name: str, items: Sequence[Interaction], work: Callable[[Interaction], Any],
                     write: Callable[[list[tuple[Interaction, Any]], list[tuple[str, str]]], None],
                     progress: ProgressFn | None, *, size: int | None = None) -> tuple[int, int, list[dict[str, str]]]:
    """:func:`per_item` for stages whose work is computing and whose writes can wait: ``work(item)`` returns the
    item's result and writes nothing; every ``size`` items ``write(results, failed)`` stores the results and the
    status of each item (done for ``results``, failed with its reason for ``failed``) in one transaction.

    A killed process loses at most the batch in hand (its items are not marked done, so the next run redoes them).
    When a batch cannot be written, its items are written one at a time, so one unwritable result fails alone."""
    progress = progress or noop_progress
    size = size or WRITE_BATCH
    errors: list[dict[str, str]] = []
    done = 0
    total = len(items)
    budget = _ITEM_BUDGET.get()
    results: list[tuple[Interaction, Any]] = []
    failed: list[tuple[str, str]] = []

    def fail(item: Interaction, exc: BaseException) -> tuple[str, str]:
        reason = f"{type(exc).__name__}: {exc}"
        errors.append({"id": item.id, "external_id": item.external_id or "", "reason": reason})
        log.warning("%s failed for %s (%s): %s", stage_name, item.id, item.external_id, reason)
        return item.id, reason

    def flush() -> None:
        nonlocal done
        try:
            write(results, failed)
            done += len(results)
        except Exception as exc:  # one bad row spoils the transaction: retry item by item
            log.warning("%s: writing a batch of %d failed (%s); writing its items one at a time", stage_name,
                        len(results), exc)
            for pair in results:
                try:
                    write([pair], [])
                    done += 1
                except Exception as item_exc:
                    store.mark(stage_name, pair[0].id, "failed", fail(pair[0], item_exc)[1])
            for iid, reason in failed:
                store.mark(stage_name, iid, "failed", reason)
        results.clear()
        failed.clear()

    for i, item in enumerate(items, 1):
        try:
            with _deadline(budget):
                results.append((item, work(item)))
        except Exception as exc:  # isolate per item; the reason is stored with the batch and reported
            failed.append(fail(item, exc))
        if len(results) + len(failed) >= size:
            flush()
        progress(stage_name, i, total)
    if results or failed:
        flush()
    return done, len(errors), errors


# ---- the runner --------------------------------------------------------------------------------
@dataclass(slots=True)
class RunSummary:
    run_id: int
    run_date: str
    status: str
    resumed: bool
    stages: list[dict[str, Any]] = field(default_factory=list)
    waited_for: int | None = None  # another process's run of the date that finished while this one waited

    def to_dict(self) -> dict[str, Any]:
        out = {"run_id": self.run_id, "run_date": self.run_date, "status": self.status, "resumed": self.resumed,
               "stages": self.stages}
        return out | ({"waited_for": self.waited_for} if self.waited_for is not None else {})


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
              progress: ProgressFn | None = None, *, now: dt.datetime | None = None) -> StageResult:
    """Run one stage outside a recorded run (the DAG tasks use :func:`run_recorded_stage`)."""
    return STAGES[name].fn(store, settings, run_date, batch, progress, now=now or utcnow())


def run(store: Store, settings: Settings, run_date: dt.date, stages: Iterable[str] | None = None, *,
        trigger: str = "cli", resume: bool = True, progress: ProgressFn | None = None,
        now: dt.datetime | None = None, on_stage: Callable[[dict[str, Any]], None] | None = None) -> RunSummary:
    """Run the stages for one business date in-process, recording the run and each stage.

    A run for the same date that crashed or failed is resumed: stages it finished are skipped,
    and within a stage only items not yet done are processed. ``now`` is the caller's clock (default: read once);
    ``on_stage`` gets each stage's summary row as soon as the stage ends (progress lines for logs).
    """
    names = resolve_stages(stages)
    now = now or utcnow()
    seen = store.latest_run(run_date)
    # One run per date at a time (two would transcribe everything twice and collide on their rows); the second
    # waits, and when the first finished the same stages meanwhile, reports that run instead of redoing it.
    try:
        with run_lock(store.db, run_date, settings.limits.run_lock_wait_s) as waited:
            latest = store.latest_run(run_date) if waited else None
            if latest and latest["status"] == "done" and set(names) <= set(latest["stages"]) and latest != seen:
                log.info("run for %s: run %d finished it while this one waited", run_date, latest["id"])
                return RunSummary(latest["id"], run_date.isoformat(), "done", False, [
                    {"stage": n, "status": f"skipped (done by run {latest['id']} while this one waited)"}
                    for n in names], waited_for=latest["id"])
            return _run_locked(store, settings, run_date, names, trigger=trigger, resume=resume,
                               progress=progress, now=now, on_stage=on_stage)
    finally:
        release_memory()  # after the lock is let go


def release_memory() -> None:
    """Hand what a night freed back to the system, so a process running night after night (a backfill, a test, a
    worker) peaks at one night's memory: a full collection (reference cycles of the night's records and frames),
    then glibc's ``malloc_trim`` (freed blocks otherwise stay mapped in its heap). Models stay loaded; the per-text
    token memos (topic tokens, the sentiment model's jieba words) are emptied."""
    import sys

    for module, memo in (("voc.semantic.tokens", "_default_tokens"), ("voc.sentiment.features", "words")):
        cached = getattr(sys.modules.get(module), memo, None)
        if cached is not None:
            cached.cache_clear()
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): the collection is what there is
        pass


def _run_locked(store: Store, settings: Settings, run_date: dt.date, names: list[str], *, trigger: str,
                resume: bool, progress: ProgressFn | None, now: dt.datetime,
                on_stage: Callable[[dict[str, Any]], None] | None) -> RunSummary:
    run_id = store.resumable_run(run_date) if resume else None
    resumed = run_id is not None
    closed = store.close_stale(run_date, keep_run=run_id)  # stage rows a killed process left 'running'
    if closed:
        log.info("run for %s: closed %d stage row(s) left running by an interrupted run", run_date, closed)
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
            with item_budget(settings.limits.item_timeout_s if name != "transcribe" else 0.0):
                result = STAGES[name].fn(store, settings, run_date, None, progress, now=now)
        except Exception as exc:
            store.finish_stage(stage_run, None, f"{type(exc).__name__}: {exc}")
            store.finish_run(run_id, "failed")
            summary.status = "failed"
            summary.stages.append({"stage": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}"})
            log.exception("stage %s failed for %s", name, run_date)
            if on_stage:
                on_stage(summary.stages[-1])
            return summary
        store.finish_stage(stage_run, result)
        summary.stages.append({"status": "done", **to_dict(replace(result, errors=result.errors[:20]))})
        if on_stage:
            on_stage(summary.stages[-1])
    store.finish_run(run_id, "done", {"stages": names})
    summary.status = "done"
    return summary


def reprocess(store: Store, settings: Settings, stages: Sequence[str], *, call_ids: Sequence[str] = (),
              since: dt.date | None = None, until: dt.date | None = None,
              progress: ProgressFn | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Rerun chosen stages for chosen interactions (ids or call ids) or a date range."""
    names = resolve_stages(stages)
    now = now or utcnow()
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
    per_item_stages = [n for n in names if STAGES[n].per_item]
    reset = store.reset(per_item_stages, [i.id for i in items])
    results = []
    dates = sorted({i.business_date for i in items})
    for name in names:
        if name == "ingest":
            continue
        if STAGES[name].per_item:
            first = dates[0] if dates else now.date()
            with item_budget(settings.limits.item_timeout_s if name != "transcribe" else 0.0):
                res = STAGES[name].fn(store, settings, first, [i.id for i in items], progress, now=now)
            results.append(to_dict(res))
        else:  # date-level stages (topics, routing, report) rerun per affected date
            for d in dates:
                results.append(to_dict(STAGES[name].fn(store, settings, d, None, progress, now=now)))
    return {"items": len(items), "reset": reset, "dates": [d.isoformat() for d in dates], "stages": results}


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
                       batch: Sequence[str] | None = None, *, now: dt.datetime | None = None) -> dict[str, Any]:
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
            with item_budget(settings.limits.item_timeout_s if name != "transcribe" else 0.0):
                result = STAGES[name].fn(store, settings, run_date, batch, None, now=now or utcnow())
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

"""Nightly voc run as an Airflow 3 DAG: one DAG run per business date, every task one ``voc.pipeline`` call.

Wiring only: voc is imported inside task bodies, so parsing this file costs no more than Airflow itself.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, conf, dag, get_current_context, task

log = logging.getLogger(__name__)

# The stages in the embedded runner's order (voc.pipeline.DEFAULT_ORDER; a test keeps the two equal).
# Kept literal here because importing voc.pipeline at parse time would pull in SQLAlchemy and pydantic.
STAGES = ("ingest", "transcribe", "text", "embed", "sentiment", "qa", "topics", "routing", "report")

# Operator knobs come from Airflow's own config ([voc] section or AIRFLOW__VOC__* on the scheduler and
# workers), read at parse time because they shape the DAG; voc's settings (VOC_*) are read in the tasks.
SCHEDULE_TZ = conf.get("voc", "schedule_timezone", fallback="Asia/Shanghai")
SCHEDULE_CRON = conf.get("voc", "nightly_cron", fallback="0 2 * * *")
START_DATE = conf.get("voc", "nightly_start_date", fallback="2026-11-01")
ASR_POOL = conf.get("voc", "asr_pool", fallback="voc_asr")
ASR_QUEUE = conf.get("voc", "asr_queue", fallback=conf.get("operators", "default_queue", fallback="default"))
EMBED_QUEUE = conf.get("voc", "embed_queue", fallback=conf.get("operators", "default_queue", fallback="default"))
EMBED_BATCH_ITEMS = conf.getint("voc", "embed_batch_items", fallback=500)
RETRIES = conf.getint("voc", "task_retries", fallback=3)
RETRY_DELAY_S = conf.getfloat("voc", "retry_delay_seconds", fallback=120.0)

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "voc",
    "retries": RETRIES,
    "retry_delay": dt.timedelta(seconds=RETRY_DELAY_S),
    "retry_exponential_backoff": 2.0,  # 2 min, 4 min, 8 min ... capped below
    "max_retry_delay": dt.timedelta(hours=1),
}


def business_date(context: Any, timezone: str, date_param: str | None = None) -> dt.date:
    """The business date a run processes.

    An explicit ``date`` param wins; else the logical date's day in ``timezone`` (for scheduled runs
    this is the data interval start); else, for a manual run without a logical date, the day before
    the run was requested. Never the wall clock at task time, so retries and backfills are stable.
    """
    from zoneinfo import ZoneInfo

    if date_param:
        return dt.date.fromisoformat(date_param)
    tz = ZoneInfo(timezone)
    logical = context.get("logical_date")
    if logical is not None:
        return logical.astimezone(tz).date()
    run_after = context["dag_run"].run_after
    return run_after.astimezone(tz).date() - dt.timedelta(days=1)


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The small part of a stage result that travels through XCom (errors stay in the store)."""
    keys = ("stage", "run_date", "processed", "skipped", "failed", "seconds")
    return {k: result[k] for k in keys if k in result}


@task
def start() -> dict[str, Any]:
    """Resolve the business date and record the voc run; returns ``{run_id, date}`` for the other tasks."""
    from voc import pipeline
    from voc.config import load_settings

    context = get_current_context()
    settings = load_settings()
    day = business_date(context, settings.timezone, context["params"].get("date"))
    key = f"{context['dag'].dag_id}/{context['run_id']}"  # a retried start task reuses its voc run
    run_id = pipeline.begin_run(settings, day, trigger="airflow", key=key)
    log.info("voc run %s for business date %s", run_id, day)
    return {"run_id": run_id, "date": day.isoformat()}


@task
def run_stage(run: dict[str, Any], name: str) -> dict[str, Any]:
    """Run one whole stage for the run's business date (a stage that is not installed is skipped)."""
    from voc import pipeline
    from voc.config import load_settings

    if name not in pipeline.available_stages():
        log.warning("stage %s is not installed in this voc; skipped", name)
        return {"stage": name, "skipped": "not installed"}
    result = pipeline.run_recorded_stage(load_settings(), run["run_id"], name, dt.date.fromisoformat(run["date"]))
    log.info("%s: %s", name, result)
    return summary(result)


@task
def plan_batches(run: dict[str, Any]) -> list[list[str]]:
    """Calls of the date still to transcribe, in batches of ``asr.batch_calls`` ids (one mapped task each)."""
    from voc import pipeline
    from voc.config import load_settings

    batches = pipeline.batches_for(load_settings(), dt.date.fromisoformat(run["date"]))
    log.info("%d transcription batch(es), %d call(s)", len(batches), sum(map(len, batches)))
    return batches


@task(pool=ASR_POOL, queue=ASR_QUEUE)
def transcribe(run: dict[str, Any], batch: list[str]) -> dict[str, Any]:
    """Transcribe one batch of calls; the pool bounds how many ASR models run at once."""
    from voc import pipeline
    from voc.config import load_settings

    result = pipeline.run_recorded_stage(load_settings(), run["run_id"], "transcribe",
                                         dt.date.fromisoformat(run["date"]), batch)
    log.info("transcribe batch of %d: %s", len(batch), result)
    return summary(result)


@task
def plan_embed_batches(run: dict[str, Any], size: int) -> list[list[str]]:
    """Items of the date still to embed, in batches of ``size`` ids (``[voc] embed_batch_items``; one mapped task each)."""
    from voc import pipeline
    from voc.config import load_settings

    batches = pipeline.embed_batches_for(load_settings(), dt.date.fromisoformat(run["date"]), size)
    log.info("%d embedding batch(es), %d item(s)", len(batches), sum(map(len, batches)))
    return batches


@task(queue=EMBED_QUEUE)
def embed(run: dict[str, Any], batch: list[str]) -> dict[str, Any]:
    """Embed one batch of items: every vector the later stages look up, once, into the store's cache."""
    from voc import pipeline
    from voc.config import load_settings

    result = pipeline.run_recorded_stage(load_settings(), run["run_id"], "embed", dt.date.fromisoformat(run["date"]),
                                         batch)
    log.info("embed batch of %d: %s", len(batch), result)
    return summary(result)


@task
def finish(run: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    """Mark the voc run done once every stage task succeeded (or had nothing to do)."""
    from voc import pipeline
    from voc.config import load_settings

    return pipeline.end_run(load_settings(), run["run_id"], results)


@task(trigger_rule="one_failed", retries=0)
def mark_failed(run: dict[str, Any]) -> dict[str, Any]:
    """Close the voc run as failed when a stage task failed for good (so `voc status` does not show it running)."""
    from voc import pipeline
    from voc.config import load_settings

    return pipeline.end_run(load_settings(), run["run_id"], status="failed")


@dag(
    dag_id="voc_nightly",
    schedule=CronDataIntervalTimetable(SCHEDULE_CRON, timezone=SCHEDULE_TZ),
    start_date=pendulum.parse(START_DATE, tz=SCHEDULE_TZ),
    catchup=True,  # missed days run in order when the DAG is switched on again
    max_active_runs=1,  # topics build on the previous days' registry, so dates run one after another
    default_args=DEFAULT_ARGS,
    tags=["voc"],
    params={
        "date": Param(None, type=["null", "string"], format="date",
                      description="business date (YYYY-MM-DD) for a manual run; default: the logical date's "
                                  "day, or the day before the run was requested"),
    },
)
def voc_nightly() -> None:
    """ingest → transcribe (mapped over call batches, ASR pool) → text → embed (mapped over item batches) →
    sentiment → qa → topics → routing → report.

    QA reads sentiment (empathy steps, review rules), so the two run in that order; the chain is the
    embedded runner's order, and the store ends up the same as after ``voc run``. The model-heavy stages
    (transcribe, embed) are mapped tasks, so every Celery/Kubernetes worker takes a share of them.
    """
    run = start()
    ingested = run_stage.override(task_id="ingest")(run, "ingest")
    batches = plan_batches(run)
    transcribed = transcribe.partial(run=run).expand(batch=batches)
    ingested >> batches
    # none_failed: zero batches (nothing to transcribe) skips the mapped task, and text must still run.
    previous = run_stage.override(task_id="text", trigger_rule="none_failed")(run, "text")
    transcribed >> previous
    results = [ingested, previous]
    embed_batches = plan_embed_batches(run, EMBED_BATCH_ITEMS)
    embedded = embed.partial(run=run).expand(batch=embed_batches)
    previous >> embed_batches
    previous >> embedded
    # none_failed: zero batches (no items tonight) skip the mapped task, and the stages after it must still run.
    previous = run_stage.override(task_id="sentiment", trigger_rule="none_failed")(run, "sentiment")
    embedded >> previous
    results.append(previous)
    for name in STAGES[5:]:
        current = run_stage.override(task_id=name)(run, name)
        previous >> current
        results.append(current)
        previous = current
    finish(run, results)
    results >> mark_failed(run)


voc_nightly()

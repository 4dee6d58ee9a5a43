"""Manual reprocessing as an Airflow 3 DAG: rerun chosen stages for chosen calls or a date range.

Trigger it with a conf such as ``{"call_ids": ["C1"], "stages": ["transcribe", "text"]}``; the Params'
JSON schemas check each field at trigger time, the first task checks how they combine.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pendulum
from airflow.sdk import Param, conf, dag, get_current_context, task

log = logging.getLogger(__name__)

# voc.pipeline.DEFAULT_ORDER, literal so that parsing does not import voc (a test keeps them equal).
STAGES = ("ingest", "transcribe", "text", "embed", "sentiment", "qa", "topics", "routing", "report")
ASR_POOL = conf.get("voc", "asr_pool", fallback="voc_asr")
ASR_QUEUE = conf.get("voc", "asr_queue", fallback=conf.get("operators", "default_queue", fallback="default"))


def check_request(params: dict[str, Any]) -> dict[str, Any]:
    """Cross-field checks the per-Param schemas cannot express; returns the normalised request."""
    call_ids = [c.strip() for c in params.get("call_ids") or [] if c.strip()]
    since = params.get("date_from")
    until = params.get("date_to")
    if call_ids and since:
        raise ValueError("give either call_ids or date_from/date_to, not both")
    if not call_ids and not since:
        raise ValueError('nothing to reprocess: give call_ids (e.g. ["C1"]) or date_from (YYYY-MM-DD)')
    if until and not since:
        raise ValueError("date_to needs date_from")
    if since and until and dt.date.fromisoformat(until) < dt.date.fromisoformat(since):
        raise ValueError(f"date_to {until} is before date_from {since}")
    stages = list(params.get("stages") or [])
    if stages == ["ingest"]:
        raise ValueError("ingest alone reprocesses nothing; name the stages to rerun, e.g. [\"transcribe\", \"text\"]")
    return {"call_ids": call_ids, "date_from": since, "date_to": (until or since) if since else None,
            "stages": stages, "asr_model": params.get("asr_model") or None}


@task(retries=0)
def validate() -> dict[str, Any]:
    """Check the request (fails at once, without retries, when it does not make sense)."""
    request = check_request(dict(get_current_context()["params"]))
    log.info("reprocess request: %s", request)
    return request


@task(pool=ASR_POOL, queue=ASR_QUEUE)
def reprocess(request: dict[str, Any]) -> dict[str, Any]:
    """Reset and rerun the stages for the selection (runs in the ASR pool: it may transcribe)."""
    from voc import pipeline
    from voc.config import load_settings

    settings = load_settings()
    if request["asr_model"]:
        settings = settings.model_copy(update={"asr": settings.asr.model_copy(update={"model": request["asr_model"]})})
    since = dt.date.fromisoformat(request["date_from"]) if request["date_from"] else None
    until = dt.date.fromisoformat(request["date_to"]) if request["date_to"] else None
    store = pipeline.open_store(settings)
    try:
        out = pipeline.reprocess(store, settings, request["stages"], call_ids=request["call_ids"],
                                 since=since, until=until)
    finally:
        store.close()
    log.info("reprocessed: %s", out)
    keys = ("stage", "run_date", "processed", "skipped", "failed")
    return {"items": out["items"], "reset": out["reset"], "dates": out["dates"],
            "stages": [{k: r[k] for k in keys if k in r} for r in out["stages"]]}


@dag(
    dag_id="voc_reprocess",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # two reprocessing runs over the same calls would reset each other's work
    default_args={"owner": "voc", "retries": 1, "retry_delay": dt.timedelta(minutes=2)},
    tags=["voc"],
    params={
        "call_ids": Param([], type="array", items={"type": "string", "minLength": 1}, uniqueItems=True,
                          description="call ids (or interaction ids) to reprocess; or use the date range"),
        "date_from": Param(None, type=["null", "string"], format="date",
                           description="first business date (YYYY-MM-DD) to reprocess"),
        "date_to": Param(None, type=["null", "string"], format="date",
                         description="last business date (inclusive); default: date_from"),
        "stages": Param(["transcribe", "text"], type="array", minItems=1, uniqueItems=True,
                        items={"type": "string", "enum": list(STAGES)},
                        description="stages to rerun, in any order (they run in pipeline order)"),
        "asr_model": Param(None, type=["null", "string"], minLength=1,
                           description="ASR model override for this run: a name under models_dir or a "
                                       "CTranslate2 directory on the workers"),
    },
)
def voc_reprocess() -> None:
    """validate → reprocess (one ``voc.pipeline.reprocess`` call)."""
    reprocess(validate())


voc_reprocess()

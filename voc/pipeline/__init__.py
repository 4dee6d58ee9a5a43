"""The boundary layer: the only code that both reads/writes the store and calls the stages.

``runner`` holds the stage registry, recorded runs, resume and reprocessing; each other module is one stage's
boundary (``run(store, settings, run_date, batch=None, progress=None, *, now=None) -> StageResult``) or a read-side
view (``customers``), and ``watch`` is the near-real-time loop. The CLI, the web app and the Airflow DAGs call the
names listed here.
"""

from voc.pipeline import embed as _embed  # noqa: F401  (each stage module registers itself in STAGES)
from voc.pipeline import ingest as _ingest  # noqa: F401
from voc.pipeline import qa as _qa  # noqa: F401
from voc.pipeline import report as _report  # noqa: F401
from voc.pipeline import routing as _routing  # noqa: F401
from voc.pipeline import sentiment as _sentiment  # noqa: F401
from voc.pipeline import text as _text  # noqa: F401
from voc.pipeline import topics as _topics  # noqa: F401
from voc.pipeline import transcribe as _transcribe  # noqa: F401
from voc.pipeline.customers import at_risk_customers, build_customer_report, customer_timeline, topic_outreach
from voc.pipeline.embed import batches_for as embed_batches_for
from voc.pipeline.embed import job_texts
from voc.pipeline.ingest import ingest_inbox
from voc.pipeline.report import digest_data
from voc.pipeline.runner import (
    DEFAULT_ORDER,
    STAGES,
    ItemTimeout,
    ProgressFn,
    RunSummary,
    Stage,
    StageError,
    available_stages,
    begin_run,
    end_run,
    open_store,
    reprocess,
    resolve_stages,
    run,
    run_recorded_stage,
    run_stage,
    stage,
    utcnow,
)
from voc.pipeline.sentiment import overview as sentiment_overview
from voc.pipeline.topics import complaint_docs, embed_texts
from voc.pipeline.transcribe import batches_for, plan_batches, transcribe_file
from voc.store.locks import RunLocked

__all__ = [
    "DEFAULT_ORDER",
    "STAGES",
    "ItemTimeout",
    "ProgressFn",
    "RunLocked",
    "RunSummary",
    "Stage",
    "StageError",
    "at_risk_customers",
    "available_stages",
    "batches_for",
    "begin_run",
    "build_customer_report",
    "complaint_docs",
    "customer_timeline",
    "digest_data",
    "embed_batches_for",
    "embed_texts",
    "end_run",
    "ingest_inbox",
    "job_texts",
    "open_store",
    "plan_batches",
    "reprocess",
    "resolve_stages",
    "run",
    "run_recorded_stage",
    "run_stage",
    "sentiment_overview",
    "stage",
    "topic_outreach",
    "transcribe_file",
    "utcnow",
]

"""Transcribe boundary: the date's calls (or their external transcripts) -> redacted utterances + metrics."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voc.config import Settings
from voc.pipeline.runner import ProgressFn, open_store, per_item, select_items, stage, timed
from voc.records import Interaction, StageResult, Transcript
from voc.store import Store

log = logging.getLogger(__name__)


def plan_batches(store: Store, settings: Settings, run_date: dt.date) -> list[list[str]]:
    """Calls of the date still to transcribe, in batches of ``asr.batch_calls`` (one mapped task each)."""
    ids = [i.id for i in store.interactions(run_date=run_date, channels=["call"], pending_stage="transcribe")]
    size = settings.asr.batch_calls
    return [ids[k : k + size] for k in range(0, len(ids), size)]


def batches_for(settings: Settings, run_date: dt.date) -> list[list[str]]:
    """:func:`plan_batches` with a store of its own (an Airflow task's entry point)."""
    store = open_store(settings)
    try:
        return plan_batches(store, settings, run_date)
    finally:
        store.close()


def redacted(transcript: Transcript, settings: Settings) -> tuple[Transcript, dict[str, int]]:
    """The transcript as it may be stored or shown: utterances and rejected segments normalised and redacted."""
    from dataclasses import replace

    from voc.ingest.guard import truncate_text
    from voc.text import make_cleaner, redact_utterances

    # An external transcript may hold an utterance of any length: analyse (and so redact and store) its start only.
    limit = settings.limits.max_text_chars
    capped = [u if len(u.text) <= limit else replace(u, text=truncate_text(u.text, limit)[0], words=())
              for u in transcript.utterances]
    utterances, pii = redact_utterances(capped, settings.text)
    clean = make_cleaner(settings.text)  # rejected segments are kept (as evidence) redacted too
    dropped = tuple({**d, "text": clean(str(d.get("text", "")))} for d in transcript.dropped)
    return replace(transcript, utterances=tuple(utterances), dropped=dropped), pii


def transcribe_file(settings: Settings, path: Path, interaction_id: str, agent_channel: int | None,
                    engine: Any = None) -> tuple[Transcript, dict[str, int]]:
    """Transcribe one recording ad hoc (``voc transcribe``): nothing is stored; the text is redacted as in the
    nightly stage. ``engine``: an already loaded engine (default: the configured one, loaded once)."""
    from voc.transcribe import get_engine

    engine = engine or get_engine(settings.asr, settings.models_dir)
    return redacted(engine.transcribe_call(path, interaction_id, agent_channel), settings)


@stage("transcribe")
def run(store: Store, settings: Settings, run_date: dt.date, batch: Sequence[str] | None = None,
        progress: ProgressFn | None = None, *, now: dt.datetime | None = None) -> StageResult:
    """Transcribe the date's calls (or an external transcript), redact, and store utterances + metrics."""
    from voc.transcribe import get_engine, role_swap_warning, transcript_from_json

    t0 = time.perf_counter()
    items = select_items(store, "transcribe", run_date, batch, channels=["call"])
    kinds = {i.id: store.source_kind(i.id) for i in items}
    engine = get_engine(settings.asr, settings.models_dir) if "audio" in kinds.values() else None
    models: set[str] = set()
    swapped: list[str] = []

    def work(item: Interaction) -> None:
        path = Path(item.source_path or "")
        if kinds[item.id] == "transcript":
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            transcript = transcript_from_json(data, item.id, source=path.name)
        else:
            transcript = engine.transcribe_call(path, item.id, item.agent_channel)
        clean, pii = redacted(transcript, settings)
        store.replace_transcript(item.id, list(clean.utterances), clean.metrics, language=clean.language,
                                 model=clean.model, options=clean.options, dropped=list(clean.dropped), pii=pii)
        models.add(clean.model)
        warning = role_swap_warning(clean.utterances, clean.options.get("agent_channel"))
        if warning:
            swapped.append(item.external_id or item.id)
            log.warning("%s (%s): %s", item.external_id, item.id, warning.replace("--agent-channel", "agent_channel"))

    done, failed, errors = per_item(store, "transcribe", items, work, progress)
    details: dict[str, Any] = {"models": sorted(models)}
    if swapped:  # calls whose channel roles look swapped (agent phrases on the customer's side)
        details["roles_look_swapped"] = swapped
    if engine is not None:
        details["options"] = engine.options
    return timed("transcribe", run_date, t0, processed=done, failed=failed, errors=tuple(errors), details=details)

"""Ingest boundary: scan the inbox (pure, :mod:`voc.ingest`) and add what is new to the store."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from voc.config import Settings
from voc.pipeline.runner import ProgressFn, stage, timed
from voc.records import StageResult
from voc.store import Store


def ingest_inbox(store: Store, settings: Settings, inbox: str | Path | None = None,
                 progress: ProgressFn | None = None) -> dict[str, Any]:
    """Scan the inbox and add what is new; returns the public ``voc ingest --json`` object."""
    from voc.ingest import scan_inbox
    from voc.text import make_cleaner

    inbox = inbox or settings.inbox
    scan = scan_inbox(inbox, settings.timezone, redact=make_cleaner(settings.text))
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
def run(store: Store, settings: Settings, run_date: dt.date, batch=None, progress: ProgressFn | None = None, *,
        now: dt.datetime | None = None) -> StageResult:
    """Scan the inbox: new calls and texts in, bad files quarantined with a reason."""
    t0 = time.perf_counter()
    out = ingest_inbox(store, settings, progress=progress)
    return timed(
        "ingest", run_date, t0, processed=out["ingested"], skipped=out["duplicates"], failed=len(out["quarantined"]),
        errors=tuple({"id": q["path"], "reason": q["reason"]} for q in out["quarantined"]),
        details={"inbox": str(settings.inbox), "notes": out["notes"]},
    )

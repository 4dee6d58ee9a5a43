"""Ingest boundary: scan the inbox (pure, :mod:`voc.ingest`) and add what is new to the store."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from voc.config import Settings
from voc.pipeline.runner import ProgressFn, stage, timed, utcnow
from voc.records import StageResult
from voc.store import Store


def identifier_key(store: Store, settings: Settings) -> bytes:
    """The HMAC key of pseudonymous identifiers: ``VOC_ID_SECRET`` (settings.id_secret), else one random key made
    once and kept in the store."""
    if settings.id_secret is not None and settings.id_secret.get_secret_value():
        return settings.id_secret.get_secret_value().encode("utf-8")
    return store.site_key("identifier-hmac")


def make_identify(store: Store, settings: Settings) -> Callable[[str], str]:
    """identifier -> what may be stored: itself, or its keyed hash when it looks like a phone/ID/card number or an
    e-mail address (the same hash every night, so a customer's contacts still join)."""
    from voc.ingest.guard import pseudonym
    from voc.text import looks_personal

    key = identifier_key(store, settings)

    def identify(value: str) -> str:
        return pseudonym(value, key) if looks_personal(value) else value

    return identify


def ingest_inbox(store: Store, settings: Settings, inbox: str | Path | None = None,
                 progress: ProgressFn | None = None, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Scan the inbox and add what is new; returns the public ``voc ingest --json`` object. ``now`` ends the
    plausible date window (``limits.future_days`` after its date; default: the clock)."""
    from voc.ingest import scan_inbox
    from voc.text import make_cleaner

    inbox = inbox or settings.inbox
    today = (now or utcnow()).astimezone(ZoneInfo(settings.timezone)).date()
    scan = scan_inbox(inbox, settings.timezone, redact=make_cleaner(settings.text), limits=settings.limits,
                      today=today, identify=make_identify(store, settings), max_audio_s=settings.asr.max_duration_s)
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
    truncated = [{"path": c.origin, "chars": c.interaction.text_truncated_from} for c in scan.candidates
                 if c.interaction.text_truncated_from]
    return {"ingested": ingested, "duplicates": duplicates, "quarantined": quarantined, "notes": scan.notes,
            "truncated": truncated}


@stage("ingest", per_item=False)
def run(store: Store, settings: Settings, run_date: dt.date, batch=None, progress: ProgressFn | None = None, *,
        now: dt.datetime | None = None) -> StageResult:
    """Scan the inbox: new calls and texts in, bad files quarantined with a reason."""
    t0 = time.perf_counter()
    out = ingest_inbox(store, settings, progress=progress, now=now)
    return timed(
        "ingest", run_date, t0, processed=out["ingested"], skipped=out["duplicates"], failed=len(out["quarantined"]),
        errors=tuple({"id": q["path"], "reason": q["reason"]} for q in out["quarantined"]),
        details={"inbox": str(settings.inbox), "notes": out["notes"], "truncated": out["truncated"][:50],
                 "max_text_chars": settings.limits.max_text_chars},
    )

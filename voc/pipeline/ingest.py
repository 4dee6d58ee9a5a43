"""Ingest boundary: scan the inbox (pure, :mod:`voc.ingest`) and add what is new to the store."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
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


def scan_key(store: Store, settings: Settings, inbox: Path) -> str:
    """What a scan's output depends on besides the files: the inbox, the settings ingest applies (time zone, limits,
    redaction, audio cap) and the identifier key. The manifest is kept per key, so a change re-reads every file."""
    parts = {"inbox": str(inbox.resolve()), "tz": settings.timezone, "text": settings.text.model_dump(mode="json"),
             "limits": settings.limits.model_dump(mode="json", exclude={"run_lock_wait_s", "item_timeout_s"}),
             "max_audio_s": settings.asr.max_duration_s,
             "id": hashlib.sha256(identifier_key(store, settings)).hexdigest()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def ingest_inbox(store: Store, settings: Settings, inbox: str | Path | None = None,
                 progress: ProgressFn | None = None, *, now: dt.datetime | None = None,
                 rescan: bool = False) -> dict[str, Any]:
    """Scan the inbox and add what is new; returns the public ``voc ingest --json`` object. ``now`` ends the
    plausible date window (``limits.future_days`` after its date; default: the clock). Text and calls tables read
    before with the same settings and unchanged since (a calls table: nor the files it names) are skipped
    (``rescan`` reads every file)."""
    from voc.ingest import scan_inbox
    from voc.ingest.files import FileSeen
    from voc.text import make_cleaner

    inbox = Path(inbox or settings.inbox)
    today = (now or utcnow()).astimezone(ZoneInfo(settings.timezone)).date()
    key = scan_key(store, settings, inbox) if inbox.is_dir() else ""
    manifest = {} if rescan or not key else {p: FileSeen(p, *v) for p, v in store.ingest_manifest(key).items()}
    counts = {"new": 0, "duplicate": 0}
    quarantined: list[dict[str, str]] = []
    truncated: list[dict[str, Any]] = []

    def sink(candidates: list[Any]) -> None:  # called per batch of candidates while the scan goes on
        outcomes = store.add_interactions([(c.interaction, c.source_kind) for c in candidates])
        for cand, outcome in zip(candidates, outcomes, strict=True):
            if outcome in counts:
                counts[outcome] += 1
            else:
                reason = f"duplicate id {cand.interaction.external_id} with different content (already ingested)"
                store.add_quarantine(cand.origin, reason, cand.interaction.content_hash)
                quarantined.append({"path": cand.origin, "reason": reason})
            if cand.interaction.text_truncated_from:
                truncated.append({"path": cand.origin, "chars": cand.interaction.text_truncated_from})
        if progress:
            done = counts["new"] + counts["duplicate"] + len(quarantined)
            progress("ingest", done, done)

    scan = scan_inbox(inbox, settings.timezone, redact=make_cleaner(settings.text), limits=settings.limits,
                      today=today, identify=make_identify(store, settings), max_audio_s=settings.asr.max_duration_s,
                      manifest=manifest, sink=sink)
    for rej in scan.rejected:
        store.add_quarantine(rej.path, rej.reason, rej.content_hash)
        quarantined.append({"path": rej.path, "reason": rej.reason})
    # after their rows are stored (a crash before here re-reads them); a calls table's recordings/transcripts too,
    # so that an unchanged table is skipped only while they are unchanged
    store.record_ingest_files(key, list({f.path: f for f in [*scan.referenced, *scan.files]}.values()))
    return {"ingested": counts["new"], "duplicates": counts["duplicate"] + scan.unchanged_rows, "quarantined": quarantined,
            "notes": scan.notes, "truncated": truncated,
            "files": {"read": len(scan.files), "unchanged": scan.unchanged}}


@stage("ingest", per_item=False)
def run(store: Store, settings: Settings, run_date: dt.date, batch=None, progress: ProgressFn | None = None, *,
        now: dt.datetime | None = None) -> StageResult:
    """Scan the inbox: new calls and texts in, bad files quarantined with a reason."""
    t0 = time.perf_counter()
    out = ingest_inbox(store, settings, progress=progress, now=now)
    return timed(
        "ingest", run_date, t0, processed=out["ingested"], skipped=out["duplicates"], failed=len(out["quarantined"]),
        errors=tuple({"id": q["path"], "reason": q["reason"]} for q in out["quarantined"]),
        details={"inbox": str(settings.inbox), "notes": out["notes"], "files": out["files"], "truncated": out["truncated"][:50],
                 "max_text_chars": settings.limits.max_text_chars},
    )

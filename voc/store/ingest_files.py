"""The ingest manifest: which inbox tables (text files, calls tables) and the recordings/transcripts the calls tables
name a scan has read, so the next scan reads only new or changed ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from voc.store.db import Database
from voc.store.schema import IngestFileRow, utcnow


class IngestManifest:
    """Mixin of :class:`voc.store.Store`."""

    db: Database

    def ingest_manifest(self, scan_key: str) -> dict[str, tuple[int, int, str, bool, int]]:
        """path -> (size, mtime_ns, sha256, complete, rows) of the files read by scans with ``scan_key`` (the inbox and
        the settings that shape what a scan yields); files read under another key are not listed."""
        q = select(IngestFileRow.path, IngestFileRow.size, IngestFileRow.mtime_ns, IngestFileRow.sha256,
                   IngestFileRow.complete, IngestFileRow.rows).where(IngestFileRow.scan_key == scan_key)
        with self.db.session() as s:
            return {p: (size, mtime, sha, bool(done), n) for p, size, mtime, sha, done, n in s.execute(q)}

    def record_ingest_files(self, scan_key: str, files: Sequence[Any]) -> None:
        """Upsert the files a scan read (objects with path, size, mtime_ns, sha256, complete, rows), in one transaction."""
        if not files:
            return
        now = utcnow()
        rows = [{"path": f.path, "scan_key": scan_key, "size": f.size, "mtime_ns": f.mtime_ns, "sha256": f.sha256,
                 "complete": f.complete, "rows": f.rows, "seen_at": now} for f in files]
        stmt = self.db.insert(IngestFileRow)
        stmt = stmt.on_conflict_do_update(index_elements=["path"], set_={
            c: getattr(stmt.excluded, c) for c in ("scan_key", "size", "mtime_ns", "sha256", "complete", "rows", "seen_at")})
        with self.db.session() as s:
            for k in range(0, len(rows), 1000):
                s.execute(stmt, rows[k : k + 1000])

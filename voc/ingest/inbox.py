"""Read an inbox folder into candidate interactions and rejected inputs, each with a reason.

Layout::

    inbox/
      calls*.csv           call metadata (required: call_id, file, start_time)
      recordings/          audio the metadata points at
      transcripts/*.json   calls transcribed elsewhere (calls.csv 'file' points at them)
      text/*.jsonl|*.csv   chats, tickets, reviews (required: id, text, created_at)

Nothing in the inbox is modified, and nothing outside it is read (see :mod:`voc.ingest.guard`). Ids come from
content hashes, so a rescan yields the same ids. A bad row is quarantined with its line number; the file's other
rows go in.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from voc.config import LimitSettings
from voc.ingest.files import (
    FileSeen,
    decode_table_bytes,
    iter_csv_rows,
    iter_lines,
    open_text,
    sniff,
    undecodable,
)
from voc.ingest.guard import InboxRules, NotYet, inside, outside_reason, oversized_field, truncate_text
from voc.ingest.media import check_audio
from voc.ingest.values import (  # noqa: F401  (is_contact_key and the parsers: public here as before)
    clean_attributes,
    is_contact_key,
    parse_agent_channel,
    parse_datetime,
    parse_float,
)
from voc.records import PII_PLACEHOLDER_RE, Channel, Interaction

log = logging.getLogger(__name__)
SINK_BATCH = 1000  # candidates handed to scan_inbox's sink at a time
SETTLE_NS = 2_000_000_000  # a text file younger than this is not trusted by its size and time alone

CALL_REQUIRED = ("call_id", "file", "start_time")
TEXT_REQUIRED = ("id", "text", "created_at")
CALL_KNOWN = {
    "call_id", "file", "start_time", "queue", "agent_id", "customer_id", "customer_tier",
    "customer_value", "agent_channel",
}
TEXT_KNOWN = {"id", "text", "created_at", "channel", "queue", "agent_id", "customer_id", "customer_tier", "customer_value"}
TEXT_CHANNELS = {c.value for c in Channel} - {"call"}

@dataclass(frozen=True, slots=True)
class Candidate:
    interaction: Interaction
    source_kind: str  # audio / transcript / text
    origin: str  # "calls.csv:12" or "text/chats.jsonl:7", for messages


@dataclass(frozen=True, slots=True)
class Rejected:
    path: str
    reason: str
    content_hash: str = ""


@dataclass(slots=True)
class InboxScan:
    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[FileSeen] = field(default_factory=list)  # tables read (or found unchanged by hash) this scan
    referenced: list[FileSeen] = field(default_factory=list)  # recordings/transcripts of the calls tables read
    unchanged: int = 0  # text files skipped as already read (see ``manifest`` of :func:`scan_inbox`)
    unchanged_rows: int = 0  # ... and the candidates they yielded when they were read


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _sha(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def make_id(prefix: str, external_id: str, content_hash: str) -> str:
    return f"{prefix}-{_sha(external_id, content_hash)[:20]}"


# ---- the scan ----------------------------------------------------------------------------------
@dataclass(slots=True)
class _Ctx:
    """What every part of one scan shares."""

    inbox: Path  # as given
    root: Path  # resolved: nothing outside it is read
    tz: ZoneInfo
    scan: InboxScan
    rules: InboxRules
    redact: Callable[[str], str] | None
    manifest: Mapping[str, FileSeen] = field(default_factory=dict)
    sink: Callable[[list[Candidate]], None] | None = None
    pending: set[str] = field(default_factory=set)  # files with rows dated after the window: read again later
    emitted: int = 0

    def emit(self, cand: Candidate) -> None:
        self.scan.candidates.append(cand)
        self.emitted += 1
        if self.sink is not None and len(self.scan.candidates) >= SINK_BATCH:
            self.sink(self.scan.candidates)
            self.scan.candidates = []

    def reject(self, path: str, reason: str, content_hash: str = "") -> None:
        self.scan.rejected.append(Rejected(self.rules.file_label(path), reason, content_hash))


def scan_inbox(inbox: Path, timezone: str = "Asia/Shanghai", redact: Callable[[str], str] | None = None, *,
               limits: LimitSettings | None = None, today: dt.date | None = None,
               identify: Callable[[str], str] | None = None, max_audio_s: float | None = None,
               manifest: Mapping[str, FileSeen] | None = None,
               sink: Callable[[list[Candidate]], None] | None = None) -> InboxScan:
    """Scan ``inbox``. ``redact`` is applied to text-channel bodies, to extra columns of calls and texts
    (see :func:`clean_attributes`) and to rejection reasons (which may quote a cell) before they leave
    this function. ``limits`` bound texts, fields, recordings and dates (the window ends ``limits.future_days``
    after ``today``; no upper bound without it); ``identify`` maps an identifier to what may be stored;
    ``max_audio_s`` refuses longer recordings.

    ``manifest`` (path relative to the inbox -> :class:`FileSeen` of an earlier scan with the same settings): a text
    file listed there with the same size and modification time, or the same bytes, is skipped unread; so is a calls
    table when, besides, every recording or transcript its rows name is unchanged too (listed in ``referenced``
    when it was read). The tables this scan read are listed in ``files``. ``sink`` takes the candidates in batches as they are found
    (``candidates`` then holds none at the end), so memory does not grow with the inbox."""
    inbox = Path(inbox)
    scan = InboxScan()
    if not inbox.is_dir():
        raise FileNotFoundError(f"inbox {inbox} does not exist or is not a folder")
    ctx = _Ctx(inbox, inbox.resolve(), ZoneInfo(timezone), scan,
               InboxRules(limits or LimitSettings(), today, identify, max_audio_s), redact, manifest or {}, sink)
    referenced: set[Path] = set()
    for meta in sorted(inbox.glob("calls*.csv")):
        if inside(ctx.root, meta) is None:
            ctx.reject(meta.name, outside_reason(meta.name, "metadata file"))
            continue
        _scan_calls_file(ctx, meta, referenced)
    for real, _link, rel in _files(ctx, "recordings"):
        if real in referenced or real.name.startswith("."):
            continue
        reason = _check_recording(ctx, real) or "recording has no row in calls*.csv (add one with call_id, file, start_time)"
        ctx.reject(rel, reason, sha256_file(real))
    for real, link, rel in _files(ctx, "text"):
        suffix = link.suffix.lower()
        if suffix in (".jsonl", ".csv"):
            _scan_text_file(ctx, real, link, rel)
        elif not link.name.startswith(".") and suffix not in (".md", ".txt"):
            ctx.reject(rel, f"unsupported text file type '{link.suffix}' (expected .jsonl or .csv)", sha256_file(real))
    if sink is not None and scan.candidates:
        sink(scan.candidates)
        scan.candidates = []
    if redact is not None:  # a reason may quote a cell (a phone number in a date or value column)
        scan.rejected = [_scrub_reason(r, redact) for r in scan.rejected]
    return scan


def _files(ctx: _Ctx, folder: str) -> Iterator[tuple[Path, Path, str]]:
    """(resolved path, path as found, path relative to the inbox) of the files under ``folder``; a file that resolves
    outside the inbox (a symbolic link out) is quarantined unread."""
    top = ctx.inbox / folder
    if not top.is_dir():
        return
    for path in sorted(p for p in top.rglob("*") if p.is_file()):
        rel = str(path.relative_to(ctx.inbox))
        real = inside(ctx.root, path)
        if real is None:
            ctx.reject(rel, outside_reason(rel, "symbolic link"))
            continue
        yield real, path, rel


def _check_recording(ctx: _Ctx, path: Path) -> str | None:
    limits = ctx.rules.limits
    return check_audio(path, max_bytes=limits.max_audio_mb * 2**20, max_seconds=ctx.rules.max_audio_s)


def _scrub_reason(rej: Rejected, redact: Callable[[str], str]) -> Rejected:
    cleaned = redact(rej.reason)
    if PII_PLACEHOLDER_RE.search(cleaned) and not PII_PLACEHOLDER_RE.search(rej.reason):
        return replace(rej, reason=cleaned)
    return rej


def _table(ctx: _Ctx, real: Path, rel: str, required: tuple[str, ...],
           sniffed: tuple[str, str | None] | None = None) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]], str] | None:
    """A CSV's (header, rows streamed, encoding); the whole file is refused only when it cannot be read or lacks
    columns. ``sniffed`` is its (hash, encoding) when known."""
    sha, encoding = sniffed or sniff(real)
    if encoding is None:
        ctx.reject(rel, undecodable(real, rel), sha)
        return None
    fh = open_text(real, encoding)
    try:
        header, rows = iter_csv_rows(fh, lambda line, reason: ctx.reject(f"{rel}:{line}", reason))
    except (ValueError, csv.Error) as exc:
        fh.close()
        ctx.reject(rel, str(exc), sha)
        return None
    missing = [c for c in required if c not in header]
    if missing:
        fh.close()
        ctx.reject(rel, f"missing required column(s) {', '.join(missing)}; found: {', '.join(header) or 'none'}", sha)
        return None
    return header, _closing(rows, fh), encoding


def _closing(rows: Iterator[Any], fh: Any) -> Iterator[Any]:
    with fh:
        yield from rows


def _scan_text_file(ctx: _Ctx, real: Path, link: Path, rel: str) -> None:
    """Read a text table unless the manifest says this scan has read it already (same size and time, or same bytes)."""
    stat = real.stat()
    seen = ctx.manifest.get(rel)
    if seen is not None and seen.same_stat(stat.st_size, stat.st_mtime_ns):
        ctx.scan.unchanged, ctx.scan.unchanged_rows = ctx.scan.unchanged + 1, ctx.scan.unchanged_rows + seen.rows
        return
    sniffed, before = sniff(real), ctx.emitted
    if seen is not None and seen.complete and seen.sha256 == sniffed[0]:  # touched, not changed
        ctx.scan.unchanged, ctx.scan.unchanged_rows = ctx.scan.unchanged + 1, ctx.scan.unchanged_rows + seen.rows
        ctx.emitted += seen.rows
    elif link.suffix.lower() == ".jsonl":
        _scan_text_jsonl(ctx, real, link, rel, sniffed)
    else:
        _scan_text_csv(ctx, real, link, rel, sniffed)
    # a file modified within the last seconds may change again without its time moving (coarse file-system
    # clocks): it is read again next time
    settled = time.time_ns() - stat.st_mtime_ns > SETTLE_NS
    ctx.scan.files.append(FileSeen(rel, stat.st_size, stat.st_mtime_ns, sniffed[0], settled and rel not in ctx.pending,
                                   ctx.emitted - before))


def _scan_calls_file(ctx: _Ctx, meta: Path, referenced: set[Path]) -> None:
    """Read a calls table unless the manifest says this scan has read it already and nothing it names changed."""
    name = meta.name
    stat = meta.stat()
    seen = ctx.manifest.get(name)
    sniffed: tuple[str, str | None] | None = None
    if seen is not None and seen.complete:
        if not seen.same_stat(stat.st_size, stat.st_mtime_ns):
            sniffed = sniff(meta)
        if sniffed is None or sniffed[0] == seen.sha256:
            refs = _unchanged_references(ctx, meta, sniffed)
            if refs is not None:
                referenced |= refs
                ctx.scan.unchanged, ctx.scan.unchanged_rows = ctx.scan.unchanged + 1, ctx.scan.unchanged_rows + seen.rows
                if sniffed is not None:  # touched, not changed: remember its new time (once it has settled)
                    ctx.scan.files.append(replace(seen, size=stat.st_size, mtime_ns=stat.st_mtime_ns,
                                                  complete=time.time_ns() - stat.st_mtime_ns > SETTLE_NS))
                return
    sniffed, before = sniffed or sniff(meta), ctx.emitted
    _scan_calls(ctx, meta, referenced, sniffed)
    settled = time.time_ns() - stat.st_mtime_ns > SETTLE_NS
    ctx.scan.files.append(FileSeen(name, stat.st_size, stat.st_mtime_ns, sniffed[0], settled and name not in ctx.pending,
                                   ctx.emitted - before))


def _unchanged_references(ctx: _Ctx, meta: Path, sniffed: tuple[str, str | None] | None) -> set[Path] | None:
    """The files an unchanged calls table names, when each is as the manifest last saw it (a file that was missing
    is still missing); None when one is new, changed or gone, or the table cannot be read: then it is read again."""
    table = _table(_Ctx(ctx.inbox, ctx.root, ctx.tz, InboxScan(), ctx.rules, None), meta, meta.name, CALL_REQUIRED,
                   sniffed)
    if table is None:
        return None
    _header, rows, _encoding = table
    refs: set[Path] = set()
    for _line, row in rows:
        file_ref = row.get("file", "")
        path = inside(ctx.root, ctx.inbox / file_ref) if file_ref else None
        if path is None:
            continue  # refused as before, whatever the disk holds
        rel = str(path.relative_to(ctx.root))
        known = ctx.manifest.get(rel)
        if not path.is_file():
            if known is not None:
                return None
            continue
        st = path.stat()
        if known is None or not known.same_stat(st.st_size, st.st_mtime_ns):
            return None
        refs.add(path)
    return refs


def _scan_calls(ctx: _Ctx, meta: Path, referenced: set[Path], sniffed: tuple[str, str | None] | None = None) -> None:
    name = meta.name
    table = _table(ctx, meta, name, CALL_REQUIRED, sniffed)
    if table is None:
        return
    header, rows, encoding = table
    if encoding not in ("utf-8",):
        ctx.scan.notes.append(f"{name}: read as {encoding}")
    seen: dict[str, str] = {}
    for line, row in rows:
        origin = f"{name}:{line}"
        too_big = oversized_field(row, ctx.rules.limits.max_field_chars)
        if too_big:
            ctx.reject(origin, f"line {line}: {too_big}")
            continue
        call_id = ctx.rules.ident(row.get("call_id", "")) or ""
        file_ref = row.get("file", "")
        if not call_id:
            ctx.reject(origin, "empty call_id")
            continue
        path = inside(ctx.root, ctx.inbox / file_ref) if file_ref else None
        if file_ref and (path is None or Path(file_ref).is_absolute()):
            ctx.reject(origin, f"call {call_id}: {outside_reason(file_ref)}")
            continue
        if path is None or not path.is_file():
            ctx.reject(origin, f"call {call_id}: file '{ctx.rules.file_label(file_ref)}' not found in the inbox")
            continue
        referenced.add(path)
        rel = str(path.relative_to(ctx.root))
        st = path.stat()
        file_hash = sha256_file(path)
        ctx.scan.referenced.append(FileSeen(rel, st.st_size, st.st_mtime_ns, file_hash,
                                            time.time_ns() - st.st_mtime_ns > SETTLE_NS))
        try:
            started = parse_datetime(row["start_time"], ctx.tz)
            value = parse_float(row.get("customer_value"), "customer_value")
            agent_channel = parse_agent_channel(row.get("agent_channel"))
            implausible = ctx.rules.date_problem(started, ctx.tz, "start_time")
            if implausible:
                if ctx.rules.too_new(started, ctx.tz):  # may go in on a later night, unchanged: read the table again
                    ctx.pending.add(name)
                raise ValueError(implausible)
        except ValueError as exc:
            ctx.reject(origin, f"call {call_id}: {exc}", file_hash)
            continue
        if path.suffix.lower() == ".json":
            reason = _check_transcript(path)
            kind = "transcript"
        else:
            reason = _check_recording(ctx, path)
            kind = "audio"
        if reason:
            ctx.reject(rel, f"call {call_id}: {reason}", file_hash)
            continue
        meta_part = json.dumps({k: row.get(k, "") for k in sorted(header) if k != "file"}, ensure_ascii=False)
        content_hash = _sha(file_hash, meta_part)
        if call_id in seen:
            if seen[call_id] != content_hash:
                ctx.reject(origin, f"duplicate call_id {call_id} with different content in {name}", content_hash)
            continue
        seen[call_id] = content_hash
        attributes = clean_attributes({k: v for k, v in row.items() if k not in CALL_KNOWN and v}, ctx.redact)
        ctx.emit(
            Candidate(
                Interaction(
                    id=make_id("call", call_id, content_hash),
                    channel=Channel.CALL,
                    business_date=started.astimezone(ctx.tz).date(),
                    content_hash=content_hash,
                    external_id=call_id,
                    source_path=str(path),
                    started_at=started,
                    queue=row.get("queue") or None,
                    agent_id=ctx.rules.ident(row.get("agent_id")) or None,
                    customer_id=ctx.rules.ident(row.get("customer_id")) or None,
                    customer_tier=(row.get("customer_tier") or "").lower() or None,
                    customer_value=value,
                    agent_channel=agent_channel,
                    attributes=attributes,
                ),
                kind,
                origin,
            )
        )


def _check_transcript(path: Path) -> str | None:
    if path.stat().st_size == 0:
        return "empty transcript file (0 bytes)"
    try:
        data = json.loads(decode_table_bytes(path.read_bytes(), path.name)[0])
    except (ValueError, json.JSONDecodeError) as exc:
        return f"transcript is not valid JSON ({exc})"
    utts = data.get("utterances") if isinstance(data, dict) else None
    if not isinstance(utts, list):
        return "transcript JSON has no 'utterances' list"
    for i, u in enumerate(utts):
        if not isinstance(u, dict) or "text" not in u or "start" not in u or "end" not in u:
            return f"transcript utterance {i} needs text, start and end"
    return None


def _text_candidate(ctx: _Ctx, rec: dict[str, Any], origin: str, default_channel: str) -> Candidate:
    for col in TEXT_REQUIRED:
        if col not in rec or rec[col] in (None, ""):
            raise ValueError(f"missing '{col}'")
    too_big = oversized_field(rec, ctx.rules.limits.max_field_chars, exempt=("text",))
    if too_big:
        raise ValueError(too_big)
    created = parse_datetime(str(rec["created_at"]), ctx.tz)
    implausible = ctx.rules.date_problem(created, ctx.tz, "created_at")
    if implausible:
        raise (NotYet if ctx.rules.too_new(created, ctx.tz) else ValueError)(implausible)
    channel = str(rec.get("channel") or default_channel).lower()
    if channel not in TEXT_CHANNELS:
        raise ValueError(f"channel '{channel}' is not one of {', '.join(sorted(TEXT_CHANNELS))}")
    # Only the first max_text_chars characters are analysed (and so redacted and stored); the original stays in
    # the inbox at ``origin`` and the interaction records its length.
    raw_text, original_chars = truncate_text(str(rec["text"]), ctx.rules.limits.max_text_chars)
    ext_id = ctx.rules.ident(str(rec["id"])) or ""
    value = parse_float(None if rec.get("customer_value") is None else str(rec.get("customer_value")), "customer_value")
    # Hash the raw content so a changed text is detected, but store only the redacted body.
    content_hash = _sha(json.dumps({k: rec.get(k) for k in sorted(rec)}, ensure_ascii=False, default=str))
    text = ctx.redact(raw_text) if ctx.redact else raw_text
    attributes = clean_attributes({k: str(v) for k, v in rec.items() if k not in TEXT_KNOWN and v not in (None, "")},
                                  ctx.redact)
    customer = str(rec["customer_id"]) if rec.get("customer_id") not in (None, "") else None
    return Candidate(
        Interaction(
            id=make_id(channel, ext_id, content_hash),
            channel=Channel(channel),
            business_date=created.astimezone(ctx.tz).date(),
            content_hash=content_hash,
            external_id=ext_id,
            source_path=origin.rsplit(":", 1)[0],
            started_at=created,
            queue=rec.get("queue") or None,
            agent_id=ctx.rules.ident(str(rec["agent_id"])) if rec.get("agent_id") else None,
            customer_id=ctx.rules.ident(customer),
            customer_tier=str(rec.get("customer_tier") or "").lower() or None,
            customer_value=value,
            text=text,
            text_truncated_from=original_chars,
            attributes=attributes,
        ),
        "text",
        origin,
    )


def _default_channel(path: Path) -> str:
    stem = path.stem.lower()
    for ch in sorted(TEXT_CHANNELS):
        if ch in stem:
            return ch
    return Channel.CHAT.value


def _scan_text_jsonl(ctx: _Ctx, real: Path, link: Path, rel: str, sniffed: tuple[str, str | None]) -> None:
    sha, encoding = sniffed
    if encoding is None:
        ctx.reject(rel, undecodable(real, rel), sha)
        return
    seen: dict[str, str] = {}
    with open_text(real, encoding) as fh:
        for line_no, line in iter_lines(fh):
            if not line.strip():
                continue
            origin = f"{rel}:{line_no}"
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError("expected a JSON object")
                cand = _text_candidate(ctx, rec, origin, _default_channel(link))
            except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; deep nesting RecursionError
                _text_refused(ctx, rel, origin, line_no, exc, 300)
                continue
            _add_text(ctx, cand, seen, origin, rel)


def _scan_text_csv(ctx: _Ctx, real: Path, link: Path, rel: str, sniffed: tuple[str, str | None]) -> None:
    table = _table(ctx, real, rel, TEXT_REQUIRED, sniffed)
    if table is None:
        return
    _header, rows, _enc = table
    seen: dict[str, str] = {}
    for line, row in rows:
        origin = f"{rel}:{line}"
        try:
            cand = _text_candidate(ctx, row, origin, _default_channel(link))
        except ValueError as exc:
            _text_refused(ctx, rel, origin, line, exc)
            continue
        _add_text(ctx, cand, seen, origin, rel)


def _text_refused(ctx: _Ctx, rel: str, origin: str, line: int, exc: Exception, cut: int | None = None) -> None:
    if isinstance(exc, NotYet):  # may go in on a later night, unchanged: the file is read again then
        ctx.pending.add(rel)
    ctx.reject(origin, f"line {line}: {str(exc)[:cut]}")


def _add_text(ctx: _Ctx, cand: Candidate, seen: dict[str, str], origin: str, rel: str) -> None:
    ext = cand.interaction.external_id or ""
    if ext in seen:
        if seen[ext] != cand.interaction.content_hash:
            ctx.reject(origin, f"duplicate id {ext} with different content in {rel}", cand.interaction.content_hash)
        return
    seen[ext] = cand.interaction.content_hash
    ctx.emit(cand)

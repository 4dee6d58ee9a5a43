"""Read an inbox folder into candidate interactions and rejected inputs, each with a reason.

Layout::

    inbox/
      calls*.csv           call metadata (required: call_id, file, start_time)
      recordings/          audio the metadata points at
      transcripts/*.json   calls transcribed elsewhere (calls.csv 'file' points at them)
      text/*.jsonl|*.csv   chats, tickets, reviews (required: id, text, created_at)

Nothing in the inbox is modified. Ids come from content hashes, so a rescan yields the same ids.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from voc.records import PII_PLACEHOLDER_RE, Channel, Interaction

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = {".wav", ".mp3", ".m4a", ".mp4", ".aac", ".ogg", ".opus", ".flac", ".amr", ".wma", ".webm"}
CALL_REQUIRED = ("call_id", "file", "start_time")
TEXT_REQUIRED = ("id", "text", "created_at")
CALL_KNOWN = {
    "call_id", "file", "start_time", "queue", "agent_id", "customer_id", "customer_tier",
    "customer_value", "agent_channel",
}
TEXT_KNOWN = {"id", "text", "created_at", "channel", "queue", "agent_id", "customer_id", "customer_tier", "customer_value"}
TEXT_CHANNELS = {c.value for c in Channel} - {"call"}
# Extra columns whose name says they hold contact data or a person's identity: never stored.
_CONTACT_WORDS = {"phone", "mobile", "tel", "telephone", "cell", "cellphone", "email", "mail", "address", "addr",
                  "name", "fullname", "contact", "wechat", "weixin", "wx", "qq", "idcard", "id_card", "passport",
                  "card", "account", "iban"}
_CONTACT_CJK = ("电话", "手机", "座机", "邮箱", "地址", "住址", "姓名", "名字", "联系", "微信", "身份证", "证件", "卡号", "账号")
# ... except where "name"/"card"/... is clearly about a thing, not a person: product_name, gift_card_type
_THING_WORDS = {"product", "item", "sku", "brand", "model", "store", "shop", "queue", "plan", "package", "gift", "type",
                "level", "tier", "file", "batch", "region", "city", "province"}


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


def is_contact_key(key: str) -> bool:
    """True when an extra column's name says it holds contact data (phone, e-mail, address, name...)."""
    low = str(key).strip().lower()
    if any(w in low for w in _CONTACT_CJK):
        return True
    words = [w for w in re.split(r"[^a-z0-9]+", low.replace("e-mail", "email")) if w]
    joined = "_".join(words)
    if not any(w in _CONTACT_WORDS for w in words) and not any(
            w in joined for w in ("phone", "mobile", "email", "address", "idcard", "id_card", "wechat")):
        return False
    return not any(w in _THING_WORDS for w in words)


def clean_attributes(attributes: dict[str, Any], redact: Callable[[str], str] | None) -> dict[str, Any]:
    """Extra columns as they may be stored: contact columns dropped, PII inside the others replaced by
    placeholders (``redact`` is the text stage's cleaner; a value without PII is kept as given)."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if is_contact_key(key):
            continue
        if redact is not None:
            cleaned = redact(str(value))
            if PII_PLACEHOLDER_RE.search(cleaned) and not PII_PLACEHOLDER_RE.search(str(value)):
                value = cleaned
        out[key] = value
    return out


# ---- encodings and tables --------------------------------------------------------------------
def decode_table_bytes(data: bytes, name: str) -> tuple[str, str]:
    """Decode a CSV/JSONL file: UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030/GBK.

    Returns (text, encoding). Raises ValueError naming the problem when none fits.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        pass
    guess = None
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        guess = best.encoding if best else None
    except Exception:  # pragma: no cover - optional helper
        guess = None
    hint = f" (looks like {guess}); save it as UTF-8" if guess else "; save it as UTF-8"
    raise ValueError(f"{name}: not UTF-8 or GBK text, byte {utf8_error.start} is invalid{hint}")


def read_csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]], str]:
    text, encoding = decode_table_bytes(path.read_bytes(), path.name)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    rows = []
    for row in reader:
        clean = {k: (v.strip() if isinstance(v, str) else "") for k, v in row.items() if k is not None}
        if not any(clean.values()):
            continue
        rows.append((reader.line_num, clean))
    return header, rows, encoding


# ---- values ----------------------------------------------------------------------------------
def parse_datetime(value: str, tz: ZoneInfo) -> dt.datetime:
    """ISO 8601 (with or without offset), 'YYYY-MM-DD HH:MM[:SS]', 'YYYY/MM/DD HH:MM[:SS]' or a date."""
    raw = value.strip()
    if not raw:
        raise ValueError("empty")
    candidate = raw.replace("/", "-")
    if candidate.endswith("Z"):
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(candidate)
    except ValueError:
        for fmt in ("%Y-%m-%d %H:%M", "%Y%m%d %H%M%S", "%Y%m%d%H%M%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日 %H:%M:%S"):
            try:
                parsed = dt.datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"'{raw}' is not a date-time (expected ISO 8601 such as 2026-11-20T10:02:00+08:00)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def parse_float(value: str | None, column: str) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        raise ValueError(f"{column} '{value}' is not a number") from None


def parse_agent_channel(value: str | None) -> int | None:
    v = (value or "").strip().lower()
    if v in ("", "mono", "none", "-"):
        return None
    if v in ("0", "left", "l"):
        return 0
    if v in ("1", "right", "r"):
        return 1
    raise ValueError(f"agent_channel '{value}' must be 0/left, 1/right, or empty for mono")


# ---- audio checks ----------------------------------------------------------------------------
def check_audio(path: Path) -> str | None:
    """A reason the file cannot be used as audio, or None when it looks fine."""
    size = path.stat().st_size
    if size == 0:
        return "empty file (0 bytes)"
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        return f"unsupported format '{path.suffix or '(no extension)'}' (expected one of {', '.join(sorted(AUDIO_EXTENSIONS))})"
    with path.open("rb") as fh:
        head = fh.read(64)
    if path.suffix.lower() == ".wav":
        reason = _check_wav(path, head, size)
        if reason:
            return reason
    try:
        import av

        with av.open(str(path)) as container:
            if not container.streams.audio:
                return "no audio stream in the file"
            stream = container.streams.audio[0]
            frames = 0
            for frame in container.decode(stream):
                frames += frame.samples
                if frames > 0:
                    break
            if frames == 0:
                return "no decodable audio frames (truncated or empty stream)"
    except Exception as exc:  # PyAV raises many error types for bad media
        return f"not a decodable audio file ({type(exc).__name__}: {str(exc)[:120]})"
    return None


def _check_wav(path: Path, head: bytes, size: int) -> str | None:
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return "not a WAV file (no RIFF/WAVE header) although it is named .wav"
    # Walk the chunks to find 'data' and compare its declared size with what the file holds.
    with path.open("rb") as fh:
        fh.seek(12)
        while True:
            hdr = fh.read(8)
            if len(hdr) < 8:
                return "truncated WAV: no 'data' chunk"
            cid, clen = hdr[:4], struct.unpack("<I", hdr[4:])[0]
            if cid == b"data":
                available = size - fh.tell()
                if available == 0:
                    return "truncated WAV: header only, no audio data"
                if clen not in (0, 0xFFFFFFFF) and available < clen * 0.98:
                    return f"truncated WAV: header declares {clen} bytes of audio, file holds {available}"
                return None
            fh.seek(clen + (clen & 1), 1)


# ---- the scan ----------------------------------------------------------------------------------
def scan_inbox(inbox: Path, timezone: str = "Asia/Shanghai", redact: Callable[[str], str] | None = None) -> InboxScan:
    """Scan ``inbox``. ``redact`` is applied to text-channel bodies, to extra columns of calls and texts
    (see :func:`clean_attributes`) and to rejection reasons (which may quote a cell) before they leave
    this function."""
    inbox = Path(inbox)
    scan = InboxScan()
    if not inbox.is_dir():
        raise FileNotFoundError(f"inbox {inbox} does not exist or is not a folder")
    tz = ZoneInfo(timezone)
    referenced: set[Path] = set()
    for meta in sorted(inbox.glob("calls*.csv")):
        _scan_calls(inbox, meta, tz, scan, referenced, redact)
    rec_dir = inbox / "recordings"
    if rec_dir.is_dir():
        for path in sorted(p for p in rec_dir.rglob("*") if p.is_file()):
            if path.resolve() in referenced or path.name.startswith("."):
                continue
            rel = str(path.relative_to(inbox))
            reason = check_audio(path)
            if reason is None:
                reason = "recording has no row in calls*.csv (add one with call_id, file, start_time)"
            scan.rejected.append(Rejected(rel, reason, sha256_file(path)))
    text_dir = inbox / "text"
    if text_dir.is_dir():
        for path in sorted(p for p in text_dir.rglob("*") if p.is_file()):
            rel = str(path.relative_to(inbox))
            if path.suffix.lower() == ".jsonl":
                _scan_text_jsonl(path, rel, tz, scan, redact)
            elif path.suffix.lower() == ".csv":
                _scan_text_csv(path, rel, tz, scan, redact)
            elif not path.name.startswith(".") and path.suffix.lower() not in (".md", ".txt"):
                scan.rejected.append(Rejected(rel, f"unsupported text file type '{path.suffix}' (expected .jsonl or .csv)", sha256_file(path)))
    if redact is not None:  # a reason may quote a cell (a phone number in a date or value column)
        scan.rejected = [_scrub_reason(r, redact) for r in scan.rejected]
    return scan


def _scrub_reason(rej: Rejected, redact: Callable[[str], str]) -> Rejected:
    cleaned = redact(rej.reason)
    if PII_PLACEHOLDER_RE.search(cleaned) and not PII_PLACEHOLDER_RE.search(rej.reason):
        return replace(rej, reason=cleaned)
    return rej


def _scan_calls(inbox: Path, meta: Path, tz: ZoneInfo, scan: InboxScan, referenced: set[Path],
                redact: Callable[[str], str] | None = None) -> None:
    name = meta.name
    try:
        header, rows, encoding = read_csv_rows(meta)
    except (ValueError, csv.Error) as exc:
        scan.rejected.append(Rejected(name, str(exc), sha256_file(meta)))
        return
    if encoding not in ("utf-8",):
        scan.notes.append(f"{name}: read as {encoding}")
    missing = [c for c in CALL_REQUIRED if c not in header]
    if missing:
        scan.rejected.append(
            Rejected(name, f"missing required column(s) {', '.join(missing)}; found: {', '.join(header) or 'none'}", sha256_file(meta))
        )
        return
    seen: dict[str, str] = {}
    for line, row in rows:
        origin = f"{name}:{line}"
        call_id = row.get("call_id", "")
        file_ref = row.get("file", "")
        if not call_id:
            scan.rejected.append(Rejected(origin, "empty call_id"))
            continue
        path = (inbox / file_ref).resolve() if file_ref else None
        if path is None or not path.is_file():
            scan.rejected.append(Rejected(origin, f"call {call_id}: file '{file_ref}' not found in the inbox"))
            continue
        referenced.add(path)
        rel = str(path.relative_to(inbox.resolve())) if path.is_relative_to(inbox.resolve()) else str(path)
        file_hash = sha256_file(path)
        try:
            started = parse_datetime(row["start_time"], tz)
            value = parse_float(row.get("customer_value"), "customer_value")
            agent_channel = parse_agent_channel(row.get("agent_channel"))
        except ValueError as exc:
            scan.rejected.append(Rejected(origin, f"call {call_id}: {exc}", file_hash))
            continue
        if path.suffix.lower() == ".json":
            reason = _check_transcript(path)
            kind = "transcript"
        else:
            reason = check_audio(path)
            kind = "audio"
        if reason:
            scan.rejected.append(Rejected(rel, f"call {call_id}: {reason}", file_hash))
            continue
        meta_part = json.dumps({k: row.get(k, "") for k in sorted(header) if k != "file"}, ensure_ascii=False)
        content_hash = _sha(file_hash, meta_part)
        if call_id in seen:
            if seen[call_id] != content_hash:
                scan.rejected.append(Rejected(origin, f"duplicate call_id {call_id} with different content in {name}", content_hash))
            continue
        seen[call_id] = content_hash
        attributes = clean_attributes({k: v for k, v in row.items() if k not in CALL_KNOWN and v}, redact)
        scan.candidates.append(
            Candidate(
                Interaction(
                    id=make_id("call", call_id, content_hash),
                    channel=Channel.CALL,
                    business_date=started.astimezone(tz).date(),
                    content_hash=content_hash,
                    external_id=call_id,
                    source_path=str(path),
                    started_at=started,
                    queue=row.get("queue") or None,
                    agent_id=row.get("agent_id") or None,
                    customer_id=row.get("customer_id") or None,
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


def _text_candidate(rec: dict[str, Any], origin: str, default_channel: str, tz: ZoneInfo,
                    redact: Callable[[str], str] | None) -> Candidate:
    for col in TEXT_REQUIRED:
        if col not in rec or rec[col] in (None, ""):
            raise ValueError(f"missing '{col}'")
    created = parse_datetime(str(rec["created_at"]), tz)
    channel = str(rec.get("channel") or default_channel).lower()
    if channel not in TEXT_CHANNELS:
        raise ValueError(f"channel '{channel}' is not one of {', '.join(sorted(TEXT_CHANNELS))}")
    raw_text = str(rec["text"])
    ext_id = str(rec["id"])
    value = parse_float(None if rec.get("customer_value") is None else str(rec.get("customer_value")), "customer_value")
    # Hash the raw content so a changed text is detected, but store only the redacted body.
    content_hash = _sha(json.dumps({k: rec.get(k) for k in sorted(rec)}, ensure_ascii=False, default=str))
    text = redact(raw_text) if redact else raw_text
    attributes = clean_attributes({k: str(v) for k, v in rec.items() if k not in TEXT_KNOWN and v not in (None, "")},
                                  redact)
    return Candidate(
        Interaction(
            id=make_id(channel, ext_id, content_hash),
            channel=Channel(channel),
            business_date=created.astimezone(tz).date(),
            content_hash=content_hash,
            external_id=ext_id,
            source_path=origin.rsplit(":", 1)[0],
            started_at=created,
            queue=rec.get("queue") or None,
            agent_id=rec.get("agent_id") or None,
            customer_id=str(rec["customer_id"]) if rec.get("customer_id") not in (None, "") else None,
            customer_tier=str(rec.get("customer_tier") or "").lower() or None,
            customer_value=value,
            text=text,
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


def _scan_text_jsonl(path: Path, rel: str, tz: ZoneInfo, scan: InboxScan, redact) -> None:
    try:
        text, _enc = decode_table_bytes(path.read_bytes(), rel)
    except ValueError as exc:
        scan.rejected.append(Rejected(rel, str(exc), sha256_file(path)))
        return
    seen: dict[str, str] = {}
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        origin = f"{rel}:{line_no}"
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("expected a JSON object")
            cand = _text_candidate(rec, origin, _default_channel(path), tz, redact)
        except (ValueError, json.JSONDecodeError) as exc:
            scan.rejected.append(Rejected(origin, str(exc)))
            continue
        _add_text(scan, cand, seen, origin, rel)


def _scan_text_csv(path: Path, rel: str, tz: ZoneInfo, scan: InboxScan, redact) -> None:
    try:
        header, rows, _enc = read_csv_rows(path)
    except (ValueError, csv.Error) as exc:
        scan.rejected.append(Rejected(rel, str(exc), sha256_file(path)))
        return
    missing = [c for c in TEXT_REQUIRED if c not in header]
    if missing:
        scan.rejected.append(Rejected(rel, f"missing required column(s) {', '.join(missing)}; found: {', '.join(header) or 'none'}", sha256_file(path)))
        return
    seen: dict[str, str] = {}
    for line, row in rows:
        origin = f"{rel}:{line}"
        try:
            cand = _text_candidate(row, origin, _default_channel(path), tz, redact)
        except ValueError as exc:
            scan.rejected.append(Rejected(origin, str(exc)))
            continue
        _add_text(scan, cand, seen, origin, rel)


def _add_text(scan: InboxScan, cand: Candidate, seen: dict[str, str], origin: str, rel: str) -> None:
    ext = cand.interaction.external_id or ""
    if ext in seen:
        if seen[ext] != cand.interaction.content_hash:
            scan.rejected.append(Rejected(origin, f"duplicate id {ext} with different content in {rel}", cand.interaction.content_hash))
        return
    seen[ext] = cand.interaction.content_hash
    scan.candidates.append(cand)

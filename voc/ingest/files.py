"""Reading inbox tables as streams, and knowing which files a scan has already read.

A table is read twice, row by row, never whole: one pass hashes its bytes and finds its encoding (UTF-8 with or
without BOM, UTF-16 with BOM, GB18030/GBK), the second parses it. The hash and the file's size and modification
time form a :class:`FileSeen`; a scan given last night's (the *manifest*, kept in the store) skips a file whose
size and time are unchanged, or whose bytes hash the same, without parsing it.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

CSV_FIELD_CEILING = 64 * 2**20  # the csv module's own cap (128 KiB by default) would refuse the whole file
CHUNK = 1 << 18


@dataclass(frozen=True, slots=True)
class FileSeen:
    """One inbox file as a scan read it. ``complete`` is False when some of its rows may go in later unchanged
    (dated after the run's plausible window): such a file is read again every night."""

    path: str  # relative to the inbox
    size: int
    mtime_ns: int
    sha256: str
    complete: bool = True
    rows: int = 0  # candidates it yielded (reported as duplicates while it is skipped)

    def same_stat(self, size: int, mtime_ns: int) -> bool:
        return self.complete and self.size == size and self.mtime_ns == mtime_ns


def sniff(path: Path) -> tuple[str, str | None]:
    """(sha256 of the bytes, encoding or None when no supported encoding fits), streamed: one pass, a second
    only for a file that is not UTF-8 (tried as GB18030)."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith(b"\xef\xbb\xbf"):
        names = ["utf-8-sig"]
    elif head.startswith((b"\xff\xfe", b"\xfe\xff")):
        names = ["utf-16"]
    else:
        names = ["utf-8", "gb18030"]
    h = hashlib.sha256()
    if _decodes(path, names[0], h):
        return h.hexdigest(), names[0]
    fits = [n for n in names[1:] if _decodes(path, n)]
    return h.hexdigest(), (fits[0] if fits else None)


def _decodes(path: Path, encoding: str, h: Any = None) -> bool:
    """Whether ``path`` decodes as ``encoding`` (read in chunks); ``h`` is fed every byte either way."""
    decoder = codecs.getincrementaldecoder(encoding)()
    ok = True
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            if h is not None:
                h.update(chunk)
            if ok:
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError:
                    ok = False
                    if h is None:
                        return False
            if not chunk:
                return ok


def open_text(path: Path, encoding: str) -> IO[str]:
    """``path`` as text in ``encoding`` (a BOM is dropped), newlines left to the reader."""
    return path.open(encoding=encoding, newline="")


def iter_lines(fh: IO[str]) -> Iterator[tuple[int, str]]:
    """(line number, line without its end) of a text stream."""
    for line_no, line in enumerate(fh, 1):
        yield line_no, line.rstrip("\r\n")


def iter_csv_rows(fh: IO[str], on_error: Callable[[int, str], None]) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """(header, rows as (line, row)) of a CSV stream; a row the csv module cannot read goes to ``on_error(line,
    reason)`` and is skipped (the rows around it are kept); blank rows are skipped. Oversized fields are the
    caller's to refuse."""
    if csv.field_size_limit() < CSV_FIELD_CEILING:
        csv.field_size_limit(min(CSV_FIELD_CEILING, sys.maxsize))
    reader = csv.DictReader(fh)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    reader.fieldnames = header

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                on_error(line, f"line {line}: unreadable CSV row ({exc})")
                continue
            clean = {k: (v.strip() if isinstance(v, str) else "") for k, v in row.items() if k is not None}
            if any(clean.values()):
                yield reader.line_num, clean

    return header, rows()


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


def undecodable(path: Path, rel: str) -> str:
    """Why ``path`` is no supported text encoding (read whole only here, to name the problem)."""
    try:
        decode_table_bytes(path.read_bytes(), rel)
    except ValueError as exc:
        return str(exc)
    return f"{rel}: not UTF-8 or GBK text"  # pragma: no cover - sniff and decode_table_bytes agree

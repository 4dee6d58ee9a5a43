"""Spreadsheet-safe CSV: every CSV voc writes goes through here, so no cell is run as a formula when the file is
opened in Excel, WPS or LibreOffice (CSV/formula injection, e.g. a complaint text ``=HYPERLINK("http://x", "点我")``).

A text cell that starts with ``= + - @``, a tab or a carriage return gets a leading apostrophe, the OWASP advice;
numbers, and text that is only a number ("-0.35", "+12%"), stay as they are so the columns still sort as numbers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

__all__ = ["FORMULA_START", "SafeDictWriter", "safe_cell", "safe_row", "safe_writer"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d[\d,]*)?(?:\.\d+)?%?")


def safe_cell(value: Any) -> Any:
    """``value`` as a cell no spreadsheet evaluates: risky text is prefixed with ``'``; anything else unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if _NUMBER.fullmatch(value) and any(c.isdigit() for c in value):
        return value
    return "'" + value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in row]


class _SafeWriter:
    """``csv.writer`` whose rows are made spreadsheet-safe on the way out."""

    def __init__(self, fh: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(fh, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_writer(fh: IO[str], **kwargs: Any) -> _SafeWriter:
    """A ``csv.writer`` (same keyword arguments) that writes only spreadsheet-safe cells."""
    return _SafeWriter(fh, **kwargs)


class SafeDictWriter(csv.DictWriter):
    """``csv.DictWriter`` that writes only spreadsheet-safe cells (the header row is voc's own)."""

    def __init__(self, fh: IO[str], fieldnames: Sequence[str], **kwargs: Any) -> None:
        super().__init__(fh, fieldnames, **kwargs)

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({k: safe_cell(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)

"""Term-burst history counted once per day: per business date, how many complaints it had and in how many of them
each topic term occurs (``complaint_days``, ``complaint_terms``). A night sums the window's counts for the terms it
tests instead of tokenizing thirty days of complaints again (:mod:`voc.pipeline.term_counts` decides what is
counted and when a date is counted again)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, func, select

from voc.store.db import Database
from voc.store.schema import ComplaintDayRow, ComplaintTermRow, InteractionRow, ItemStatus, utcnow

# Stages whose results decide a date's complaints and their texts: the redacted text, the call's customer turns and
# the sentiment score. Rewriting any of them updates its item status (attempts, updated_at), so the key changes.
SOURCE_STAGES = ("transcribe", "text", "sentiment")
IN_CHUNK = 500  # terms per IN (...) list


class TermCounts:
    """Mixin of :class:`voc.store.Store`."""

    db: Database

    def complaint_sources(self, since: dt.date, until: dt.date, salt: Any = None) -> dict[dt.date, str]:
        """A key per business date in [since, until] with interactions: a hash of the date's interactions (count,
        latest ingest) and of their transcribe/text/sentiment item statuses (count, attempts, latest update), plus
        ``salt`` (the settings the counts depend on). Two aggregate queries; no row is read into Python."""
        items = (select(InteractionRow.business_date, func.count(), func.max(InteractionRow.ingested_at))
                 .where(InteractionRow.business_date >= since, InteractionRow.business_date <= until)
                 .group_by(InteractionRow.business_date))
        status = (select(InteractionRow.business_date, ItemStatus.stage, ItemStatus.status, func.count(),
                         func.sum(ItemStatus.attempts), func.max(ItemStatus.updated_at))
                  .join(InteractionRow, InteractionRow.id == ItemStatus.interaction_id)
                  .where(InteractionRow.business_date >= since, InteractionRow.business_date <= until,
                         ItemStatus.stage.in_(SOURCE_STAGES))
                  .group_by(InteractionRow.business_date, ItemStatus.stage, ItemStatus.status))
        parts: dict[dt.date, list[Any]] = {}
        with self.db.session() as s:
            for day, n, latest in s.execute(items):
                parts[day] = [n, str(latest)]
            rows = sorted(s.execute(status), key=lambda r: (r[0], r[1], r[2]))
        for day, stage, state, n, attempts, latest in rows:
            parts.setdefault(day, [0, ""]).append([stage, state, n, int(attempts or 0), str(latest)])
        salt_text = json.dumps(salt, sort_keys=True, default=str)
        return {day: hashlib.sha256(json.dumps([salt_text, p], default=str).encode()).hexdigest()
                for day, p in parts.items()}

    def complaint_days(self, since: dt.date, until: dt.date) -> dict[dt.date, tuple[int, str]]:
        """business date -> (complaints counted, the source key they were counted from) for dates in [since, until]."""
        q = (select(ComplaintDayRow.business_date, ComplaintDayRow.docs, ComplaintDayRow.source_key)
             .where(ComplaintDayRow.business_date >= since, ComplaintDayRow.business_date <= until))
        with self.db.session() as s:
            return {day: (docs, key) for day, docs, key in s.execute(q)}

    def replace_complaint_days(self, days: Iterable[tuple[dt.date, str, int, Mapping[str, int]]]) -> None:
        """Store dates' counts (date, source key, complaints, term -> complaints with it), each replacing what the
        date had, in one transaction."""
        days = list(days)
        if not days:
            return
        now = utcnow()
        with self.db.session() as s:
            dates = [d for d, _k, _n, _df in days]
            s.execute(delete(ComplaintTermRow).where(ComplaintTermRow.business_date.in_(dates)))
            s.execute(delete(ComplaintDayRow).where(ComplaintDayRow.business_date.in_(dates)))
            s.execute(self.db.insert(ComplaintDayRow), [
                {"business_date": d, "docs": n, "source_key": key, "counted_at": now} for d, key, n, _df in days])
            terms = [{"term": t, "business_date": d, "docs": c} for d, _k, _n, df in days for t, c in df.items() if c]
            for k in range(0, len(terms), 5000):
                s.execute(self.db.insert(ComplaintTermRow), terms[k : k + 5000])

    def complaint_term_docs(self, since: dt.date, until: dt.date, terms: Iterable[str]) -> dict[str, int]:
        """term -> complaints with it, summed over the dates in [since, until], for the ``terms`` asked (index seeks:
        the cost follows the terms asked, not the size of the window)."""
        wanted = sorted(set(terms))
        out: dict[str, int] = {}
        with self.db.session() as s:
            for k in range(0, len(wanted), IN_CHUNK):
                q = (select(ComplaintTermRow.term, func.sum(ComplaintTermRow.docs))
                     .where(ComplaintTermRow.term.in_(wanted[k : k + IN_CHUNK]),
                            ComplaintTermRow.business_date >= since, ComplaintTermRow.business_date <= until)
                     .group_by(ComplaintTermRow.term))
                out.update((t, int(n)) for t, n in s.execute(q))
        return out

"""Read model of contact ids: the visible id of each interaction (the source's call / record id, see
:func:`voc.records.visible_id`) and the lookup from what a person types back to the interaction.

A person may type the visible id (``C009``), the visible id with its channel (``call:C009`` or ``call C009``, needed
when two sources used the same id) or the internal id (``call-eaab3f11…``). :func:`resolve_contact` returns exactly
one contact or raises :class:`ContactNotFound` / :class:`AmbiguousContact` (which lists the candidates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import func, or_, select

from voc.records import Channel, contact_label, visible_id
from voc.store.db import Database
from voc.store.schema import InteractionRow, QAReviewRow

_CHANNELS = {c.value for c in Channel}
_CHUNK = 500


class ContactRef(NamedTuple):
    """One interaction as people refer to it."""

    interaction_id: str
    contact_id: str  # the visible id: external_id, else interaction_id
    channel: str
    external_id: str | None
    business_date: dt.date
    customer_id: str | None

    @property
    def label(self) -> str:
        """``call C009``: the id with its kind, told apart from topic ids such as ``T0013``."""
        return contact_label(self.channel, self.contact_id)

    @property
    def qualified(self) -> str:
        """``call:C009``: a form :func:`resolve_contact` always resolves to this contact alone."""
        return f"{self.channel}:{self.contact_id}" if self.external_id else self.interaction_id

    def describe(self) -> str:
        """``call C009 (call-eaab3f11…, 2026-11-19)``: the visible id first, the internal id as a detail."""
        detail = [] if self.contact_id == self.interaction_id else [self.interaction_id]
        return f"{self.label} ({', '.join([*detail, self.business_date.isoformat()])})"


class ContactNotFound(LookupError):
    """No interaction has that id."""


class AmbiguousContact(LookupError):
    """Several interactions have that id (e.g. the same record id from two sources); ``candidates`` lists them."""

    def __init__(self, ref: str, candidates: Sequence[ContactRef]) -> None:
        self.ref = ref
        self.candidates = tuple(candidates)
        super().__init__(
            f"'{ref}' is the id of {len(self.candidates)} contacts: "
            + "; ".join(f"{c.describe()} — type {c.qualified}" for c in self.candidates))


def _ref(row) -> ContactRef:
    return ContactRef(row.id, visible_id(row.external_id, row.id), row.channel, row.external_id, row.business_date,
                      row.customer_id)


_COLUMNS = (InteractionRow.id, InteractionRow.external_id, InteractionRow.channel, InteractionRow.business_date,
            InteractionRow.customer_id)


def contact_refs(db: Database, interaction_ids: Iterable[str]) -> dict[str, ContactRef]:
    """Interaction id -> its :class:`ContactRef`, for the ids that exist."""
    ids = sorted(set(interaction_ids))
    out: dict[str, ContactRef] = {}
    with db.session() as s:
        for k in range(0, len(ids), _CHUNK):
            for row in s.execute(select(*_COLUMNS).where(InteractionRow.id.in_(ids[k:k + _CHUNK]))):
                out[row.id] = _ref(row)
    return out


def _split(ref: str) -> tuple[str | None, str]:
    """``call:C009`` / ``call C009`` -> ("call", "C009"); anything else -> (None, ref)."""
    for sep in (":", " "):
        head, found, tail = ref.partition(sep)
        if found and head.lower() in _CHANNELS and tail.strip():
            return head.lower(), tail.strip()
    return None, ref


def find_contacts(db: Database, ref: str) -> list[ContactRef]:
    """Every contact ``ref`` may mean, oldest first: an exact internal id wins; then the visible id as typed (an id
    that itself contains ``:`` included); then, for ``channel:id`` / ``channel id``, the id among that channel's
    contacts; an id of another case (``c009``) only when nothing matches exactly."""
    ref = ref.strip()
    if not ref:
        return []
    channel, key = _split(ref)
    with db.session() as s:
        row = s.execute(select(*_COLUMNS).where(InteractionRow.id == ref)).first()
        if row is not None:
            return [_ref(row)]

        def query(cond, within: str | None = None):
            q = select(*_COLUMNS).where(cond)
            if within is not None:
                q = q.where(InteractionRow.channel == within)
            return [_ref(r) for r in s.execute(q.order_by(InteractionRow.business_date, InteractionRow.id))]

        hits = query(InteractionRow.external_id == ref)
        if not hits and channel is not None:
            hits = query(or_(InteractionRow.id == key, InteractionRow.external_id == key), channel)
        if not hits:
            hits = query(func.lower(InteractionRow.external_id) == key.lower(), channel)
    return hits


def resolve_contact(db: Database, ref: str) -> ContactRef:
    """The one contact ``ref`` names (see :func:`find_contacts`); raises ContactNotFound or AmbiguousContact."""
    hits = find_contacts(db, ref)
    if not hits:
        raise ContactNotFound(f"no contact with id '{ref}' (give a call id such as C009, a record id, or an "
                              "internal id such as call-…)")
    if len(hits) > 1:
        raise AmbiguousContact(ref, hits)
    return hits[0]


def review_item_id(db: Database, interaction_id: str) -> int | None:
    """The number of the contact's review item (None when it was not sent to review)."""
    with db.session() as s:
        return s.scalar(select(QAReviewRow.id).where(QAReviewRow.interaction_id == interaction_id))

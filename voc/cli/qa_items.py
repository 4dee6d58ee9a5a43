"""Review items of `voc qa` as people name them: by item number or by the call's visible id (C009, call:C009, the
internal id), and as JSON with the call's visible id, channel and date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from voc.cli.common import fail

__all__ = ["contacts_of", "find_item", "item_dict"]


def item_dict(item, machine: dict[str, Any] | None = None, lease_minutes: float | None = None,
                  contact=None) -> dict[str, Any]:
    """An item as JSON; ``contact`` (a ContactRef) adds the call's visible id, channel and date."""
    from voc.records import visible_id

    claimed = item.claimed_at.replace(tzinfo=item.claimed_at.tzinfo or dt.UTC) if item.claimed_at else None
    expired = (item.status == "claimed" and claimed is not None and lease_minutes is not None
               and dt.datetime.now(dt.UTC) - claimed > dt.timedelta(minutes=lease_minutes))
    return {"id": item.id, "interaction_id": item.interaction_id, "queue": item.queue, "status": item.status,
            "reasons": list(item.reasons), "priority": round(item.priority, 3), "assignee": item.assignee,
            "claimed_at": claimed.isoformat() if claimed else None, "lease_expired": expired,
            "machine_score": machine["score"] if machine else None, "score_override": item.score_override,
            "comment": item.comment, "appeal_reason": item.appeal_reason, "history": list(item.history),
            "created_at": item.created_at.isoformat() if item.created_at else None,
            "contact_id": contact.contact_id if contact else visible_id(None, item.interaction_id),
            "external_id": contact.external_id if contact else None,
            "channel": contact.channel if contact else None,
            "business_date": contact.business_date.isoformat() if contact else None}


def contacts_of(store, items) -> dict[str, Any]:
    from voc.store.contacts import contact_refs

    return contact_refs(store.db, [i.interaction_id for i in items]) if items else {}


def find_item(queue, store, ref: str):
    """A review item by its number (``14`` or ``#14``) or by its contact: the call id (``C009``), the id with its
    channel (``call:C009``) or the internal interaction id. A number that is also a call id is ambiguous."""
    from voc.store.contacts import AmbiguousContact, find_contacts, review_item_id
    from voc.store.review import ReviewError

    def for_contact(c):
        number = review_item_id(store.db, c.interaction_id)
        return None if number is None else queue.get(number)

    text = ref.strip()
    number = text[1:] if text.startswith("#") else text
    by_number = None
    if number.isdigit():
        try:
            by_number = queue.get(int(number))
        except ReviewError as exc:
            if text.startswith("#"):
                raise fail(str(exc)) from None
        if text.startswith("#"):
            return by_number
    contacts = find_contacts(store.db, text)
    held = [(c, it) for c in contacts if (it := for_contact(c)) is not None]
    if by_number is not None:
        other = next(((c, it) for c, it in held if it.id != by_number.id), None)
        if other is not None:
            raise fail(f"'{text}' is both review item #{by_number.id} and {other[0].describe()} (review item "
                       f"#{other[1].id}): type #{by_number.id} for the item or {other[0].qualified} for the contact")
        return by_number
    if len(held) == 1:
        return held[0][1]
    if len(held) > 1:
        raise fail(str(AmbiguousContact(text, [c for c, _ in held])))
    if len(contacts) > 1:
        raise fail(f"no review item for any contact with id '{text}': " + "; ".join(c.describe() for c in contacts))
    if contacts:
        c = contacts[0]
        qa = store.qa_results([c.interaction_id]) if c.channel == "call" else []
        raise fail(f"no review item for {c.describe()}: " + (
            "QA scores calls only" if c.channel != "call" else
            f"its QA score {qa[0]['score']:.0f} did not send it to review" if qa else
            f"not QA-scored yet (the qa stage of {c.business_date} has not run for it)"))
    raise fail(f"no review item or contact '{text}' (give an item number, a call id such as C009, or an internal "
               "id such as call-…)")

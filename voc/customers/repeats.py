"""Customer timelines, repeat contacts, repeat chains, FCR and repeat-contact rates (pure functions).

A contact is a *repeat* when the same known customer had an earlier contact at most ``window_days`` business days
before it (inclusive: 7 days later is a repeat with the default window, 8 days is not; the same day counts) about
the same issue. The same issue means, in this order: the same topic; the same order (or ticket) attribute; texts
that mean the same (centred sentence vectors at or above ``text_similarity``); or, only when the texts cannot be
compared, the same product attribute or the same specific service type (repair, installation, maintenance). A broad
service type such as ``complaint`` never makes two contacts the same issue, two different topics are two issues,
and praise never makes a repeat. Contacts without a customer id belong to nobody: they are never merged, never repeats, and are left out
of FCR.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from voc.customers.model import Contact, RepeatChain, RepeatLink, RepeatStats

# Service types that name a specific job: two of them within the window, with nothing else to compare, are one job.
SPECIFIC_SERVICE_TYPES = frozenset({"repair", "installation", "maintenance"})
# Kept for callers that imported it: service types that do not describe a problem.
NON_ISSUE_SERVICE_TYPES = frozenset({"praise", "other"})
DEFAULT_MATCH = ("topic", "attribute", "text", "service_type")
DEFAULT_ATTRIBUTE_KEYS = ("order_id", "product")
# Centred e5 cosine: same-issue pairs of bench/routing/repeat_histories.yaml (calibration split) sit at 0.10-0.76,
# different-issue pairs at -0.10-0.34 (0.34 a thank-you after a repair, which praise excludes anyway).
DEFAULT_TEXT_SIMILARITY = 0.25
# Attribute keys naming one transaction: equal values link two contacts by themselves. Other keys (product, batch)
# link only when the texts cannot be compared: a customer's one fridge can break and be mis-billed in the same week.
_IDENTITY_KEY = re.compile(r"order|ticket|case|订单|工单", re.IGNORECASE)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def contact_order(c: Contact) -> tuple:
    started = c.started_at
    if started is not None and started.tzinfo is None:
        started = started.replace(tzinfo=dt.UTC)
    return (c.business_date, started or _EPOCH, c.interaction_id)


def timelines(contacts: Iterable[Contact]) -> dict[str, list[Contact]]:
    """Contacts per known customer id, oldest first. Unknown customers get no timeline."""
    out: dict[str, list[Contact]] = defaultdict(list)
    for c in contacts:
        if c.customer_id:
            out[c.customer_id].append(c)
    return {k: sorted(v, key=contact_order) for k, v in sorted(out.items())}


def _same(a: Contact, b: Contact, match: Sequence[str], vectors: Mapping[str, np.ndarray],
          text_similarity: float, attribute_keys: Sequence[str]) -> str | None:
    """How ``a`` and ``b`` are about the same issue ('topic', 'order_id=HC1', 'text 0.42', 'service_type'), or None."""
    if a.service_type == "praise" or b.service_type == "praise":  # thanks twice is not a problem twice
        return None
    if "topic" in match and a.topic_id and a.topic_id == b.topic_id:
        return "topic"
    shared = [f"{key}={a.attributes[key]}" for key in attribute_keys if "attribute" in match
              and a.attributes.get(key) and a.attributes.get(key) == b.attributes.get(key)]
    for found in shared:
        if _IDENTITY_KEY.search(found.split("=", 1)[0]):  # the same order or ticket is the same issue
            return found
    if a.topic_id and b.topic_id:  # the topics stage put them in different topics: two issues
        return None
    va, vb = vectors.get(a.interaction_id), vectors.get(b.interaction_id)
    if va is not None and vb is not None:
        if "text" in match:
            sim = float(np.dot(va, vb))
            if sim >= text_similarity:
                return f"text {sim:.2f}"
        # The texts were compared and differ: one product (or a shared service type) can have two problems.
        return None
    if shared:  # a product with nothing else to compare
        return shared[0]
    if ("service_type" in match and a.service_type and a.service_type == b.service_type
            and a.service_type in SPECIFIC_SERVICE_TYPES):
        return "service_type"
    return None


def repeat_candidates(contacts: Iterable[Contact], window_days: int = 7, *,
                      by_customer: Mapping[str, Sequence[Contact]] | None = None) -> set[str]:
    """Interaction ids that have another contact of the same customer within the window (the only contacts whose
    texts need comparing: callers embed just these). ``by_customer``: ``timelines(contacts)`` when the caller has
    it already (sorting every contact is most of the work)."""
    out: set[str] = set()
    for timeline in (timelines(contacts) if by_customer is None else by_customer).values():
        for j, later in enumerate(timeline):
            for earlier in reversed(timeline[:j]):
                if (later.business_date - earlier.business_date).days > window_days:
                    break
                out.update((later.interaction_id, earlier.interaction_id))
    return out


def text_candidates(contacts: Iterable[Contact], window_days: int = 7, *,
                    by_customer: Mapping[str, Sequence[Contact]] | None = None) -> set[str]:
    """The repeat candidates whose texts :func:`find_repeats` may compare: both contacts of a pair within the window
    where neither is praise and not both have a topic (the topic decides those pairs). Usually a small part of
    :func:`repeat_candidates`, so callers look up far fewer vectors; a superset of what is compared, so the links
    are the same."""
    out: set[str] = set()
    for timeline in (timelines(contacts) if by_customer is None else by_customer).values():
        for j, later in enumerate(timeline):
            if later.service_type == "praise":
                continue
            for earlier in reversed(timeline[:j]):
                if (later.business_date - earlier.business_date).days > window_days:
                    break
                if earlier.service_type != "praise" and not (later.topic_id and earlier.topic_id):
                    out.update((later.interaction_id, earlier.interaction_id))
    return out


def find_repeats(
    contacts: Iterable[Contact],
    window_days: int = 7,
    match: Sequence[str] = DEFAULT_MATCH,
    *,
    vectors: Mapping[str, np.ndarray] | None = None,
    text_similarity: float = DEFAULT_TEXT_SIMILARITY,
    attribute_keys: Sequence[str] = DEFAULT_ATTRIBUTE_KEYS,
    by_customer: Mapping[str, Sequence[Contact]] | None = None,
) -> dict[str, RepeatLink]:
    """Repeat links keyed by the repeat's interaction id; each points at the most recent earlier contact of the same
    customer, within the window, about the same issue (see the module docstring).

    ``vectors``: interaction id -> unit sentence vector of the contact's text, centred on a reference mean (cosines
    of raw e5 vectors all sit near 0.9); contacts without one are compared by topic, attributes and service type.
    ``by_customer``: ``timelines(contacts)`` when the caller has it already.
    """
    vectors = vectors or {}
    links: dict[str, RepeatLink] = {}
    for timeline in (timelines(contacts) if by_customer is None else by_customer).values():
        for j, later in enumerate(timeline):
            for earlier in reversed(timeline[:j]):
                days = (later.business_date - earlier.business_date).days
                if days > window_days:
                    break
                how = _same(later, earlier, match, vectors, text_similarity, attribute_keys)
                if how:
                    links[later.interaction_id] = RepeatLink(later.interaction_id, earlier.interaction_id, days, how)
                    break
    return links


def repeat_chains(contacts: Iterable[Contact], links: Mapping[str, RepeatLink]) -> list[RepeatChain]:
    """Chains of two or more contacts joined by repeat links, per customer, oldest chain first."""
    by_id = {c.interaction_id: c for c in contacts}
    root: dict[str, str] = {}

    def find(x: str) -> str:
        while root.get(x, x) != x:
            x = root[x]
        return x

    for link in links.values():
        if link.contact in by_id and link.previous in by_id:
            root[find(link.contact)] = find(link.previous)
    groups: dict[str, list[Contact]] = defaultdict(list)
    for cid in {*(lk.contact for lk in links.values()), *(lk.previous for lk in links.values())}:
        if cid in by_id:
            groups[find(cid)].append(by_id[cid])
    chains = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=contact_order)
        chains.append(RepeatChain(
            customer_id=members[0].customer_id or "",
            contacts=tuple(m.interaction_id for m in members),
            first=members[0].business_date,
            last=members[-1].business_date,
            about=_chain_about(members, links),
        ))
    return sorted(chains, key=lambda ch: (ch.first, ch.customer_id, ch.contacts))


def _chain_about(members: Sequence[Contact], links: Mapping[str, RepeatLink] | None = None) -> str:
    """What a chain is about: its main topic, else the start of its first text, else its service type; with what
    linked it when that was more than the topic ('linked by text 0.48, order_id=HC1')."""
    topics = [m for m in members if m.topic_id]
    if topics:
        counts: dict[str, int] = defaultdict(int)
        for m in topics:
            counts[m.topic_id] += 1
        best = min(counts, key=lambda t: (-counts[t], t))
        about = next(m.about for m in topics if m.topic_id == best)
    elif any(m.excerpt for m in members):
        first = next(m.excerpt for m in members if m.excerpt)
        about = f"'{first[:20]}{'…' if len(first) > 20 else ''}'"
    else:
        kinds = [m.service_type for m in members if m.service_type]
        about = max(sorted(set(kinds)), key=kinds.count) if kinds else "unclassified"
    how = [links[m.interaction_id].match for m in members if links and m.interaction_id in links]
    if any(h != "topic" for h in how):
        about += f" (linked by {', '.join(dict.fromkeys(how))})"
    return about


def queue_key(c: Contact) -> str:
    """Calls group by queue; text contacts without a queue group by their channel."""
    return c.queue or c.channel


GROUPINGS: dict[str, Callable[[Contact], str | None]] = {
    "queue": queue_key,
    "agent": lambda c: c.agent_id,
    "department": lambda c: c.department,
    "topic": lambda c: c.about if c.topic_id else None,
}


def repeat_stats(
    contacts: Sequence[Contact],
    links: dict[str, RepeatLink],
    key: Callable[[Contact], str | None] = lambda c: "all",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[RepeatStats]:
    """FCR and repeat-contact rate per group of ``key`` over known-customer contacts in [since, until].

    A repeat counts in the group of the repeat contact; FCR counts a first contact in the group that
    handled it, as unresolved when any repeat followed it. Groups sorted by contacts, most first.
    """
    followed = {lk.previous for lk in links.values()}
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for c in contacts:
        if not c.customer_id:
            continue
        if (since and c.business_date < since) or (until and c.business_date > until):
            continue
        group = key(c)
        if group is None:
            continue
        a = acc[group]
        a[0] += 1
        if c.interaction_id in links:
            a[1] += 1
        else:
            a[2] += 1
            if c.interaction_id not in followed:
                a[3] += 1
    rows = [RepeatStats(k, *v) for k, v in acc.items()]
    return sorted(rows, key=lambda r: (-r.contacts, r.key))


def stats_from_counts(counts: Iterable[tuple[str | None, int, int, int]]) -> list[RepeatStats]:
    """:func:`repeat_stats` from counts summed elsewhere: (group, known-customer contacts, repeats, first contacts no
    repeat followed) per part of a group (a group may come in several parts; None = no group); same order."""
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for group, contacts, repeats, resolved in counts:
        if group is None:
            continue
        a = acc[group]
        a[0] += contacts
        a[1] += repeats
        a[2] += contacts - repeats
        a[3] += resolved
    rows = [RepeatStats(k, *v) for k, v in acc.items()]
    return sorted(rows, key=lambda r: (-r.contacts, r.key))

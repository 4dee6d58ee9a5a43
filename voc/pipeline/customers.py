"""Customer view boundary (a read-side stage): contacts read from the store, then the pure repeat, risk and
outreach functions of :mod:`voc.customers`. The report stage, ``voc customers`` and ``voc outreach`` call these."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from voc.config import Settings
from voc.customers.model import Contact, OutreachList, RepeatStats, contact_from_row, service_departments
from voc.records import Finding
from voc.store import Store
from voc.store import customers as reads

logger = logging.getLogger(__name__)


class CustomerView:
    """Contacts for the customer view up to ``until``, with departments resolved once (settings -> store)."""

    def __init__(self, store: Store, settings: Settings, until: dt.date, *, write: bool = False) -> None:
        from voc.routing import load_departments

        self.store, self.settings, self.until = store, settings, until
        self.write = write  # may add the vectors it computes to the store's cache (the report stage; not read commands)
        self.cs = settings.customers
        self.topic_departments = reads.topic_departments(store, until)
        self.service_departments = service_departments(load_departments(settings.routing.departments_file))
        self.fallback = settings.routing.fallback_department
        self.tier_weights = dict(settings.routing.tier_weights)
        self.texts: dict[str, str | None] = {}  # text contacts' bodies as read with their rows (repeat vectors)

    def contacts(self, *, attribute_values: Mapping[str, Iterable[tuple[str, ...]]] | None = None,
                 **filters: Any) -> list[Contact]:
        from voc.customers.outreach import key_parts

        if attribute_values is not None:
            attribute_values = {key_parts(k): v for k, v in attribute_values.items()}
        rows = reads.contact_rows(self.store, attribute_values=attribute_values, **filters)
        self.texts.update((r.interaction_id, r.text) for r in rows if r.channel != "call")
        labels = reads.topic_labels(self.store, {r.topic_id for r in rows if r.topic_id})
        return [contact_from_row(r, labels, self.topic_departments, self.service_departments, self.fallback)
                for r in rows]

    def risk_options(self, since: dt.date | None) -> dict[str, Any]:
        return {"since": since, "weights": self.cs.risk_weights.model_dump(),
                "negative_threshold": self.settings.sentiment.negative_threshold,
                "worsening_drop": self.cs.worsening_drop, "tier_weights": self.tier_weights}

    def repeats(self, contacts: list[Contact], by_customer: Mapping[str, list[Contact]] | None = None
                ) -> tuple[dict[str, Any], list[Any]]:
        """(repeat links, chains) of ``contacts``; ``by_customer``: their ``timelines`` when the caller has them."""
        from voc.customers import find_repeats, repeat_chains, timelines

        by_customer = timelines(contacts) if by_customer is None else by_customer
        vectors = contact_vectors(self.store, self.settings, contacts, write=self.write, by_customer=by_customer,
                                  texts=self.texts) if "text" in self.cs.repeat_match else {}
        links = find_repeats(contacts, self.cs.repeat_window_days, self.cs.repeat_match, vectors=vectors,
                             text_similarity=self.cs.repeat_text_similarity,
                             attribute_keys=tuple(self.cs.repeat_attribute_keys), by_customer=by_customer)
        return links, repeat_chains(contacts, links)

    def outreach(self, topic_id: str, *, label: str | None = None, finding: Finding | None = None,
                 department: str | None = None, since: dt.date | None = None) -> OutreachList:
        """Complainers of ``topic_id`` in [since, until] (plus the finding's members) and exposed customers."""
        from voc.customers import build_outreach, shared_exposure

        cs = self.cs
        since = since or self.until - dt.timedelta(days=cs.lookback_days - 1)
        ids = set(reads.topic_member_ids(self.store, topic_id, since, self.until))
        if finding is not None:
            ids |= set(finding.interaction_ids)
        complaints = self.contacts(interaction_ids=sorted(ids))
        facets = (finding.details.get("facets") if finding is not None else None) or {}
        if facets.get("name"):  # the finding names a product/problem: its complainers are those whose contact is about it
            complaints = self._about_facets(complaints, facets)
            label = str(facets["name"])
        exposure = shared_exposure(complaints, cs.outreach_match_keys, cs.outreach_min_complainers, cs.outreach_min_share)
        candidates = self.contacts(
            since=self.until - dt.timedelta(days=cs.outreach_metadata_days - 1), until=self.until,
            attribute_values=exposure) if exposure else []
        if label is None:
            label = reads.topic_labels(self.store, [topic_id]).get(topic_id, topic_id)
        department = department or self.topic_departments.get(topic_id) or self.fallback
        return build_outreach(
            topic_id, label, complaints, candidates, finding_id=finding.id if finding is not None else None,
            department=department, match_keys=cs.outreach_match_keys, min_complainers=cs.outreach_min_complainers,
            min_share=cs.outreach_min_share, tier_weights=self.tier_weights, limit=cs.outreach_limit,
            facet=facets if facets.get("name") else None)

    def _about_facets(self, complaints: list[Contact], facets: dict[str, Any]) -> list[Contact]:
        """The complaints whose own text and attributes match the finding's facets (all of them when none does)."""
        from voc.topics.facets import extract_facets, matches

        texts = {i.id: i.text or "" for i in self.store.interactions(ids=[c.interaction_id for c in complaints])}
        keep = [c for c in complaints
                if matches(extract_facets(texts.get(c.interaction_id) or c.excerpt, c.attributes), facets)]
        return keep or complaints


def contact_vectors(store: Store, settings: Settings, contacts: list[Contact], *, write: bool = False,
                    by_customer: Mapping[str, list[Contact]] | None = None,
                    texts: Mapping[str, str | None] | None = None) -> dict[str, np.ndarray]:
    """Centred unit sentence vectors of the contacts that have another contact of the same customer within the repeat
    window (only those need comparing; with the embedder's shipped reference centre, only those whose texts
    :func:`voc.customers.repeats.text_candidates` says may be compared), from the routing embedder through the
    store's cache; {} without one.

    ``texts``: text contacts' bodies already read (:attr:`CustomerView.texts`), so only calls (their customer turns)
    and contacts missing there are read again; ``by_customer``: ``timelines(contacts)``."""
    from voc.customers.repeats import repeat_candidates, text_candidates
    from voc.pipeline.routing import contact_texts, reference_mean, routing_embed

    window = settings.customers.repeat_window_days
    ids = sorted(repeat_candidates(contacts, window, by_customer=by_customer))
    if not ids:
        return {}
    embed, name = routing_embed(store, settings, write=write)
    if embed is None:
        return {}
    centre = reference_mean(name)
    if centre is not None:  # a fixed centre: only the vectors find_repeats may compare are needed
        ids = sorted(text_candidates(contacts, window, by_customer=by_customer))
        if not ids:
            return {}
    known = texts or {}
    # contact_text of a text contact is its body (voc.routing.contact_text); calls need their utterances
    texts = {i: (known[i] or "").strip() for i in ids if i in known}
    rest = [i for i in ids if i not in known]
    if rest:
        texts |= contact_texts(store, store.interactions(ids=rest))
    texts = {i: t for i, t in texts.items() if t}
    if not texts:
        return {}
    keys = sorted(texts)
    matrix = np.asarray(embed([texts[k] for k in keys]), dtype=np.float32)
    if centre is None:  # another embedder: centre on these contacts themselves (all repeat candidates)
        centre = matrix.mean(axis=0) if len(keys) >= 20 else np.zeros(matrix.shape[1], dtype=np.float32)
    matrix = matrix - centre
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
    return dict(zip(keys, matrix, strict=True))


def _until(store: Store, until: dt.date | None, today: dt.date | None) -> dt.date:
    """The end of the view: given, else the latest business date in the store, else the caller's today."""
    from voc.pipeline.runner import utcnow

    return until or reads.latest_business_date(store) or today or utcnow().date()


def build_customer_report(store: Store, settings: Settings, run_date: dt.date) -> Any:
    """The report stage's customer section: figures over the lookback period ending at ``run_date``, the ranked
    at-risk list, and one outreach list per emerging-topic finding of ``run_date``."""
    from voc.customers import CustomerReport, rank_at_risk, repeat_stats, timelines
    from voc.customers.repeats import GROUPINGS

    cs = settings.customers
    view = CustomerView(store, settings, run_date, write=True)
    since = run_date - dt.timedelta(days=cs.lookback_days - 1)
    # Contacts before the period are read too, so a contact on its first day can still be a repeat.
    contacts = view.contacts(since=since - dt.timedelta(days=cs.repeat_window_days), until=run_date)
    by_customer = timelines(contacts)  # sorted once: repeat candidates, links and risk all walk them
    links, chains = view.repeats(contacts, by_customer)
    overall = repeat_stats(contacts, links, since=since, until=run_date)
    by_group = {name: repeat_stats(contacts, links, key, since=since, until=run_date) for name, key in GROUPINGS.items()}
    at_risk = rank_at_risk(by_customer, links, chains, limit=cs.top_n, **view.risk_options(since))
    outreach = [view.outreach(f.topic_id, label=f.title, finding=f, department=dept, since=since)
                for f, dept in reads.emerging_findings(store, run_date) if f.topic_id]
    unknown = sum(1 for c in contacts if not c.customer_id and since <= c.business_date <= run_date)
    report = CustomerReport(
        run_date=run_date, since=since, overall=overall[0] if overall else RepeatStats("all", 0, 0, 0, 0),
        by_group=by_group, at_risk=tuple(at_risk), outreach=tuple(outreach), unknown_contacts=unknown,
        options=cs.model_dump(mode="json"),
    )
    logger.info("customers %s: %d contacts, repeat rate %s, FCR %s, %d at risk, %d outreach lists",
                run_date, report.overall.contacts, report.overall.repeat_rate, report.overall.fcr,
                len(at_risk), len(outreach))
    return report


def customer_timeline(store: Store, settings: Settings, customer_id: str, until: dt.date | None = None,
                      today: dt.date | None = None) -> dict[str, Any] | None:
    """One customer's contacts across channels with repeat links, chains and risk (``voc customers show``)."""
    from voc.customers import customer_risk, timelines
    from voc.customers.report import customer_json
    from voc.pipeline.ingest import make_identify

    cid = (customer_id or "").strip()
    if not cid:
        return None
    cid = make_identify(store, settings)(cid)  # a phone number given here finds the customer stored under its hash
    view = CustomerView(store, settings, _until(store, until, today))
    contacts = sorted(view.contacts(customer_id=cid), key=lambda c: (c.business_date, c.interaction_id))
    if not contacts:
        return None
    links, chains = view.repeats(contacts)
    timeline = timelines(contacts).get(cid, [])
    risk = customer_risk(timeline, links, chains,
                         **view.risk_options(view.until - dt.timedelta(days=settings.customers.lookback_days - 1)))
    return customer_json(cid, timeline, links, chains, risk, view.tier_weights)


def at_risk_customers(store: Store, settings: Settings, until: dt.date | None = None, limit: int | None = None,
                      today: dt.date | None = None) -> list[Any]:
    """The ranked at-risk list over the lookback period ending ``until`` (default: latest business date)."""
    from voc.customers import rank_at_risk, timelines

    cs = settings.customers
    view = CustomerView(store, settings, _until(store, until, today))
    since = view.until - dt.timedelta(days=cs.lookback_days - 1)
    contacts = view.contacts(since=since - dt.timedelta(days=cs.repeat_window_days), until=view.until)
    by_customer = timelines(contacts)
    links, chains = view.repeats(contacts, by_customer)
    return rank_at_risk(by_customer, links, chains, limit=limit, **view.risk_options(since))


def topic_outreach(store: Store, settings: Settings, topic_id: str, until: dt.date | None = None,
                   today: dt.date | None = None) -> OutreachList | None:
    """The outreach list of one topic (``voc outreach``); None when the topic is unknown."""
    until = _until(store, until, today)
    labels = reads.topic_labels(store, [topic_id])
    found = reads.latest_topic_finding(store, topic_id, until)
    if topic_id not in labels and found is None:
        return None
    view = CustomerView(store, settings, until)
    finding, department = found if found else (None, None)
    label = labels.get(topic_id) or (finding.title if finding else topic_id)
    return view.outreach(topic_id, label=label, finding=finding, department=department)

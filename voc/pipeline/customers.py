"""Customer view boundary (a read-side stage): contacts read from the store, then the pure repeat, risk and
outreach functions of :mod:`voc.customers`. The report stage, ``voc customers`` and ``voc outreach`` call these."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from voc.config import Settings
from voc.customers.model import Contact, OutreachList, RepeatStats, contact_from_row, service_departments
from voc.records import Finding
from voc.store import Store
from voc.store import customer_aggregates as stored
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
        # a text contact that reads as praise is typed by the average praise text, never by its own vector (the embed
        # stage skips it: voc.pipeline.embed.reads_as_praise); it is not compared by text either
        praise = {c.interaction_id for c in contacts if c.channel != "call" and c.sentiment is not None
                  and c.sentiment >= settings.sentiment.positive_threshold}
        ids = [i for i in ids if i not in praise]
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
    at-risk list, and one outreach list per emerging-topic finding of ``run_date``.

    From the stored view (:func:`refresh_customer_view`: only the customers whose contacts changed or crossed the
    period's edges are recomputed; FCR counts summed and risks ranked in the database); equal to
    :func:`build_customer_report_from_scratch`, which it falls back to when the repeat vectors would be centred on
    the window's own contacts."""
    from voc.customers import CustomerReport
    from voc.customers.model import contact_department, risk_from_dict
    from voc.customers.repeats import GROUPINGS, stats_from_counts

    if not view_can_be_kept(store, settings):
        stored.forget_customer_view(store)
        return build_customer_report_from_scratch(store, settings, run_date)
    cs = settings.customers
    view = CustomerView(store, settings, run_date, write=True)
    labels = reads.topic_labels(store)
    since = refresh_customer_view(store, settings, run_date, view, labels)
    counts = stored.repeat_counts(store, since, run_date)

    def about(topic: str | None) -> str | None:  # Contact.about of a contact in the topic
        return (f"{topic} {labels[topic]}".strip() if labels.get(topic) else topic) if topic else None

    def department(topic: str | None, service_type: str | None) -> str | None:
        return contact_department(topic, service_type, view.topic_departments, view.service_departments, view.fallback)

    group_of = {"queue": lambda r: r[0], "agent": lambda r: r[1], "department": lambda r: department(r[2], r[3]),
                "topic": lambda r: about(r[2])}
    by_group = {name: stats_from_counts((group_of[name](r), *r[4:]) for r in counts) for name in GROUPINGS}
    overall = stats_from_counts(("all", *r[4:]) for r in counts)
    risks = sorted((risk_from_dict(r) for _k, r in stored.top_risks(store, cs.top_n)),
                   key=lambda r: (-r.score, -r.points, r.customer_id))
    at_risk = risks[: cs.top_n] if cs.top_n else risks
    outreach = [view.outreach(f.topic_id, label=f.title, finding=f, department=dept, since=since)
                for f, dept in reads.emerging_findings(store, run_date) if f.topic_id]
    report = CustomerReport(
        run_date=run_date, since=since, overall=overall[0] if overall else RepeatStats("all", 0, 0, 0, 0),
        by_group=by_group, at_risk=tuple(at_risk), outreach=tuple(outreach),
        unknown_contacts=stored.unknown_contacts(store, since, run_date), options=cs.model_dump(mode="json"),
    )
    logger.info("customers %s: %d contacts, repeat rate %s, FCR %s, %d at risk, %d outreach lists",
                run_date, report.overall.contacts, report.overall.repeat_rate, report.overall.fcr,
                len(at_risk), len(outreach))
    return report


VIEW_VERSION = 1  # bump when what the stored view holds or how it is computed changes: the next night rebuilds it


def view_key(settings: Settings) -> str:
    """What the stored view depends on besides the store's rows: the customer and routing settings (window, match,
    weights, embedder), the sentiment threshold and the embedding key's cut."""
    salt = [VIEW_VERSION, settings.customers.model_dump(mode="json"), settings.routing.model_dump(mode="json"),
            settings.sentiment.negative_threshold, settings.limits.embed_max_chars, str(settings.models_dir),
            str(settings.topics.static_table), settings.topics.st_model]
    return hashlib.sha256(json.dumps(salt, sort_keys=True, default=str).encode()).hexdigest()


def view_can_be_kept(store: Store, settings: Settings) -> bool:
    """Whether one customer's repeat links depend on that customer's contacts alone: yes unless texts are compared
    with an embedder that has no shipped reference centre (then :func:`contact_vectors` centres on all the window's
    repeat candidates, so any contact can move every link)."""
    from voc.pipeline.routing import reference_mean, routing_embed

    if "text" not in settings.customers.repeat_match or settings.routing.embedder == "none":
        return True
    embed, name = routing_embed(store, settings, write=False)
    return embed is None or reference_mean(name) is not None


def _copy(row: stored.ChangedRow, keys: Sequence[str]) -> dict[str, Any]:
    """The stored copy of a contact read from the store (link columns empty: set when its customer is computed);
    of its PII-free attributes only the ``keys`` repeat links compare (None when it has none of them)."""
    from voc.customers.model import customer_key, excerpt, safe_attributes

    out = row._asdict()
    del out["old_customer_key"]
    attributes = {k: v for k, v in safe_attributes(row.attributes).items() if k in keys}
    out |= {"customer_key": customer_key(row.customer_id), "queue_key": row.queue or row.channel,
            "attributes": attributes or None, "excerpt": excerpt(out.pop("text")),
            "repeat_of": None, "repeat_days": None, "repeat_match": None, "fcr": 0}
    return out


def _contact(copy: Mapping[str, Any], labels: Mapping[str, str]) -> Contact:
    """The :class:`Contact` of a stored copy (as :func:`voc.customers.model.contact_from_row` makes it from the
    store's rows; no department: links and risk do not read it)."""
    topic = copy["topic_id"]
    return Contact(
        interaction_id=copy["interaction_id"], customer_id=copy["customer_key"], channel=copy["channel"],
        business_date=copy["business_date"], started_at=copy["started_at"], external_id=copy["external_id"],
        queue=copy["queue"], agent_id=copy["agent_id"], customer_tier=copy["customer_tier"],
        customer_value=copy["customer_value"], service_type=copy["service_type"], topic_id=topic,
        topic_label=labels.get(topic) if topic else None,
        sentiment=copy["call_score"] if copy["call_score"] is not None else copy["text_score"],
        trajectory=copy["trajectory"], escalation=bool(copy["escalation"]), qa_score=copy["qa_score"],
        qa_review=copy["review_status"], attributes=dict(copy["attributes"] or {}), excerpt=copy["excerpt"] or "")


SLACK = dt.timedelta(minutes=10)  # outside a run: writes stamped this long before the view looked are candidates


def _checked_at(store: Store, run_date: dt.date) -> dt.datetime:
    """From when the next night looks for changes: the start of the date's run (every write since, the run's own
    stages included, is a candidate next time, and so is any write still in flight when the view looked), else the
    store's clock less :data:`SLACK`."""
    now = stored.clock()
    started = stored.run_started(store, run_date)
    if started is not None and started.tzinfo is None:
        started = started.replace(tzinfo=dt.UTC)  # SQLite hands back naive UTC
    return min(started, now) if started is not None else now - SLACK


def refresh_customer_view(store: Store, settings: Settings, run_date: dt.date, view: CustomerView,
                          labels: Mapping[str, str]) -> dt.date:
    """Bring the stored view up to ``run_date``; returns the period's first date.

    Recomputed (links of their contacts, FCR flags, risk): the customers with a contact dated in the repeat window
    before the period or in the period (read from ``repeat_window_days`` earlier still, so every link there sees its
    whole window) whose stored copy is missing or differs from the store's rows (new contacts, late arrivals,
    reprocessed or re-scored items, another topic, service type or review status: compared for the candidates
    :func:`voc.store.customer_aggregates.candidates` names), whose contact was deleted, that have a contact which
    left the period or the window before it since the view was built, or a contact in a topic whose label changed.
    Everything is rebuilt when the settings the view depends on changed or the date goes back."""
    from voc.customers import customer_risk, find_repeats, repeat_chains, timelines
    from voc.customers.model import risk_to_dict

    cs = settings.customers
    window = cs.repeat_window_days
    since = run_date - dt.timedelta(days=cs.lookback_days - 1)
    first = since - dt.timedelta(days=window)  # the earliest contact the view reads (a repeat's earlier contact)
    context = first - dt.timedelta(days=window)  # ... and the contacts its links compare with
    key = view_key(settings)
    checked_at = _checked_at(store, run_date)
    state = stored.view_state(store)
    rebuild = state is None or state.source_key != key or state.until > run_date or state.since > since
    if rebuild:
        state = None
        stored.replace_customer_view(store, [], (), (), (), stored.ViewState(key, since, run_date, dict(labels),
                                                                             checked_at), before=context, reset=True)
    ids, dates = stored.candidates(store, context, run_date, state.checked_at if state else None)
    changed = stored.changed_contacts(store, context, run_date, ids, dates)
    gone = stored.gone_contacts(store, context, run_date, ids, dates)
    fresh = {r.interaction_id: _copy(r, cs.repeat_attribute_keys) for r in changed}
    dirty = {c["customer_key"] for c in fresh.values()} | {r.old_customer_key for r in changed} | {k for _i, k in gone}
    if state is not None:
        day = dt.timedelta(days=1)
        dirty |= stored.customers_between(store, [(state.since, since - day)])  # contacts leaving the period
        dirty |= stored.customers_leaving(store, state.since - dt.timedelta(days=window), first - day)  # the window
        relabelled = {t for t in set(labels) | set(state.labels) if labels.get(t) != state.labels.get(t)}
        if relabelled:
            dirty |= stored.customers_with_topics(store, relabelled, first, run_date)
    dirty.discard(None)
    copies = stored.stored_contacts(store, dirty, context, run_date, skip={*fresh, *(i for i, _k in gone)})
    copies += [c for c in fresh.values() if c["customer_key"] in dirty]
    contacts = [_contact(c, labels) for c in copies]
    by_customer = timelines(contacts)
    vectors = contact_vectors(store, settings, contacts, write=view.write, by_customer=by_customer) \
        if "text" in cs.repeat_match else {}
    links = find_repeats(contacts, window, cs.repeat_match, vectors=vectors, text_similarity=cs.repeat_text_similarity,
                         attribute_keys=tuple(cs.repeat_attribute_keys), by_customer=by_customer)
    followed = {link.previous for link in links.values()}
    relinked = []
    for c in copies:
        link = links.get(c["interaction_id"])
        now = ({"repeat_of": link.previous, "repeat_days": link.days, "repeat_match": link.match, "fcr": 2}
               if link is not None else {"repeat_of": None, "repeat_days": None, "repeat_match": None,
                                         "fcr": int(c["interaction_id"] in followed)})
        if c["interaction_id"] not in fresh and any(c[k] != v for k, v in now.items()):
            relinked.append({"interaction_id": c["interaction_id"], **now})
        c |= now
    risks = []
    options = view.risk_options(since)
    for cid, timeline in by_customer.items():
        shown = [c for c in timeline if c.business_date >= first]  # what the view reads of the customer
        ids = {c.interaction_id for c in shown}
        # links as computed over the read contacts alone: those whose earlier contact is not read are not there
        seen = {c.interaction_id: links[c.interaction_id] for c in shown
                if c.interaction_id in links and links[c.interaction_id].previous in ids}
        risk = customer_risk(shown, seen, repeat_chains(shown, seen), **options) if shown else None
        if risk is not None:
            risks.append((cid, risk.score, risk.points, risk_to_dict(risk)))
    stored.replace_customer_view(store, list(fresh.values()), (i for i, _k in gone), dirty, risks,
                                 stored.ViewState(key, since, run_date, dict(labels), checked_at), before=context,
                                 relinked=relinked)
    logger.debug("customer view %s: %d changed contacts, %d customers recomputed (%d contacts, %d relinked)",
                 run_date, len(changed), len(dirty), len(copies), len(relinked))
    return since


def build_customer_report_from_scratch(store: Store, settings: Settings, run_date: dt.date) -> Any:
    """:func:`build_customer_report` from every contact of the period and the repeat window before it (what the
    report stage did before the stored view; the tests compare the two, and a routing embedder without a fixed
    reference centre still needs it: its repeat vectors are centred on the window's own contacts)."""
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

"""Typed records of the customer view: contacts, repeat statistics, risk and outreach entries."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Attribute keys that may hold contact data or a person's identity: never shown, never exported.
PII_KEY = re.compile(r"phone|mobile|tel|e-?mail|mail|addr|address|name|contact|wechat|weixin|qq|id_?card|"
                     r"电话|手机|邮箱|地址|姓名|联系|微信|身份证", re.IGNORECASE)
# Values that look like a phone number or an e-mail address are masked even under a harmless key. Linear time on
# any input: an e-mail's local part starts only where a run of its characters starts, and gives nothing back.
PII_VALUE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)|(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)"
                       r"|(?<![\w.+-])[\w.+-]++@[\w-]++\.[\w.-]+")


def safe_attributes(attributes: dict[str, Any] | None) -> dict[str, str]:
    """Attributes without PII: keys that look like phone/mobile/tel/email/address/name are dropped,
    phone numbers and e-mail addresses inside the other values are masked."""
    out: dict[str, str] = {}
    for key, value in (attributes or {}).items():
        if value in (None, "") or PII_KEY.search(str(key)):
            continue
        out[str(key)] = PII_VALUE.sub("[PII]", str(value))
    return out


EXCERPT_CHARS = 60  # start of a contact's redacted text shown by the CLI


def excerpt(text: str | None) -> str:
    """The first :data:`EXCERPT_CHARS` characters, masked; only a little more than that is read (a contact's text
    may be very long, and masking it all would be work thrown away)."""
    head = (text or "")[:EXCERPT_CHARS + 64]  # room for a number or an address that straddles the cut
    return PII_VALUE.sub("[PII]", head)[:EXCERPT_CHARS]


def customer_key(customer_id: str | None) -> str | None:
    """Normalised customer id; blank or missing = unknown (None), and unknowns are never merged."""
    if customer_id is None:
        return None
    key = str(customer_id).strip()
    return key or None


@dataclass(frozen=True, slots=True)
class Contact:
    """One interaction seen from the customer's side, with what the stages found about it."""

    interaction_id: str
    customer_id: str | None  # None = unknown customer (never merged with another unknown)
    channel: str
    business_date: dt.date
    started_at: dt.datetime | None = None
    external_id: str | None = None
    queue: str | None = None
    agent_id: str | None = None
    customer_tier: str | None = None
    customer_value: float | None = None
    service_type: str | None = None
    topic_id: str | None = None
    topic_label: str | None = None
    department: str | None = None  # owning department: route of the topic's finding, else of the service type
    sentiment: float | None = None  # customer sentiment in [-1, 1] (call overall or whole text)
    trajectory: str | None = None  # calls: improving / worsening / stable
    escalation: bool = False
    qa_score: float | None = None
    qa_review: str | None = None  # review status: open / claimed / resolved / appealed / closed
    attributes: dict[str, str] = field(default_factory=dict)  # PII-free (see safe_attributes)
    excerpt: str = ""  # start of the redacted text (CLI only; never exported)

    @property
    def about(self) -> str:
        """What the contact was about, for reasons: 'T0004 洗衣机/漏水', else the service type."""
        if self.topic_id:
            return f"{self.topic_id} {self.topic_label}".strip() if self.topic_label else self.topic_id
        return self.service_type or "unclassified"


@dataclass(frozen=True, slots=True)
class RepeatLink:
    """``contact`` came back within the window about the same thing as ``previous``."""

    contact: str  # interaction id of the repeat
    previous: str  # the earlier contact it repeats
    days: int  # business days between them (0 = same day)
    match: str  # "topic" or "service_type"


@dataclass(frozen=True, slots=True)
class RepeatChain:
    """Contacts of one customer joined by repeat links, oldest first."""

    customer_id: str
    contacts: tuple[str, ...]
    first: dt.date
    last: dt.date
    about: str

    @property
    def days(self) -> int:
        """Calendar days the chain spans, both ends included (14th to 19th = 6 days)."""
        return (self.last - self.first).days + 1

    @property
    def reason(self) -> str:
        return f"{len(self.contacts)} contacts in {self.days} day{'s' if self.days > 1 else ''} about {self.about}"


@dataclass(frozen=True, slots=True)
class RepeatStats:
    """FCR and repeat-contact rate of one group (a queue, agent, department, topic, or everything).

    ``repeat_rate`` = repeats / contacts (counted where the repeat happened); ``fcr`` = first contacts that
    no repeat followed within the window / first contacts (counted where the first contact was handled).
    """

    key: str
    contacts: int
    repeats: int
    first_contacts: int
    resolved_first: int

    @property
    def repeat_rate(self) -> float | None:
        return round(self.repeats / self.contacts, 4) if self.contacts else None

    @property
    def fcr(self) -> float | None:
        return round(self.resolved_first / self.first_contacts, 4) if self.first_contacts else None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "contacts": self.contacts, "repeats": self.repeats,
                "first_contacts": self.first_contacts, "resolved_first": self.resolved_first,
                "repeat_rate": self.repeat_rate, "fcr": self.fcr}


@dataclass(frozen=True, slots=True)
class CustomerRisk:
    """Churn-risk of one customer: points per signal x customer-value weight, with the reasons."""

    customer_id: str
    tier: str | None
    value: float | None
    weight: float  # voc.value.customer_weight
    points: float  # unweighted sum of signal points
    signals: dict[str, float]  # signal -> points
    reasons: tuple[str, ...]
    contacts: int
    last_contact: dt.date

    @property
    def score(self) -> float:
        return round(self.points * self.weight, 3)

    def to_dict(self, rank: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {} if rank is None else {"rank": rank}
        out |= {"customer_id": self.customer_id, "tier": self.tier, "value": self.value,
                "weight": round(self.weight, 3), "points": round(self.points, 3), "score": self.score,
                "signals": {k: round(v, 3) for k, v in self.signals.items()}, "reasons": list(self.reasons),
                "contacts": self.contacts, "last_contact": self.last_contact.isoformat()}
        return out


@dataclass(frozen=True, slots=True)
class OutreachEntry:
    customer_id: str
    tier: str | None
    value: float | None
    weight: float
    status: str  # "complained" (contacted about the topic) or "exposed" (shares product/batch/region, silent)
    match: str  # what links them: "complained 2x" or "batch=B2311"
    product: str = ""
    batch: str = ""
    region: str = ""
    reason: str = ""  # suggested contact reason, built from the topic label

    def to_dict(self, rank: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {} if rank is None else {"rank": rank}
        out |= {"customer_id": self.customer_id, "tier": self.tier, "value": self.value,
                "weight": round(self.weight, 3), "status": self.status, "match": self.match,
                "product": self.product, "batch": self.batch, "region": self.region, "reason": self.reason}
        return out


@dataclass(frozen=True, slots=True)
class OutreachList:
    """Customers to contact first about one (emerging) topic, highest value first."""

    topic_id: str
    topic_label: str
    finding_id: str | None
    department: str
    contact_reason: str
    matched_on: dict[str, tuple[str, ...]]  # match key -> values shared by enough complainers
    entries: tuple[OutreachEntry, ...]
    anonymous_complaints: int = 0  # complaints without a customer id (cannot be contacted)

    @property
    def complainers(self) -> int:
        return sum(1 for e in self.entries if e.status == "complained")

    @property
    def exposed(self) -> int:
        return sum(1 for e in self.entries if e.status == "exposed")

    def to_dict(self) -> dict[str, Any]:
        return {"topic_id": self.topic_id, "topic_label": self.topic_label, "finding_id": self.finding_id,
                "department": self.department, "contact_reason": self.contact_reason,
                "matched_on": {k: list(v) for k, v in self.matched_on.items()},
                "complainers": self.complainers, "exposed": self.exposed,
                "anonymous_complaints": self.anonymous_complaints,
                "entries": [e.to_dict(i) for i, e in enumerate(self.entries, start=1)]}


def service_departments(departments: Sequence[Any]) -> dict[str, str]:
    """Service type -> the first department (in file order) that owns it."""
    out: dict[str, str] = {}
    for d in departments:
        for st in d.service_types:
            out.setdefault(st, d.id)
    return out


def contact_department(topic: str | None, service_type: str | None, topic_departments: Mapping[str, str],
                       service_departments: Mapping[str, str], fallback_department: str | None) -> str | None:
    """The owning department of a contact: its topic's route, else its service type's owner, else the fallback (None
    when the contact has neither a topic nor a service type)."""
    department = (topic_departments.get(topic) if topic else None) or service_departments.get(service_type or "")
    return department or (fallback_department if (topic or service_type) else None)


def risk_to_dict(risk: CustomerRisk) -> dict[str, Any]:
    """A :class:`CustomerRisk` as plain JSON data (what the store keeps); :func:`risk_from_dict` reads it back equal."""
    return {"customer_id": risk.customer_id, "tier": risk.tier, "value": risk.value, "weight": risk.weight,
            "points": risk.points, "signals": dict(risk.signals), "reasons": list(risk.reasons),
            "contacts": risk.contacts, "last_contact": risk.last_contact.isoformat()}


def risk_from_dict(data: Mapping[str, Any]) -> CustomerRisk:
    return CustomerRisk(customer_id=data["customer_id"], tier=data["tier"], value=data["value"], weight=data["weight"],
                        points=data["points"], signals=dict(data["signals"]), reasons=tuple(data["reasons"]),
                        contacts=data["contacts"], last_contact=dt.date.fromisoformat(data["last_contact"]))


def contact_from_row(row: Any, labels: Mapping[str, str], topic_departments: Mapping[str, str],
                     service_departments: Mapping[str, str], fallback_department: str | None) -> Contact:
    """A :class:`Contact` from a stored contact row (``voc.store.customers.ContactRow``): PII-free attributes and
    excerpt, its topic's label, and its owning department (the topic's route, else the service type's owner)."""
    topic, stype = row.topic_id, row.service_type
    department = contact_department(topic, stype, topic_departments, service_departments, fallback_department)
    return Contact(
        interaction_id=row.interaction_id, customer_id=customer_key(row.customer_id), channel=row.channel,
        business_date=row.business_date, started_at=row.started_at, external_id=row.external_id, queue=row.queue,
        agent_id=row.agent_id, customer_tier=row.customer_tier, customer_value=row.customer_value,
        service_type=stype, topic_id=topic, topic_label=labels.get(topic) if topic else None,
        department=department,
        sentiment=row.call_score if row.call_score is not None else row.text_score, trajectory=row.trajectory,
        escalation=bool(row.escalation), qa_score=row.qa_score, qa_review=row.review_status,
        attributes=safe_attributes(row.attributes), excerpt=excerpt(row.text),
    )

"""Route texts and findings to departments: rules (pinned topics, memory, keywords, service type) then similarity."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voc.records import Finding, Route
from voc.routing.departments import Department, check_fallback, load_departments
from voc.routing.memory import RouteMemory
from voc.routing.service_type import classify_service_type
from voc.routing.similarity import DepartmentSimilarity, TfidfSimilarity

logger = logging.getLogger(__name__)

# Finding kinds whose owner is known from the kind alone: a QA failure pattern is agent behaviour.
DEFAULT_KIND_RULES: Mapping[str, str] = {"qa_pattern": "customer_service"}
SERVICE_TYPE_BONUS = 0.3  # what owning the text's service type adds to a department's score
SIMILARITY_WEIGHT = 1.0


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where one text goes and why (the CLI prints ``to_json()`` per input line)."""

    department: str
    service_type: str
    confidence: float
    reason: str

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict with exactly the four fields (``json.dumps`` a list of these for ``--json``)."""
        return {
            "department": self.department,
            "service_type": self.service_type,
            "confidence": round(self.confidence, 4),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class _Candidate:
    department: str
    score: float
    keywords: tuple[str, ...]
    service_type_match: bool
    similarity: float

    def explain(self, service_type: str) -> str:
        parts = []
        if self.keywords:
            parts.append("keywords " + ", ".join(self.keywords))
        if self.service_type_match:
            parts.append(f"service type {service_type}")
        parts.append(f"similarity {self.similarity:.2f}")
        return "; ".join(parts)


def _matched_keywords(text: str, keywords: Sequence[str]) -> tuple[str, ...]:
    found = [k for k in keywords if k in text]
    # "包装破" and "包装" both matching is one piece of evidence, not two.
    return tuple(k for k in found if not any(k != o and k in o for o in found))


@dataclass
class Router:
    """Departments plus a fitted similarity; build with :func:`build_router` (once per process)."""

    departments: tuple[Department, ...]
    similarity: DepartmentSimilarity
    min_confidence: float = 0.35
    fallback_department: str = "customer_service"
    kind_rules: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_KIND_RULES))

    def __post_init__(self) -> None:
        check_fallback(self.departments, self.fallback_department)
        ids = {d.id for d in self.departments}
        self.kind_rules = {k: v for k, v in self.kind_rules.items() if v in ids}
        self._pinned = {t: d.id for d in self.departments for t in d.pinned_topics}
        self.similarity.fit([d.profile_text for d in self.departments])

    @property
    def options(self) -> dict[str, Any]:
        """Resolved options, for the stage result."""
        return {
            "departments": [d.id for d in self.departments],
            "similarity": self.similarity.name,
            "min_confidence": self.min_confidence,
            "fallback_department": self.fallback_department,
        }

    def route(self, text: str, topic_id: str | None = None, memory: RouteMemory | None = None) -> RouteDecision:
        return self.route_many([text], [topic_id], memory)[0]

    def route_many(
        self,
        texts: Sequence[str],
        topic_ids: Sequence[str | None] | None = None,
        memory: RouteMemory | None = None,
    ) -> list[RouteDecision]:
        """Route many texts in one similarity batch; ``topic_ids`` aligns with ``texts`` when given."""
        if topic_ids is not None and len(topic_ids) != len(texts):
            raise ValueError(f"topic_ids has {len(topic_ids)} items but texts has {len(texts)}")
        sims = self.similarity.score([t or "" for t in texts])
        out = []
        for i, text in enumerate(texts):
            topic_id = topic_ids[i] if topic_ids is not None else None
            out.append(self._decide(text or "", topic_id, memory, sims[i]))
        return out

    def _decide(self, text: str, topic_id: str | None, memory: RouteMemory | None, sims) -> RouteDecision:
        service = classify_service_type(text)
        if topic_id and topic_id in self._pinned:
            return RouteDecision(self._pinned[topic_id], service.label, 1.0, f"pinned topic {topic_id} in departments file")
        hit = memory.lookup(topic_id) if memory is not None else None
        if hit is not None and hit.department in {d.id for d in self.departments}:
            # Confirmed by people: trusted above keyword evidence, more so the more often and the more unanimously.
            confidence = min(0.99, 0.7 + 0.1 * hit.confirmations) * hit.share
            if confidence >= self.min_confidence:
                return RouteDecision(
                    hit.department, service.label, confidence,
                    f"memory: topic {topic_id} confirmed to {hit.department} {hit.confirmations} of {hit.total} times",
                )
        lowered = text.lower()
        candidates = []
        for j, dep in enumerate(self.departments):
            keywords = _matched_keywords(lowered, dep.keywords)
            st_match = service.label in dep.service_types
            sim = float(sims[j])
            score = (1.0 - 0.5 ** len(keywords)) + (SERVICE_TYPE_BONUS if st_match else 0.0) + SIMILARITY_WEIGHT * sim
            candidates.append(_Candidate(dep.id, score, keywords, st_match, sim))
        candidates.sort(key=lambda c: -c.score)
        best, second = candidates[0], candidates[1] if len(candidates) > 1 else None
        if best.score <= 0:
            return RouteDecision(
                self.fallback_department, service.label, 0.0, "no keyword, service type or similarity evidence; triage"
            )
        margin = (best.score - second.score) / best.score if second is not None else 1.0
        # Strong evidence that clearly beats the runner-up is confident; a near-tie halves confidence.
        confidence = min(1.0, best.score) * (0.5 + 0.5 * margin)
        reason = best.explain(service.label)
        if confidence < self.min_confidence:
            runner = f"; runner-up {second.department} ({second.explain(service.label)})" if second else ""
            return RouteDecision(
                self.fallback_department, service.label, confidence,
                f"triage: best {best.department} ({reason}){runner} below min confidence {self.min_confidence}",
            )
        return RouteDecision(best.department, service.label, confidence, reason)


def build_router(
    settings: Any | None = None,
    similarity: DepartmentSimilarity | None = None,
    departments: Sequence[Department] | None = None,
) -> Router:
    """Build a router from ``RoutingSettings`` (or defaults); the departments file is read once per version."""
    from voc.config import RoutingSettings

    settings = settings if settings is not None else RoutingSettings()
    deps = tuple(departments) if departments is not None else load_departments(settings.departments_file)
    return Router(
        departments=deps,
        similarity=similarity if similarity is not None else TfidfSimilarity(),
        min_confidence=settings.min_confidence,
        fallback_department=settings.fallback_department,
    )


def route_texts(texts: Sequence[str], router: Router) -> list[RouteDecision]:
    """Ad-hoc routing (``voc route``): one decision per text, in input order."""
    return router.route_many(list(texts))


def finding_text(finding: Finding, extra: Sequence[str] = ()) -> str:
    """The text a finding is routed on: its label, summary, examples and any member texts."""
    return "\n".join([finding.title, finding.summary, *finding.examples, *extra])


def route_findings(
    findings: Sequence[Finding],
    router: Router,
    memory: RouteMemory | None = None,
    texts_by_finding: Mapping[str, Sequence[str]] | None = None,
) -> list[Route]:
    """One :class:`~voc.records.Route` per finding, in order; every route carries its reason and confidence."""
    texts_by_finding = texts_by_finding or {}
    routes: list[Route | None] = [None] * len(findings)
    pending: list[int] = []
    for i, finding in enumerate(findings):
        owner = router.kind_rules.get(finding.kind)
        if owner is not None:
            routes[i] = Route(finding.id, owner, 0.9, f"rule: {finding.kind} findings belong to {owner}")
        else:
            pending.append(i)
    decisions = router.route_many(
        [finding_text(findings[i], texts_by_finding.get(findings[i].id, ())) for i in pending],
        [findings[i].topic_id for i in pending],
        memory,
    )
    for i, decision in zip(pending, decisions, strict=True):
        routes[i] = Route(
            findings[i].id, decision.department, decision.confidence,
            f"{decision.reason} [service type {decision.service_type}]",
        )
    logger.info("routed %d findings (%d by kind rule)", len(findings), len(findings) - len(pending))
    return [r for r in routes if r is not None]

"""Route texts and findings to departments: rules (kind, pinned topics, confirmed routes) first, then a calibrated
classifier over sentence vectors and character n-grams with keyword hits as recorded evidence; below the confidence
threshold a text goes to triage with its two best candidates. Topics are routed by their members' decisions, with
hysteresis (:mod:`voc.routing.topic_routes`)."""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voc.records import Finding, Route
from voc.routing.departments import Department, check_fallback, load_departments
from voc.routing.memory import RouteMemory
from voc.routing.model import (
    SERVICE_TYPE_THRESHOLD,
    Embed,
    RoutingModel,
    SeededEmbed,
    fit_routing_model,
    keyword_evidence,
    matched_keywords,
    service_cue_evidence,
)
from voc.routing.service_type import ServiceTypeResult, ServiceTypeSpec, cue_matches, load_service_types
from voc.routing.topic_routes import DEFAULT_SWITCH_MARGIN, PreviousRoute, decide_topic_route

logger = logging.getLogger(__name__)

# Finding kinds whose owner is known from the kind alone: a QA failure pattern is agent behaviour.
DEFAULT_KIND_RULES: Mapping[str, str] = {"qa_pattern": "customer_service"}
MAX_MEMBER_TEXTS = 60  # member texts a finding is routed on (the pipeline passes the most recent)


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where one text goes and why (the CLI prints ``to_json()`` per input line)."""

    department: str
    service_type: str
    confidence: float
    reason: str
    service_types: tuple[str, ...] = ()  # every service type that applies (``service_type`` is the primary one)
    candidates: tuple[tuple[str, float], ...] = ()  # best departments with their probabilities, best first

    def to_json(self, detail: bool = False) -> dict[str, Any]:
        """The four fields (department, service_type, confidence, reason); ``detail`` adds ``service_types`` and
        ``candidates`` (what ``voc route --json`` prints: fields are only ever added)."""
        out: dict[str, Any] = {
            "department": self.department,
            "service_type": self.service_type,
            "confidence": round(self.confidence, 4),
            "reason": self.reason,
        }
        if detail:
            out["service_types"] = list(self.service_types or (self.service_type,))
            out["candidates"] = [{"department": d, "probability": round(p, 4)} for d, p in self.candidates]
        return out


@dataclass
class Router:
    """Departments plus a fitted :class:`RoutingModel` and the ``embed`` its vectors come from; build with
    :func:`build_router`."""

    departments: tuple[Department, ...]
    model: RoutingModel
    embed: Embed | None = None
    min_confidence: float = 0.35
    fallback_department: str = "customer_service"
    kind_rules: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_KIND_RULES))
    switch_margin: float = DEFAULT_SWITCH_MARGIN

    def __post_init__(self) -> None:
        check_fallback(self.departments, self.fallback_department)
        ids = [d.id for d in self.departments]
        if list(self.model.departments.labels) != ids:
            raise ValueError(f"routing model was fitted for departments {list(self.model.departments.labels)}, "
                             f"not {ids}: refit it (voc route retrain)")
        if self.model.embedder and self.embed is None:
            raise ValueError(f"routing model needs vectors from {self.model.embedder}: pass embed")
        self.kind_rules = {k: v for k, v in self.kind_rules.items() if v in set(ids)}
        self._pinned = {t: d.id for d in self.departments for t in d.pinned_topics}

    @property
    def options(self) -> dict[str, Any]:
        """Resolved options, for the stage result."""
        return {
            "departments": [d.id for d in self.departments],
            "embedder": self.model.embedder or "none",
            "model": self.model.fingerprint,
            "trained_on": self.model.departments.trained_on,
            "learned": {k: v for k, v in self.model.departments.sources.items()
                        if k not in ("shipped", "description", "keyword")},
            "min_confidence": self.min_confidence,
            "fallback_department": self.fallback_department,
            "switch_margin": self.switch_margin,
        }

    # ---- scores ---------------------------------------------------------------------------------------
    def vectors(self, texts: Sequence[str]) -> np.ndarray | None:
        if not self.model.embedder or not texts:
            return None
        return np.asarray(self.embed(list(texts)), dtype=np.float32)

    def department_proba(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> np.ndarray:
        """(n, departments) calibrated probabilities, keyword evidence included."""
        texts = [t or "" for t in texts]
        if vectors is None:
            vectors = self.vectors(texts)
        evidence = keyword_evidence(texts, self.departments, trust=self.model.keyword_trust)
        return self.model.departments.proba(texts, vectors, evidence)

    def service_types(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> list[ServiceTypeResult]:
        """Service types per text: every type whose probability reaches 0.5, the most likely first."""
        texts = [t or "" for t in texts]
        if not texts:
            return []
        if vectors is None:
            vectors = self.vectors(texts)
        clf = self.model.service_types
        probs = clf.proba(texts, vectors, service_cue_evidence(texts, clf.labels))
        out = []
        for text, row in zip(texts, probs, strict=True):
            if not text.strip():
                out.append(ServiceTypeResult("other", 0, (), ("other",), 1.0, ()))
                continue
            order = np.argsort(-row, kind="stable")
            ranked = tuple((clf.labels[j], round(float(row[j]), 4)) for j in order)
            labels = tuple(lab for lab, p in ranked if p >= SERVICE_TYPE_THRESHOLD)
            cues = cue_matches(text)
            if not labels:
                out.append(ServiceTypeResult("other", 0, (), ("other",), round(1.0 - float(row.max()), 4), ranked))
                continue
            score, matched = cues.get(labels[0], (0, ()))
            out.append(ServiceTypeResult(labels[0], score, matched, labels, ranked[0][1], ranked))
        return out

    # ---- texts ----------------------------------------------------------------------------------------
    def route(self, text: str, topic_id: str | None = None, memory: RouteMemory | None = None) -> RouteDecision:
        return self.route_many([text], [topic_id], memory)[0]

    def route_many(
        self,
        texts: Sequence[str],
        topic_ids: Sequence[str | None] | None = None,
        memory: RouteMemory | None = None,
        vectors: np.ndarray | None = None,
    ) -> list[RouteDecision]:
        """Route many texts in one batch; ``topic_ids`` aligns with ``texts`` when given."""
        if topic_ids is not None and len(topic_ids) != len(texts):
            raise ValueError(f"topic_ids has {len(topic_ids)} items but texts has {len(texts)}")
        texts = [t or "" for t in texts]
        if not texts:
            return []
        if vectors is None:
            vectors = self.vectors(texts)
        probs = self.department_proba(texts, vectors)
        sure = self.model.departments.confidence(probs)
        services = self.service_types(texts, vectors)
        out = []
        for i, text in enumerate(texts):
            topic_id = topic_ids[i] if topic_ids is not None else None
            out.append(self._decide(text, topic_id, memory, probs[i], float(sure[i]), services[i]))
        return out

    def _rule(self, topic_id: str | None, memory: RouteMemory | None) -> tuple[str, float, str] | None:
        if topic_id and topic_id in self._pinned:
            return self._pinned[topic_id], 1.0, f"pinned topic {topic_id} in departments file"
        hit = memory.lookup(topic_id) if memory is not None else None
        if hit is not None and hit.department in {d.id for d in self.departments}:
            # Confirmed by people: trusted above the model, more so the more often and the more unanimously.
            confidence = min(0.99, 0.7 + 0.1 * hit.confirmations) * hit.share
            if confidence >= self.min_confidence:
                return (hit.department, confidence,
                        f"memory: topic {topic_id} confirmed to {hit.department} {hit.confirmations} of {hit.total} times")
        return None

    def _evidence(self, j: int, text: str) -> str:
        keywords = matched_keywords(text, self.departments[j].keywords)
        if not keywords:
            return ""
        trust = self.model.keyword_trust.get(self.departments[j].id, {})
        faded = [f"{k} {trust[k]:.2f}" for k in keywords if trust.get(k, 1.0) < 0.8]
        # the keyword list stays a plain "keywords a, b" clause; overruled ones are named in their own clause
        return f"keywords {', '.join(keywords)}" + (f"; keyword trust {', '.join(faded)}" if faded else "")

    def _decide(self, text: str, topic_id: str | None, memory: RouteMemory | None, row: np.ndarray, sure: float,
                service: ServiceTypeResult) -> RouteDecision:
        ids = [d.id for d in self.departments]
        order = np.argsort(-row, kind="stable")
        candidates = tuple((ids[j], round(float(row[j]), 4)) for j in order[:3])
        common = {"service_types": service.labels, "candidates": candidates}
        rule = self._rule(topic_id, memory)
        if rule is not None:
            return RouteDecision(rule[0], service.label, rule[1], rule[2], **common)
        if not text.strip():
            return RouteDecision(self.fallback_department, service.label, 0.0, "triage: empty text", **common)
        best, p = order[0], float(row[order[0]])
        runner = order[1] if len(order) > 1 else None
        kw = self._evidence(best, text)
        parts = [kw] if kw else []
        parts.append(f"classifier {p:.2f}, confidence {sure:.2f}")
        if runner is not None:
            kw2 = self._evidence(runner, text)
            parts.append(f"runner-up {ids[runner]} {row[runner]:.2f}" + (f" ({kw2.replace('; ', ', ')})" if kw2 else ""))
        if sure < self.min_confidence:
            return RouteDecision(
                self.fallback_department, service.label, sure,
                f"triage: best {ids[best]} ({'; '.join(parts)}) below min confidence {self.min_confidence}", **common)
        return RouteDecision(ids[best], service.label, sure, "; ".join(parts), **common)

    # ---- findings -------------------------------------------------------------------------------------
    def route_findings(
        self,
        findings: Sequence[Finding],
        memory: RouteMemory | None = None,
        texts_by_finding: Mapping[str, Sequence[str]] | None = None,
        previous: Mapping[str, PreviousRoute] | None = None,
    ) -> list[Route]:
        """One :class:`~voc.records.Route` per finding, in order (see :func:`route_findings`)."""
        texts_by_finding = texts_by_finding or {}
        previous = previous or {}
        ids = [d.id for d in self.departments]
        routes: list[Route | None] = [None] * len(findings)
        pending: list[tuple[int, list[str]]] = []
        for i, f in enumerate(findings):
            owner = self.kind_rules.get(f.kind)
            if owner is not None:
                routes[i] = Route(f.id, owner, 0.9, f"rule: {f.kind} findings belong to {owner}")
                continue
            rule = self._rule(f.topic_id, memory)
            if rule is not None:
                routes[i] = Route(f.id, rule[0], rule[1], rule[2])
                continue
            members = [t for t in texts_by_finding.get(f.id, ()) if t and t.strip()][:MAX_MEMBER_TEXTS]
            pending.append((i, members or [finding_text(f)]))
        flat = [t for _, texts in pending for t in texts]
        if flat:
            unique = list(dict.fromkeys(flat))
            vectors = self.vectors(unique)
            probs = self.department_proba(unique, vectors)
            services = self.service_types(unique, vectors)
            row_of = {t: k for k, t in enumerate(unique)}
            for i, texts in pending:
                f = findings[i]
                rows = [row_of[t] for t in texts]
                share = probs[rows].mean(axis=0)
                prev = previous.get(f.topic_id) if f.topic_id else None
                decision = decide_topic_route(ids, share, len(texts) if texts_by_finding.get(f.id) else 0, prev,
                                              min_confidence=self.min_confidence, fallback=self.fallback_department,
                                              switch_margin=self.switch_margin)
                kinds = Counter(services[r].label for r in rows).most_common(1)[0][0]
                routes[i] = Route(f.id, decision.department, decision.confidence,
                                  f"{decision.reason} [service type {kinds}]")
        logger.info("routed %d findings (%d by rule)", len(findings), len(findings) - len(pending))
        return [r for r in routes if r is not None]


def finding_text(finding: Finding, extra: Sequence[str] = ()) -> str:
    """The text a finding is routed on when it has no member texts: its label, summary and examples."""
    return "\n".join([finding.title, finding.summary, *finding.examples, *extra])


def route_findings(
    findings: Sequence[Finding],
    router: Router,
    memory: RouteMemory | None = None,
    texts_by_finding: Mapping[str, Sequence[str]] | None = None,
    previous: Mapping[str, PreviousRoute] | None = None,
) -> list[Route]:
    """One route per finding, in order, each with its reason and confidence.

    Order of evidence: the finding kind's owner (QA patterns), a pinned topic, a confirmed route (route memory),
    then the mean of the member texts' department probabilities (the finding's own text when it has none), kept on
    the topic's standing department (``previous``, keyed by topic id) unless another clearly leads.
    """
    return router.route_findings(findings, memory, texts_by_finding, previous)


def route_texts(texts: Sequence[str], router: Router) -> list[RouteDecision]:
    """Ad-hoc routing (``voc route``): one decision per text, in input order."""
    return router.route_many(list(texts))


def default_embed(kind: str, st_model: str | None = None, seed: int = 42) -> tuple[Embed | None, str]:
    """``(embed, embedder name)`` for a routing embedder setting; ``none`` = character n-grams only."""
    if kind == "none":
        return None, ""
    from voc.semantic import load_embedder

    if kind == "tfidf":
        raise ValueError("routing.embedder: 'tfidf' is fitted per run and cannot back a stored model; "
                         "use e5, sentence-transformers or none")
    embedder = load_embedder(kind, st_model, seed)
    return SeededEmbed(embedder.embed, embedder.name), embedder.name


@functools.lru_cache(maxsize=4)
def _shipped_model(departments: tuple[Department, ...], specs: tuple[ServiceTypeSpec, ...], kind: str,
                   st_model: str | None) -> tuple[RoutingModel, Embed | None]:
    embed, name = default_embed(kind, st_model)
    return fit_routing_model(departments, specs, embed, name), embed


def build_router(
    settings: Any | None = None,
    departments: Sequence[Department] | None = None,
    *,
    model: RoutingModel | None = None,
    embed: Embed | None = None,
) -> Router:
    """A router from ``RoutingSettings`` (or defaults). Without ``model`` the shipped examples are fitted (once per
    process and departments file version); the pipeline passes the stored model with its learned examples."""
    from voc.config import RoutingSettings

    settings = settings if settings is not None else RoutingSettings()
    deps = tuple(departments) if departments is not None else load_departments(settings.departments_file)
    check_fallback(deps, settings.fallback_department)
    kind = getattr(settings, "embedder", "e5")
    if model is None:
        specs = load_service_types(getattr(settings, "service_types_file", None))
        model, shipped_embed = _shipped_model(deps, specs, kind, getattr(settings, "st_model", None))
        embed = embed or shipped_embed
    elif embed is None and model.embedder:
        embed, _name = default_embed(kind, getattr(settings, "st_model", None))
    return Router(
        departments=deps,
        model=model,
        embed=embed,
        min_confidence=settings.min_confidence,
        fallback_department=settings.fallback_department,
        switch_margin=getattr(settings, "topic_switch_margin", DEFAULT_SWITCH_MARGIN),
    )


@functools.lru_cache(maxsize=1)
def default_router() -> Router:
    """The router of the default settings (shipped departments and examples), built once per process."""
    return build_router()

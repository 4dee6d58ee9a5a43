"""Routing: findings and texts to owning departments, with reasons, weighted by customer value."""

from voc.routing.departments import (
    DEFAULT_DEPARTMENTS_FILE,
    SERVICE_TYPES,
    Department,
    DepartmentConfigError,
    load_departments,
    parse_departments,
)
from voc.routing.memory import MemoryHit, RouteMemory
from voc.routing.router import RouteDecision, Router, build_router, finding_text, route_findings, route_texts
from voc.routing.service_type import (
    ServiceTypeResult,
    classify_service_type,
    classify_service_types,
    contact_text,
)
from voc.routing.similarity import DepartmentSimilarity, EmbedderSimilarity, TfidfSimilarity
from voc.routing.value import affected_customers, customer_weight, value_weight, weigh_findings

__all__ = [
    "DEFAULT_DEPARTMENTS_FILE",
    "SERVICE_TYPES",
    "Department",
    "DepartmentConfigError",
    "DepartmentSimilarity",
    "EmbedderSimilarity",
    "MemoryHit",
    "RouteDecision",
    "RouteMemory",
    "Router",
    "ServiceTypeResult",
    "TfidfSimilarity",
    "affected_customers",
    "build_router",
    "classify_service_type",
    "classify_service_types",
    "contact_text",
    "customer_weight",
    "finding_text",
    "load_departments",
    "parse_departments",
    "route_findings",
    "route_texts",
    "value_weight",
    "weigh_findings",
]

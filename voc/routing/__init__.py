"""Routing: texts and findings to owning departments and service types, by a calibrated classifier that learns
from corrections, with rules that record their reasons, weighted by customer value."""

from voc.routing.classifier import ClassifierOptions, Example, TextClassifier, examples_fingerprint
from voc.routing.departments import (
    DEFAULT_DEPARTMENTS_FILE,
    SERVICE_TYPES,
    Department,
    DepartmentConfigError,
    load_departments,
    parse_departments,
)
from voc.routing.memory import MemoryHit, RouteMemory
from voc.routing.model import (
    RoutingModel,
    SeededEmbed,
    department_examples,
    fit_routing_model,
    service_type_examples,
)
from voc.routing.router import (
    RouteDecision,
    Router,
    build_router,
    default_embed,
    default_router,
    finding_text,
    route_findings,
    route_texts,
)
from voc.routing.service_type import (
    DEFAULT_SERVICE_TYPES_FILE,
    ServiceTypeResult,
    ServiceTypeSpec,
    classify_service_type,
    classify_service_types,
    contact_text,
    cue_service_type,
    load_service_types,
)
from voc.routing.topic_routes import PreviousRoute, TopicDecision, decide_topic_route
from voc.routing.value import affected_customers, customer_weight, value_weight, weigh_findings

__all__ = [
    "DEFAULT_DEPARTMENTS_FILE",
    "DEFAULT_SERVICE_TYPES_FILE",
    "SERVICE_TYPES",
    "ClassifierOptions",
    "Department",
    "DepartmentConfigError",
    "Example",
    "MemoryHit",
    "PreviousRoute",
    "RouteDecision",
    "RouteMemory",
    "Router",
    "RoutingModel",
    "SeededEmbed",
    "ServiceTypeResult",
    "ServiceTypeSpec",
    "TextClassifier",
    "TopicDecision",
    "affected_customers",
    "build_router",
    "classify_service_type",
    "classify_service_types",
    "contact_text",
    "cue_service_type",
    "customer_weight",
    "decide_topic_route",
    "default_embed",
    "default_router",
    "department_examples",
    "examples_fingerprint",
    "finding_text",
    "fit_routing_model",
    "load_departments",
    "load_service_types",
    "parse_departments",
    "route_findings",
    "route_texts",
    "service_type_examples",
    "value_weight",
    "weigh_findings",
]

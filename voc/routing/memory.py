"""Topic -> department memory learned from confirmed routes (a plain value the pipeline persists)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class MemoryHit:
    department: str
    confirmations: int  # times this topic was confirmed to this department
    total: int  # confirmations of this topic to any department

    @property
    def share(self) -> float:
        return self.confirmations / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class RouteMemory:
    """Immutable counts ``topic_id -> {department: confirmations}``; ``confirm`` returns a new memory."""

    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        frozen = {t: MappingProxyType(dict(d)) for t, d in self.counts.items()}
        object.__setattr__(self, "counts", MappingProxyType(frozen))

    def confirm(self, topic_id: str, department: str, times: int = 1) -> RouteMemory:
        """Record that a person confirmed (or corrected) a route of ``topic_id`` to ``department``."""
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        counts = {t: dict(d) for t, d in self.counts.items()}
        per_topic = counts.setdefault(topic_id, {})
        per_topic[department] = per_topic.get(department, 0) + times
        return RouteMemory(counts)

    def lookup(self, topic_id: str | None) -> MemoryHit | None:
        if not topic_id or topic_id not in self.counts:
            return None
        per_topic = self.counts[topic_id]
        # Most confirmations wins; ties go to the alphabetically first id so the answer is stable.
        department, n = min(per_topic.items(), key=lambda kv: (-kv[1], kv[0]))
        return MemoryHit(department, n, sum(per_topic.values()))

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {t: dict(d) for t, d in self.counts.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RouteMemory:
        if not data:
            return cls()
        counts: dict[str, dict[str, int]] = {}
        for topic, per in data.items():
            if not isinstance(per, Mapping):
                raise ValueError(f"route memory: topic {topic!r} must map departments to counts, got {per!r}")
            counts[str(topic)] = {str(d): int(n) for d, n in per.items()}
        return cls(counts)

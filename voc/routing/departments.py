"""Departments that own findings: loaded from YAML (shipped retail/appliance defaults) and validated."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from voc.config import ConfigError

DEFAULT_DEPARTMENTS_FILE = Path(__file__).with_name("departments.yaml")
# 'other' = none of the others applies (never a label a classifier is trained on).
SERVICE_TYPES = ("repair", "installation", "maintenance", "consultation", "complaint", "praise", "suggestion", "other")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELDS = {"id", "name_zh", "name_en", "description", "keywords", "service_types", "pinned_topics", "owner", "webhooks",
           "examples"}


class DepartmentConfigError(ConfigError):
    """The departments file is wrong; the message names the file, the entry and what to fix."""


@dataclass(frozen=True, slots=True)
class Department:
    """One owner of findings, as configured."""

    id: str
    name_zh: str
    name_en: str
    description: str
    keywords: tuple[str, ...] = ()
    service_types: tuple[str, ...] = ()
    pinned_topics: tuple[str, ...] = ()
    owner: str = ""
    webhooks: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()  # texts this department owns, in customers' words (classifier training)

    @property
    def display_name(self) -> str:
        return f"{self.name_zh} ({self.name_en})"

    @property
    def profile_text(self) -> str:
        """Name, description and keywords as one text (one of the classifier's training texts)."""
        return " ".join([self.name_zh, self.description, " ".join(self.keywords)])


def _str_list(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise DepartmentConfigError(f"{where}: '{key}' must be a list of strings, got {value!r}")
    return tuple(str(v).strip() for v in value if str(v).strip())


def parse_departments(data: Any, source: str = "departments") -> tuple[Department, ...]:
    """Validate the parsed YAML document and build the departments (pure; used by the loader and tests)."""
    if not isinstance(data, dict) or not isinstance(data.get("departments"), list) or not data["departments"]:
        raise DepartmentConfigError(f"{source}: expected a mapping with a non-empty 'departments:' list")
    out: list[Department] = []
    seen: set[str] = set()
    pinned_owner: dict[str, str] = {}
    for i, entry in enumerate(data["departments"], start=1):
        where = f"{source}: departments[{i}]"
        if not isinstance(entry, dict):
            raise DepartmentConfigError(f"{where}: expected a mapping with id, name_zh, name_en, description, keywords")
        unknown = set(entry) - _FIELDS
        if unknown:
            raise DepartmentConfigError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_FIELDS)}")
        dep_id = entry.get("id")
        if not isinstance(dep_id, str) or not _ID.match(dep_id):
            raise DepartmentConfigError(f"{where}: 'id' must be a lower-case identifier like 'after_sales', got {dep_id!r}")
        where = f"{source}: department '{dep_id}'"
        if dep_id in seen:
            raise DepartmentConfigError(f"{where}: duplicate id; each department id must be unique")
        seen.add(dep_id)
        for key in ("name_zh", "name_en", "description"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise DepartmentConfigError(f"{where}: '{key}' is required and must be a non-empty string")
        service_types = _str_list(entry.get("service_types"), where, "service_types")
        bad = [s for s in service_types if s not in SERVICE_TYPES]
        if bad:
            raise DepartmentConfigError(f"{where}: unknown service type(s) {bad}; expected one of {list(SERVICE_TYPES)}")
        pinned = _str_list(entry.get("pinned_topics"), where, "pinned_topics")
        for topic in pinned:
            if topic in pinned_owner:
                raise DepartmentConfigError(f"{where}: topic {topic!r} is already pinned to '{pinned_owner[topic]}'")
            pinned_owner[topic] = dep_id
        owner = entry.get("owner") or ""
        if not isinstance(owner, str):
            raise DepartmentConfigError(f"{where}: 'owner' must be a string (name and contact)")
        out.append(
            Department(
                id=dep_id,
                name_zh=entry["name_zh"].strip(),
                name_en=entry["name_en"].strip(),
                description=entry["description"].strip(),
                # Matching is case-insensitive (app/APP), so keywords are stored lower-cased.
                keywords=tuple(dict.fromkeys(k.lower() for k in _str_list(entry.get("keywords"), where, "keywords"))),
                service_types=service_types,
                pinned_topics=pinned,
                owner=owner.strip(),
                webhooks=_str_list(entry.get("webhooks"), where, "webhooks"),
                examples=tuple(dict.fromkeys(_str_list(entry.get("examples"), where, "examples"))),
            )
        )
    return tuple(out)


@functools.lru_cache(maxsize=8)
def _load_cached(path: Path, mtime_ns: int) -> tuple[Department, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise DepartmentConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    return parse_departments(data, str(path))


def load_departments(path: str | Path | None = None) -> tuple[Department, ...]:
    """Load departments from ``path`` (default: the shipped file); cached per file version."""
    resolved = Path(path) if path else DEFAULT_DEPARTMENTS_FILE
    if not resolved.is_file():
        raise DepartmentConfigError(f"{resolved}: departments file not found (routing.departments_file)")
    return _load_cached(resolved.resolve(), resolved.stat().st_mtime_ns)


def check_fallback(departments: Sequence[Department], fallback: str, source: str = "routing") -> None:
    """Raise when the triage department named in settings is not configured."""
    if fallback not in {d.id for d in departments}:
        raise DepartmentConfigError(
            f"{source}: fallback_department {fallback!r} is not a configured department; "
            f"expected one of {[d.id for d in departments]}"
        )

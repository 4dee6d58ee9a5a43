"""Load and validate the per-queue script YAMLs; errors name the file and line.

A rules folder holds one ``<script>.yaml`` per script plus ``queues.yaml`` mapping queues to scripts.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from voc.qa.examples import ExampleFile, TrainingSet, training_set, unknown_steps
from voc.qa.schema import QueueMap, Script

log = logging.getLogger(__name__)

SHIPPED_RULES = Path(__file__).with_name("scripts")
QUEUES_FILE = "queues.yaml"


class ScriptError(ValueError):
    """A rule file is wrong. ``str()`` reads ``file:line: what is wrong``."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


@dataclass(frozen=True)
class ScriptBook:
    """Every script of a rules folder and the queue -> script map."""

    rules_dir: Path
    scripts: Mapping[str, Script]
    queues: Mapping[str, str]
    default: str | None = None
    training: Mapping[str, TrainingSet] | None = None  # per script: phrases + examples for the step model

    def for_queue(self, queue: str | None, default: str | None = None) -> Script:
        """The script for ``queue``: the mapped one, one named like the queue, else the default."""
        name = self.queues.get(queue or "") or (queue if queue in self.scripts else None)
        name = name or default or self.default
        if name is None or name not in self.scripts:
            raise KeyError(
                f"no QA script for queue {queue!r} and no usable default ({name!r}); add the queue to "
                f"{self.rules_dir / QUEUES_FILE} or set qa.default_script to one of {sorted(self.scripts)}"
            )
        return self.scripts[name]


def load_scripts(rules_dir: str | Path | None = None) -> ScriptBook:
    """Load every script in ``rules_dir`` (default: the shipped examples), validated; cached per folder.

    The cache key includes the files' modification times, so an edited rule file is picked up.
    """
    folder = Path(rules_dir) if rules_dir is not None else SHIPPED_RULES
    if not folder.is_dir():
        raise ScriptError(folder, None, "QA rules folder not found; set qa.rules_dir to a folder of <script>.yaml files")
    files = sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    # Example files live one folder down (examples/): an edit there must be picked up too, but they are no scripts.
    extra = sorted(p for p in folder.glob("*/*.y*ml") if p.suffix in (".yaml", ".yml"))
    signature = tuple((str(p), p.stat().st_mtime_ns) for p in files)
    return _load(folder.resolve(), signature, tuple((str(p), p.stat().st_mtime_ns) for p in extra))


@functools.lru_cache(maxsize=16)
def _load(folder: Path, signature: tuple[tuple[str, int], ...],
          _example_signature: tuple[tuple[str, int], ...] = ()) -> ScriptBook:
    scripts: dict[str, Script] = {}
    where: dict[str, Path] = {}
    queue_map = QueueMap()
    queue_path: Path | None = None
    for name, _ in signature:
        path = Path(name)
        if path.stem == Path(QUEUES_FILE).stem:
            queue_map, queue_path = read_model(path, QueueMap), path
            continue
        data, root = _read(path)
        if isinstance(data, dict):
            data.setdefault("name", path.stem)
        script = _validate(path, data, root, Script)
        if script.name in scripts:
            raise ScriptError(path, None, f"script name {script.name!r} is also used by {where[script.name]}")
        scripts[script.name] = script
        where[script.name] = path
    if not scripts:
        raise ScriptError(folder, None, "no <script>.yaml files in the QA rules folder")
    if queue_path is not None:
        _check_queue_targets(queue_path, queue_map, scripts)
    training = {name: training_set(script, _example_files(folder, where[name], script))
                for name, script in scripts.items()}
    log.info("loaded %d QA scripts from %s", len(scripts), folder)
    return ScriptBook(folder, scripts, dict(queue_map.queues), queue_map.default, training)


def _example_files(folder: Path, script_path: Path, script: Script) -> list[ExampleFile]:
    _, root = _read(script_path)
    out = []
    for k, rel in enumerate(script.example_files):
        path = (folder / rel).resolve()
        if not path.is_file():
            raise ScriptError(script_path, _line(root, ("example_files", k)),
                              f"example_files: {rel} not found (paths are relative to {folder})")
        data = read_model(path, ExampleFile)
        bad = unknown_steps(script, data)
        if bad:
            _, eroot = _read(path)
            raise ScriptError(path, _line(eroot, ("steps", bad[0])),
                              f"steps.{bad[0]}: not a step of {script.name}; expected one of {[s.id for s in script.steps]}")
        out.append(data)
    return out


def _check_queue_targets(path: Path, queue_map: QueueMap, scripts: Mapping[str, Script]) -> None:
    _, root = _read(path)
    targets = [(("queues", q), s) for q, s in queue_map.queues.items()]
    if queue_map.default:
        targets.append((("default",), queue_map.default))
    for loc, target in targets:
        if target not in scripts:
            raise ScriptError(path, _line(root, loc), f"{'.'.join(loc)}: unknown script {target!r}; expected one of {sorted(scripts)}")


def read_model(path: Path, model: type[BaseModel]) -> Any:
    """Read one YAML file into ``model``; any problem raises :class:`ScriptError` with its line."""
    data, root = _read(path)
    return _validate(path, data, root, model)


def _read(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise ScriptError(path, None, f"not UTF-8 text ({exc})") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ScriptError(path, mark.line + 1 if mark else None, f"not valid YAML: {exc.problem or exc}") from exc
    if root is not None:
        _no_duplicate_keys(path, root)
    return data, root


def _no_duplicate_keys(path: Path, node: yaml.Node) -> None:
    # PyYAML keeps the last of two equal keys silently; in a rule file that hides a rule.
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key, value in node.value:
            k = key.value if isinstance(key, yaml.ScalarNode) else id(key)
            if k in seen:
                raise ScriptError(path, key.start_mark.line + 1, f"duplicate key {k!r} (first on line {seen[k]})")
            seen[k] = key.start_mark.line + 1
            _no_duplicate_keys(path, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _no_duplicate_keys(path, item)


def _validate(path: Path, data: Any, root: yaml.Node | None, model: type[BaseModel]) -> Any:
    if not isinstance(data, dict):
        raise ScriptError(path, 1, f"expected a mapping at the top level (see {SHIPPED_RULES} for examples)")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        field = ".".join(str(p) for p in loc) or "top level"
        raise ScriptError(path, _line(root, loc), f"{field}: {err['msg']}{more}") from exc


def _line(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest YAML node on ``loc`` (pydantic's error location)."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)), None)
            if hit is None:
                # A missing key, or a union branch name ("ForbiddenPhrase"): stay on this mapping.
                continue
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
    return line

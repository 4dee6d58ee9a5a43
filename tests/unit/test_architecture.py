"""The layering of docs/architecture.md, checked on every import statement (lazy ones inside functions too).

Stages never import the pipeline, the store, the CLI, the web app or another stage; the shared base modules
(records, config, value, semantic) import no stage; the store imports no stage; DAG files import voc only inside
task bodies. A new arrow against this fails here, naming the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

VOC = Path(__file__).resolve().parents[2] / "voc"
DAGS = VOC.parent / "dags"
STAGES = ("ingest", "transcribe", "text", "sentiment", "topics", "qa", "routing", "customers", "report")
BASE = ("records", "config", "value", "csvsafe", "labels", "semantic")
ALLOWED = {
    **{s: {s, *BASE} for s in STAGES},
    "records": {"records"},
    "config": {"config"},
    "value": {"value"},
    "csvsafe": {"csvsafe"},
    "labels": {"labels"},
    "semantic": {"semantic", "config", "records"},
    "store": {"store", "records", "config"},
    "pipeline": {"pipeline", "store", *STAGES, *BASE},
    "web": {"web", "store", "pipeline", *BASE},
    "cli": {"cli", "pipeline", "store", "web", *BASE},
}


def _voc_imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level voc package) of every ``import voc.x`` / ``from voc.x import`` / ``from voc import x``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name.split(".")[1]) for a in node.names if a.name.startswith("voc.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "voc":
                out += [(node.lineno, a.name) for a in node.names]
            elif node.module.startswith("voc."):
                out.append((node.lineno, node.module.split(".")[1]))
    return out


def _layer(path: Path) -> str:
    rel = path.relative_to(VOC)
    return rel.parts[0].removesuffix(".py")


def _modules() -> list[Path]:
    return sorted(p for p in VOC.rglob("*.py") if "migrations" not in p.parts and p.name != "__init__.py"
                  or p.parent != VOC and p.name == "__init__.py")


def test_every_layer_imports_only_what_it_may():
    violations = []
    for path in _modules():
        layer = _layer(path)
        if layer not in ALLOWED:
            continue
        for line, target in _voc_imports(path):
            if target not in ALLOWED[layer]:
                violations.append(f"{path.relative_to(VOC.parent)}:{line}: {layer} imports voc.{target}")
    assert not violations, "imports against docs/architecture.md:\n" + "\n".join(violations)


def test_every_voc_package_has_a_layer():
    packages = {p.name for p in VOC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in VOC.glob("*.py") if p.name != "__init__.py"}
    assert packages | modules <= set(ALLOWED), f"give {sorted(packages | modules - set(ALLOWED))} a layer in ALLOWED"


@pytest.mark.parametrize("dag", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_import_voc_only_inside_tasks(dag: Path):
    tree = ast.parse(dag.read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n == "voc" or n.startswith("voc.")], f"{dag.name} imports voc at parse time"


def test_the_check_sees_a_violation(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from voc.store import Store\n    import voc.pipeline.runner\n", encoding="utf-8")
    assert _voc_imports(bad) == [(2, "store"), (3, "pipeline")]


def test_no_module_over_500_lines_and_no_function_over_80():
    long = []
    for path in VOC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        src = path.read_text(encoding="utf-8")
        if src.count("\n") > 550:  # "about 500"
            long.append(f"{path.relative_to(VOC.parent)}: {src.count(chr(10))} lines")
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 85:
                long.append(f"{path.relative_to(VOC.parent)}:{node.lineno} {node.name}(): "
                            f"{node.end_lineno - node.lineno + 1} lines")
    assert not long, "split these:\n" + "\n".join(long)

"""The package layers: no package imports one that sits above it, so there is no import
cycle between packages (function-level imports count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import aerec

ROOT = Path(aerec.__file__).parent

LAYERS = (
    {"errors", "io", "config", "extras", "plan"},
    {"data"},
    {"render"},
    {"evaluation", "ops"},
    {"models"},
    {"training"},
    {"recommender", "persistence"},
    {"runs", "runfolder", "peers"},
    {"experiments"},
    {"reporting"},
    {"pipeline"},
    {"cli", "__main__"},
)
"""From the bottom up; a unit may import its own layer's units and those below."""


def unit(path: Path) -> str:
    """The package (or top-level module) a file belongs to."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return parts[0] if parts[0] != "__init__" else "aerec"


def imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.startswith("aerec."):
                out.add(name.split(".")[1])
    return out


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        here = unit(path)
        edges.setdefault(here, set()).update(imports(path) - {here})
    return edges


def layer_of(name: str) -> int:
    for k, layer in enumerate(LAYERS):
        if name in layer:
            return k
    raise AssertionError(f"{name} is in no layer: add it to LAYERS")


def test_no_package_imports_one_above_it():
    edges = graph()
    edges.pop("aerec", None)  # the package's own __init__ re-exports nothing from above
    upward = sorted(
        f"{a} -> {b}" for a, targets in edges.items() for b in targets if layer_of(b) > layer_of(a)
    )
    assert not upward, upward


def test_models_never_import_training():
    assert "training" not in graph()["models"]

"""The package's layering (../shared/docs/DESIGN.md), checked on the import statements of every
module of ``src/policysim`` (module-level and function-local alike).

Layers, each allowed to import only the ones listed for it (besides itself and the leaves
``errors``, ``metrics`` and ``vocabulary``, which import nothing from the package):

- ``scenario`` → (leaves); ``data`` → scenario; ``agents`` → scenario, data;
  ``model`` → scenario, data, agents;
- ``allocation`` alone (leaves only): the optimiser never sees the agent-based model;
- ``coupling`` is the only bridge between ``allocation`` and the model;
- ``analysis`` and ``report`` are free of experiments and the model; ``plotting`` also;
- ``experiments``, ``studies``, ``commands``, ``view`` and ``cli`` above them.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "policysim"
#: importable from any layer: they import nothing of the package (``_memory``: the allocator
#: settings of the package's own processes)
LEAVES = {"errors", "metrics", "vocabulary", "_memory"}

ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "_memory": set(),
    "metrics": set(),
    "vocabulary": set(),
    "scenario": set(),
    "data": {"scenario"},
    "agents": {"scenario", "data"},
    "model": {"scenario", "data", "agents"},
    "allocation": set(),
    "coupling": {"scenario", "data", "agents", "model", "allocation", "simulation"},
    "simulation": {"scenario", "data", "agents", "model", "coupling"},
    "analysis": {"scenario"},
    "report": {"analysis"},
    "plotting": {"analysis", "report", "scenario"},
    "experiments": {
        "scenario", "data", "agents", "model", "allocation", "coupling", "simulation", "analysis",
    },
    "studies": {
        "scenario", "data", "agents", "model", "allocation", "coupling", "simulation", "analysis",
        "experiments", "plotting", "report",
    },
    "commands": {
        "scenario", "data", "agents", "model", "allocation", "coupling", "simulation", "analysis",
        "experiments", "plotting", "report", "studies",
    },
}  # fmt: skip
ALLOWED["commands"].add("view")  # `policysim view` starts the view
# the browser view (issue 18): a UI over the same engine and outputs as the commands
ALLOWED["view"] = ALLOWED["commands"] - {"view"} | {"commands"}
ALLOWED["cli"] = ALLOWED["commands"] | {"commands"}
ALLOWED["__init__"] = {"scenario", "simulation"}

#: Known exceptions, to be removed by the outputs layer of issue 12 (the run-directory writer
#: moves out of ``experiments``): (importing module, imported layer).
KNOWN_EXCEPTIONS = {
    ("experiments/outputs.py", "plotting"),
    ("experiments/outputs.py", "report"),
    ("experiments/store.py", "report"),  # the atomic writer (report/_atomic.py)
    ("experiments/runner.py", "plotting"),  # preflight reads the boundary file (belongs in data)
    # the briefing gathers its facts itself (hindcast scoring, the baseline's synthetic flag);
    # the caller should hand them over (analysis-level hindcast scoring)
    ("report/briefing.py", "studies"),
    ("report/briefing.py", "simulation"),
}


def layer_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported top-level policysim layer, line, function-local) of every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    local_lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    local_lines.add(inner.lineno)
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "policysim":
                names = [f"policysim.{a.name}" for a in node.names]
            else:
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "policysim" and len(parts) > 1 and not parts[1].startswith("__"):
                found.append((parts[1], node.lineno, node.lineno in local_lines))
    return found


MODULES = sorted(SRC.rglob("*.py"))


def test_the_walk_sees_the_package() -> None:
    assert len(MODULES) > 50
    assert {layer_of(p) for p in MODULES} <= set(ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(SRC)) for p in MODULES])
def test_module_respects_the_layers(path: Path) -> None:
    here = layer_of(path)
    rel = str(path.relative_to(SRC))
    bad = [
        f"{rel}:{line} imports policysim.{layer}"
        for layer, line, _ in imports(path)
        if layer != here
        and layer not in LEAVES
        and layer not in ALLOWED[here]
        and (rel, layer) not in KNOWN_EXCEPTIONS
    ]
    assert not bad, "layering broken:\n" + "\n".join(bad)


def test_leaves_import_nothing_from_the_package() -> None:
    for name in ("metrics", "vocabulary", "_memory"):
        assert imports(SRC / f"{name}.py") == []


def test_function_local_package_imports_do_not_grow() -> None:
    """Function-local imports hide cycles (issue 12 counted 68). Outside the CLI they are
    frozen at today's count per layer and may only go down; lower a bound when you remove some."""
    bounds = {
        "analysis": 0, "allocation": 0, "agents": 0, "metrics": 0, "vocabulary": 0,
        "scenario": 0, "data": 0, "model": 0, "plotting": 1, "report": 4,
        "coupling": 3, "simulation": 3, "experiments": 16, "studies": 29,
    }  # fmt: skip
    counts: dict[str, int] = defaultdict(int)
    for path in MODULES:
        counts[layer_of(path)] += sum(local for _, _, local in imports(path))
    over = {k: (counts[k], b) for k, b in bounds.items() if counts[k] > b}
    assert not over, f"function-local policysim imports above their bound (count, bound): {over}"

"""The package's import structure: no import cycles, and the layer order of docs/architecture.md holds.

Read from the source with :mod:`ast` (nothing is imported, so this runs in well under a second). Every import of a
``hybrid_bench`` module counts - at module level and inside functions alike, since a lazy import is still a
dependency - except those under ``if TYPE_CHECKING:``, which never run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hybrid_bench"

#: lowest first; a module may import its own layer and the layers below it, never one above
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "io", "paths", "result_store", "display", "machine"),  # foundations: errors, atomic writes, paths, output, machine facts
    ("data",),  # raw files → validated data (LAReQA, MIRACL, mirrors)
    ("tasks",),  # mteb tasks over the data
    ("training",),  # the hybrid-batch trainer
    ("models",),  # model table, me5-small, inference backends
    # the paper's experiment; tables and statistics from results; registering tasks, models and benchmarks with
    # mteb and loading them by name (the benchmarks are the experiment's task list, so they share its layer)
    ("experiment", "leaderboard", "mteb_plugin", "benchmarks", "evaluation", "beir_export"),
    ("commands", "cli"),  # argument parsing and printing
)
_LAYER_OF = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _modules() -> dict[str, Path]:
    found = {}
    for file in sorted(PACKAGE.rglob("*.py")):
        parts = ["hybrid_bench", *file.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = file
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The ``hybrid_bench`` module an imported name lives in (``None`` outside the package)."""
    if name != "hybrid_bench" and not name.startswith("hybrid_bench."):
        return None
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(module: str, *, types: bool = False) -> set[str]:
    """The ``hybrid_bench`` modules ``module`` imports; with ``types``, those under ``if TYPE_CHECKING:`` too."""
    file = MODULES[module]
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if "TYPE_CHECKING" in ast.unparse(node.test) and not types:
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(filter(None, (_resolve(alias.name) for alias in node.names)))

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                target = _resolve(f"{base}.{alias.name}") if f"{base}.{alias.name}" in MODULES else _resolve(base)
                if target:
                    found.add(target)

    Visitor().visit(ast.parse(file.read_text(encoding="utf-8"), filename=str(file)))
    found.discard(module)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return _LAYER_OF.get(parts[1]) if len(parts) > 1 else None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(m for m in MODULES if m != "hybrid_bench" and _layer(m) is None)
    assert not unplaced, f"add these to LAYERS (and to docs/architecture.md): {unplaced}"


def test_no_import_cycles() -> None:
    assert _cycles(GRAPH) == []


def test_no_import_cycles_through_types_either() -> None:
    """A circle that only a type annotation closes (``if TYPE_CHECKING:``) is still two modules that cannot be
    understood apart: the shared type belongs in a module of its own (e.g. ``leaderboard/board.py``)."""
    assert _cycles({module: _imports(module, types=True) for module in MODULES}) == []


def test_lower_layers_never_import_higher_ones() -> None:
    upward = sorted(
        f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})"
        for a, targets in GRAPH.items() for b in targets
        if _layer(a) is not None and _layer(b) is not None and _layer(b) > _layer(a)  # type: ignore[operator]
    )
    assert upward == []


def test_the_checks_see_real_imports() -> None:
    """The scanner finds known edges (module level, inside functions, relative) and the cycle finder finds cycles:
    the two tests above cannot pass by seeing nothing."""
    assert "hybrid_bench.experiment.plan" in GRAPH["hybrid_bench.experiment.runner"]  # module level
    assert "hybrid_bench.mteb_plugin" in GRAPH["hybrid_bench.evaluation"]  # inside a function
    assert "hybrid_bench.leaderboard.write" in GRAPH["hybrid_bench.commands.leaderboard"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", ["hybrid_bench.commands.reproduce", "hybrid_bench.commands.eval",
                                    "hybrid_bench.commands.leaderboard"])
def test_commands_only_parse_and_print(module: str) -> None:
    """The experiment's commands hold no library code: everything they call lives in a lower layer."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert functions <= {"add_parser", "run", "default_out"}, functions


def test_layer_table_is_documented() -> None:
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    for names in LAYERS:
        for name in names:
            assert re.search(rf"\b{name}\b", doc), f"docs/architecture.md does not mention the layer member {name!r}"


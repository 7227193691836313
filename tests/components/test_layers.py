"""Data flows one way (style.md): config → cloud → cluster → storage → platform. Checked on the imports."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "components"


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(absolute module, imported names) of every import in a module under components/."""
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            out.append((module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
    return out


def test_no_platform_module_imports_the_platform_and_it_imports_no_app_module():
    for path in (ROOT / "platform").rglob("*.py"):
        if path.name == "__init__.py" and path.parent == ROOT / "platform":
            continue  # the package's public name
        modules = [m for m, _ in _imports(path)]
        assert "components.platform.platform" not in modules, path
    platform_imports = _imports(ROOT / "platform" / "platform.py")
    assert not [m for m, _ in platform_imports if m.startswith("components.platform.apps.")]
    assert [names for m, names in platform_imports if m == "components.platform.apps"] == [["APPS"]]


def test_the_storage_layer_knows_nothing_of_the_platform():
    for path in (ROOT / "storage").rglob("*.py"):
        assert not [m for m, _ in _imports(path) if m.startswith("components.platform")], path

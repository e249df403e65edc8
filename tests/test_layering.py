"""Layering rules: the engine never imports Qt, pyqtgraph or sounddevice, and imports only go down."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_ENGINE = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "sounddevice", "desktop_app")


def _engine_modules() -> list[str]:
    modules = []
    for path in sorted((REPO_ROOT / "engine").rglob("*.py")):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append(".".join(parts))
    return modules


def _imported_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "engine").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_engine_source_imports_no_gui(path: Path) -> None:
    forbidden = _imported_names(path) & set(FORBIDDEN_IN_ENGINE)
    assert not forbidden, f"{path} imports {sorted(forbidden)}; the engine must stay free of Qt and audio I/O."


def test_engine_runtime_loads_no_gui() -> None:
    """Import every engine module in a fresh interpreter and check no GUI or audio I/O module got loaded."""
    script = (
        "import importlib, sys\n"
        f"for name in {_engine_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN_IN_ENGINE!r})\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"engine imports pulled in: {result.stdout.strip()}"

"""The dependency direction of DESIGN.md: crawler -> scheduler -> storage, crawler -> storage.

``storage`` imports neither ``crawler`` nor ``scheduler`` nor Scrapy; ``scheduler`` never imports
``crawler`` or Scrapy (it starts crawls as ``arsip crawl`` subprocesses); in ``crawler`` only the
command line (``crawler/cli.py`` and ``crawler/commands/``) imports ``scheduler``. Every import
counts, at module level or inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

FORBIDDEN = {
    "storage": ("crawler", "scheduler", "scrapy", "twisted"),
    "scheduler": ("crawler", "scrapy", "twisted"),
}


def imported(path: Path) -> set[str]:
    """Top-level names of every absolute module ``path`` imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_never_import_upper_ones(package: str) -> None:
    wrong = {
        str(path.relative_to(REPO)): sorted(imported(path) & set(FORBIDDEN[package]))
        for path in sorted((REPO / package).rglob("*.py"))
        if imported(path) & set(FORBIDDEN[package])
    }
    assert wrong == {}


def test_only_the_command_line_imports_the_scheduler() -> None:
    cli = {REPO / "crawler" / "cli.py", *(REPO / "crawler" / "commands").rglob("*.py")}
    wrong = [str(path.relative_to(REPO)) for path in sorted((REPO / "crawler").rglob("*.py"))
             if path not in cli and "scheduler" in imported(path)]
    assert wrong == []
    assert "scheduler" in imported(REPO / "crawler" / "commands" / "daemon.py")

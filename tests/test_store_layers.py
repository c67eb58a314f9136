"""The store stands below everything that shows its data: it imports nothing above it."""

from __future__ import annotations

import ast
from pathlib import Path

import qi.store

#: What qi.store may import from qi: its own modules, roles and rights, the chart-type
#: registry, the one small-number disclosure rule and the arithmetic of periods.
ALLOWED = ("qi.store", "qi.access", "qi.charts", "qi.disclosure", "qi.periods")


def _qi_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "qi":  # from qi import x
            found |= {f"qi.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m == "qi" or m.startswith("qi.")}


def test_the_store_imports_nothing_above_it():
    folder = Path(qi.store.__file__).parent
    upward = {
        f"{path.name}: {module}"
        for path in sorted(folder.rglob("*.py"))
        for module in _qi_imports(path)
        if not module.startswith(ALLOWED)
    }
    assert not upward, sorted(upward)


def test_the_disclosure_rule_stands_alone():
    """qi.disclosure is pure pandas and numpy: anything may apply the rule."""
    assert _qi_imports(Path(qi.store.__file__).parents[1] / "disclosure.py") == set()


def test_the_periods_stand_alone():
    """qi.periods is pure pandas and numpy: the store and the screens share it."""
    assert _qi_imports(Path(qi.store.__file__).parents[1] / "periods.py") == set()

"""qi: quality-improvement measurement for equality work in healthcare.

The engine of the dashboard, usable on its own (a notebook or a scheduled job
needs no web page): run and control charts with their rules for many series at
once (:func:`spc`), and the registries of chart types and rule sets behind them;
equality statistics (:mod:`qi.equality`); and :func:`load`, the observations in a
collaborative's store as a tidy frame (the store itself is :mod:`qi.store`).

Each name below is imported the first time it is used, so that ``import qi`` (and
the ``qi`` command, which lives in this package) starts at once: ``qi.spc`` loads
numpy and pandas, ``qi.equality`` loads scipy, ``qi.load`` the store's libraries.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy names are, for readers and type checkers
    from qi import equality, mdc
    from qi.charts import CHART_TYPES, ChartType
    from qi.rules import RULE_SETS, RuleSet
    from qi.spc import SPCResult, spc

#: public name → the module that defines it (None: the name is a module of the package)
_LAZY = {
    "spc": "qi.spc",
    "SPCResult": "qi.spc",
    "CHART_TYPES": "qi.charts",
    "ChartType": "qi.charts",
    "RULE_SETS": "qi.rules",
    "RuleSet": "qi.rules",
    "equality": None,
    "mdc": None,
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'qi' has no attribute {name!r}")
    where = _LAZY[name]
    if where is None:
        value = importlib.import_module(f"qi.{name}")
    else:
        value = getattr(importlib.import_module(where), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


class _Package(types.ModuleType):
    """The package's module type: ``qi.spc`` stays the function.

    Importing the submodule ``qi.spc`` (``from qi.spc import SPCResult``, as
    :mod:`qi.mdc` does) makes the import system set it as the package's attribute
    ``spc``, which would hide the function; that one assignment is ignored (the
    submodule stays in ``sys.modules``)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "spc" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def load(**kwargs):
    """Observations shown in the store, as a tidy DataFrame ready for :func:`spc`.

    See :func:`qi.store.load` for the arguments (teams, measures, groups, periods,
    as_of, url, store). The store's libraries are imported only when this is called.
    """
    from qi.store import load as _load

    return _load(**kwargs)


__all__ = [
    "CHART_TYPES", "RULE_SETS", "ChartType", "RuleSet", "SPCResult", "equality", "load", "mdc",
    "spc",
]  # fmt: skip
__version__ = "0.1.0"

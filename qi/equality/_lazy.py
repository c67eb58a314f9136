"""scipy, imported on first use (private).

Importing :mod:`scipy.stats` takes about a second; most readers of :mod:`qi.equality`
(the Board's sentences compare groups with Wald intervals at 95%) never call into it.
``special`` and ``stats`` here stand for :mod:`scipy.special` and :mod:`scipy.stats`:
the first attribute read imports the module.
"""

from __future__ import annotations

import importlib
from typing import Any

#: ``qnorm(0.975)`` (:func:`scipy.special.ndtri` of 0.975, to the last bit; a test checks
#: it): the z of a two-sided 95% interval, without importing scipy.
Z95 = 1.959963984540054


class _Module:
    """A module imported when one of its attributes is first read."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


special: Any = _Module("scipy.special")
stats: Any = _Module("scipy.stats")


def ndtri(p: float) -> float:
    """:func:`scipy.special.ndtri` of one probability (0.975 without importing scipy)."""
    if p == 0.975:
        return Z95
    return float(special.ndtri(p))

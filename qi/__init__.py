"""qi: quality-improvement measurement for equality work in healthcare.

The engine of the dashboard, usable on its own (a notebook or a scheduled job
needs no web page): run and control charts with their rules for many series at
once (:func:`spc`), and the registries of chart types and rule sets behind them;
equality statistics (:mod:`qi.equality`); and :func:`load`, the observations in a
collaborative's store as a tidy frame (the store itself is :mod:`qi.store`).
"""

from qi import equality as equality  # the equality statistics: qi.equality.compare, ...
from qi import mdc
from qi.charts import CHART_TYPES, ChartType
from qi.rules import RULE_SETS, RuleSet
from qi.spc import SPCResult, spc


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

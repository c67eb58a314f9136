"""qi: quality-improvement measurement for equality work in healthcare.

The engine of the dashboard, usable on its own (a notebook or a scheduled job
needs no web page): run and control charts with their rules for many series at
once (:func:`spc`), and the registries of chart types and rule sets behind them.
"""

from qi import equality as equality  # the equality statistics: qi.equality.compare, ...
from qi import mdc
from qi.charts import CHART_TYPES, ChartType
from qi.rules import RULE_SETS, RuleSet
from qi.spc import SPCResult, spc

__all__ = ["CHART_TYPES", "RULE_SETS", "ChartType", "RuleSet", "SPCResult", "mdc", "spc"]
__version__ = "0.1.0"

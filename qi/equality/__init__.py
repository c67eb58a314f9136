"""``qi.equality``: statistics for equality work, checked number by number against R.

Racial disparity in Mental Health Act detentions, restraint or access to
therapies is measured here the way trusted R packages measure it. One module per
question, every public name re-exported here (``qi.equality.compare(...)``):

- :mod:`qi.equality.intervals`: :func:`proportions` and :func:`rates`, a value
  with its confidence interval per row (Wilson score; exact Poisson below 10
  events, Byar from 10), as PHEindicatormethods 2.1.0 ``phe_proportion`` and
  ``phe_rate``;
- :mod:`qi.equality.compare`: :func:`compare`, each group against a reference
  group, as a rate ratio (epitools ``rateratio`` Wald and mid-p,
  ``rate2by2.test``) or risk ratio (epitools ``riskratio.wald``,
  ``ormidp.test``), with the difference (epiR ``epi.2by2``); and :func:`gap`,
  the same for every team × measure × month at once, in a tidy frame that
  :func:`qi.spc` charts directly (``y="log_ratio"``);
- :mod:`qi.equality.funnel`: :func:`funnel`, funnel plots of teams,
  Spiegelhalter's with overdispersion (FunnelPlotR 0.6.0) or PHE's
  (PHEindicatormethods);
- :mod:`qi.equality.recording`: :func:`recording_completeness`, the share of
  records whose ethnic group is not stated; and :func:`pool`, broad groups from
  detailed ones, and quarters from months where monthly counts are too small;
- :mod:`qi.equality.suppress`: :func:`suppress`, small-number suppression for
  publication, with secondary suppression so that no suppressed count can be
  worked out from the totals.

The formulas, and every surprise in the R packages, are written down in
``shared/reference/equality/METHODS.md``; the functions here follow it.
Every function works on whole arrays at once (no Python loop per group, team
or month) and returns a tidy DataFrame with the columns its docstring lists.
The interval arithmetic they share (exact, mid-p, Byar) is private
(``qi/equality/_exact.py``).

``qi.equality.funnel`` and ``qi.equality.suppress`` (and ``compare``) are the
functions; their modules are reached with ``from qi.equality.funnel import ...``.
"""

from __future__ import annotations

from qi.equality.compare import COMPARE_COLUMNS, GAP_COLUMNS, MEASURES, compare, gap
from qi.equality.funnel import FunnelResult, funnel
from qi.equality.intervals import proportions, rates
from qi.equality.recording import DEFAULT_UNKNOWN, pool, recording_completeness
from qi.equality.suppress import SuppressionResult, suppress

__all__ = [
    "COMPARE_COLUMNS",
    "DEFAULT_UNKNOWN",
    "GAP_COLUMNS",
    "MEASURES",
    "FunnelResult",
    "SuppressionResult",
    "compare",
    "funnel",
    "gap",
    "pool",
    "proportions",
    "rates",
    "recording_completeness",
    "suppress",
]

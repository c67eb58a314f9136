"""``qi.spc``: run and control charts for many series at once.

The pipeline, one step per function below, every step on flat arrays of all
series together (no loop over series or points):

1. check the arguments and columns (:func:`_check_arguments`, :func:`_numeric`);
2. order the rows by series and x, and aggregate rows that share an x into one
   subgroup (:func:`_aggregate`), as qicharts2 does;
3. number the phases and mark baseline and excluded points (:func:`_phases`);
4. compute the centre line and limits with the chart type of
   :data:`qi.charts.CHART_TYPES`;
5. apply ``multiply``, the 3-sigma signal and the rule set of
   :data:`qi.rules.RULE_SETS`;
6. return the tidy ``points`` and ``summary`` frames (:class:`SPCResult`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from qi._patterns import position
from qi._periods import parse_period_text
from qi._segments import (
    FloatArray,
    IntArray,
    seg_count,
    seg_nanmean,
    seg_nanmedian,
    seg_sum,
    sizes,
)
from qi.charts import CHART_TYPES, ChartInput
from qi.rules import RULE_SETS, RuleInput

AGGREGATES = ("mean", "median", "sum", "sd")
IMPROVEMENTS = ("increase", "decrease", "neutral")

#: Point columns common to every rule set, in output order (after the ``by`` columns).
POINT_COLUMNS = (
    "x",
    "y",
    "n",
    "phase",
    "baseline",
    "include",
    "cl",
    "lcl",
    "ucl",
    "lcl_95",
    "ucl_95",
    "target",
    "sigma_signal",
)
#: Summary columns common to every rule set (after the ``by`` columns and ``phase``).
SUMMARY_LINES = ("cl", "lcl", "ucl", "lcl_95", "ucl_95", "sigma_signals")


@dataclass(frozen=True)
class SPCResult:
    """The result of :func:`spc`.

    Attributes
    ----------
    points : pandas.DataFrame
        One row per series × x, ordered by the ``by`` columns then x. Columns: the
        ``by`` columns; ``x`` (the subgroup: date, number or text; 1..N when no x
        was given); ``y`` (the plotted value after ``multiply``: the aggregated
        value, Σy/Σn with a denominator, the moving range for ``mr``, the subgroup
        sd for ``s``, the count for ``c``); ``n`` (the subgroup's summed
        denominator; NaN without one; 0 when every row missed y or n); ``phase``
        (1, 2, … within the series); ``baseline`` (the point estimates the lines);
        ``include`` (False for excluded points); ``cl``, ``lcl``, ``ucl`` (centre
        and 3-sigma limits), ``lcl_95``, ``ucl_95`` (2-sigma limits), NaN where not
        finite; ``target`` (NaN without one); ``sigma_signal`` (y strictly outside
        the limits); then the rule set's columns: for ``"anhoej"``
        ``runs_signal``, ``longest_run``, ``longest_run_max``, ``n_crossings``,
        ``n_crossings_min``, ``n_obs``, ``n_useful`` (per series × phase, repeated
        on its rows).
    summary : pandas.DataFrame
        One row per series × phase, ordered by the ``by`` columns then phase: the
        ``by`` columns, ``phase``, the rule set's statistics (for ``"anhoej"``:
        ``n_obs`` (included points, missing y included), ``n_useful``,
        ``longest_run``, ``longest_run_max``, ``n_crossings``,
        ``n_crossings_min``, ``runs_signal``), then ``cl``, ``lcl``, ``ucl``,
        ``lcl_95``, ``ucl_95`` (means over the phase's points, ignoring missing
        values) and ``sigma_signals`` (count of points outside the limits).
    chart, rules : the chart type and rule set keys used.
    by : the ``by`` columns, in order.
    improvement : the improvement direction given (None if none).
    """

    points: pd.DataFrame
    summary: pd.DataFrame
    chart: str
    rules: str
    by: tuple[str, ...] = ()
    improvement: str | None = None
    #: reads the same subgroups with the Making Data Count rules (None when ``rules`` is
    #: already ``"mdc"``, or once the result has been pickled with its reading kept)
    _mdc_twin: Callable[[], SPCResult] | None = field(default=None, repr=False, compare=False)

    def mdc(self) -> SPCResult:
        """The same series read with the Making Data Count rules: what the variation and
        assurance icons need (:func:`qi.mdc.summary`), whatever rule set draws the chart.

        The result itself when ``rules="mdc"``; otherwise the same subgroups, phases and
        target, with the lines and signals of :data:`RULE_SETS` ``["mdc"]`` (its moving
        range constant, its defaults). Computed the first time it is asked for, then kept.
        """
        if self.rules == "mdc":
            return self
        kept = self.__dict__.get("_mdc_result")
        if kept is None:
            if self._mdc_twin is None:
                raise ValueError("This result no longer holds the subgroups to read them again.")
            kept = self._mdc_twin()
            # a cache, and the subgroups are needed no more (the frozen fields are unchanged)
            self.__dict__["_mdc_result"] = kept
            self.__dict__["_mdc_twin"] = None
        return kept


def spc(
    data: pd.DataFrame,
    *,
    y: str,
    chart: str = "run",
    x: str | None = None,
    n: str | None = None,
    by: str | Sequence[str] | None = None,
    phase: str | None = None,
    exclude: str | None = None,
    baseline: int | None = None,
    multiply: float = 1,
    agg: str = "mean",
    cl: float | None = None,
    target: float | str | None = None,
    y_neg: bool = True,
    screen_mr: bool = True,
    rules: str = "anhoej",
    improvement: str | None = None,
    rule_params: Mapping[str, Any] | None = None,
) -> SPCResult:
    """Run or control charts, with their rules, for every series in ``data`` at once.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per observation. Several rows with the same x in a series are
        aggregated into one subgroup.
    y : str
        Column of values (numerators when ``n`` is given).
    chart : str
        A key of :data:`qi.charts.CHART_TYPES`: ``run``, ``i``, ``ip``, ``mr``,
        ``xbar``, ``s``, ``t``, ``p``, ``pp``, ``c``, ``u``, ``up``, ``g``.
    x : str, optional
        Column of subgroups: dates, numbers or text (text has no order: no runs
        analysis). Text spelled as months or days (``"2024-03"``, ``"2024-03-01"``,
        ``"01/03/2024"``, ``"Mar-24"``, ``"March 2024"``) is read as dates; a column where
        some text is and some is not, or where a month does not exist, is refused. None
        means positions 1..N in row order.
    n : str, optional
        Column of denominators; required by ``p``, ``pp``, ``u``, ``up``.
    by : str or list of str, optional
        Columns naming independent series (e.g. team, measure, ethnic group).
    phase : str, optional
        Column whose value changes where a new phase (own centre and limits) starts.
    exclude : str, optional
        Column of booleans: points left out of the centre line, limits and runs.
    baseline : int, optional
        The first ``baseline`` points of each phase fix the centre line and limits
        for the rest of the phase.
    multiply : float
        Factor for y and the lines (100 for percent, 1000 for per 1,000).
    agg : str
        How several rows without a denominator share an x: mean, median, sum, sd.
    cl : float, optional
        A known centre line instead of the computed one.
    target : float or str, optional
        A target value, or a column holding one per series (NaN for none).
    y_neg : bool
        False sets negative lower limits to 0 for a series whose values are all ≥ 0.
    screen_mr : bool
        Screen moving ranges above 3.267 × their mean before estimating sigma.
    rules : str
        A key of :data:`qi.rules.RULE_SETS`.
    improvement : str, optional
        "increase", "decrease" or "neutral": which direction is better.
    rule_params : mapping, optional
        Overrides of the rule set's parameters (its ``defaults``).

    Returns
    -------
    SPCResult
        ``.points`` and ``.summary``; see :class:`SPCResult` for every column.

    Raises
    ------
    ValueError
        Naming the argument, column and series, for a missing or non-numeric
        column, an unknown chart type or rule set, a denominator missing for a
        chart that needs one, a negative count or denominator, a numerator above
        its denominator for a proportion, or a value ≤ 0 for a T chart. Missing
        values and zero denominators are not errors.

    Notes
    -----
    The numbers are those of qicharts2 0.8.1 (``rules="anhoej"``); see
    ``shared/reference/spc/SEMANTICS.md``. One deliberate difference: with
    ``y_neg=False`` the "all values ≥ 0" test is made per series, where qicharts2
    makes it once over all facets.
    """
    ct = CHART_TYPES.get(chart) if isinstance(chart, str) else None
    rs = RULE_SETS.get(rules) if isinstance(rules, str) else None
    by_cols = _check_arguments(
        data,
        y=y,
        chart=chart,
        ct=ct,
        x=x,
        n=n,
        by=by,
        phase=phase,
        exclude=exclude,
        baseline=baseline,
        multiply=multiply,
        agg=agg,
        cl=cl,
        target=target,
        rules=rules,
        rs=rs,
        improvement=improvement,
    )
    assert ct is not None and rs is not None
    params = dict(rs.defaults)
    for k, v in (rule_params or {}).items():
        if k not in params:
            raise ValueError(
                f"The rule_params key {k!r} is not a parameter of rules={rules!r}; "
                f"its parameters are {sorted(params)}."
            )
        params[k] = v

    frame = _Frame.build(
        data, y=y, x=x, n=n, by=by_cols, phase=phase, exclude=exclude, target=target
    )
    frame.check_values(ct, y_col=y, n_col=n)
    sub = _aggregate(frame, agg=agg)
    # where the points are the input's rows, its own columns (shared until changed)
    given = frame.given_columns() if sub.rows_as_given else ({}, None)
    # the input itself is needed no more (only to name rows in errors above): the result
    # must not keep the caller's frame alive through its Making Data Count twin (which
    # therefore makes its own columns rather than sharing the input's)
    frame.data = None
    step = _Evaluation(
        frame=frame, sub=sub, phases=_phases(sub, baseline), by=tuple(by_cols), chart=chart,
        ct=ct, multiply=float(multiply), cl=cl, y_neg=y_neg, screen_mr=screen_mr,
        baseline=baseline, has_target=target is not None, improvement=improvement,
    )  # fmt: skip
    return step.result(rules, rs, params, given)


@dataclass(frozen=True)
class _Evaluation:
    """Everything of a :func:`spc` call up to the rule set: the aggregated subgroups and
    their phases. :meth:`result` draws the lines and reads them with a rule set; the
    same subgroups are read again with the Making Data Count rules when a result's
    icons are asked for (:meth:`SPCResult.mdc`)."""

    frame: _Frame
    sub: _Subgroups
    phases: tuple
    by: tuple[str, ...]
    chart: str
    ct: Any
    multiply: float
    cl: float | None
    y_neg: bool
    screen_mr: bool
    baseline: int | None
    has_target: bool
    improvement: str | None

    def result(
        self,
        rules: str,
        rs: Any,
        params: Mapping[str, Any],
        given: tuple[dict[str, pd.Series], pd.Series | None] = ({}, None),
    ) -> SPCResult:
        frame, sub = self.frame, self.sub
        phase_id, seg, n_seg, base, include = self.phases
        starts = np.flatnonzero(seg[1:] != seg[:-1]) if len(seg) else seg
        if len(seg):  # (the first point of each segment)
            starts = np.concatenate(([0], starts + 1))
        cl_fixed = np.full(n_seg, np.nan if self.cl is None else float(self.cl))
        ci = ChartInput(
            seg=seg,
            n_seg=n_seg,
            starts=starts,
            y=sub.y,
            n=sub.n,
            y_sum=sub.y_sum,
            y_len=sub.y_len,
            y_mean=sub.y_mean,
            y_sd=sub.y_sd,
            base=base,
            cl_fixed=cl_fixed,
            categorical_x=frame.x_kind == "text",
            screen_mr=self.screen_mr,
            mr_sigma=rs.mr_sigma,
        )
        lines = self.ct.lines(ci)

        m = self.multiply
        out = {"y": lines.y * m}  # a copy: lines.y may be an input
        for k in ("cl", "lcl", "ucl", "lcl_95", "ucl_95"):  # new arrays (ChartLines)
            out[k] = getattr(lines, k)
            if m != 1:
                out[k] *= m
        for k in ("lcl", "ucl", "lcl_95", "ucl_95"):
            if not np.isfinite(np.add.reduce(out[k])):  # (a finite sum: none is ±inf)
                np.copyto(out[k], np.nan, where=np.isinf(out[k]))
        if not self.y_neg:
            _floor_lower_limits(out, sub.series, frame.n_series)
        with np.errstate(invalid="ignore"):
            sigma_signal = np.greater(out["y"], out["ucl"])
            sigma_signal |= np.less(out["y"], out["lcl"])

        series_of_seg = sub.series[starts]
        ri = RuleInput(
            seg=seg,
            n_seg=n_seg,
            series=sub.series,
            series_of_seg=series_of_seg,
            y=out["y"],
            cl=out["cl"],
            lcl=out["lcl"],
            ucl=out["ucl"],
            lcl_95=out["lcl_95"],
            ucl_95=out["ucl_95"],
            include=include,
            ordered_x=frame.x_kind != "text",
            chart=self.chart,
            improvement=self.improvement,
            target=sub.target,
            has_target=self.has_target,
            params=params,
            describe_point=lambda i: frame.describe_series(int(sub.series[i])),
            starts=starts,
        )
        ro = rs.evaluate(ri)

        given, given_x = given  # the input's own columns that the points would copy
        cols: dict[str, object] = {**frame.series_keys(sub.series, skip=given), **given}
        cols = {c: cols[c] for c in frame.by}
        cols["x"] = frame.x_values(sub.x_code) if given_x is None else given_x
        cols["y"] = out["y"]
        cols["n"] = sub.n
        cols["phase"] = phase_id
        cols["baseline"] = sub.position_in_phase_le(self.baseline, seg)
        cols["include"] = include
        for k in ("cl", "lcl", "ucl", "lcl_95", "ucl_95"):
            cols[k] = out[k]
        cols["target"] = sub.target
        cols["sigma_signal"] = sigma_signal
        for k in rs.point_columns:
            cols[k] = ro.points[k]
        points = pd.DataFrame(cols, copy=False)

        # (one frame from a dict of columns: adding columns one by one costs more than
        # the arithmetic on a short series)
        per_seg: dict[str, object] = frame.series_keys(series_of_seg)
        per_seg["phase"] = phase_id[starts]
        for k in rs.summary_columns:
            per_seg[k] = ro.segments[k]
        for k in ("cl", "lcl", "ucl", "lcl_95", "ucl_95"):
            per_seg[k] = seg_nanmean(out[k], seg, n_seg, None, starts)
        per_seg["sigma_signals"] = seg_count(seg, n_seg, sigma_signal, starts)
        for k in rs.summary_tail:
            per_seg[k] = ro.segments[k]
        summary = pd.DataFrame(per_seg, copy=False)
        mdc = RULE_SETS["mdc"]
        return SPCResult(
            points=points,
            summary=summary,
            chart=self.chart,
            rules=rules,
            by=self.by,
            improvement=self.improvement,
            _mdc_twin=None if rules == "mdc" else partial(self.result, "mdc", mdc, mdc.defaults),
        )


# --------------------------------------------------------------------------------------
# Arguments and columns
# --------------------------------------------------------------------------------------


def _one_of(name: str, value: object, allowed: Sequence[str]) -> None:
    raise ValueError(
        f"The {name!r} argument of qi.spc must be one of {list(allowed)}; got {value!r} instead."
    )


def _check_arguments(
    data: pd.DataFrame,
    *,
    y: str,
    chart: str,
    ct: object,
    x: str | None,
    n: str | None,
    by: str | Sequence[str] | None,
    phase: str | None,
    exclude: str | None,
    baseline: int | None,
    multiply: float,
    agg: str,
    cl: float | None,
    target: float | str | None,
    rules: str,
    rs: object,
    improvement: str | None,
) -> list[str]:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"qi.spc needs a pandas DataFrame as data; got {type(data).__name__}.")
    if ct is None:
        _one_of("chart", chart, list(CHART_TYPES))
    if rs is None:
        _one_of("rules", rules, list(RULE_SETS))
    if agg not in AGGREGATES:
        _one_of("agg", agg, AGGREGATES)
    if improvement is not None and improvement not in IMPROVEMENTS:
        _one_of("improvement", improvement, IMPROVEMENTS)
    if baseline is not None and (
        isinstance(baseline, bool) or not isinstance(baseline, int | np.integer) or baseline < 1
    ):
        raise ValueError(
            f"The 'baseline' argument of qi.spc must be a whole number of points ≥ 1 or None; "
            f"got {baseline!r}."
        )
    if not isinstance(multiply, Real) or not np.isfinite(multiply) or multiply <= 0:
        raise ValueError(
            f"The 'multiply' argument of qi.spc must be a positive number; got {multiply!r}."
        )
    if cl is not None and (not isinstance(cl, Real) or not np.isfinite(cl)):
        raise ValueError(f"The 'cl' argument of qi.spc must be a number or None; got {cl!r}.")

    by_cols = [by] if isinstance(by, str) else list(by or [])
    named: list[tuple[str, Hashable]] = [("y", y)]
    named += [
        (arg, col)
        for arg, col in (("x", x), ("n", n), ("phase", phase), ("exclude", exclude))
        if col is not None
    ]
    named += [("by", c) for c in by_cols]
    if isinstance(target, str):
        named.append(("target", target))
    elif target is not None and (not isinstance(target, Real) or isinstance(target, bool)):
        raise ValueError(
            f"The 'target' argument of qi.spc must be a number or a column name; got {target!r}."
        )
    for arg, col in named:
        if col not in data.columns:
            cols = ", ".join(map(str, data.columns))
            raise ValueError(
                f"Column {col!r} (the {arg!r} argument of qi.spc) is not in the data. "
                f"The data has the columns: {cols}. Name one of them."
            )
    if len(set(by_cols)) != len(by_cols):
        raise ValueError(f"The 'by' argument of qi.spc names a column twice: {by_cols}.")
    if n is None and getattr(ct, "needs_n", False):
        raise ValueError(
            f"A {chart!r} chart needs a denominator: pass n='<column of denominators>' to qi.spc."
        )
    return by_cols


def _describe_series(keys: dict[str, object]) -> str:
    if not keys:
        return "the series"
    return "series " + ", ".join(f"{k}={v!r}" for k, v in keys.items())


# --------------------------------------------------------------------------------------
# The input frame, in flat arrays
# --------------------------------------------------------------------------------------


@dataclass
class _Frame:
    """The input rows as flat arrays (x missing rows dropped), not yet ordered."""

    data: pd.DataFrame | None  # the input, until the subgroups are made
    by: list[str]
    row: IntArray | range  # position of each kept row in data
    series: IntArray
    n_series: int
    series_uniques: list[pd.Index]
    series_codes: IntArray  # (n_series, len(by)) codes into series_uniques
    x_kind: str  # "none", "number", "date", "text"
    x_name: str | None
    x_key: FloatArray | IntArray
    x_uniques: np.ndarray | pd.Index | None
    x_unit: str  # the unit of x_key for dates ("ns", "us", …: the input's own)
    y: FloatArray
    n: FloatArray
    has_n: bool
    n_whole: bool  # n was a column of whole numbers: a new array, none missing
    phase: IntArray | None
    exclude: np.ndarray | None
    target: FloatArray

    @classmethod
    def build(
        cls,
        data: pd.DataFrame,
        *,
        y: str,
        x: str | None,
        n: str | None,
        by: list[str],
        phase: str | None,
        exclude: str | None,
        target: float | str | None,
    ) -> _Frame:
        nrow = len(data)
        row: IntArray | range = range(nrow)  # every row, until some are dropped
        x_unit = "ns"  # the unit of x_key for dates
        # x: rows without one are dropped (qicharts2)
        if x is None:
            x_kind, x_key, x_uniques = "none", np.arange(1, nrow + 1, dtype=np.int64), None
        else:
            xs = data[x]
            if pd.api.types.is_datetime64_any_dtype(xs.dtype):
                x_kind = "date"
                stamps = _stamps(xs)  # (an aware time as UTC)
                x_unit = np.datetime_data(stamps.dtype)[0]
                keep = ~np.isnat(stamps)
                x_key = stamps.view(np.int64)
                x_uniques = None
            elif pd.api.types.is_bool_dtype(xs.dtype) or pd.api.types.is_numeric_dtype(xs.dtype):
                x_kind = "number"
                x_key = xs.to_numpy(dtype=float, na_value=np.nan)
                keep = ~np.isnan(x_key)
                x_uniques = None
            else:
                keep = xs.notna().to_numpy()
                labels = xs[keep].astype(str)
                uniq = pd.Index(pd.unique(labels))
                # months written as text ("2024-03", "Mar-24") are months, never words
                # sorted alphabetically: read as dates, or refused when some are not
                dates = parse_period_text(uniq, x)
                if dates is not None:
                    x_kind, x_uniques = "date", None
                    x_key = np.full(nrow, 0, dtype=np.int64)
                    x_key[keep] = dates.astype(np.int64)[uniq.get_indexer(labels)]
                else:
                    x_kind = "text"
                    # alphabetical, case-insensitive first (as R sorts text in English)
                    order = sorted(range(len(uniq)), key=lambda i: (uniq[i].casefold(), uniq[i]))
                    x_uniques = uniq[order]
                    rank = np.empty(len(uniq), dtype=np.int64)
                    rank[order] = np.arange(len(uniq))
                    x_key = np.full(nrow, -1, dtype=np.int64)
                    x_key[keep] = rank[uniq.get_indexer(labels)]
            if not keep.all():
                row = np.flatnonzero(keep)
                x_key = x_key[keep]

        sub = data.iloc[row] if len(row) != nrow else data
        y_col = sub[y]
        yv = _numeric(sub, y, "y", by, row, y_col)
        has_n = n is not None
        n_col = None if n is None else sub[n]
        nv = np.full(len(row), np.nan) if n is None else _numeric(sub, n, "n", by, row, n_col)
        # whole numbers: new arrays (the caller's are never shared), and nothing missing
        n_whole = n_col is not None and _whole(n_col.dtype)
        if has_n and not (n_whole and _whole(y_col.dtype)):
            # qicharts2 keeps complete cases only: a missing y or n makes both missing
            missing = np.isnan(yv) | np.isnan(nv)
            if missing.any():
                yv = np.where(missing, np.nan, yv)
                nv = np.where(missing, np.nan, nv)
                n_whole = False

        # series
        if by:
            codes = []
            uniques = []
            for c in by:
                code, uniq = _factorize_sorted(sub[c])
                codes.append(code)
                uniques.append(uniq)
            if len(by) == 1:
                series = codes[0]
                combo = np.arange(len(uniques[0]), dtype=np.int64)
            else:
                combined = np.zeros(len(row), dtype=np.int64)
                for code, uniq in zip(codes, uniques, strict=True):
                    combined = combined * max(len(uniq), 1) + code
                series, combo = pd.factorize(combined, sort=True)
                series = series.astype(np.int64)
                combo = np.asarray(combo, dtype=np.int64)
            series_codes = np.empty((len(combo), len(by)), dtype=np.int64)
            rest = combo.copy()
            for j in range(len(by) - 1, -1, -1):
                size = max(len(uniques[j]), 1)
                series_codes[:, j] = rest % size
                rest //= size
            n_series = len(combo)
        else:
            series = np.zeros(len(row), dtype=np.int64)
            uniques, series_codes = [], np.zeros((1 if len(row) else 0, 0), dtype=np.int64)
            n_series = 1 if len(row) else 0

        phase_codes = None
        if phase is not None:
            phase_codes = pd.factorize(sub[phase], use_na_sentinel=False)[0].astype(np.int64)
        excl = None
        if exclude is not None:
            ev = sub[exclude]
            if not (
                pd.api.types.is_bool_dtype(ev.dtype) or pd.api.types.is_numeric_dtype(ev.dtype)
            ):
                raise ValueError(
                    f"Column {exclude!r} (the 'exclude' argument of qi.spc) must hold True/False "
                    f"values; it holds {ev.dtype} values."
                )
            excl = ev.fillna(False).to_numpy(dtype=bool)
        if isinstance(target, str):
            tv = _numeric(sub, target, "target", by, row)
        else:
            tv = np.full(len(row), np.nan if target is None else float(target))
        return cls(
            data=data,
            by=by,
            row=row,
            series=series,
            n_series=n_series,
            series_uniques=uniques,
            series_codes=series_codes,
            x_kind=x_kind,
            x_name=x,
            x_key=np.asarray(x_key),
            x_unit=x_unit,
            x_uniques=x_uniques,
            y=yv,
            n=nv,
            has_n=has_n,
            n_whole=n_whole,
            phase=phase_codes,
            exclude=excl,
            target=tv,
        )

    def series_keys(self, series: IntArray, skip=()) -> dict[str, object]:
        """The ``by`` columns (but those in ``skip``) for an array of series ids."""
        if len(self.by) == 1:  # the series ids are the codes of the one column
            c = self.by[0]
            return {} if c in skip else {c: self.series_uniques[0].take(series)}
        out: dict[str, object] = {}
        for j, c in enumerate(self.by):
            if c not in skip:
                out[c] = self.series_uniques[j].take(self.series_codes[series, j])
        return out

    def given_columns(self) -> tuple[dict[str, pd.Series], pd.Series | None]:
        """The ``by`` columns and the ``x`` column of the input that the points would
        only copy (when there is one point per input row, in order): whole numbers and
        nanosecond dates, as the points hold them. Shared with the input under pandas'
        copy-on-write, so changing either copies it then."""
        by: dict[str, pd.Series] = {}
        for j, c in enumerate(self.by):
            col = self.data[c]
            if col.dtype.kind in "iu" and col.dtype == self.series_uniques[j].dtype:
                by[c] = col.reset_index(drop=True)
        x = None
        if self.x_kind == "date" and self.x_name is not None:
            col = self.data[self.x_name]
            if col.dtype == np.dtype("datetime64[ns]"):
                x = col.reset_index(drop=True)
        return by, x

    def x_values(self, x_code: np.ndarray) -> object:
        if self.x_kind == "date":  # (a copy: the result never shares the caller's data)
            # nanoseconds by whole-number arithmetic (no NaT is left among the points, and
            # the input's range was checked to fit), cheaper than numpy's unit conversion
            per = _NS_PER[self.x_unit]
            ns = np.array(x_code, dtype=np.int64) if per == 1 else np.multiply(x_code, per)
            return pd.DatetimeIndex(ns.view("datetime64[ns]"), copy=False)
        if self.x_kind == "text":
            assert self.x_uniques is not None
            return pd.Index(self.x_uniques).take(np.asarray(x_code, dtype=np.int64))
        if self.x_kind == "none":
            return np.asarray(x_code, dtype=np.int64)
        return np.asarray(x_code, dtype=float)

    def describe_series(self, series: int) -> str:
        return _describe_series(
            {c: self.series_uniques[j][self.series_codes[series, j]] for j, c in enumerate(self.by)}
        )

    def keys_of_row(self, i: int) -> dict[str, object]:
        return {
            c: self.series_uniques[j][self.series_codes[self.series[i], j]]
            for j, c in enumerate(self.by)
        }

    def _where(self, i: int) -> str:
        row = int(self.row[i])
        label = self.data.index[row]
        return f"{_describe_series(self.keys_of_row(i))}, data row {label!r} (position {row + 1})"

    def check_values(self, ct: Any, *, y_col: str, n_col: str | None) -> None:
        """Raise a ValueError naming column, series and row for values the chart cannot take."""
        yv, nv = self.y, self.n
        with np.errstate(invalid="ignore"):
            if ct.positive_y and (bad := np.flatnonzero(yv <= 0)).size:
                raise ValueError(
                    f"Column {y_col!r}: a {ct.key!r} chart needs times between events greater "
                    f"than zero, but {self._where(bad[0])} has {yv[bad[0]]:g}. Remove or correct "
                    f"that value."
                )
            if ct.counts and (bad := np.flatnonzero(yv < 0)).size:
                raise ValueError(
                    f"Column {y_col!r}: a {ct.key!r} chart counts events, which cannot be "
                    f"negative, but {self._where(bad[0])} has {yv[bad[0]]:g}. Correct that value."
                )
            if n_col is not None and (bad := np.flatnonzero(nv < 0)).size:
                raise ValueError(
                    f"Column {n_col!r}: denominators cannot be negative, but "
                    f"{self._where(bad[0])} has {nv[bad[0]]:g}. Correct that value."
                )
            if ct.proportion and (bad := np.flatnonzero(yv > nv)).size:
                i = bad[0]
                raise ValueError(
                    f"Column {y_col!r}: a {ct.key!r} chart needs numerators no larger than their "
                    f"denominators (column {n_col!r}), but {self._where(i)} has {yv[i]:g} out "
                    f"of {nv[i]:g}. Correct the numerator or the denominator."
                )


def _stamps(xs: pd.Series) -> np.ndarray:
    """A column of dates as numpy datetimes: in the column's own unit when it is a plain
    numpy one that nanoseconds can hold (no conversion of every row: the points convert
    only the x they show), else as nanoseconds (an aware time as UTC)."""
    dtype = xs.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        unit = np.datetime_data(dtype)[0]
        if unit == "ns":
            return xs.to_numpy()
        if unit in ("us", "ms", "s") and len(xs):
            stamps = xs.to_numpy()
            # within what nanoseconds hold (1677-09-22 .. 2262-04-11): every value converts
            v = stamps.view(np.int64)
            lo, hi = v.min(), v.max()
            if lo == _NAT:  # (NaT is the smallest int64)
                dated = v[v != _NAT]
                lo = dated.min() if len(dated) else hi
            bounds = np.array([_NS_MIN, _NS_MAX], dtype=f"datetime64[{unit}]").view(np.int64)
            if bounds[0] <= lo and hi <= bounds[1]:
                return stamps
    return xs.to_numpy("datetime64[ns]")


_NS_MIN, _NS_MAX = "1677-09-22", "2262-04-11"
_NAT = np.iinfo(np.int64).min
#: nanoseconds in one unit of the date units kept as they are (:func:`_stamps`)
_NS_PER = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


def _factorize_sorted(values: pd.Series) -> tuple[IntArray, pd.Index]:
    """Codes of ``values`` into their sorted distinct values (``pd.factorize(sort=True)``,
    a missing value kept as a value); for whole numbers already in order (a series id,
    as in a long frame ordered by series) read off the changes, without hashing."""
    # (pandas' text is factorized as it is: made a numpy array of objects first, it
    # takes longer than the factorizing)
    arr = None if isinstance(values.dtype, pd.StringDtype) else values.to_numpy()
    if (
        arr is not None
        and arr.dtype.kind in "iu"
        and len(arr) > 1
        and bool((arr[1:] >= arr[:-1]).all())
    ):
        new = np.empty(len(arr), dtype=bool)
        new[0] = True
        np.not_equal(arr[1:], arr[:-1], out=new[1:])
        first = np.flatnonzero(new)
        # (each code repeated over its rows: cheaper than a running count of the changes)
        code = np.repeat(np.arange(len(first), dtype=np.int64), sizes(first, len(arr)))
        return code, pd.Index(arr[first])
    code, uniq = pd.factorize(values, sort=True, use_na_sentinel=False)
    return code.astype(np.int64), pd.Index(uniq)


def _whole(dtype: object) -> bool:
    """A column of numpy whole numbers or booleans: read as floats into a new array, and
    never missing."""
    return isinstance(dtype, np.dtype) and dtype.kind in "iub"


def _numeric(
    sub: pd.DataFrame,
    col: str,
    arg: str,
    by: list[str],
    row: IntArray | range,
    s: pd.Series | None = None,
) -> FloatArray:
    """The column as floats; a ValueError naming column, series and row if it is not numeric.
    ``s``: the column, when already read."""
    s = sub[col] if s is None else s
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iubf":  # (plain numpy: no NA)
        return np.asarray(s.to_numpy(), dtype=float)
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype=float, na_value=np.nan)
    conv = pd.to_numeric(s, errors="coerce")
    bad = np.flatnonzero(conv.isna().to_numpy() & s.notna().to_numpy())
    if bad.size == 0:
        return conv.to_numpy(dtype=float, na_value=np.nan)
    i = int(bad[0])
    keys = {c: sub[c].iloc[i] for c in by}
    raise ValueError(
        f"Column {col!r} (the {arg!r} argument of qi.spc) must hold numbers, but "
        f"{_describe_series(keys)}, data row {sub.index[i]!r} (position {int(row[i]) + 1}) has "
        f"{s.iloc[i]!r}. Correct the value, or leave the cell empty for a missing value."
    )


# --------------------------------------------------------------------------------------
# Subgroups
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Subgroups:
    """One entry per series × x, ordered by series then x."""

    series: IntArray
    x_code: np.ndarray
    y: FloatArray
    n: FloatArray
    y_sum: FloatArray
    y_len: FloatArray
    y_mean: FloatArray
    y_sd: FloatArray
    phase: IntArray | None
    exclude: np.ndarray | None
    target: FloatArray
    #: each subgroup is one input row, in the input's order, none left out
    rows_as_given: bool = False

    def position_in_phase_le(self, k: int | None, seg: IntArray) -> np.ndarray:
        """True for the first ``k`` points of each segment (all True when k is None)."""
        if k is None:
            return np.ones(len(seg), dtype=bool)
        return position(seg) < k


def _aggregate(f: _Frame, *, agg: str) -> _Subgroups:
    """Order rows by series then x and aggregate the rows of each subgroup (qicharts2 qic.agg)."""
    order, one_row_each = _order(f.series, f.x_key)

    def take(a: np.ndarray) -> np.ndarray:
        return a if order is None else a[order]

    series = take(f.series)
    xk = take(f.x_key)
    y, nv = take(f.y), take(f.n)
    target = take(f.target)
    phase = None if f.phase is None else take(f.phase)
    excl = None if f.exclude is None else take(f.exclude)
    m = len(series)
    new = np.ones(m, dtype=bool)
    if m and not one_row_each:
        new[1:] = (series[1:] != series[:-1]) | (xk[1:] != xk[:-1])
    valid = ~np.isnan(y)
    if one_row_each or new.all():
        # one row per subgroup (the usual case): nothing to aggregate; as few new
        # arrays as can be (y itself is never changed, so it is also the mean; the
        # counts and sds the charts only read are one value, repeated without copies)
        every = valid.all()
        y_len = np.broadcast_to(1.0, (m,)) if every else valid.astype(float)
        n_sum = np.where(np.isnan(nv), 0.0, nv) if f.has_n and not f.n_whole else nv
        if f.has_n:
            with np.errstate(invalid="ignore", divide="ignore"):
                yp = np.divide(y if every else np.where(valid, y, 0.0), n_sum)
        elif agg == "sum":
            yp = y.copy() if every else np.where(valid, y, 0.0)
        elif agg == "sd":
            yp = np.full(m, np.nan)
        else:
            yp = y
        no_sd = np.broadcast_to(np.nan, (m,))
        as_given = order is None and isinstance(f.row, range)
        return _Subgroups(series, xk, yp, n_sum, y, y_len, y, no_sd, phase, excl, target, as_given)

    g = np.cumsum(new) - 1
    ng = int(g[-1]) + 1
    first = np.flatnonzero(new)
    rows = np.bincount(g, minlength=ng)
    y_len = np.bincount(g, weights=valid.astype(float), minlength=ng)
    total = seg_sum(y, g, ng)
    with np.errstate(invalid="ignore", divide="ignore"):
        y_mean = total / y_len
        dev = np.where(valid, y - y_mean[g], 0.0)
        y_sd = np.sqrt(np.bincount(g, weights=dev * dev, minlength=ng) / (y_len - 1))
    y_sd[y_len < 2] = np.nan
    # R: sum(y, na.rm = length(y) > 1) -- a lone missing value stays missing
    y_sum = np.where(rows > 1, total, y[first])
    if f.has_n:
        n_sum = seg_sum(nv, g, ng)
        with np.errstate(invalid="ignore", divide="ignore"):
            yp = total / n_sum
    else:
        n_sum = np.full(ng, np.nan)
        yp = {
            "mean": lambda: y_mean,
            "median": lambda: seg_nanmedian(y, g, ng),
            "sum": lambda: total,
            "sd": lambda: y_sd,
        }[agg]()
    if excl is not None:
        excl = np.bincount(g, weights=excl.astype(float), minlength=ng) > 0
    return _Subgroups(
        series[first],
        xk[first],
        yp,
        n_sum,
        y_sum,
        y_len,
        y_mean,
        y_sd,
        None if phase is None else phase[first],
        excl,
        target[first],
    )


def _order(series: IntArray, x_key: np.ndarray) -> tuple[IntArray | None, bool]:
    """The order of the rows by series, then x (None: they are in it already), and
    whether each row is then a subgroup of its own (no two rows share series and x)."""
    if len(series) < 2:
        return None, True
    if (series[1:] >= series[:-1]).all():
        # in series order: x must rise within each series (from one series to the next
        # it may do anything)
        change = np.flatnonzero(series[1:] != series[:-1])
        rises = np.greater(x_key[1:], x_key[:-1])
        rises[change] = True
        if rises.all():
            return None, True
        np.greater_equal(x_key[1:], x_key[:-1], out=rises)
        rises[change] = True
        if rises.all():
            return None, False
    return np.lexsort((x_key, series)), False


def _phases(sub: _Subgroups, baseline: int | None):  # type: ignore[no-untyped-def]
    """Phase numbers, segments (series × phase), baseline and include flags per subgroup."""
    series = sub.series
    m = len(series)
    include = np.ones(m, dtype=bool) if sub.exclude is None else ~sub.exclude
    if sub.phase is None:
        # one segment per series: the series ids themselves (0, 1, … in order)
        n_seg = int(series[-1]) + 1 if m else 0
        # (without a baseline the included points estimate the lines: the same flags)
        base = include if baseline is None else sub.position_in_phase_le(baseline, series) & include
        return np.ones(m, dtype=np.int64), series, n_seg, base, include
    new_series = np.ones(m, dtype=bool)
    if m:
        new_series[1:] = series[1:] != series[:-1]
    change = np.zeros(m, dtype=bool)
    change[1:] = sub.phase[1:] != sub.phase[:-1]
    change &= ~new_series
    new_seg = new_series | change
    seg = (np.cumsum(new_seg) - 1).astype(np.int64)
    n_seg = int(seg[-1]) + 1 if m else 0
    # phase number = segments since the start of the series, 1-based
    seg_start_of_series = np.maximum.accumulate(np.where(new_series, seg, 0))
    phase_id = seg - seg_start_of_series + 1
    base = sub.position_in_phase_le(baseline, seg)
    return phase_id, seg, n_seg, base & include, include


def _floor_lower_limits(out: dict[str, FloatArray], series: IntArray, n_series: int) -> None:
    """``y_neg=False``: negative lower limits become 0 in series whose values are all ≥ 0."""
    y = out["y"]
    neg = np.bincount(series, weights=(y < 0).astype(float), minlength=n_series) > 0
    fix = ~neg[series]
    for k in ("lcl", "lcl_95"):
        v = out[k]
        with np.errstate(invalid="ignore"):
            v[fix & (v < 0)] = 0.0

"""Chart types: how each computes its centre line and limits.

The registry :data:`CHART_TYPES` maps a chart key (``"p"``, ``"i"``, …) to a
:class:`ChartType`. Each entry's ``lines`` function receives a
:class:`ChartInput` (flat arrays of every point of every series × phase,
ordered by segment then x) and returns the :class:`ChartLines` of every point at
once. Adding a chart type is adding one entry here.

The formulas follow qicharts2 0.8.1 (``R/helper.functions.R``), documented in
``shared/reference/spc/SEMANTICS.md`` §1.4; references to the textbook formulas
(Montgomery, *Introduction to Statistical Quality Control*; Laney 2002; Provost &
Murray 2011) are given per chart. ``base`` points (in the baseline and not
excluded) estimate the lines; the lines are then drawn for every point of the
segment. Missing values are left out of the estimates, as R's ``na.rm = TRUE``.

Limits are at ±3 sigma and the inner ("95 %") limits at ±2 sigma. For the
moving-range based charts (I, T, P′, U′) sigma is the average moving range ×
``mr_sigma``, a constant of the rule set: 1/1.128 (qicharts2, d2 for n = 2) or
2.66/3 (NHS Making Data Count, whose limits are mean ± 2.66 × mean moving range).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qi._segments import (
    BoolArray,
    FloatArray,
    IntArray,
    mean_moving_range,
    seg_diffs,
    seg_nanmean,
    seg_nanmedian,
    seg_sd,
    seg_sum,
    spread,
)

#: Screening limit for moving ranges (Nelson 1982): D4 for n = 2.
MR_SCREEN = 3.267
#: qicharts2 screens the I′ chart's scaled moving ranges at this slightly different constant.
IP_SCREEN = 3.2665


@dataclass(frozen=True)
class ChartInput:
    """Every point of every segment (series × phase), ordered by segment then x.

    Attributes
    ----------
    seg : segment id of each point (non-decreasing), ``n_seg`` segments, the first
        point of each at ``starts``.
    y : the aggregated plotted value (a proportion or rate when ``n`` was given).
    n : summed denominator per point (NaN when the chart has none).
    y_sum, y_len, y_mean, y_sd : sum, number of non-missing values, mean and
        sample sd of the raw rows aggregated into each point.
    base : True where a point estimates the lines (in the baseline and included).
    cl_fixed : a centre line given by the user per segment (NaN: compute it).
    categorical_x : x is text, so there is no order (Laney charts then use sd(z)).
    screen_mr : screen moving ranges before averaging them.
    mr_sigma : sigma per unit of average moving range (rule-set constant).
    """

    seg: IntArray
    n_seg: int
    starts: IntArray
    y: FloatArray
    n: FloatArray
    y_sum: FloatArray
    y_len: FloatArray
    y_mean: FloatArray
    y_sd: FloatArray
    base: BoolArray
    cl_fixed: FloatArray
    categorical_x: bool
    screen_mr: bool
    mr_sigma: float

    def on_points(self) -> Callable[[np.ndarray], np.ndarray]:
        """Puts a per-segment value on every point of its segment (``per_seg[seg]``)."""
        return spread(self.seg, self.n_seg, self.starts)

    def centre(self, estimate: FloatArray) -> FloatArray:
        """The user's fixed centre line where given, else ``estimate`` (per segment)."""
        return np.where(np.isnan(self.cl_fixed), estimate, self.cl_fixed)


@dataclass(frozen=True)
class ChartLines:
    """Per point: plotted y, centre line, 3-sigma and 2-sigma limits (before ``multiply``).

    Every array but ``y`` is new, made for this result alone, so :func:`qi.spc` scales
    and tidies them in place (``y`` may be an input, and is copied).
    """

    y: FloatArray
    cl: FloatArray
    lcl: FloatArray
    ucl: FloatArray
    lcl_95: FloatArray
    ucl_95: FloatArray


@dataclass(frozen=True)
class ChartType:
    """One chart type of the registry.

    Attributes
    ----------
    key : the ``chart`` argument of :func:`qi.spc`.
    label : a name for people.
    needs_n : the chart needs a denominator column ``n``.
    counts : ``y`` holds counts (and ``n`` exposures or trials) that cannot be negative.
    proportion : ``y`` counts successes out of ``n`` trials, so ``y <= n``.
    positive_y : ``y`` must be strictly positive (time between events).
    takes_n : a denominator changes what is charted (``y``/``n``); False for charts of
        subgroup statistics (xbar, s), which read the rows' values themselves: a measure
        charted with one of them is charted without its denominators.
    lines : computes the :class:`ChartLines` of every point.
    description : what the chart is for and how its lines are computed.
    """

    key: str
    label: str
    needs_n: bool
    lines: Callable[[ChartInput], ChartLines]
    description: str
    counts: bool = False
    proportion: bool = False
    positive_y: bool = False
    takes_n: bool = True


def _nan(like: FloatArray) -> FloatArray:
    return np.full(like.shape, np.nan)


def _limits(
    ci: ChartInput,
    y: FloatArray,
    cl: FloatArray,
    sigma: FloatArray,
    *,
    floor: float | None = None,
    ceiling: float | None = None,
) -> ChartLines:
    """Centre ± 3 and ± 2 sigma, finite limits clamped to ``[floor, ceiling]``.

    Written with as few new arrays as can be (on many series each new array costs more
    than the arithmetic): ``sigma``, made for this call by every chart, becomes the
    upper inner limit.
    """
    with np.errstate(invalid="ignore"):
        ucl = np.multiply(sigma, 3.0)
        lcl = np.subtract(cl, ucl)
        np.add(cl, ucl, out=ucl)
        ucl_95 = np.multiply(sigma, 2.0, out=sigma)
        lcl_95 = np.subtract(cl, ucl_95)
        np.add(cl, ucl_95, out=ucl_95)
        if floor is not None or ceiling is not None:
            for v in (lcl, ucl, lcl_95, ucl_95):  # ±inf stays as it is
                if np.isfinite(np.add.reduce(v)):  # (a finite sum: none is ±inf)
                    np.clip(v, floor, ceiling, out=v)  # (cheaper than a masked clip)
                else:
                    np.clip(v, floor, ceiling, out=v, where=~np.isinf(v))
    return ChartLines(y, cl, lcl, ucl, lcl_95, ucl_95)


def _run(ci: ChartInput) -> ChartLines:
    cl = ci.centre(seg_nanmedian(ci.y, ci.seg, ci.n_seg, ci.base))[ci.seg]
    none = _nan(ci.y)
    return ChartLines(ci.y, cl, none, none.copy(), none.copy(), none.copy())


def _individuals(ci: ChartInput, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Centre (mean) and sigma (average moving range × mr_sigma) of an I chart of ``y``."""
    on_points = ci.on_points()
    cl = on_points(ci.centre(seg_nanmean(y, ci.seg, ci.n_seg, ci.base, ci.starts)))
    amr = mean_moving_range(
        y - cl, ci.seg, ci.n_seg, ci.base, screen=ci.screen_mr, starts=ci.starts
    )
    return cl, on_points(amr * ci.mr_sigma)


def _i(ci: ChartInput) -> ChartLines:
    cl, sigma = _individuals(ci, ci.y)
    return _limits(ci, ci.y, cl, sigma)


def _mr(ci: ChartInput) -> ChartLines:
    d, _ = seg_diffs(ci.y, ci.seg)
    y = np.full(ci.y.shape, np.nan)
    # the first point of each segment has no moving range
    first = np.r_[True, ci.seg[1:] != ci.seg[:-1]]
    y[~first] = np.abs(d)
    cl = ci.centre(seg_nanmean(y, ci.seg, ci.n_seg, ci.base, ci.starts))[ci.seg]
    zero = np.zeros_like(y)
    return ChartLines(y, cl, zero, MR_SCREEN * cl, zero.copy(), MR_SCREEN / 3 * 2 * cl)


def _c4(n: FloatArray) -> FloatArray:
    """Bias correction c4(n) of the sample sd (NaN for n ≤ 1)."""
    from scipy.special import gammaln  # scipy only for the charts of subgroup sds

    n = np.where(n > 1, n, np.nan)
    with np.errstate(invalid="ignore"):
        return np.sqrt(2 / (n - 1)) * np.exp(gammaln(n / 2) - gammaln((n - 1) / 2))


def _within_sd(ci: ChartInput) -> FloatArray:
    """Process sd per segment from subgroup sds (Montgomery 6.29 / 6.31).

    The mean of the subgroup sds when every subgroup of the segment has the same
    size, otherwise the pooled sd ``sqrt(Σ(n_i − 1) s_i² / Σ(n_i − 1))``.
    """
    seg, n_seg, base = ci.seg, ci.n_seg, ci.base
    first_len = ci.y_len[ci.starts]
    varies = seg_sum((ci.y_len != first_len[seg]).astype(float), seg, n_seg, None, ci.starts) > 0
    mean_sd = seg_nanmean(ci.y_sd, seg, n_seg, base, ci.starts)
    weighted = seg_sum((ci.y_len - 1) * ci.y_sd**2, seg, n_seg, base, ci.starts)
    dof = seg_sum(ci.y_len - 1, seg, n_seg, base, ci.starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.sqrt(weighted / dof)
    return np.where(varies, pooled, mean_sd)


def _xbar(ci: ChartInput) -> ChartLines:
    seg, n_seg, base = ci.seg, ci.n_seg, ci.base
    total = seg_sum(ci.y_len * ci.y_mean, seg, n_seg, base, ci.starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        cl = ci.centre(total / seg_sum(ci.y_len, seg, n_seg, base, ci.starts))[seg]
    sd = _within_sd(ci)[seg]
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = sd / (_c4(ci.y_len) * np.sqrt(np.where(ci.y_len > 1, ci.y_len, np.nan)))
    return _limits(ci, ci.y, cl, sigma)


def _s(ci: ChartInput) -> ChartLines:
    cl = ci.centre(_within_sd(ci))[ci.seg]
    c4 = _c4(ci.y_len)
    with np.errstate(invalid="ignore"):
        c5_c4 = np.sqrt(1 - c4**2) / c4
    return ChartLines(
        ci.y_sd,
        cl,
        _nan_max0(1 - 3 * c5_c4) * cl,
        (1 + 3 * c5_c4) * cl,
        _nan_max0(1 - 2 * c5_c4) * cl,
        (1 + 2 * c5_c4) * cl,
    )


def _nan_max0(v: FloatArray) -> FloatArray:
    """R's ``pmax(0, v)``: NaN stays NaN."""
    return np.where(np.isnan(v), np.nan, np.maximum(v, 0.0))


def _t(ci: ChartInput) -> ChartLines:
    yt = ci.y ** (1 / 3.6)
    cl, sigma = _individuals(ci, yt)
    i = _limits(ci, yt, cl, sigma)
    with np.errstate(invalid="ignore"):
        back = [np.power(v, 3.6) for v in (i.cl, i.lcl, i.ucl, i.lcl_95, i.ucl_95)]
    cl, lcl, ucl, lcl_95, ucl_95 = back
    lcl[np.isnan(lcl) | (lcl < 0)] = 0.0
    return ChartLines(ci.y, cl, lcl, ucl, lcl_95, ucl_95)


def _pooled_ratio(ci: ChartInput) -> FloatArray:
    """Σ numerators / Σ denominators over the base points, per segment."""
    seg, n_seg, base = ci.seg, ci.n_seg, ci.base
    with np.errstate(invalid="ignore", divide="ignore"):
        return ci.centre(
            seg_sum(ci.y_sum, seg, n_seg, base, ci.starts)
            / seg_sum(ci.n, seg, n_seg, base, ci.starts)
        )


def _binomial_sigma(cl: FloatArray, n: FloatArray) -> FloatArray:
    """sqrt(cl (1 − cl) / n), in one new array."""
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.subtract(1.0, cl)
        sigma *= cl
        sigma /= n
        return np.sqrt(sigma, out=sigma)


def _p(ci: ChartInput) -> ChartLines:
    cl = ci.on_points()(_pooled_ratio(ci))
    return _limits(ci, ci.y, cl, _binomial_sigma(cl, ci.n), floor=0.0, ceiling=1.0)


def _laney_sigma_z(ci: ChartInput, cl: FloatArray, sigma: FloatArray) -> FloatArray:
    """Laney's between-subgroup factor sigma_z per point (Laney 2002).

    z = (y − cl) / sigma over the base points; sigma_z is their average moving range ×
    ``mr_sigma`` (screened like an I chart), or their sd when x has no order.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (ci.y - cl) / sigma
    if ci.categorical_x:
        sz = seg_sd(z, ci.seg, ci.n_seg, ci.base)
    else:
        sz = mean_moving_range(z, ci.seg, ci.n_seg, ci.base, screen=ci.screen_mr, starts=ci.starts)
        sz *= ci.mr_sigma
    return sz[ci.seg]


def _pp(ci: ChartInput) -> ChartLines:
    cl = _pooled_ratio(ci)[ci.seg]
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.sqrt(cl * (1 - cl) / ci.n)
    return _limits(ci, ci.y, cl, sigma * _laney_sigma_z(ci, cl, sigma), floor=0.0, ceiling=1.0)


def _c(ci: ChartInput) -> ChartLines:
    y = ci.y_sum
    cl = ci.centre(seg_nanmean(y, ci.seg, ci.n_seg, ci.base, ci.starts))[ci.seg]
    with np.errstate(invalid="ignore"):
        return _limits(ci, y, cl, np.sqrt(cl), floor=0.0)


def _u(ci: ChartInput) -> ChartLines:
    cl = _pooled_ratio(ci)[ci.seg]
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.sqrt(cl / ci.n)
    return _limits(ci, ci.y, cl, sigma, floor=0.0)


def _up(ci: ChartInput) -> ChartLines:
    cl = _pooled_ratio(ci)[ci.seg]
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.sqrt(cl / ci.n)
    return _limits(ci, ci.y, cl, sigma * _laney_sigma_z(ci, cl, sigma), floor=0.0)


def _g(ci: ChartInput) -> ChartLines:
    seg = ci.seg
    mean = ci.centre(seg_nanmean(ci.y, seg, ci.n_seg, ci.base))[seg]
    with np.errstate(invalid="ignore"):
        lines = _limits(ci, ci.y, mean, np.sqrt(mean * (mean + 1)), floor=0.0)
    # the plotted centre is the median (Provost & Murray): observed, or 0.693 × a given mean
    median = seg_nanmedian(ci.y, seg, ci.n_seg, ci.base)
    cl = np.where(np.isnan(ci.cl_fixed), median, 0.693 * ci.cl_fixed)[seg]
    return ChartLines(ci.y, cl, lines.lcl, lines.ucl, lines.lcl_95, lines.ucl_95)


def _ip(ci: ChartInput) -> ChartLines:
    seg, n_seg, base = ci.seg, ci.n_seg, ci.base
    n = ci.n
    if np.isnan(n).all():
        n = ci.y_len
    with np.errstate(invalid="ignore", divide="ignore"):
        cl = ci.centre(
            seg_sum(ci.y * n, seg, n_seg, base, ci.starts) / seg_sum(n, seg, n_seg, base, ci.starts)
        )
    # Taylor's scaled moving ranges, over every point of the segment (not only the base)
    d, dseg = seg_diffs(ci.y, seg)
    same = seg[1:] == seg[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.sqrt((1 / n[:-1] + 1 / n[1:])[same])
        s = np.sqrt(np.pi / 2) * np.abs(d) / denom
        mean_s = seg_nanmean(s, dseg, n_seg)
        if ci.screen_mr:
            mean_s = seg_nanmean(s, dseg, n_seg, s < IP_SCREEN * mean_s[dseg])
        sigma = mean_s[seg] * np.sqrt(1 / n)
    return _limits(ci, ci.y, cl[seg], sigma)


CHART_TYPES: dict[str, ChartType] = {
    c.key: c
    for c in (
        ChartType(
            key="run",
            label="Run chart",
            needs_n=False,
            lines=_run,
            description="Points around the median; no control limits. Read with the runs rules.",
        ),
        ChartType(
            key="i",
            label="I chart (individuals)",
            needs_n=False,
            lines=_i,
            description="Centre = mean; sigma = average moving range / 1.128 (Montgomery 6.33).",
        ),
        ChartType(
            key="mr",
            label="MR chart (moving ranges)",
            needs_n=False,
            lines=_mr,
            description=(
                "Moving ranges |y_i − y_(i−1)|; centre = their mean; UCL = 3.267 × centre."
            ),
        ),
        ChartType(
            key="xbar",
            label="Xbar chart (subgroup means)",
            needs_n=False,
            takes_n=False,
            lines=_xbar,
            description=(
                "Centre = weighted grand mean; limits ± A3(n_i) × sd (Montgomery 6.29–6.31)."
            ),
        ),
        ChartType(
            key="s",
            label="S chart (subgroup standard deviations)",
            needs_n=False,
            takes_n=False,
            lines=_s,
            description="Centre = mean or pooled sd; limits B3(n_i), B4(n_i) × centre.",
        ),
        ChartType(
            key="t",
            label="T chart (time between events)",
            needs_n=False,
            lines=_t,
            description=(
                "I chart of y^(1/3.6), centre and limits transformed back (Provost & Murray)."
            ),
            positive_y=True,
        ),
        ChartType(
            key="p",
            label="P chart (proportion)",
            needs_n=True,
            lines=_p,
            description="Centre = Σy/Σn; sigma_i = sqrt(p(1 − p)/n_i); limits kept in [0, 1].",
            counts=True,
            proportion=True,
        ),
        ChartType(
            key="pp",
            label="P′ chart (Laney proportion)",
            needs_n=True,
            lines=_pp,
            description=(
                "P chart with sigma_i × sigma_z, the spread of z-scores between "
                "subgroups (Laney 2002)."
            ),
            counts=True,
            proportion=True,
        ),
        ChartType(
            key="c",
            label="C chart (count)",
            needs_n=False,
            lines=_c,
            description="Centre = mean count; sigma = sqrt(centre) (Montgomery 7.17).",
            counts=True,
        ),
        ChartType(
            key="u",
            label="U chart (rate)",
            needs_n=True,
            lines=_u,
            description="Centre = Σy/Σn; sigma_i = sqrt(u/n_i) (Montgomery 7.19).",
            counts=True,
        ),
        ChartType(
            key="up",
            label="U′ chart (Laney rate)",
            needs_n=True,
            lines=_up,
            description=(
                "U chart with sigma_i × sigma_z, the spread of z-scores between "
                "subgroups (Laney 2002)."
            ),
            counts=True,
        ),
        ChartType(
            key="g",
            label="G chart (opportunities between events)",
            needs_n=False,
            lines=_g,
            description="Limits from the mean m ± 3 sqrt(m(m + 1)); plotted centre = median.",
            counts=True,
        ),
        ChartType(
            key="ip",
            label="I′ chart (Taylor's normalised individuals)",
            needs_n=False,
            lines=_ip,
            description=(
                "Centre = Σ y_i n_i / Σ n_i; sigma_i from moving ranges scaled by sqrt(1/n)."
            ),
        ),
    )
}

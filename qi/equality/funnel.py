"""Funnel plots of units (teams, wards, trusts): :func:`funnel` and :class:`FunnelResult`.

Two families, chosen with ``style``:

``"spiegelhalter"`` (FunnelPlotR 0.6.0, ``funnel_plot``)
    Spiegelhalter's funnels with the overdispersion adjustment of Spiegelhalter
    et al. (2012): per-unit z-scores on a transformed scale (arcsine square
    root for proportions, log for SHMI ratios, square root for CQC ratios, log
    for ratios of counts), winsorised (or, for SHMI, truncated) before the
    dispersion φ and the between-unit variance τ² (DerSimonian–Laird) are
    estimated; limits inflated by τ² where φ > 1.
``"phe"`` (PHEindicatormethods 2.1.0, ``calculate_funnel_limits``,
``assign_funnel_significance``)
    Public Health England's Fingertips funnels: proportion limits by inverting
    the Wilson interval around the pooled proportion; rates and ratios judged by
    the unit's own exact/Byar interval against the average (or 1).

References
----------
Spiegelhalter DJ (2005). Funnel plots for comparing institutional performance.
Stat Med 24:1185–1202. Spiegelhalter DJ, Sherlaw-Johnson C, Bardsley M, et al.
(2012). Statistical methods for healthcare regulation: rating, screening and
surveillance. JRSS A 175:1–47. NHS Digital, SHMI methodology (truncation at 10 %).
Public Health England, Fingertips technical guidance: funnel plots.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd

from qi._checks import check_multiplier
from qi.equality import _exact
from qi.equality._lazy import special, stats

__all__ = [
    "LINES",
    "SIGNIFICANCE",
    "SR_METHODS",
    "STATISTICS",
    "STYLES",
    "FunnelResult",
    "funnel",
    "phe_poisson_limits",
    "phe_proportion_limit",
    "phe_ratio_curve",
]

STYLES = ("spiegelhalter", "phe")
#: Statistics of each style.
STATISTICS = {
    "spiegelhalter": ("proportion", "ratio", "ratio_of_counts"),
    "phe": ("proportion", "rate", "ratio"),
}
SR_METHODS = ("SHMI", "CQC")
#: FunnelPlotR hard-codes these two quantiles (not qnorm(0.975), qnorm(0.999)).
Z95, Z998 = 1.959964, 3.090232
#: The lines of ``FunnelResult.limits``.
LINES = ("target", "lcl95", "ucl95", "lcl998", "ucl998")
SIGNIFICANCE = ("High (0.001)", "High (0.025)", "Low (0.001)", "Low (0.025)", "Not significant")


@dataclass(frozen=True)
class FunnelResult:
    """The result of :func:`funnel`.

    Attributes
    ----------
    points : pandas.DataFrame
        One row per unit, sorted by group: ``group``; ``numerator``,
        ``denominator`` (summed over the unit's rows; SHMI expected counts after
        rounding); ``value`` (numerator/denominator × multiplier; for SHMI with
        rounding, O/E with E as given, as FunnelPlotR 0.6.0 computes it before
        rounding, while z, φ, τ² and the limits use the rounded E); ``lcl95``,
        ``ucl95``, ``lcl998``, ``ucl998`` (the limits the unit is judged by, ×
        multiplier: Spiegelhalter funnels at the unit's denominator, adjusted
        when :attr:`adjusted`; PHE proportion funnels at the unit's
        denominator; PHE rate and ratio: the unit's own interval); ``outlier``
        (outside the 99.8 % limits; a value on a limit is inside). Spiegelhalter
        style adds ``z`` (the unadjusted z-score), ``z_adjusted`` (z/√(1 + τ²s⁻²),
        equal to z when not adjusted) and ``trimmed`` (winsorised or truncated
        before φ was estimated); PHE style adds ``significance`` (``"High
        (0.001)"``, ``"High (0.025)"``, ``"Low (0.001)"``, ``"Low (0.025)"``,
        ``"Not significant"``).
    limits : pandas.DataFrame
        The funnel for drawing, long: ``line`` (``target``, ``lcl95``,
        ``ucl95``, ``lcl998``, ``ucl998``), ``denominator``, ``value`` (×
        multiplier), sorted by line then denominator; a grid of 200 denominators
        plus every unit's (for PHE ratios and rates, a curve parametrised by the
        observed count, as PHEindicatormethods draws it).
    phi, tau2 : float
        Spiegelhalter style: the dispersion ratio φ and between-unit variance τ²,
        estimated whether or not the limits use them (FunnelPlotR reports 0 when
        ``draw_adjusted = FALSE``; here they are always the estimates). NaN for
        PHE style.
    target : float
        The centre line before the multiplier: 1 for ratios, the pooled
        proportion or ratio Σnumerator/Σdenominator otherwise (PHE rates: the
        average rate per unit of denominator).
    adjusted : bool
        True when the limits are inflated for overdispersion (asked for, and
        φ > 1).
    statistic, style, sr_method : str
        As given (``sr_method`` only means something for Spiegelhalter ratios).
    multiplier : float
        As given.
    """

    points: pd.DataFrame
    limits: pd.DataFrame
    phi: float
    tau2: float
    target: float
    adjusted: bool
    statistic: str
    style: str
    sr_method: str
    multiplier: float


def funnel(
    data: pd.DataFrame,
    *,
    group: str,
    numerator: str,
    denominator: str,
    statistic: str = "proportion",
    overdispersion: bool = False,
    trim: float = 0.1,
    sr_method: str = "SHMI",
    shmi_rounding: bool = True,
    multiplier: float = 1,
    style: str = "spiegelhalter",
) -> FunnelResult:
    """A funnel plot of units: each unit's value against limits that narrow with its size.

    Parameters
    ----------
    data : pandas.DataFrame
        One or more rows per unit (rows of a unit are summed, as FunnelPlotR
        aggregates by group).
    group : str
        Column naming the unit (team, ward, trust).
    numerator, denominator : str
        Columns of counts and denominators: events and people for a proportion;
        observed and expected counts for a ratio (indirectly standardised, O/E);
        two counts for a ratio of counts; events and person-time for a PHE rate.
    statistic : str
        Spiegelhalter style: ``"proportion"`` (FunnelPlotR ``PR``), ``"ratio"``
        (``SR``), ``"ratio_of_counts"`` (``RC``). PHE style: ``"proportion"``,
        ``"rate"`` (crude), ``"ratio"``.
    overdispersion : bool
        Spiegelhalter style: inflate the limits by τ² when φ > 1 (FunnelPlotR
        ``draw_adjusted``). With φ ≤ 1 the unadjusted limits are used, as
        FunnelPlotR does.
    trim : float
        Share of each tail winsorised (SHMI: truncated) before φ is estimated
        (FunnelPlotR ``trim_by``), in [0, 0.5).
    sr_method : {"SHMI", "CQC"}
        Spiegelhalter ratios: log scale with truncation (SHMI) or square-root
        scale with winsorisation (CQC).
    shmi_rounding : bool
        SHMI ratios: round expected counts to 2 dp (with R's ``round``) first.
    multiplier : float
        Scale of values and limits (100 for percentages).
    style : {"spiegelhalter", "phe"}
        Which family of funnels.

    Returns
    -------
    FunnelResult
        ``.points`` (one row per unit), ``.limits`` (lines for drawing),
        ``.phi``, ``.tau2``, ``.target``, ``.adjusted``; see
        :class:`FunnelResult`.

    Raises
    ------
    ValueError
        For a missing or non-numeric column, a negative numerator, a
        denominator ≤ 0 (expected counts and populations must be positive), a
        numerator above its denominator for a proportion, no rows, or an option
        outside its documented values.

    Notes
    -----
    CQC ratio limits are FunnelPlotR's: drawn on the square-root scale and
    compared with O/E unsquared (nhs-r-community/FunnelPlotR#33), reproduced for
    parity with the package and its published outputs; the adjusted z-scores in
    ``z_adjusted`` are on the right scale.
    """
    _check_options(statistic, style, sr_method, trim, multiplier)
    agg = _aggregate(data, group, numerator, denominator, statistic, style)
    m = float(multiplier)
    if style == "phe":
        return _phe(agg, statistic, m, sr_method)
    return _spiegelhalter(agg, statistic, bool(overdispersion), float(trim), sr_method,
                          bool(shmi_rounding), m)  # fmt: skip


def _check_options(
    statistic: object, style: object, sr_method: object, trim: object, multiplier: object
) -> None:
    if style not in STYLES:
        raise ValueError(
            f"The 'style' argument of qi.equality.funnel must be one of {STYLES}; got {style!r}."
        )
    if statistic not in STATISTICS[str(style)]:
        raise ValueError(
            f"The 'statistic' argument of qi.equality.funnel must be one of "
            f"{STATISTICS[str(style)]} with style={style!r}; got {statistic!r}."
        )
    if sr_method not in SR_METHODS:
        raise ValueError(
            f"The 'sr_method' argument of qi.equality.funnel must be one of {SR_METHODS}; "
            f"got {sr_method!r}."
        )
    if isinstance(trim, bool) or not isinstance(trim, Real) or not 0 <= float(trim) < 0.5:
        raise ValueError(
            f"The 'trim' argument of qi.equality.funnel must be a number in [0, 0.5); got {trim!r}."
        )
    check_multiplier(multiplier, "funnel")


def _aggregate(
    data: pd.DataFrame, group: str, numerator: str, denominator: str, statistic: str, style: str
) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(
            f"qi.equality.funnel needs a pandas DataFrame as data; got {type(data).__name__}."
        )
    for arg, col in (("group", group), ("numerator", numerator), ("denominator", denominator)):
        if col not in data.columns:
            raise ValueError(
                f"The '{arg}' argument of qi.equality.funnel names column {col!r}, which is not "
                f"in data (columns: {list(data.columns)})."
            )
    frame = pd.DataFrame({"group": data[group].to_numpy()})
    for arg, col in (("numerator", numerator), ("denominator", denominator)):
        values = pd.to_numeric(data[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"qi.equality.funnel: column {col!r} ('{arg}') must hold finite numbers; "
                f"row {data.index[i]!r} holds {data[col].iloc[i]!r}."
            )
        frame[arg] = values.to_numpy(dtype=float)
    if frame["group"].isna().any():
        raise ValueError(f"qi.equality.funnel: column {group!r} ('group') has missing values.")
    if frame.empty:
        raise ValueError("qi.equality.funnel needs at least one row of data.")
    agg = frame.groupby("group", sort=True)[["numerator", "denominator"]].sum().reset_index()
    for i, row in agg.iterrows():
        if row["numerator"] < 0:
            raise ValueError(
                f"qi.equality.funnel: column {numerator!r} ('numerator') must not be negative; "
                f"group {agg.at[i, 'group']!r} sums to {row['numerator']!r}."
            )
        if row["denominator"] <= 0:
            raise ValueError(
                f"qi.equality.funnel: column {denominator!r} ('denominator') must be positive; "
                f"group {agg.at[i, 'group']!r} sums to {row['denominator']!r}."
            )
        if statistic == "proportion" and row["numerator"] > row["denominator"]:
            raise ValueError(
                f"qi.equality.funnel: for a proportion, {numerator!r} must not exceed "
                f"{denominator!r}; group {agg.at[i, 'group']!r} has {row['numerator']!r} of "
                f"{row['denominator']!r}."
            )
    return agg


# --------------------------------------------------------------------------------------
# Spiegelhalter (FunnelPlotR)


def _z_scores(
    o: np.ndarray, e: np.ndarray, statistic: str, sr_method: str, target: float
) -> tuple[np.ndarray, np.ndarray]:
    """(z, s) as FunnelPlotR ``transformed_zscore`` (``R/od_adjustment.R``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if statistic == "ratio" and sr_method == "SHMI":
            s = 1 / np.sqrt(e)
            return np.sqrt(e) * np.log(o / e), s
        if statistic == "ratio":  # CQC
            y, t, s = np.sqrt(o / e), 1.0, 1 / (2 * np.sqrt(e))
        elif statistic == "proportion":
            y, t, s = np.arcsin(np.sqrt(o / e)), np.arcsin(np.sqrt(target)), 1 / (2 * np.sqrt(e))
        else:  # ratio of counts
            y = np.log((o + 0.5) / (e + 0.5))
            t = np.log(target)
            s = np.sqrt(o / (o + 0.5) ** 2 + e / (e + 0.5) ** 2)
        return (y - t) / s, s


def _trim(z: np.ndarray, trim: float, truncate: bool) -> tuple[np.ndarray, np.ndarray]:
    """(z used for φ with NaN where dropped, trimmed flag): winsorise or truncate."""
    if truncate:  # FunnelPlotR ``truncation``: SHMI drops about trim of each tail
        k = 1 / trim if trim > 0 else np.inf
        rank = stats.rankdata(z, method="average")
        with np.errstate(invalid="ignore"):
            sp = np.floor(rank * k / (len(z) + 1))
        trimmed = ~((sp > 0) & (sp < k - 1))
        return np.where(trimmed, np.nan, z), trimmed
    lz = _exact.r_quantile7(z, trim)
    uz = _exact.r_quantile7(z, 1 - trim)
    trimmed = ~((z > lz) & (z < uz))
    return np.where(z < lz, lz, np.where(z > uz, uz, z)), trimmed


def _phi_tau2(zw: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """φ = Σz²/n and the DerSimonian–Laird τ² (FunnelPlotR ``phi_func``, ``tau_func``)."""
    kept = ~np.isnan(zw)
    n = float(kept.sum())
    if n == 0:
        return float("nan"), 0.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        phi = float((1 / n) * np.sum(zw[kept] ** 2))
        if n * phi < n - 1:
            return phi, 0.0
        w = 1 / s[kept] ** 2
        tau2 = max(0.0, float((n * phi - (n - 1)) / (np.sum(w) - np.sum(w**2) / np.sum(w))))
    return phi, tau2 if np.isfinite(tau2) else 0.0


def _spiegelhalter_limits(
    den: np.ndarray, statistic: str, sr_method: str, target: float, tau2: float,
    adjusted: bool, multiplier: float,
) -> dict[str, np.ndarray]:  # fmt: skip
    """The four limits at each denominator (FunnelPlotR ``calculate_limits``)."""
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        if statistic == "ratio" and not adjusted:  # exact Poisson on E via chi-square
            for name, z_side in (("95", 0.05), ("998", 0.002)):
                lo = stats.chi2.isf(1 - z_side / 2, 2 * den) / 2 / den
                hi = stats.chi2.isf(z_side / 2, 2 * (den + 1)) / 2 / den
                out["lcl" + name] = multiplier * target * lo
                out["ucl" + name] = multiplier * target * hi
            return out
        tau = tau2 if adjusted else 0.0
        s2 = (1 / (2 * np.sqrt(den))) ** 2
        for name, z in (("95", Z95), ("998", Z998)):
            if statistic == "ratio" and sr_method == "SHMI":
                sd = np.sqrt((1 / den) + tau)
                lo, hi = np.exp(-z * sd), np.exp(z * sd)
            elif statistic == "ratio":  # CQC: left on the square-root scale (FunnelPlotR#33)
                sd = np.sqrt(s2 + tau)
                lo, hi = 1 - (z * sd), 1 + (z * sd)
            elif statistic == "ratio_of_counts":
                sd = np.sqrt(s2 + tau)
                lo, hi = np.exp(np.log(target) - (z * sd)), np.exp(np.log(target) + (z * sd))
            else:  # proportion: arcsine scale, clipped to [0, 1] where it folds over
                sd = np.sqrt(s2 + tau)
                centre = np.arcsin(np.sqrt(target))
                lo = np.where(centre - z * sd < 0, 0.0, np.sin(centre - z * sd) ** 2)
                hi = np.where(centre + z * sd > np.pi / 2, 1.0, np.sin(centre + z * sd) ** 2)
            out["lcl" + name] = multiplier * lo
            out["ucl" + name] = multiplier * hi
    return out


def _grid(den: np.ndarray, start: float) -> np.ndarray:
    """200 denominators from ``start`` to a little past the largest, plus every unit's."""
    top = max(float(np.max(den)) * 1.1, start * 2)
    low = max(min(start, float(np.min(den))), 1e-9)
    grid = np.geomspace(low, top, 200)
    return np.unique(np.concatenate([grid, den]))


def _long_limits(den: np.ndarray, target: float, lines: dict[str, np.ndarray]) -> pd.DataFrame:
    frames = [pd.DataFrame({"line": "target", "denominator": den, "value": target})]
    frames += [
        pd.DataFrame({"line": name, "denominator": den, "value": lines[name]}) for name in LINES[1:]
    ]
    return pd.concat(frames, ignore_index=True)


def _spiegelhalter(
    agg: pd.DataFrame, statistic: str, overdispersion: bool, trim: float, sr_method: str,
    shmi_rounding: bool, multiplier: float,
) -> FunnelResult:  # fmt: skip
    o = agg["numerator"].to_numpy(float)
    e = e_given = agg["denominator"].to_numpy(float)
    shmi = statistic == "ratio" and sr_method == "SHMI"
    if shmi and shmi_rounding:
        e = _exact.r_round(e, 2)
        if (e <= 0).any():
            g = agg["group"].iloc[int(np.flatnonzero(e <= 0)[0])]
            raise ValueError(
                f"qi.equality.funnel: group {g!r} has an expected count that rounds to 0 with "
                "shmi_rounding=True."
            )
    target = 1.0 if statistic == "ratio" else float(np.sum(o) / np.sum(e))
    z, s = _z_scores(o, e, statistic, sr_method, target)
    zw, trimmed = _trim(z, trim, truncate=shmi)
    phi, tau2 = _phi_tau2(zw, s)
    adjusted = bool(overdispersion and phi > 1)
    lim = _spiegelhalter_limits(e, statistic, sr_method, target, tau2, adjusted, multiplier)
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = o / e_given  # FunnelPlotR 0.6.0 takes O/E before rounding E (aggregate_func)
        value = rr * multiplier
        z_adj = z / np.sqrt(1 + (tau2 if adjusted else 0.0) / s**2)
    outlier = (value < lim["lcl998"]) | (value > lim["ucl998"])
    points = pd.DataFrame(
        {
            "group": agg["group"].to_numpy(),
            "numerator": o,
            "denominator": e,
            "value": value,
            **lim,
            "outlier": outlier,
            "z": z,
            "z_adjusted": z_adj,
            "trimmed": trimmed,
        }
    )
    grid = _grid(e, 1.1 if statistic == "ratio" else 3.0)
    lines = _spiegelhalter_limits(grid, statistic, sr_method, target, tau2, adjusted, multiplier)
    limits = _long_limits(grid, target * multiplier, lines)
    return FunnelResult(points, limits, phi, tau2, target, adjusted, statistic, "spiegelhalter",
                        sr_method, multiplier)  # fmt: skip


# --------------------------------------------------------------------------------------
# PHE (PHEindicatormethods)


def phe_proportion_limit(p: float, population: np.ndarray, average: float, side: str) -> np.ndarray:
    """PHEindicatormethods ``sigma_adjustment`` (multiplier 1), in its own arithmetic.

    The proportion at ``population`` whose Wilson bound at ``p`` (0.975 or
    0.999) equals ``average``: the lower funnel limit for ``side="low"``.
    """
    q2 = special.ndtri(p) ** 2
    n = np.asarray(population, dtype=float)
    if average in (0.0, 1.0):
        # every unit at 0 % (or 100 %): the funnel is the line itself; the formula
        # would get there only through cancellation, a few 1e-8 off
        return np.full(n.shape, float(average))
    first = average * (n / q2 + 1)
    disc = (-8 * average * (n / q2 + 1)) ** 2 - 64 * (1 / q2 + 1 / n) * average * (
        n * (average * (n / q2 + 2) - 1) + q2 * (average - 1)
    )
    # ≥ 0 in exact arithmetic for 0 ≤ average ≤ 1; at average = 1 rounding can make
    # it a hair negative, where R returns NaN: take it as 0 (the limit is then 1)
    adj = np.sqrt(np.maximum(disc, 0.0))
    last = 1 / q2 + 1 / n
    out = (first - adj / 8) / last if side == "low" else (first + adj / 8) / last
    return out / n


def phe_poisson_limits(observed: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray]:
    """Limits of a count as PHEindicatormethods ``funnel_ratio_significance`` (× expected)."""
    lower, upper, _ = _exact.poisson_count_limits(observed, conf)
    return lower, upper


def _significance(conditions: list[np.ndarray]) -> np.ndarray:
    """PHE's ``case_when``: the first true condition of High (0.001), High (0.025),
    Low (0.001), Low (0.025) names the unit, else Not significant."""
    return np.select(conditions, list(SIGNIFICANCE[:4]), SIGNIFICANCE[4]).astype(object)


def phe_ratio_curve(observed: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray]:
    """Expected counts at which ``observed`` is on the lower and upper ratio funnel.

    PHEindicatormethods ``poisson_funnel`` finds them by bisection (to 1e-7);
    here in closed form: the exact Poisson limits of the count, from the
    chi-square distribution. Returns ``(expected_lower_line, expected_upper_line)``;
    the funnel limits are ``observed / expected``.
    """
    o = np.asarray(observed, dtype=float)
    alpha = 1 - conf
    with np.errstate(divide="ignore", invalid="ignore"):
        e_low_line = stats.chi2.ppf(1 - alpha / 2, 2 * (o + 1)) / 2
        e_high_line = np.where(o > 0, stats.chi2.ppf(alpha / 2, 2 * o) / 2, 0.0)
    return e_low_line, e_high_line


def _phe(agg: pd.DataFrame, statistic: str, multiplier: float, sr_method: str) -> FunnelResult:
    o = agg["numerator"].to_numpy(float)
    n = agg["denominator"].to_numpy(float)
    points = pd.DataFrame({"group": agg["group"].to_numpy(), "numerator": o, "denominator": n})
    if statistic == "proportion":
        average = float(np.sum(o) / np.sum(n))
        lim1 = {
            "lcl95": phe_proportion_limit(0.975, n, average, "low"),
            "ucl95": phe_proportion_limit(0.975, n, average, "high"),
            "lcl998": phe_proportion_limit(0.999, n, average, "low"),
            "ucl998": phe_proportion_limit(0.999, n, average, "high"),
        }
        value1 = o / n
        # proportion: the unit's value against the funnel; Low is tested first
        low998, low95 = value1 < lim1["lcl998"], value1 < lim1["lcl95"]
        sig = _significance([
            ~low998 & ~low95 & (value1 > lim1["ucl998"]),
            ~low998 & ~low95 & (value1 > lim1["ucl95"]),
            low998,
            low95,
        ])  # fmt: skip
        target = average
        grid = _grid(n, 1.0)
        lines = {
            k: np.clip(
                multiplier * phe_proportion_limit(p, grid, average, side), 0.0, multiplier
            )
            for k, p, side in (
                ("lcl95", 0.975, "low"), ("ucl95", 0.975, "high"),
                ("lcl998", 0.999, "low"), ("ucl998", 0.999, "high"),
            )
        }  # fmt: skip
        limits = _long_limits(grid, average * multiplier, lines)
    else:
        if statistic == "rate":
            rate = o / n * multiplier
            with np.errstate(divide="ignore", invalid="ignore"):
                derived = np.where(o == 0, n, o / rate * multiplier)
            target = float(np.sum(o) / np.sum(derived))
            centre = target
        else:
            derived = n
            target = centre = 1.0
        lim1 = {}
        for name, conf in (("95", 0.95), ("998", 0.998)):
            lower, upper = phe_poisson_limits(o, conf)
            lim1["lcl" + name] = lower / derived
            lim1["ucl" + name] = upper / derived
        # rate and ratio: the average (or 1) against the unit's own interval
        sig = _significance([
            centre < lim1["lcl998"],
            centre < lim1["lcl95"],
            centre > lim1["ucl998"],
            centre > lim1["ucl95"],
        ])  # fmt: skip
        value1 = o / n
        limits = _phe_poisson_limits_frame(o, target, multiplier)
    points["value"] = value1 * multiplier
    for k, v in lim1.items():
        points[k] = v * multiplier
    points["outlier"] = (points["value"] < points["lcl998"]) | (points["value"] > points["ucl998"])
    points["significance"] = sig
    return FunnelResult(points, limits, float("nan"), float("nan"), target, False, statistic,
                        "phe", sr_method, multiplier)  # fmt: skip


def _phe_poisson_limits_frame(o: np.ndarray, target: float, multiplier: float) -> pd.DataFrame:
    """Ratio and rate funnels as PHE draws them: a curve parametrised by the count."""
    top = max(float(np.max(o)) * 1.1, 10.0)
    observed = np.unique(np.concatenate([np.geomspace(1, top, 200), o[o > 0]]))
    frames = []
    for name, conf in (("95", 0.95), ("998", 0.998)):
        e_low, e_high = phe_ratio_curve(observed, conf)
        # at expected count E = e_low/target the count `observed` sits on the lower line
        for line, e in (("lcl" + name, e_low), ("ucl" + name, e_high)):
            ok = e > 0
            frames.append(pd.DataFrame({
                "line": line,
                "denominator": e[ok] / target,
                "value": observed[ok] / e[ok] * target * multiplier,
            }))  # fmt: skip
    den = np.unique(np.concatenate([f["denominator"].to_numpy() for f in frames]))
    frames.insert(0, pd.DataFrame({"line": "target", "denominator": den,
                                   "value": target * multiplier}))  # fmt: skip
    out = pd.concat(frames, ignore_index=True)
    order = out["line"].map({k: i for i, k in enumerate(LINES)})
    return (
        out.assign(_o=order)
        .sort_values(["_o", "denominator"], kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )

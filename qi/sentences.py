"""A chart in a sentence: what the rules found in each series, in plain English.

:func:`sentences` reads many series at once and gives one row per series with the
facts a sentence is made of (documented in :data:`SENTENCE_COLUMNS`) and the
``sentence`` itself. Nothing is written by hand and nothing is claimed beyond what a
rule found:

* the **variation** and **assurance** are the chart's own Making Data Count icons
  (:attr:`qi.measures.Charted.icons`, the reading the board shows), so a sentence and
  its icons cannot disagree: a special cause of improvement is said as a fall or a rise
  in the better direction, one of concern in the worse direction, a neutral one as
  higher or lower than usual, and common cause as no significant change;
* the special cause is dated from the first point of the run of points of the same
  kind that ends at the latest one (``signal_from``, ``months`` long), and is said to
  come "after PDSA k of <change idea>" only when it starts in or after the month that
  cycle of the series started — "after", never "because of";
* where a change was logged on the series and the chart's latest months are common
  cause, the holding-the-gains check (:func:`qi.accountability.holding_gains`: the
  months after the change against the lines of the months before it) says whether an
  improvement came, when, and whether it held (sustained, holding, at risk), or that no
  signal came;
* the gap to the reference group (:func:`gap_change`: the ratio of rates, or of
  proportions, with its 95% interval, over the earliest and the latest 12 months) is
  said to have narrowed or widened only when the two intervals do not overlap;
* too few points for the rules' limits (Making Data Count flags a phase of fewer than
  13) is said as such, with no reading of the variation;
* a value that the disclosure rule hides (:mod:`qi.disclosure`) is never written: the
  sentence says it is not shown.

Example (a notebook)::

    from qi import screens
    chart = screens.team_chart(snap, unit="Willow Ward", measure="restraint_per_1000_obd",
                               groups=["Black"])
    chart.summary()["sentence"].iloc[0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from qi import periods
from qi.charts import CHART_TYPES
from qi.disclosure import THRESHOLD, hidden
from qi.rules.mdc import SHORT_GROUP
from qi.words import ASSURANCE, decimals_for

#: Periods after a change before "no signal" may be said of it: a shift's length (Making
#: Data Count's 7); fewer, and it is too early to tell.
TOO_EARLY = 7

#: The columns of :func:`sentences` (after the series' keys ``unit``, ``measure``,
#: ``group``).
SENTENCE_COLUMNS = (
    "measure_name",  # the measure's name
    "variation",  # the latest point's Making Data Count point type (the icon's)
    "assurance",  # consistent_pass / consistent_fail / inconsistent, or None
    "enough_data",  # the latest phase has enough points for the rules' limits
    "points",  # points in the latest phase
    "signal_from",  # first period of the special cause the latest point is in (or NaT)
    "months",  # periods in that special cause (0 for common cause)
    "latest",  # the latest value (NaN where hidden)
    "latest_period",  # its period
    "latest_hidden",  # the disclosure rule hides the latest value
    "change",  # "PDSA k of <idea>" the signal came after, or None
    "gains",  # holding the gains of the series' latest change (or None)
    "gains_from",  # when its improvement started (NaT: none)
    "gains_concern_from",  # when it came at risk (NaT: not at risk)
    "gains_change",  # "PDSA k of <idea>" that improvement came after
    "gap_reference",  # the group compared with
    "gap_before",  # the ratio over the earliest months (NaN: none)
    "gap_now",  # the ratio over the latest months
    "gap_low",  # 95% interval of gap_now
    "gap_high",
    "gap_trend",  # "narrowed", "widened", "no clear change", or None (one window only)
    "gap_hidden",  # the disclosure rule hides the counts behind a gap
    "sentence",
)
#: Months in each window of :func:`gap_change`.
GAP_MONTHS = 12
#: The group whose row is everyone.
ALL = "All"

_KEYS = ["unit", "measure", "group"]


# --------------------------------------------------------------------------- words


def period_words(value, frequency: str = "month") -> str:
    """A period as a sentence writes it: "April 2025", "2024/25 Q1", "2024/25"."""
    if value is None or pd.isna(value):
        return ""
    if frequency == "month":
        return f"{pd.Timestamp(value):%B %Y}"
    return periods.label(value, frequency)


def _plural(n: int, frequency: str) -> str:
    noun = periods.NOUNS.get(frequency, "month")
    return f"{n} {noun}{'s' if n != 1 else ''}"


def number_words(value: float, unit: str, decimals: int | None) -> str:
    """A value with its unit, as the board's tables round it ("17.8 per 1,000 occupied
    bed days", "52.2%"; ``decimals`` None: as few as it needs, for a target)."""
    text = f"{float(value):,g}" if decimals is None else f"{float(value):,.{decimals}f}"
    if not unit:
        return text
    return text + unit if unit.startswith("%") else f"{text} {unit}"


def lower_first(name: str) -> str:
    """``name`` to start a clause: its first letter lowered unless it is an acronym."""
    if len(name) > 1 and name[0].isupper() and not name[1].isupper():
        return name[0].lower() + name[1:]
    return name


def _quoted(idea: str, limit: int = 80) -> str:
    idea = " ".join(str(idea).split())
    if len(idea) > limit:
        idea = idea[: limit - 1].rsplit(" ", 1)[0] + "…"
    return f"“{idea}”"


# --------------------------------------------------------------------------- facts


def _mdc_points(charted) -> pd.DataFrame:
    frames = [r.mdc().points for r in charted.results]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _with_keys(frame: pd.DataFrame, unit: str | None, measure: str | None) -> pd.DataFrame:
    extra = {}
    if "unit" not in frame and unit is not None:
        extra["unit"] = unit
    if "measure" not in frame and measure is not None:
        extra["measure"] = measure
    if "group" not in frame:
        extra["group"] = ALL
    return frame.assign(**extra) if extra else frame


def _latest_runs(points: pd.DataFrame) -> pd.DataFrame:
    """Per series: the latest phase's size, and the run of points of the latest point's
    kind that ends at it (first period and length).

    One sorted pass: the points ordered by series and ``x`` (stable), a run or a phase
    starts wherever the series, the phase or the kind changes, and each is read at its
    first and last positions."""
    if points.empty:
        return _latest_runs_empty()
    key = points.groupby(_KEYS, sort=False, dropna=False, observed=True).ngroup().to_numpy()
    x = points["x"].to_numpy()
    order = np.lexsort((x, key))  # by series, then x; equal x keep their order
    key, x = key[order], x[order]
    kind = points["point_type"]
    kind = kind.cat.codes if isinstance(kind.dtype, pd.CategoricalDtype) else pd.factorize(kind)[0]
    kind = np.asarray(kind)[order]
    phase = points["phase"].to_numpy()[order] if "phase" in points else np.ones(len(order))
    series_starts = np.r_[True, key[1:] != key[:-1]]
    phase_starts = series_starts | np.r_[True, phase[1:] != phase[:-1]]
    run_starts = phase_starts | np.r_[True, kind[1:] != kind[:-1]]
    last = np.flatnonzero(np.r_[series_starts[1:], True])  # each series' last point

    def start_of(starts: np.ndarray) -> np.ndarray:
        """The position where the segment holding each series' last point starts."""
        begun = np.flatnonzero(starts)
        return begun[np.searchsorted(begun, last, side="right") - 1]

    run_from, phase_from, series_from = start_of(run_starts), start_of(phase_starts), \
        start_of(series_starts)  # fmt: skip
    short = (
        points["short_group_warning"].to_numpy()[order][last].astype(bool)
        if "short_group_warning" in points
        else np.zeros(len(last), dtype=bool)
    )
    return pd.DataFrame(
        {
            "signal_from": x[run_from],
            "months": last - run_from + 1,
            "points": last - phase_from + 1,
            "phase_from": x[phase_from],
            "first_period": x[series_from],
            "short": short,
        },
        index=pd.MultiIndex.from_frame(points[_KEYS].iloc[order[last]]),
    )


def _latest_runs_empty() -> pd.DataFrame:
    cols = ["signal_from", "months", "points", "phase_from", "first_period", "short"]
    return pd.DataFrame(columns=cols, index=pd.MultiIndex.from_arrays([[]] * 3, names=_KEYS))


def _cycle_months(cycles: pd.DataFrame | None) -> pd.DataFrame:
    """Each PDSA cycle with the month (first day) it started and the series it is on."""
    cols = ["unit", "measure", "group", "change_idea", "cycle", "month"]
    if cycles is None or cycles.empty:
        return pd.DataFrame(columns=cols)
    c = cycles.dropna(subset=["start"]).copy()
    c["group"] = c["group"].fillna("").replace("", ALL) if "group" in c else ALL
    c["month"] = pd.to_datetime(c["start"]).dt.to_period("M").dt.to_timestamp()
    c = c.rename(columns={"team": "unit"})
    return c[cols]


def _cycle_before(frame: pd.DataFrame, when: str, cycles: pd.DataFrame, idea: str | None = None):
    """Per row of ``frame`` (``_KEYS`` and the date column ``when``): "PDSA k of <idea>",
    the latest cycle of the series (of ``idea``'s column when given) that started in or
    before the month of ``when``, or None."""
    out = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    if cycles.empty or frame.empty:
        return out
    left = frame[[*_KEYS, when] + ([idea] if idea else [])].reset_index()
    left = left[left[when].notna()]
    hit = left.merge(cycles, on=_KEYS)
    if idea:
        hit = hit[hit["change_idea"] == hit[idea]]
    month = pd.to_datetime(hit[when]).dt.to_period("M").dt.to_timestamp()
    hit = hit[hit["month"] <= month]
    if hit.empty:
        return out
    best = hit.sort_values(["month", "cycle"]).groupby("index").tail(1).set_index("index")
    words = [
        (f"PDSA {int(c)}" if idea else f"PDSA {int(c)} of {_quoted(i)}")
        if pd.notna(c)
        else ("" if idea else _quoted(i))
        for c, i in zip(best["cycle"], best["change_idea"], strict=True)
    ]
    out.loc[best.index] = words
    return out


def gap_change(
    series: pd.DataFrame,
    measures: pd.DataFrame,
    *,
    reference: str = "White",
    months: int = GAP_MONTHS,
    threshold: int = THRESHOLD,
) -> pd.DataFrame:
    """Each group's gap to ``reference`` over its series' earliest and latest ``months``.

    ``series`` are :func:`qi.series.series_frame` rows (``unit``, ``measure``, ``group``,
    ``period``, counts; only complete months with a value should be given). Per unit ×
    measure, the earliest and the latest ``months`` worth of periods (fewer for a
    quarterly or annual measure) are each summed and compared with
    :func:`qi.equality.gap`, as the Equality page compares groups (a ratio of rates, or
    of proportions for a p chart, with its 95% interval; one call per kind). With fewer
    periods than two windows, only the latest window is compared (``gap_before``
    missing). ``gap_trend`` is ``narrowed`` or ``widened`` only when the two intervals do
    not overlap (the ratio now nearer to or further from 1 on the log scale), else ``no
    clear change``. ``gap_hidden``: a count behind either window (the group's or the
    reference's, summed) is from 1 to ``threshold``, so the disclosure rule would hide it.
    """
    from qi.equality import gap
    from qi.measures import Measure

    cols = ["unit", "measure", "group", "gap_reference", "gap_before", "gap_now", "gap_low",
            "gap_high", "gap_trend", "gap_hidden"]  # fmt: skip
    # only the columns read here are copied (a national board's rows are 1.7 M)
    data = series[["unit", "measure", "group", "period", "numerator", "denominator"]]
    data = data[(data["group"] != ALL) & (data["denominator"] > 0)]
    with_ref = data.loc[data["group"] == reference, "measure"].unique()
    data = data[data["measure"].isin(with_ref)]
    if data.empty:
        return pd.DataFrame(columns=cols)
    info = {m: Measure.from_catalogue(measures, m) for m in data["measure"].unique()}
    # a gap is a ratio of rates or proportions of counted events: a measure of means (an
    # I chart of total days ÷ people) has no such ratio, and its totals are not events
    counted = [m for m, i in info.items() if CHART_TYPES[i.chart].counts]
    data = data[data["measure"].isin(counted)]
    if data.empty:
        return pd.DataFrame(columns=cols)
    # the windows: each unit × measure's earliest and latest `months` worth of periods
    order = data[["unit", "measure", "period"]].drop_duplicates()
    order = order.sort_values(["unit", "measure", "period"], ignore_index=True)
    size = (
        order["measure"]
        .map({m: max(1, months // periods.MONTHS.get(i.frequency, 1)) for m, i in info.items()})
        .to_numpy()
    )
    line = order.groupby(["unit", "measure"], sort=False)
    rank = line.cumcount().to_numpy()
    count = line["period"].transform("size").to_numpy()
    window = np.where(rank >= count - size, "now", "")
    window = np.where((rank < size) & (count >= 2 * size), "before", window)
    order = order.assign(window=window)
    rows = data.merge(order[order["window"] != ""], on=["unit", "measure", "period"])
    # a line whose windows hold no row of the reference group has no gap to give (its
    # reference's months all fell between the windows), whatever other lines hold
    ref_lines = rows.loc[rows["group"] == reference, ["unit", "measure"]].drop_duplicates()
    rows = rows.merge(ref_lines, on=["unit", "measure"])
    if rows.empty:
        return pd.DataFrame(columns=cols)
    # one comparison per kind (a ratio of rates, or of proportions for a p chart): the
    # ratio and its interval do not depend on the measure's multiplier
    kind = rows["measure"].map({m: i.comparison for m, i in info.items()})
    parts = [
        gap(part, by=["unit", "measure", "window"], group="group", events="numerator",
            exposure="denominator", reference=reference, measure=k, exact=False)
        for k, part in rows.groupby(kind, sort=False)
    ]  # fmt: skip
    gaps = pd.concat(parts, ignore_index=True)
    counts = gaps[["events", "exposure", "ref_events", "ref_exposure"]].to_numpy(dtype=float)
    gaps["_small"] = ((counts >= 1) & (counts <= threshold)).any(axis=1) & (threshold > 0)
    wide = gaps.set_index(["unit", "measure", "group", "window"])[
        ["ratio", "ratio_lower", "ratio_upper", "_small"]
    ].unstack("window")
    out = pd.DataFrame(index=wide.index)

    def col(name, when):
        return wide.get((name, when), np.nan)

    out["gap_before"] = col("ratio", "before")
    out["gap_now"] = col("ratio", "now")
    out["gap_low"] = col("ratio_lower", "now")
    out["gap_high"] = col("ratio_upper", "now")
    b_lo, b_hi = col("ratio_lower", "before"), col("ratio_upper", "before")
    apart = (out["gap_low"] > b_hi) | (out["gap_high"] < b_lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        nearer = np.abs(np.log(out["gap_now"])) < np.abs(np.log(out["gap_before"]))
    trend = np.where(apart & nearer, "narrowed", np.where(apart, "widened", "no clear change"))
    has_before = pd.Series(out["gap_before"]).notna() & pd.Series(out["gap_now"]).notna()
    out["gap_trend"] = pd.Series(trend, index=out.index, dtype=object).where(has_before, None)
    hid = pd.DataFrame({"b": col("_small", "before"), "n": col("_small", "now")},
                       index=out.index)  # fmt: skip
    out["gap_hidden"] = hid.astype(float).fillna(0).astype(bool).any(axis=1)
    out["gap_reference"] = reference
    return out.reset_index()[cols]


def sentences(
    charted,
    measures: pd.DataFrame,
    *,
    unit: str | None = None,
    measure: str | None = None,
    cycles: pd.DataFrame | None = None,
    gains: pd.DataFrame | None = None,
    gaps: pd.DataFrame | None = None,
    context: pd.DataFrame | None = None,
    small_numbers: bool = False,
) -> pd.DataFrame:
    """One row per series of ``charted`` with the facts of :data:`SENTENCE_COLUMNS` and
    its ``sentence`` (see the module docstring).

    Parameters
    ----------
    charted : a :class:`qi.measures.Charted` (:func:`qi.measures.chart_rows` or
        :func:`qi.measures.chart_measure`), any rule set: it is read with the Making
        Data Count rules, as its icons are.
    measures : the catalogue (``id``, ``name``, ``unit``, ``improvement``, ``target``,
        optional ``frequency``).
    unit, measure : for a chart whose series are named by ``group`` only (one unit's
        chart of one measure): the unit and measure of its rows.
    cycles : the PDSA cycles (``team``, ``measure``, ``group``, ``change_idea``,
        ``cycle``, ``start``) of the series' teams.
    gains : :func:`qi.accountability.holding_gains` of the series' changes (``team``,
        ``measure``, ``group``, ``change_idea``, ``start``, ``improved_from``,
        ``concern_from``, ``status``): the latest change of each series is said.
    gaps : :func:`gap_change` of the series.
    context : every group's counts of the series' unit × measure × period lines
        (``unit``, ``measure``, ``group``, ``period``, counts): which latest values the
        disclosure rule hides is decided on the whole lines.
    small_numbers : write hidden values (a reader allowed small numbers, who asked).
    """
    return render(
        facts(charted, measures, unit=unit, measure=measure, cycles=cycles, gains=gains,
              gaps=gaps, context=context),
        measures, small_numbers=small_numbers,
    )  # fmt: skip


def facts(
    charted,
    measures: pd.DataFrame,
    *,
    unit: str | None = None,
    measure: str | None = None,
    cycles: pd.DataFrame | None = None,
    gains: pd.DataFrame | None = None,
    gaps: pd.DataFrame | None = None,
    context: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """:func:`sentences` without the ``sentence``: the facts, computed once, that
    :func:`render` writes for a reader with or without small numbers."""
    if charted.icons.empty:
        return pd.DataFrame(columns=[*_KEYS, *SENTENCE_COLUMNS[:-1]])
    icons, points, rare = keyed_reading(charted, unit=unit, measure=measure)
    return facts_of(icons, points, rare, measures, cycles=cycles, gains=gains, gaps=gaps,
                    context=context)  # fmt: skip


def keyed_reading(charted, *, unit: str | None = None, measure: str | None = None):
    """What :func:`facts_of` reads of a chart: its icons (one row per series, with
    ``unit``, ``measure`` and ``group``), its points read by the Making Data Count rules
    and, per icon, whether the series is drawn as the time between rare events."""
    icons = _with_keys(charted.icons, unit, measure).reset_index(drop=True)
    points = _with_keys(_mdc_points(charted), unit, measure)
    rare = icons["measure"].isin(list(charted.drawn_as)).to_numpy()
    return icons, points, rare


def facts_of(
    icons: pd.DataFrame,
    points: pd.DataFrame,
    rare: np.ndarray,
    measures: pd.DataFrame,
    *,
    cycles: pd.DataFrame | None = None,
    gains: pd.DataFrame | None = None,
    gaps: pd.DataFrame | None = None,
    context: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """:func:`facts` of the readings :func:`keyed_reading` gives, of one chart or of
    many at once (their frames concatenated: every step is per series), a row per icon
    in the icons' order."""
    columns = [*_KEYS, *SENTENCE_COLUMNS[:-1]]
    if icons.empty:
        return pd.DataFrame(columns=columns)
    icons = icons.reset_index(drop=True)
    runs = _latest_runs(points)
    out = icons[_KEYS].copy()
    catalogue = measures.set_index("id")
    out["measure_name"] = out["measure"].map(catalogue["name"]).fillna(out["measure"])
    out["variation"] = icons["variation"].astype(str).to_numpy()
    out["assurance"] = icons["assurance"].to_numpy(dtype=object)
    run = runs.reindex(pd.MultiIndex.from_frame(out[_KEYS]))
    out["points"] = run["points"].fillna(0).astype(int).to_numpy()
    out["enough_data"] = ~run["short"].fillna(True).astype(bool).to_numpy()
    special = out["variation"] != "common_cause"
    out["signal_from"] = pd.to_datetime(run["signal_from"].to_numpy()).where(special, pd.NaT)
    out["months"] = np.where(special, run["months"].fillna(0).to_numpy(), 0).astype(int)
    out["phase_from"] = pd.to_datetime(run["phase_from"].to_numpy())
    out["first_period"] = pd.to_datetime(run["first_period"].to_numpy())
    out["latest"] = icons["y"].astype(float).to_numpy()
    out["latest_period"] = pd.to_datetime(icons["x"]).to_numpy()
    out["rare"] = np.asarray(rare, dtype=bool)
    out["latest_hidden"] = _hidden_latest(out, context)
    cyc = _cycle_months(cycles)
    out["change"] = _cycle_before(out, "signal_from", cyc)
    out = _with_gains(out, gains, cyc)
    out = _with_gaps(out, gaps)
    return out


def uniform(facts: pd.DataFrame) -> pd.DataFrame:
    """``facts`` with each column of one type whatever its rows hold, so that a chart's
    facts are the same worked out alone or among many (:func:`qi.screens.with_facts`):
    texts (or None) as objects, dates in nanoseconds (pandas types a column of texts as
    its str type, and a date column by its values' resolution). For one chart's few
    rows: on a national board's it would cost a fifth of a second."""
    out = facts.copy()
    for c in out.columns:
        column = out[c]
        if pd.api.types.is_datetime64_dtype(column.dtype):
            out[c] = column.dt.as_unit("ns")
        elif isinstance(column.dtype, pd.StringDtype):
            values = column.to_numpy(dtype=object, na_value=None)
            out[c] = pd.Series(values, index=out.index, dtype=object)
    return out


def _hidden_latest(out: pd.DataFrame, context: pd.DataFrame | None) -> np.ndarray:
    if context is None or context.empty:
        return np.zeros(len(out), dtype=bool)
    lines = context[[*_KEYS, "period", "numerator", "denominator"]].drop_duplicates(
        [*_KEYS, "period"]
    )
    wanted = out[["unit", "measure", "latest_period"]].rename(columns={"latest_period": "period"})
    lines = lines.merge(wanted.drop_duplicates(), on=["unit", "measure", "period"])
    if lines.empty:
        return np.zeros(len(out), dtype=bool)
    flag = pd.Series(
        hidden(lines, line=["unit", "measure", "period"]),
        index=pd.MultiIndex.from_frame(lines[[*_KEYS, "period"]]),
    )
    flag = flag[~flag.index.duplicated()]
    key = pd.MultiIndex.from_frame(out[[*_KEYS, "latest_period"]])
    return flag.reindex(key, fill_value=False).to_numpy(dtype=bool)


def _with_gains(out: pd.DataFrame, gains: pd.DataFrame | None, cyc: pd.DataFrame):
    out = out.assign(gains=None, gains_from=pd.NaT, gains_concern_from=pd.NaT,
                     gains_change=None, gains_idea=None, gains_start=pd.NaT)  # fmt: skip
    if gains is None or gains.empty:
        return out
    g = gains.rename(columns={"team": "unit"})
    g = g[g["start"].notna()].sort_values("start").groupby(_KEYS, sort=False).tail(1)
    g = g.set_index(_KEYS)
    index = pd.MultiIndex.from_frame(out[_KEYS])
    found = g.reindex(index)
    # a change after the series' last point (a pack up to an earlier month) says nothing
    found = found[found["start"].to_numpy() <= out["latest_period"].to_numpy()].reindex(index)
    out["gains"] = [s if isinstance(s, str) else None for s in found["status"]]
    out["gains_from"] = pd.to_datetime(found["improved_from"].to_numpy())
    out["gains_concern_from"] = pd.to_datetime(found["concern_from"].to_numpy())
    out["gains_idea"] = [i if isinstance(i, str) else None for i in found["change_idea"]]
    out["gains_start"] = pd.to_datetime(found["start"].to_numpy())
    out["gains_change"] = _cycle_before(out, "gains_from", cyc, idea="gains_idea")
    return out


def _with_gaps(out: pd.DataFrame, gaps: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["gap_reference", "gap_before", "gap_now", "gap_low", "gap_high", "gap_trend",
            "gap_hidden"]  # fmt: skip
    if gaps is None or gaps.empty:
        return out.assign(gap_reference=None, gap_before=np.nan, gap_now=np.nan,
                          gap_low=np.nan, gap_high=np.nan, gap_trend=None,
                          gap_hidden=False)  # fmt: skip
    found = gaps.set_index(_KEYS)[cols].reindex(pd.MultiIndex.from_frame(out[_KEYS]))
    for c in cols:
        out[c] = found[c].to_numpy()
    out["gap_hidden"] = out["gap_hidden"].astype(float).fillna(0).astype(bool)
    for c in ("gap_reference", "gap_trend"):
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


# --------------------------------------------------------------------------- render


_BETTER = {"increase": ("rose", "higher"), "decrease": ("fell", "lower")}
_WORSE = {"increase": ("fell", "lower"), "decrease": ("rose", "higher")}


def render(frame: pd.DataFrame, measures: pd.DataFrame, *, small_numbers: bool = False):
    """``frame`` (:func:`facts`) with its ``sentence`` written, hiding what the
    disclosure rule hides unless ``small_numbers``."""
    if frame.empty:
        return pd.DataFrame(columns=[*_KEYS, *SENTENCE_COLUMNS])
    out = frame.copy()
    # each measure's facts as a plain dict (read once per row: no frame lookups)
    catalogue = {str(k): v for k, v in measures.set_index("id").to_dict("index").items()}
    written = [
        _sentence(row, catalogue.get(row.measure), small_numbers)
        for row in out.itertuples(index=False)
    ]
    out["sentence"] = written
    for c in ("change", "gains", "gains_change", "gap_reference", "gap_trend"):
        out[c] = pd.Series([v if isinstance(v, str) else None for v in out[c]], index=out.index,
                           dtype=object)  # fmt: skip
    if not small_numbers:
        out["latest"] = out["latest"].where(~out["latest_hidden"].astype(bool), np.nan)
        hide = out["gap_hidden"].astype(bool)
        for c in ("gap_before", "gap_now", "gap_low", "gap_high"):
            out[c] = out[c].where(~hide, np.nan)
        out["gap_trend"] = out["gap_trend"].where(~hide, None)
    return out[[*_KEYS, *SENTENCE_COLUMNS]]


def _info(info: dict | None, key, default=None):
    if info is None or key not in info:
        return default
    value = info[key]
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return default
    return value


def _str(value) -> str | None:
    return value if isinstance(value, str) and value else None


def _sentence(row, info, small_numbers: bool) -> str:
    row = row._replace(
        **{
            k: _str(getattr(row, k))
            for k in ("change", "gains", "gains_change", "gains_idea", "gap_reference", "gap_trend")
        }
    )
    frequency = _info(info, "frequency", "month") or "month"
    if frequency not in periods.FREQUENCIES:
        frequency = periods.frequency_of(frequency) or "month"
    improvement = _info(info, "improvement", "neutral")
    unit_words = _info(info, "unit", "") or ""
    name = str(row.measure_name)
    who = f" ({row.group} group)" if row.group != ALL else ""
    subject = f"At {row.unit}, {lower_first(name)}{who}"

    def when(t) -> str:
        return period_words(t, frequency)

    def count(n: int) -> str:  # a rare event's chart has a point per month with events
        if row.rare:
            return f"{n} month{'s' if n != 1 else ''} with events"
        return _plural(n, frequency)

    clauses = []
    noun = periods.NOUNS.get(frequency, "month")
    variation = row.variation
    phase_words = (
        f" since the new phase from {when(row.phase_from)}"
        if pd.notna(row.phase_from) and pd.notna(row.first_period)
        and row.phase_from > row.first_period else ""
    )  # fmt: skip
    points_words = "months with events" if row.rare else f"{noun}s"
    few = (
        "" if row.enough_data
        else f", on only {row.points} of the {SHORT_GROUP} {points_words} the rules need "
        "for their limits"
    )  # fmt: skip
    signal = variation.startswith("special_cause")
    if not row.enough_data and not signal:
        clauses.append(
            f"{subject}: too few {points_words}{phase_words} "
            f"to read its variation yet ({row.points} of the {SHORT_GROUP} the rules need "
            "for their limits)"
        )
    elif variation == "special_cause_improvement" and improvement in _BETTER:
        verb = _BETTER[improvement][0]
        after = f", after {row.change}" if row.change else ""
        clauses.append(
            f"{subject} {verb} from {when(row.signal_from)}{after} "
            f"({count(row.months)} of special-cause improvement{few})"
        )
    elif variation == "special_cause_concern" and improvement in _WORSE:
        verb = _WORSE[improvement][0]
        after = f", after {row.change}" if row.change else ""
        clauses.append(
            f"{subject} {verb} from {when(row.signal_from)}{after} "
            f"({count(row.months)} of special-cause concern, a change for the worse{few})"
        )
    elif variation.startswith("special_cause_neutral_"):
        side = "higher" if variation.endswith("high") else "lower"
        if row.rare:  # a g chart's high points are long gaps between events: fewer events
            side = {"higher": "lower", "lower": "higher"}[side]
        after = f", after {row.change}" if row.change else ""
        clauses.append(
            f"{subject} was {side} than usual from {when(row.signal_from)}{after} "
            f"({count(row.months)} of special-cause variation, neither better "
            f"nor worse{few})"
        )
    else:
        clauses.append(
            f"{subject}: no significant change in the latest {noun}s{phase_words} "
            "(common-cause variation only)"
        )
    # the latest change on the series, when the chart's own reading is common cause
    # (with too few points, only an improvement it found)
    common = row.enough_data and variation == "common_cause"
    if row.gains and (common or (not row.enough_data and row.gains != "no improvement")):
        clauses.append(_gains_words(row, improvement, frequency, when))
    if row.rare:
        pass  # the chart is of the exposure between events: its value is not a rate
    elif np.isfinite(row.latest) and (small_numbers or not row.latest_hidden):
        decimals = decimals_for(unit_words)
        clauses.append(
            f"the latest value is {number_words(row.latest, unit_words, decimals)} "
            f"({when(row.latest_period)})"
        )
    elif row.latest_hidden:
        clauses.append(f"the latest value ({when(row.latest_period)}) is not shown: small numbers")
    target = _info(info, "target")
    if (row.enough_data or signal) and row.assurance in ASSURANCE and target is not None:
        decimals = decimals_for(unit_words)
        clauses.append(
            f"it {ASSURANCE[row.assurance]} of {number_words(float(target), unit_words, None)}"
        )
    gap = _gap_words(row, small_numbers)
    if gap:
        clauses.append(gap)
    text = "; ".join(clauses)
    return text + "."


def _gains_words(row, improvement: str, frequency: str, when) -> str:
    idea = _quoted(row.gains_idea) if row.gains_idea else "the change"
    if row.gains == "no improvement" or pd.isna(row.gains_from):
        since = _periods_between(row.gains_start, row.latest_period, frequency)
        if since is not None and since < TOO_EARLY:
            return (
                f"too early to tell what followed {idea} (from {when(row.gains_start)}): "
                f"{_plural(since, frequency)} since it, fewer than a shift needs"
            )
        return f"no signal after {idea} (from {when(row.gains_start)}) against the months before it"
    side = _BETTER.get(improvement, ("changed", "different"))[1]
    after = f", after its {row.gains_change}" if row.gains_change else ""
    if row.gains == "at risk":
        return (
            f"against the months before {idea}, {side} from {when(row.gains_from)}{after}, "
            f"but that improvement is at risk since {when(row.gains_concern_from)}"
        )
    status = {
        "sustained": "improvement sustained",
        "holding": "improvement holding, not yet sustained",
    }.get(row.gains, row.gains)
    return (
        f"against the months before {idea}, {side} since {when(row.gains_from)}{after} ({status})"
    )


def _periods_between(start, latest, frequency: str) -> int | None:
    """Periods from ``start`` to ``latest``, both counted (None when either is missing)."""
    if start is None or latest is None or pd.isna(start) or pd.isna(latest):
        return None
    a, b = pd.Timestamp(start), pd.Timestamp(latest)
    months = (b.year - a.year) * 12 + b.month - a.month + 1
    return max(0, months // periods.MONTHS.get(frequency, 1))


def _finite(*values) -> bool:
    return all(v is not None and np.isfinite(v) for v in values)


def _gap_words(row, small_numbers: bool) -> str:
    # a ratio of 0 or without finite limits (no events in a group): nothing to say
    if not row.gap_reference or not _finite(row.gap_now, row.gap_low, row.gap_high):
        return ""
    if row.gap_now <= 0:
        return ""
    ref = f"the gap to the {row.gap_reference} group"
    if row.gap_hidden and not small_numbers:
        return f"{ref} is not shown: small numbers"
    ci = f"(95% CI {_ratio(row.gap_low)}–{_ratio(row.gap_high)})"
    now = f"{_ratio(row.gap_now)}×"
    if row.gap_trend in ("narrowed", "widened"):
        return f"{ref} {row.gap_trend} from {_ratio(row.gap_before)}× to {now} {ci}"
    if row.gap_trend == "no clear change" and _finite(row.gap_before) and row.gap_before > 0:
        return (
            f"{ref} is {now} {ci}, no clear change from {_ratio(row.gap_before)}× in the "
            "earliest months"
        )
    return f"{ref} is {now} {ci}"


def _ratio(value) -> str:
    if value is None or not np.isfinite(value):
        return "?"
    return f"{float(value):.1f}"


def as_text(frame: pd.DataFrame, groups: Sequence[str] | None = None) -> str:
    """The sentences of ``frame`` (:func:`sentences`) as one paragraph, ``All`` first."""
    if frame.empty:
        return ""
    rows = frame
    if groups is not None:
        rows = rows[rows["group"].isin(list(groups))]
    order = rows["group"].map(lambda g: (g != ALL, str(g)))
    return " ".join(rows.assign(_o=order).sort_values("_o")["sentence"])

"""Equality: each group against a reference group, recording completeness, and a funnel
plot across teams.

:func:`equality_view` is the Equality page (one unit, month by month);
:func:`equality_month` is the board pack's equality page (every team, one month). Both
compare groups with :func:`group_gaps` and draw the funnel with :func:`team_funnel`,
so the page and the pack give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from qi import equality, periods
from qi.disclosure import SUPPRESSED, THRESHOLD, hidden
from qi.measures import Measure
from qi.series import ALL, coverage, month_start, series_frame
from qi.snapshot import Snapshot
from qi.spc import SPCResult, spc

#: Months of a funnel plot.
FUNNEL_MONTHS = 12
#: Months of the Equality page's table of counts.
COUNT_MONTHS = 6
#: The reference group when the reader names none.
REFERENCE = "White"


def reference_group(groups, wanted: str | None = None) -> str | None:
    """The group compared with: ``wanted`` if it has data, else White, else the first."""
    groups = list(groups)
    for choice in (wanted, REFERENCE):
        if choice in groups:
            return choice
    return groups[0] if groups else None


def group_gaps(series: pd.DataFrame, measure: Measure, reference: str) -> pd.DataFrame:
    """Each group's rate (or, for a p chart, proportion) against ``reference``'s, per
    ``unit`` × ``period`` of ``series`` (:func:`qi.equality.gap`, with the measure's
    comparison and multiplier)."""
    return equality.gap(
        series, by=["unit", "measure", "period"], group="group", events="numerator",
        exposure="denominator", reference=reference, measure=measure.comparison,
        multiplier=measure.multiplier,
    )  # fmt: skip


@dataclass(frozen=True)
class FunnelView:
    """A funnel plot of the teams (see :func:`team_funnel`).

    Attributes
    ----------
    measure : the measure.
    group : the group whose counts are compared (``All``: everyone).
    first, last : the months summed (the funnel's window).
    result : :func:`qi.equality.funnel`'s result: ``points`` (one row per team) and
        ``limits``.
    """

    measure: Measure
    group: str
    first: pd.Timestamp
    last: pd.Timestamp
    result: equality.FunnelResult

    @property
    def points(self) -> pd.DataFrame:
        return self.result.points

    @property
    def window(self) -> str:
        return f"{self.first:%b %Y} to {self.last:%b %Y}"

    def figure(self, *, title: str | None = None, small_numbers: bool = False):
        """The funnel plot; a team whose summed counts are from 1 to 7 is left out of it
        unless ``small_numbers``."""
        from qi.figures import funnel_figure

        m = self.measure
        points = self.points
        if not small_numbers:
            counts = points[["numerator", "denominator"]].to_numpy(dtype=float)
            points = points[~((counts >= 1) & (counts <= THRESHOLD)).any(axis=1)]
        return funnel_figure(
            points, self.result.limits,
            title=title or f"{m.name} ({self.group}), {self.window}",
            y_title=m.unit, x_title=m.denominator_definition or "Denominator",
            improvement=m.improvement,
        )  # fmt: skip


def team_funnel(
    snapshot: Snapshot,
    measure: str,
    *,
    group: str = ALL,
    months: int = FUNNEL_MONTHS,
    min_teams: int = 3,
) -> FunnelView | None:
    """Every team's ``group`` counts of ``measure`` over the last ``months`` complete
    months (every team expected sent them; the window is said in the plot's title), as a
    funnel plot (Spiegelhalter with overdispersion for a proportion, PHE for a
    rate). A team's ``All`` is its series' ``All`` (an uploaded ``All`` row beside its
    groups' rows counts once). None with fewer than ``min_teams`` teams."""
    info = snapshot.measure(measure)
    obs = snapshot.observations
    obs = obs[obs["measure"] == measure]
    # the window is the last complete months: every team expected has sent each of them
    cover = coverage(obs, level="collaborative", not_expected=snapshot.not_expected)
    done = cover["complete"].groupby(level="period").all()
    window = sorted(done.index[done.to_numpy()])[-months:]
    if not window:
        return None
    series = series_frame(obs[obs["period"].isin(window)], snapshot.measures)
    # a funnel compares rates or proportions: it needs a denominator in every row
    rows = series[(series["group"] == group) & (series["denominator"] > 0)]
    if rows["unit"].nunique() < min_teams:
        return None
    result = equality.funnel(
        rows, group="unit", numerator="numerator", denominator="denominator",
        statistic="proportion" if info.proportion else "rate",
        style="spiegelhalter" if info.proportion else "phe", overdispersion=info.proportion,
        multiplier=info.multiplier,
    )  # fmt: skip
    first, last = pd.Timestamp(window[0]), pd.Timestamp(window[-1])
    return FunnelView(measure=info, group=group, first=first, last=last, result=result)


@dataclass(frozen=True)
class EqualityView:
    """The Equality page for one unit and measure (see :func:`equality_view`).

    Attributes
    ----------
    measure, level, unit : what and where.
    groups : the groups with data (``All`` aside); ``reference`` the one compared with.
    rules : the rule set of the gap and recording charts.
    gaps : each group's ratio to the reference, per month (:func:`group_gaps`).
    gap_result : the log ratios charted (an I chart per group), None when too few events.
    latest : each group's latest month of ``gaps``.
    recording : records with ethnic group not stated, per month
        (:func:`qi.equality.recording_completeness`), and ``recording_result`` its p chart.
    counts : the unit's counts by month and broad group, last :data:`COUNT_MONTHS`.
    teams : the teams whose data the view shows.
    hidden_counts : per ``group`` × ``period``, whether the disclosure rule hides the
        unit's counts (decided on every group and ``All``, as the files decide).
    """

    measure: Measure
    level: str
    unit: str
    groups: tuple[str, ...]
    reference: str | None
    rules: str
    gaps: pd.DataFrame
    gap_result: SPCResult | None
    latest: pd.DataFrame
    recording: pd.DataFrame
    recording_result: SPCResult
    counts: pd.DataFrame
    teams: tuple[str, ...]
    hidden_counts: pd.Series

    def _hidden_gaps(self, frame: pd.DataFrame, small_numbers: bool) -> np.ndarray:
        """Per row of a frame of gaps (``group``, ``period``): whether a count behind it —
        the group's or the reference's that month — is hidden by the disclosure rule."""
        if small_numbers or frame.empty or self.hidden_counts.empty:
            return np.zeros(len(frame), dtype=bool)
        hid = self.hidden_counts
        key = pd.MultiIndex.from_arrays([frame["group"], pd.to_datetime(frame["period"])])
        ref = pd.MultiIndex.from_arrays(
            [[self.reference] * len(frame), pd.to_datetime(frame["period"])]
        )
        return hid.reindex(key).fillna(False).to_numpy(dtype=bool) | hid.reindex(ref).fillna(
            False
        ).to_numpy(dtype=bool)

    def latest_table(self, *, small_numbers: bool = False) -> pd.DataFrame:
        """Each group's latest month against the reference; a row whose counts (or the
        reference's) the disclosure rule hides shows ``*`` instead of its figures."""
        return self.data(small_numbers=small_numbers, latest_only=True)

    def data(self, *, small_numbers: bool = False, latest_only: bool = False) -> pd.DataFrame:
        """The gaps month by month (:data:`LATEST_COLUMNS`), as a screen or a file shows
        them: figures from hidden counts are ``*`` unless ``small_numbers``."""
        table = self.latest if latest_only else self.gaps[list(LATEST_COLUMNS)]
        hide = self._hidden_gaps(table, small_numbers)
        out = table.copy()
        for col in FIGURES:
            out[col] = out[col].astype(object).where(~hide, SUPPRESSED)
        return out.reset_index(drop=True)

    def gap_figure(self, *, small_numbers: bool = False):
        from qi.figures import spc_figure

        ref = self.reference
        points = self.gap_result.points.copy()
        hide = self._hidden_gaps(points.rename(columns={"x": "period"}), small_numbers)
        points.loc[hide, "y"] = float("nan")
        # a group none of whose months can be shown gets no panel (limits alone say
        # nothing); the text alternative names it
        shown = points.groupby("group", sort=False)["y"].apply(lambda y: y.notna().any())
        empty = [g for g, any_shown in shown.items() if not any_shown]
        if len(empty) < len(shown):
            points = points[~points["group"].isin(empty)]
        else:
            empty = []
        fig = spc_figure(
            points, group="group",
            title=f"{self.measure.name}: ratio to {ref} — {self.unit}",
            y_title=f"ratio to {ref}", rules=self.rules, ratio=True,
        )  # fmt: skip
        if empty:
            fig.layout.meta["description"] += (
                f" Not drawn: {', '.join(map(str, empty))} (no month can be shown: small "
                "numbers or no value)."
            )
        return fig

    def recording_figure(self, *, small_numbers: bool = False):
        from qi.figures import spc_figure

        points = self.recording_result.points.copy()
        if not small_numbers:
            counts = self.recording[["numerator", "denominator"]].to_numpy(dtype=float)
            small = ((counts >= 1) & (counts <= THRESHOLD)).any(axis=1)
            points.loc[small, "y"] = float("nan")
        return spc_figure(
            points, title="Records with ethnic group not stated (%)",
            y_title="% not stated", improvement="decrease", rules=self.rules,
        )  # fmt: skip

    def count_table(self, *, small_numbers: bool = False) -> pd.DataFrame:
        """Months × broad groups of counts: counts from 1 to 7, and any that would give one
        back, shown as ``*`` unless ``small_numbers``."""
        if small_numbers:
            shown = equality.suppress(
                self.counts, index="month", columns="broad_group", values="numerator",
                threshold=0, rounding=1,
            )  # fmt: skip
            return shown.values
        shown = equality.suppress(
            self.counts, index="month", columns="broad_group", values="numerator"
        )
        return shown.values.astype(object).where(~shown.mask, "*")


LATEST_COLUMNS = (
    "group", "period", "value", "ref_value", "ratio", "ratio_lower", "ratio_upper", "p_value",
    "difference", "difference_lower", "difference_upper", "note",
)  # fmt: skip
#: The figures of :data:`LATEST_COLUMNS` (hidden where a count behind them is).
FIGURES = LATEST_COLUMNS[2:-1]


def equality_view(
    snapshot: Snapshot,
    *,
    unit: str,
    measure: str,
    level: str = "team",
    reference: str | None = None,
    rules: str = "anhoej",
) -> EqualityView:
    """The Equality page: ``unit``'s groups against ``reference`` (default White, or the
    first group) month by month, recording completeness, and the counts behind them (the
    page's funnel across teams is :func:`team_funnel`)."""
    info = snapshot.measure(measure)
    obs = snapshot.observations
    here = obs[(obs[level] == unit) & (obs["measure"] == measure)]
    series = series_frame(
        here, snapshot.measures, level=level, add_all=False, not_expected=snapshot.not_expected
    )
    groups = tuple(sorted(g for g in series["group"].unique() if g != ALL))
    # groups are compared in complete months only (every team expected has sent them)
    complete = series.loc[series["complete"], ["unit", "measure", "period"]].drop_duplicates()
    series = series[series["complete"]]
    here = here.merge(complete.rename(columns={"unit": level}), on=[level, "measure", "period"])
    reference = reference_group(groups, reference)
    gaps = (
        group_gaps(series, info, reference) if reference is not None else pd.DataFrame(
            columns=["unit", "measure", "period", "group", *LATEST_COLUMNS[2:], "log_ratio"]
        )
    )  # fmt: skip
    chartable = gaps.dropna(subset=["log_ratio"])
    gap_result = (
        None
        if chartable.empty
        else spc(chartable, x="period", y="log_ratio", by="group", chart="i", rules=rules)
    )
    latest = gaps.sort_values("period").groupby("group").tail(1)[list(LATEST_COLUMNS)]
    recording = equality.recording_completeness(
        here, by=["period"], group="broad_group", count="denominator", multiplier=100
    )
    recording_result = spc(
        recording, x="period", y="numerator", n="denominator", chart="p", multiply=100,
        rules=rules,
    )  # fmt: skip
    whole = snapshot.series(here, level=level)
    whole = whole[whole["complete"]]
    hidden_counts = pd.Series(
        hidden(whole, line=["unit", "measure", "period"]),
        index=pd.MultiIndex.from_arrays([whole["group"], whole["period"]]),
    )
    hidden_counts = hidden_counts[~hidden_counts.index.duplicated()]
    recent = sorted(here["period"].unique())[-COUNT_MONTHS:]
    counts = here[here["period"].isin(recent)]
    counts = counts.assign(month=counts["period"].dt.strftime("%Y-%m"))
    return EqualityView(
        measure=info, level=level, unit=unit, groups=groups, reference=reference, rules=rules,
        gaps=gaps, gap_result=gap_result, latest=latest, recording=recording,
        recording_result=recording_result, counts=counts,
        teams=tuple(sorted(here["team"].unique())), hidden_counts=hidden_counts,
    )  # fmt: skip


@dataclass(frozen=True)
class EqualityMonth:
    """The board pack's equality page for one measure (see :func:`equality_month`).

    Attributes
    ----------
    measure : the measure; ``month`` the month compared.
    teams : the teams with data on the measure.
    groups : the groups compared with ``reference`` (the reference aside).
    gaps : each team × group's ratio to the reference in ``month`` (empty when the
        reference has no data that month).
    funnel : the teams' funnel of ``All`` over the last 12 months, or None.
    """

    measure: Measure
    month: pd.Timestamp
    teams: tuple[str, ...]
    groups: tuple[str, ...]
    reference: str | None
    gaps: pd.DataFrame
    funnel: FunnelView | None


def equality_month(
    snapshot: Snapshot, measure: str, *, month, reference: str = REFERENCE
) -> EqualityMonth:
    """Every team's groups against ``reference`` (or, without it, the first group) in
    ``month``, and the teams' funnel of ``All`` up to it."""
    info = snapshot.measure(measure)
    obs = snapshot.observations
    # the period of the measure's frequency holding the month (a quarter, a year)
    period = periods.start(month_start(month), info.frequency)
    here = obs[(obs["measure"] == measure) & (obs["period"] <= month_start(month))]
    series = series_frame(here, snapshot.measures, add_all=False)
    latest = series[series["period"] == period]
    groups = sorted(g for g in series["group"].unique() if g != ALL)
    ref = reference_group(groups, reference)
    gaps = pd.DataFrame()
    if ref is not None and (latest["group"] == ref).any():
        gaps = group_gaps(latest, info, ref)
    upto = replace(snapshot, observations=here)
    return EqualityMonth(
        measure=info, month=period, teams=tuple(sorted(here["team"].unique())),
        groups=tuple(g for g in groups if g != ref), reference=ref, gaps=gaps,
        funnel=team_funnel(upto, measure),
    )  # fmt: skip

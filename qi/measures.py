"""A measure of the catalogue, and the one recipe from its series to its chart.

:class:`Measure` is one row of the catalogue (:meth:`qi.store.Store.measures`): what
is counted, the chart type, the multiplier, which direction is better and the target.

:func:`chart_rows` is the recipe every chart, board row, holding-the-gains check and
export goes through: months without a value left out (:func:`qi.series.valued`), the
measure's chart type, multiplier, improvement direction and target passed to
:func:`qi.spc`, one grouped call per chart type × direction × multiplier (never one
per series). :func:`chart_measure` is the same for one measure, with phases from the
months a change started. A measure of rare events (:func:`qi.series.rare_measures`)
is charted as the exposure between its events (a g chart), so a run of empty months
is never read as an improvement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from qi import mdc
from qi.charts import CHART_TYPES
from qi.series import phases_from, valued, with_denominator
from qi.spc import SPCResult, spc

#: The columns of a measure that the recipe reads from each row.
RECIPE_COLUMNS = ("chart", "multiplier", "improvement", "target")


@dataclass(frozen=True)
class Measure:
    """One measure of the catalogue.

    Attributes
    ----------
    id, name : the catalogue's id and the name people read.
    unit : what a value is in (``"per 1,000 OBD"``, ``"%"``, ``"days"``).
    chart : a key of :data:`qi.CHART_TYPES`.
    multiplier : values are ratios × this (1000 for per 1,000 bed days, 100 for %).
    improvement : ``"increase"``, ``"decrease"`` or ``"neutral"``.
    target : a target value, or None.
    definition, numerator_definition, denominator_definition : the catalogue's words.
    groups : the groups the measure is reported by.
    grouping : the grouping those groups belong to (``ethnicity``: the six broad ethnic
        groups; ``wres``: White, BME, Unknown), which says how ethnic categories map in.
    frequency : ``month``, ``quarter`` (financial) or ``year`` (financial): what one
        period of the measure is (:mod:`qi.periods`).
    """

    id: str
    name: str
    unit: str
    chart: str
    multiplier: float
    improvement: str
    target: float | None = None
    definition: str = ""
    numerator_definition: str = ""
    denominator_definition: str = ""
    groups: tuple[str, ...] = ()
    grouping: str = "ethnicity"
    frequency: str = "month"

    @classmethod
    def from_row(cls, row: pd.Series | dict) -> Measure:
        """A measure from one catalogue row (a Series with ``id`` or a name, or a dict)."""
        get = row.get
        ident = get("id", getattr(row, "name", None))
        target = get("target")

        def words(key: str) -> str:
            value = get(key)
            return value if isinstance(value, str) else ""

        return cls(
            id=str(ident), name=words("name") or str(ident), unit=words("unit"),
            chart=str(get("chart")), multiplier=float(get("multiplier")),
            improvement=str(get("improvement")),
            target=None if target is None or pd.isna(target) else float(target),
            definition=words("definition"), numerator_definition=words("numerator_definition"),
            denominator_definition=words("denominator_definition"),
            groups=tuple(get("groups") or ()),
            grouping=words("grouping") or "ethnicity", frequency=words("frequency") or "month",
        )  # fmt: skip

    @classmethod
    def from_catalogue(cls, measures: pd.DataFrame, measure_id: str) -> Measure:
        """The measure ``measure_id`` of a catalogue frame (with an ``id`` column or index)."""
        table = measures.set_index("id") if "id" in measures else measures
        if measure_id not in table.index:
            raise ValueError(f"unknown measure {measure_id!r}")
        row = table.loc[measure_id]
        return cls.from_row({"id": measure_id, **row.to_dict()})

    @property
    def proportion(self) -> bool:
        """The chart counts people out of people (a p or p′ chart): compare risks."""
        return CHART_TYPES[self.chart].proportion

    @property
    def comparison(self) -> str:
        """How groups are compared (:func:`qi.equality.compare`'s ``measure``)."""
        return "risk" if self.proportion else "rate"

    def columns(self) -> dict[str, Any]:
        """The measure's :data:`RECIPE_COLUMNS`, and ``measure``, to add to its rows."""
        return {
            "measure": self.id, "chart": self.chart, "multiplier": self.multiplier,
            "improvement": self.improvement,
            "target": np.nan if self.target is None else self.target,
        }  # fmt: skip


@dataclass(frozen=True)
class Charted:
    """What :func:`chart_rows` fed :func:`qi.spc` and what came back.

    Attributes
    ----------
    rows : the rows charted (months without a value left out), in their input order.
    results : one :class:`qi.SPCResult` per chart type × direction × multiplier ×
        denominator (one for a single measure).
    by : the columns naming a series.
    provisional : the rows of months not yet complete (``complete`` False: not every
        team expected has sent them), with their ``value``: shown, never read by the
        rules.
    drawn_as : measure id → why and how it is drawn otherwise than its chart type (a
        measure of rare events, ``rare`` True in its rows: :func:`between_events`).
    """

    rows: pd.DataFrame
    results: tuple[SPCResult, ...]
    by: tuple[str, ...]
    provisional: pd.DataFrame = field(default_factory=pd.DataFrame)
    drawn_as: dict[str, str] = field(default_factory=dict)

    @cached_property
    def points(self) -> pd.DataFrame:
        """Every point of every series (:attr:`qi.SPCResult.points`)."""
        return _concat([r.points for r in self.results])

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Every series × phase (:attr:`qi.SPCResult.summary`)."""
        return _concat([r.summary for r in self.results])

    @cached_property
    def icons(self) -> pd.DataFrame:
        """One row per series with its latest point and its Making Data Count variation and
        assurance (:func:`qi.mdc.summary`), whatever rule set drew the chart. A series
        whose measure has no target has no assurance (None, not "hit and miss")."""
        frames = [mdc.summary(r) for r in self.results]
        if not frames:
            cols = [*self.by, "x", "y", "target", "variation", "assurance", "variation_icon",
                    "assurance_icon", "variation_text", "assurance_text"]  # fmt: skip
            return pd.DataFrame(columns=cols)
        out = _concat(frames)
        no_target = out["target"].isna()
        for col in ("assurance", "assurance_icon", "assurance_text"):
            out[col] = out[col].astype(object).where(~no_target, None)
        return out

    @property
    def result(self) -> SPCResult:
        """The one result of a single measure's chart."""
        if len(self.results) != 1:
            raise ValueError(f"{len(self.results)} results: use .points, .summary or .icons")
        return self.results[0]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def chart_rows(
    rows: pd.DataFrame,
    *,
    by: Sequence[str],
    rules: str = "mdc",
    phase: str | None = None,
    baseline: int | None = None,
    exclude: str | None = None,
) -> Charted:
    """The run or control charts of the series in ``rows``: the one recipe.

    Parameters
    ----------
    rows : one row per series × month: ``period``, ``numerator``, ``denominator``, the
        ``by`` columns, and each row's measure facts :data:`RECIPE_COLUMNS` (as
        :func:`qi.series.series_frame` gives them, or :meth:`Measure.columns`). Several
        measures may be mixed when ``by`` includes ``measure``.
    by : the columns that name a series.
    rules : a key of :data:`qi.RULE_SETS`.
    phase : a column whose changes start a new phase, or None (one phase).
    baseline : the first ``baseline`` points of each phase fix its lines.
    exclude : a column of booleans: points left out of the lines and the rules (drawn
        against the lines of the others; :func:`qi.phasing.offers` reads the months after
        a change against the lines of the months before it).

    Months whose denominator is 0 or missing are left out (:func:`qi.series.valued`);
    each chart type × improvement × multiplier (× with or without denominators) is one
    grouped :func:`qi.spc` call. A measure's target is passed when it has one.
    """
    by = list(by)
    rows = valued(rows)
    provisional = rows.iloc[:0]
    if "complete" in rows and not bool(rows["complete"].all()):
        provisional = rows[~rows["complete"].astype(bool)]
        provisional = provisional.assign(value=point_values(provisional))
        rows = rows[rows["complete"].astype(bool)]
    if rows.empty:
        return Charted(rows=rows, results=(), by=tuple(by), provisional=provisional)
    results = []
    drawn_as: dict[str, str] = {}
    if "rare" in rows and bool(rows["rare"].any()):
        rare = rows[rows["rare"].astype(bool)]
        rows = rows[~rows["rare"].astype(bool)]
        provisional = provisional[~provisional["rare"].astype(bool)]
        results, drawn_as = _rare_results(rare, by=by, rules=rules, phase=phase,
                                          exclude=exclude)  # fmt: skip
        if rows.empty:
            return Charted(rows=rare, results=tuple(results), by=tuple(by),
                           provisional=provisional, drawn_as=drawn_as)  # fmt: skip
    facts = rows[["chart", "improvement", "multiplier"]].assign(
        _has_n=with_denominator(rows).to_numpy()
    )
    kinds = ["chart", "improvement", "multiplier", "_has_n"]
    where = facts.groupby(kinds, sort=False).indices  # each kind's positions, in order
    # the kinds in the order of ``groups`` (read on one row of each kind: cheap)
    firsts = facts.take([w[0] for w in where.values()])
    for chart, improvement, multiplier, has_n in firsts.groupby(kinds, sort=False).groups:
        part = rows.take(where[(chart, improvement, multiplier, has_n)])
        has_target = "target" in part and bool(part["target"].notna().any())
        result = spc(
            part, x="period", y="numerator", n="denominator" if has_n else None, by=by,
            chart=chart, multiply=float(multiplier), phase=phase, rules=rules,
            improvement=improvement, target="target" if has_target else None, baseline=baseline,
            exclude=exclude,
        )  # fmt: skip
        results.append(result)
    if drawn_as:
        rows = pd.concat([rows, rare], ignore_index=True)
    return Charted(
        rows=rows, results=tuple(results), by=tuple(by), provisional=provisional,
        drawn_as=drawn_as,
    )  # fmt: skip


#: The direction that is better for the exposure between events, by the measure's own.
_BETWEEN = {"decrease": "increase", "increase": "decrease", "neutral": "neutral"}


def between_events(rows: pd.DataFrame, *, by: Sequence[str]) -> pd.DataFrame:
    """Monthly counts of a rare event as the exposure between events, for a g chart.

    Per series (``by``, ordered by ``period``), every month with events gives one row:
    ``between`` is the exposure (the denominator summed: bed days, staff-months,
    admissions; months when there is no denominator) since the month of the previous
    event, up to and including this month, shared equally by the month's events (as if
    they were spread through it) — the first event counts from the start of the data.
    Months without an event give no row.
    """
    by = list(by)
    data = rows.sort_values([*by, "period"]) if by else rows.sort_values("period")
    has_n = with_denominator(data)
    exposure = data["denominator"].where(has_n, 1.0).fillna(0.0).astype(float)
    keys = [data[k] for k in by] if by else [pd.Series(0, index=data.index)]
    total = exposure.groupby(keys, sort=False).cumsum()
    events = data["numerator"].astype(float) > 0
    hit = data[events].assign(_total=total[events].to_numpy())
    before = hit.groupby([hit[k] for k in by] if by else [pd.Series(0, index=hit.index)],
                         sort=False)["_total"].shift(fill_value=0.0)  # fmt: skip
    return hit.assign(between=(hit["_total"] - before) / hit["numerator"].astype(float)).drop(
        columns="_total"
    )


def _rare_results(rows: pd.DataFrame, *, by, rules, phase, exclude=None):
    """The g charts of rare-event series (:func:`between_events`), one call per
    direction, and the words that say how each measure is drawn."""
    gaps = between_events(rows, by=by)
    results, drawn_as = [], {}
    for measure, part in rows.groupby("measure", sort=False):
        has_n = bool(with_denominator(part).any())
        drawn_as[measure] = (
            "Rare events: most months have none, so a run of empty months would read as an "
            "improvement. Drawn as a g chart of the "
            + ("exposure (the denominator summed)" if has_n else "months")
            + " between events, one point per month with events; longer is fewer events."
        )
    for improvement, part in gaps.groupby("improvement", sort=False):
        results.append(
            spc(
                part,
                x="period",
                y="between",
                by=by,
                chart="g",
                phase=phase,
                rules=rules,
                improvement=_BETWEEN.get(improvement, "neutral"),
                exclude=exclude,
            )
        )
    return results, drawn_as


def point_values(rows: pd.DataFrame) -> pd.Series:
    """Each row's value as a one-row subgroup of its chart: numerator ÷ denominator ×
    multiplier for a measure with denominators, numerator × multiplier without."""
    with_n = with_denominator(rows)
    mult = rows["multiplier"].astype(float)
    ratio = rows["numerator"] / rows["denominator"].where(rows["denominator"] > 0)
    return (ratio.where(with_n, rows["numerator"]) * mult).astype(float)


def chart_measure(
    measure: Measure,
    rows: pd.DataFrame,
    *,
    by: str | Sequence[str] = "group",
    rules: str = "mdc",
    starts: Iterable = (),
) -> Charted:
    """The chart of one measure's series (``rows``: ``period``, ``numerator``,
    ``denominator`` and the ``by`` columns), with a new phase from each month in
    ``starts`` (for example the months the team's change ideas started)."""
    by = [by] if isinstance(by, str) else list(by)
    data = rows.assign(**measure.columns())
    data["phase"] = phases_from(data["period"], starts)
    return chart_rows(data, by=by, rules=rules, phase="phase")

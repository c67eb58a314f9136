"""The Workshop's what-if: change one month's count and see which signals appear.

:func:`what_if` charts one team's group twice through the one recipe — as recorded and
with one month's count changed — and lists the months whose signal changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from qi.measures import Charted, Measure, chart_measure
from qi.series import valued
from qi.snapshot import Snapshot

#: Columns of :attr:`WhatIf.signals`.
SIGNAL_COLUMNS = ("month", "signal before", "signal after")


@dataclass(frozen=True)
class WhatIf:
    """One series as recorded and with one count changed (see :func:`what_if`).

    Attributes
    ----------
    measure, team, group, rules : what is charted, and with which rules.
    months : the months of the series (``YYYY-MM``), oldest first.
    month : the month changed; ``original`` its recorded count, ``value`` the new one.
    before, after : the charts as recorded and with the change.
    refusal : why the change was refused (a count above its denominator), or None.
    signals : per month, the signal in words before and after (:data:`SIGNAL_COLUMNS`).
    """

    measure: Measure
    team: str
    group: str
    rules: str
    months: tuple[str, ...]
    month: str | None
    original: float | None
    value: float | None
    before: Charted
    after: Charted
    refusal: str | None = None

    def denominator(self, month: str) -> float | None:
        """The denominator recorded for ``month`` (None when the measure has none)."""
        rows = self.before.rows
        value = rows.loc[rows["period"].dt.strftime("%Y-%m") == month, "denominator"]
        return None if value.empty or pd.isna(value.iloc[0]) else float(value.iloc[0])

    def recorded(self, month: str) -> float:
        """The count recorded for ``month`` (``YYYY-MM``)."""
        rows = self.before.rows
        return float(rows.loc[rows["period"].dt.strftime("%Y-%m") == month, "numerator"].iloc[0])

    @property
    def changed(self) -> bool:
        return self.value is not None and self.value != self.original

    @property
    def signals(self) -> pd.DataFrame:
        explain = _explainer(self.measure.improvement, self.rules)
        return pd.DataFrame(
            {
                "month": list(self.months),
                "signal before": explain(self.before),
                "signal after": explain(self.after),
            }
        )

    @property
    def changed_signals(self) -> pd.DataFrame:
        """The months whose signal the change made appear or disappear."""
        s = self.signals
        return s[s["signal before"] != s["signal after"]]

    @property
    def every_signal(self) -> pd.DataFrame:
        """Every month with a signal after the change."""
        s = self.signals
        return s[s["signal after"] != ""][["month", "signal after"]]

    def figure(self):
        """The chart after the change; the month changed is marked with its old value."""
        from qi.figures import spc_figure

        fig = spc_figure(
            self.after.points, title=f"{self.measure.name} — {self.team}, {self.group}",
            y_title=self.measure.unit, improvement=self.measure.improvement, rules=self.rules,
        )  # fmt: skip
        at = pd.Timestamp(f"{self.month}-01") if self.month else None
        before = self.before.points.set_index("x")["y"].get(at) if self.changed else None
        after = self.after.points.set_index("x")["y"].get(at) if self.changed else None
        if before is not None and after is not None:
            fig.add_annotation(
                x=at, y=after, text=f"changed here (was {before:,.3g})", showarrow=True,
                arrowhead=2, ax=0, ay=-40, font={"size": 11, "color": "#212B32"},
                bgcolor="rgba(255,255,255,0.85)",
            )  # fmt: skip
            fig.add_scatter(
                x=[at], y=[before], mode="markers", name="Value before the change",
                marker={"symbol": "x-thin-open", "size": 12, "color": "#212B32",
                        "line": {"width": 2}},
                hoverinfo="text", hovertext=[f"{self.month}: was {before:,.3g}"],
            )  # fmt: skip
            fig.layout.meta["description"] += (
                f" {at:%b %Y} changed here: was {before:,.3g}, now {after:,.3g}."
            )
        return fig


def _explainer(improvement: str, rules: str):
    from qi.figures import explain_signals

    def words(charted: Charted):
        return explain_signals(charted.points, improvement, rules=rules)["signal_text"].to_numpy()

    return words


def what_if(
    snapshot: Snapshot,
    *,
    team: str,
    measure: str,
    group: str = "All",
    rules: str = "anhoej",
    month: str | None = None,
    value: float | None = None,
) -> WhatIf:
    """``team``'s ``group`` series of ``measure``, and the same with ``month``'s
    (``YYYY-MM``; default the latest) count set to ``value`` (None: unchanged). On a
    proportion chart a count above its denominator is refused (``refusal`` says why)."""
    # the workshop reads the rules on the series alone: no target line on its chart
    info = replace(snapshot.measure(measure), target=None)
    obs = snapshot.observations
    obs = obs[(obs["team"] == team) & (obs["measure"] == measure)]
    series = snapshot.series(obs)
    data = valued(series[series["group"] == group]).reset_index(drop=True)
    months = tuple(data["period"].dt.strftime("%Y-%m"))
    if month is None or month not in months:
        month = months[-1] if months else None
    original = None
    refusal = None
    changed = data
    if month is not None:
        at = months.index(month)
        original = float(data.loc[at, "numerator"])
        denominator = data.loc[at, "denominator"]
        if (
            value is not None
            and info.proportion
            and pd.notna(denominator)
            and (float(value) > float(denominator))
        ):
            # a proportion cannot count more people than there are: say so, change nothing
            refusal = (
                f"{value:g} is more than the {denominator:g} "
                f"{info.denominator_definition or 'in the denominator'} of {month}: a "
                "proportion cannot count more people than there are. Nothing was changed."
            )
        elif value is not None:
            changed = data.copy()
            changed.loc[at, "numerator"] = float(value)
    before = chart_measure(info, data, by=[], rules=rules)
    after = before if changed is data else chart_measure(info, changed, by=[], rules=rules)
    return WhatIf(
        measure=info, team=team, group=group, rules=rules, months=months, month=month,
        original=original, value=original if value is None or refusal else float(value),
        before=before, after=after, refusal=refusal,
    )  # fmt: skip

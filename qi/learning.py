"""What the collaborative learned: each change of the change package, where it was
tested, for whom, and what followed.

Teams tag their change ideas with a change of the collaborative's change package
(:meth:`qi.store.Store.load_change_package`, :meth:`qi.store.Store.set_change_tag`).
:func:`learning` gives one row per change × team × measure × group tested, with the
cycles run, the first cycle's start, and what followed on that series, judged by
:func:`qi.accountability.holding_gains` (Making Data Count rules, the months before
the change as the old process) and said in words (:data:`OUTCOMES`):

* **improvement sustained** — a shift (``shift`` points, 7) on the better side of the
  old centre line or a point beyond the old limit, held 12 months or more and not at
  risk;
* **improvement holding** — improved, held for less than 12 months so far;
* **improvement at risk** — improved, then the gain no longer shows in the last 3
  months, or the improved process shows a special cause of concern;
* **no signal** — enough months before and after the change, and no improvement;
* **not enough data yet** — no improvement *yet*, and fewer than ``min_after`` months
  with a value from the change's month on (default 7, the shift rule's length: with
  fewer points after it a shift cannot have shown yet), or fewer than ``min_before``
  before it (default 7: fewer points than a shift cannot set the old process's lines
  worth judging against). An improvement already signalled is never "not enough data".

Change ideas without a tag are listed under the tag ``untagged``. :func:`by_change`
rolls the table up to one row per change of the package (teams, cycles, groups,
outcomes counted), :func:`driver_diagram` lays the package out as primary driver →
secondary driver → change. Each row carries what a link to its chart needs (team,
measure, group and the months its chart starts a new phase, as the board's
drill-down phases it). Everything is vectorised: one :func:`holding_gains` call.

From a notebook (no Streamlit)::

    from qi.snapshot import Snapshot
    from qi.store import Store
    from qi.learning import learning_of, by_change

    table = learning_of(Snapshot.from_store(Store.open()))
    table[["tag", "team", "group", "cycles", "outcome"]]
    by_change(table)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qi.accountability import change_starts, holding_gains
from qi.series import ALL, valued

#: What followed a change, in words, best news first.
OUTCOMES = (
    "improvement sustained",
    "improvement holding",
    "improvement at risk",
    "no signal",
    "not enough data yet",
)
#: :func:`holding_gains`'s status → outcome.
STATUS_OUTCOME = {
    "sustained": "improvement sustained",
    "holding": "improvement holding",
    "at risk": "improvement at risk",
    "no improvement": "no signal",
}
#: The tag of change ideas without one.
UNTAGGED = "untagged"
PACKAGE_COLUMNS = ("tag", "change", "primary_driver", "secondary_driver")
LEARNING_COLUMNS = (
    "tag", "change", "primary_driver", "secondary_driver", "team", "measure", "group",
    "change_ideas", "cycles", "first_start", "latest_start", "months_before", "months_after",
    "outcome", "improved_from", "months_held", "concern_from", "phases",
)  # fmt: skip
KEYS = ["tag", "team", "measure", "group"]


def learning(
    series: pd.DataFrame,
    cycles: pd.DataFrame,
    package: pd.DataFrame | None = None,
    *,
    min_before: int = 7,
    min_after: int = 7,
    phases: pd.DataFrame | None = None,
    **gains,
) -> pd.DataFrame:
    """One row per change × team × measure × group tested (see the module docstring).

    Parameters
    ----------
    series : team-level series (:func:`qi.series.series_frame`, ``unit`` the team).
    cycles : PDSA cycles (:meth:`qi.store.Store.pdsa`): ``team``, ``measure``, ``group``,
        ``change_idea``, ``cycle``, ``start`` and ``tag`` (empty or missing: untagged);
        ``change_idea_id`` when there is one.
    package : the change package (``tag``, ``change``, ``primary_driver``,
        ``secondary_driver``), for the change's words and drivers.
    min_before, min_after : months with a value needed before and after the change to
        call "no signal" rather than "not enough data yet".
    phases : the recorded phases (:meth:`qi.store.Store.recorded_phases`): a chart
        link starts a phase there too, as the board's drill-down does.
    gains : passed to :func:`qi.accountability.holding_gains` (``shift``,
        ``sustain_months``, ``recent_months``, ``new_baseline``).

    Returns
    -------
    DataFrame with :data:`LEARNING_COLUMNS`, sorted by the package's order, team,
    measure and group; ``phases`` a tuple of "YYYY-MM" months (the chart's phases).
    """
    cy = cycles.copy()
    if "tag" not in cy:
        cy["tag"] = None
    cy["tag"] = cy["tag"].fillna("").astype(str).replace("", UNTAGGED)
    cy["group"] = cy["group"].fillna("").astype(str).replace("", ALL)
    cy["start"] = pd.to_datetime(cy["start"])
    idea = cy["change_idea_id"] if "change_idea_id" in cy else cy["change_idea"]
    cy["_cycle"] = idea.astype(str) + "\x00" + cy["cycle"].astype(str)
    grouped = cy.groupby(KEYS, sort=False)
    out = grouped.agg(
        first_start=("start", "min"),
        latest_start=("start", "max"),
        cycles=("_cycle", "nunique"),
        change_ideas=("change_idea", lambda s: "; ".join(sorted(set(s)))),
    ).reset_index()
    out["first_start"] = out["first_start"].dt.to_period("M").dt.to_timestamp()
    out["latest_start"] = out["latest_start"].dt.to_period("M").dt.to_timestamp()

    # months with a value before and after each change, on its series
    counted = valued(series).rename(columns={"unit": "team"})
    counted = counted[["team", "measure", "group", "period"]].merge(
        out[[*KEYS, "first_start"]].reset_index(), on=["team", "measure", "group"]
    )
    after = (counted["period"] >= counted["first_start"]).groupby(counted["index"]).sum()
    before = (counted["period"] < counted["first_start"]).groupby(counted["index"]).sum()
    out["months_before"] = before.reindex(out.index).fillna(0).astype(int)
    out["months_after"] = after.reindex(out.index).fillna(0).astype(int)

    changes = out[["team", "measure", "group", "tag", "first_start"]].rename(
        columns={"tag": "change_idea", "first_start": "start"}
    )
    if len(changes):
        judged = holding_gains(series, changes, **gains)  # one row per change, in order
    else:
        judged = pd.DataFrame(
            {"status": [], "improved_from": [], "months_held": [], "concern_from": []}
        )
    out["outcome"] = judged["status"].map(STATUS_OUTCOME).to_numpy()
    too_few = (out["months_before"] < min_before) | (out["months_after"] < min_after)
    out.loc[out["outcome"].eq("no signal") & too_few, "outcome"] = "not enough data yet"
    for col in ("improved_from", "concern_from"):
        out[col] = pd.to_datetime(judged[col].to_numpy())
    out["months_held"] = judged["months_held"].to_numpy().astype(int)

    # the months each chart starts a new phase (every change on the series, as the board)
    starts = change_starts(cycles, phases)
    months = starts.assign(month=starts["start"].dt.strftime("%Y-%m")).sort_values("month")
    phases = months.groupby(["team", "measure", "group"])["month"].agg(tuple)
    out["phases"] = [
        phases.get((t, m, g), ())
        for t, m, g in zip(out["team"], out["measure"], out["group"], strict=True)
    ]

    out = _with_package(out, package)
    order = _package_order(out["tag"], package)
    out = out.assign(_order=order).sort_values(["_order", "team", "measure", "group"])
    return out[list(LEARNING_COLUMNS)].reset_index(drop=True)


def learning_of(snapshot, **kwargs) -> pd.DataFrame:
    """:func:`learning` of what ``snapshot`` (a :class:`qi.snapshot.Snapshot`) holds."""
    kwargs.setdefault("phases", snapshot.phases)
    return learning(snapshot.series(), snapshot.pdsa, snapshot.change_package, **kwargs)


def by_change(table: pd.DataFrame, package: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`learning`'s ``table`` rolled up to one row per change: ``teams`` (how many
    tested it), ``tested_at`` (their names), ``series`` (team × measure × group tested),
    ``cycles``, ``groups``, a count per outcome (:data:`OUTCOMES`) and ``outcomes`` (the
    counts in words: "1 improvement sustained; 1 no signal"). With ``package``, its
    changes no one has tested yet are listed too, with ``teams`` 0 ("not tested yet")."""
    grouped = table.groupby("tag", sort=False)
    out = grouped.agg(
        teams=("team", "nunique"),
        tested_at=("team", lambda s: "; ".join(sorted(set(s)))),
        series=("team", "size"),
        cycles=("cycles", "sum"),
        groups=("group", lambda s: "; ".join(sorted(set(s)))),
    )
    counts = pd.crosstab(table["tag"], table["outcome"]).reindex(columns=list(OUTCOMES))
    out = out.join(counts.fillna(0).astype(int))
    if package is not None and len(package):
        out = out.reindex(list(dict.fromkeys([*package["tag"], *out.index])))
        for col in ("teams", "series", "cycles", *OUTCOMES):
            out[col] = out[col].fillna(0).astype(int)
        for col in ("tested_at", "groups"):
            out[col] = out[col].fillna("")
    out = out.reset_index()
    out["outcomes"] = [
        "; ".join(f"{int(rec[o])} {o}" for o in OUTCOMES if rec[o]) or "not tested yet"
        for _, rec in out.iterrows()
    ]
    out = _with_package(out, package)
    order = _package_order(out["tag"], package)
    out = out.assign(_order=order).sort_values("_order", kind="stable")
    cols = ["tag", "change", "primary_driver", "secondary_driver", "teams", "tested_at",
            "series", "cycles", "groups", *OUTCOMES, "outcomes"]  # fmt: skip
    return out[cols].reset_index(drop=True)


def driver_diagram(package: pd.DataFrame) -> pd.DataFrame:
    """The package laid out as its driver diagram: one row per change, in the
    facilitator's order within primary driver then secondary driver (each driver where
    it first appears), with ``primary_driver``, ``secondary_driver``, ``change``, ``tag``."""
    if package is None or not len(package):
        return pd.DataFrame(columns=["primary_driver", "secondary_driver", "change", "tag"])
    p = package.reset_index(drop=True)
    first_primary = p.groupby("primary_driver", sort=False).cumcount().eq(0)
    primary_rank = p["primary_driver"].map(
        dict(zip(p.loc[first_primary, "primary_driver"], range(len(p)), strict=False))
    )
    secondary_rank = p.groupby("primary_driver")["secondary_driver"].transform(
        lambda s: s.map({v: i for i, v in enumerate(dict.fromkeys(s))})
    )
    order = np.lexsort((np.arange(len(p)), secondary_rank.to_numpy(), primary_rank.to_numpy()))
    return p.iloc[order][["primary_driver", "secondary_driver", "change", "tag"]].reset_index(
        drop=True
    )


def _with_package(frame: pd.DataFrame, package: pd.DataFrame | None) -> pd.DataFrame:
    """``frame`` with the change's words and drivers (blank for untagged or unknown)."""
    words = (
        package[list(PACKAGE_COLUMNS)].drop_duplicates("tag").set_index("tag")
        if package is not None and len(package)
        else pd.DataFrame(columns=list(PACKAGE_COLUMNS)).set_index("tag")
    )
    out = frame.drop(columns=[c for c in PACKAGE_COLUMNS[1:] if c in frame]).join(words, on="tag")
    for col in PACKAGE_COLUMNS[1:]:
        out[col] = out[col].fillna("")
    out.loc[out["tag"].eq(UNTAGGED), "change"] = "(change ideas without a tag)"
    return out


def _package_order(tags: pd.Series, package: pd.DataFrame | None) -> np.ndarray:
    """Each tag's place: the package's order, then tags not in it, ``untagged`` last."""
    known = list(package["tag"]) if package is not None and len(package) else []
    rank = {t: i for i, t in enumerate(known)}
    big = len(known)
    return np.array([rank.get(t, big + (1 if t == UNTAGGED else 0)) for t in tags], dtype=int)

"""Phases tied to changes: when may a chart start a new phase, and why.

Making Data Count's guidance is to recalculate a chart's lines only after a
*sustained* shift that follows a *known* change, and to say why. :func:`offers` finds,
for many series at once, each sustained shift that starts at or after a logged change
(a PDSA cycle of a change idea for that team × measure × group) and offers a new
phase from that change's start, with the reason in words; :func:`accept` records an
offered phase in the store (:meth:`qi.store.Store.record_phase`), after computing the
offers again from the stored data, so a phase that no shift and no logged change
support is refused.

How a shift is found, for each logged change of a series:

* the series is charted with its current phases (the phases already recorded, none at
  first); the months of the change's phase *before* the change fix the centre line
  and limits, and the months from it are read against them (as Making Data Count reads
  a new process against the old one's lines), through the one recipe
  (:func:`qi.measures.chart_rows`, one grouped :func:`qi.spc` call per chart type);
* a **run** is a stretch of consecutive points on one side of that centre line (points
  on the line break a run under Making Data Count and Western Electric, and are
  skipped under Anhøj and IHI, as those rule sets count them); runs are read through
  the whole phase, so a run that began before the change is not a shift after it;
* a run is a **sustained shift** when it begins at or after the change and is as long
  as the rule set's own shift: Making Data Count 7, IHI 6, Western Electric 8 (its run
  rule), Anhøj one more than its run-length limit for the phase's number of useful
  points (``round(log2(n)) + 3``); or when a point beyond the limits on that side, at
  or after the change, is followed by the rest of its run for :data:`FOLLOW` points or
  more in all (the point beyond the limits dates the shift);
* the shift is tied to the **latest logged change whose cycle starts at or before the
  shift's first month**; the new phase starts in that cycle's first month. Only the
  first offer of a series' phase is made: recording it draws new lines, and the next
  is read against them.

No phase is offered when the shift began before every logged change, when a phase
already starts at that month, when the change's phase has fewer months before it than
the rule set's shift length (:func:`min_before`), or fewer from it on than the rule
set's baseline for a new phase (:func:`new_phase_points`: Making Data Count's 13 before
its short-group warning clears; otherwise the shift length). Nothing here claims a cause: the
reason says "after", never "because of".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qi._patterns import run_length_here
from qi.measures import chart_rows
from qi.rules import RULE_SETS
from qi.rules import mdc as mdc_rules
from qi.rules.anhoej import longest_run_max
from qi.series import ALL, valued

#: Columns of :func:`offers`.
OFFER_COLUMNS = (
    "team", "measure", "group", "start", "change_idea", "change_idea_id", "cycle",
    "shift_from", "rule", "side", "points", "kind", "reason",
)  # fmt: skip
#: A point beyond the limits is a sustained shift when its run on that side (from it)
#: lasts this many points or more.
FOLLOW = 4
#: Rule sets whose runs skip points on the centre line (rather than breaking there).
_SKIP_ON_LINE = ("anhoej", "ihi")
_KEYS = ["team", "measure", "group"]
_DIRECTION = {"increase": 1, "decrease": -1}


def shift_length(rules: str, n_useful=None):
    """The rule set's shift: the number of points in a row on one side of the centre line
    that is a signal. For Anhøj it depends on the phase's useful points ``n_useful``
    (one more than ``round(log2(n)) + 3``); the others use their own rule length."""
    rule_set = RULE_SETS[rules]
    if rules == "anhoej":
        n = np.atleast_1d(np.asarray(n_useful, dtype=np.int64))
        return (longest_run_max(n) + 1).astype(np.int64)
    if "shift" in rule_set.defaults:
        return int(rule_set.defaults["shift"])
    return int(rule_set.defaults["run"])


def new_phase_points(rules: str) -> int:
    """How many points a new phase needs before a shift can be read from it and its lines
    trusted: Making Data Count's short group (13: its lines carry a warning below that);
    for the other rule sets their shift length (Anhøj: its length for that many points)."""
    if rules == "mdc":
        return int(mdc_rules.SHORT_GROUP)
    if rules == "anhoej":
        # the smallest n whose run-length limit a run of n points can pass
        n = np.arange(1, 60)
        return int(n[n >= shift_length("anhoej", n)][0])
    return int(shift_length(rules))


def logged_changes(cycles: pd.DataFrame) -> pd.DataFrame:
    """Each PDSA cycle of each change idea as a logged change: ``team``, ``measure``,
    ``group`` (``All`` for an idea without one), ``change_idea``, ``change_idea_id``,
    ``cycle`` and ``start`` (the first month of the cycle's earliest stage)."""
    cols = [*_KEYS, "change_idea", "change_idea_id", "cycle", "start"]
    if cycles is None or cycles.empty:
        return pd.DataFrame(columns=cols)
    c = cycles.dropna(subset=["start"]).copy()
    if "change_idea_id" not in c:
        c["change_idea_id"] = pd.factorize(c["team"] + "\x00" + c["change_idea"])[0]
    c["group"] = c["group"].fillna("").replace("", ALL)
    c["start"] = pd.to_datetime(c["start"]).dt.to_period("M").dt.to_timestamp()
    out = c.groupby(
        [*_KEYS, "change_idea", "change_idea_id", "cycle"], as_index=False, dropna=False
    )["start"].min()
    out["cycle"] = out["cycle"].astype(int)
    return out[cols].sort_values([*_KEYS, "start", "cycle"], ignore_index=True)


def current_phases(series: pd.DataFrame, phases: pd.DataFrame | None) -> pd.Series:
    """Each row's phase number: 1, then +1 at each recorded phase start of its series
    (``phases``: ``team``, ``measure``, ``group``, ``start``; withdrawn ones left out)."""
    if phases is None or phases.empty:
        return pd.Series(1, index=series.index)
    p = phases
    if "withdrawn_at" in p:
        p = p[p["withdrawn_at"].isna()]
    starts = p[[*_KEYS, "start"]].assign(start=pd.to_datetime(p["start"]))
    hit = series[[*_KEYS, "period"]].reset_index().merge(starts, on=_KEYS)
    passed = (hit["period"] >= hit["start"]).groupby(hit["index"]).sum()
    return passed.reindex(series.index).fillna(0).astype(int) + 1


def offers(
    series: pd.DataFrame,
    cycles: pd.DataFrame,
    *,
    rules: str = "mdc",
    phases: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The new phases the charts of ``series`` may start, one per series at most: the
    first sustained shift that follows a logged change (see the module docstring).

    Parameters
    ----------
    series : team-level series (:func:`qi.series.series_frame`, ``unit`` or ``team``).
    cycles : the PDSA cycles (:meth:`qi.store.Store.pdsa`: ``team``, ``measure``,
        ``group``, ``change_idea``, ``cycle``, ``start``; ``change_idea_id`` if known).
    rules : a key of :data:`qi.RULE_SETS`.
    phases : the phases already recorded (:meth:`qi.store.Store.recorded_phases`).

    Returns
    -------
    DataFrame with :data:`OFFER_COLUMNS`, one row per offer:

    * ``start``: the first month of the new phase (the start month of the cycle);
    * ``change_idea``, ``change_idea_id``, ``cycle``: the logged change it follows;
    * ``shift_from``: the first month of the shift; ``rule``: ``"shift"`` (a run as long
      as the rule set's) or ``"beyond limit"`` (a point beyond a limit, then a run);
      ``side``: ``"above"`` or ``"below"`` the centre line; ``points``: the run's length;
    * ``kind``: ``"improvement"``, ``"concern"`` or ``"neutral"``, from the measure's
      improvement direction;
    * ``reason``: in words, e.g. "after PDSA 2 of <idea>: a run of 8 below the centre
      line from May 2025".

    Only the first offer of a series' phase is given: recording it draws new lines, and
    the next offer is read against them.
    """
    if rules not in RULE_SETS:
        raise ValueError(f"rules must be one of {', '.join(RULE_SETS)}; got {rules!r}")
    empty = pd.DataFrame(columns=list(OFFER_COLUMNS))
    changes = logged_changes(cycles)
    if changes.empty or series.empty:
        return empty
    changes["change_key"] = np.arange(len(changes))
    rows = series.rename(columns={"unit": "team"})
    rows = valued(rows.merge(changes[_KEYS].drop_duplicates(), on=_KEYS))
    if "complete" in rows:
        rows = rows[rows["complete"].astype(bool)]
    if rows.empty:
        return empty
    rows = rows.assign(phase=current_phases(rows, phases).to_numpy())
    # the phase each change falls in; a phase already starting there offers nothing
    at = changes.rename(columns={"start": "period"})
    changes["phase"] = current_phases(at, phases).to_numpy()
    if phases is not None and len(phases):
        taken = phases[phases.get("withdrawn_at", pd.Series(pd.NaT, phases.index)).isna()]
        taken = taken[[*_KEYS, "start"]].assign(start=pd.to_datetime(taken["start"]), _t=True)
        changes = changes.merge(taken, on=[*_KEYS, "start"], how="left")
        changes = changes[changes["_t"].isna()].drop(columns="_t")
    # each change's own copy of its phase: the months before it fix the lines, the months
    # from it are read against them
    each = rows.merge(changes[[*_KEYS, "phase", "change_key", "start"]], on=[*_KEYS, "phase"])
    each["after"] = each["period"] >= each["start"]
    counts = each.groupby("change_key")["after"].agg(["sum", "size"])
    before = counts["size"] - counts["sum"]
    enough = counts.index[
        (before >= min_before(rules)) & (counts["sum"] >= new_phase_points(rules))
    ]
    each = each[each["change_key"].isin(enough)]
    if each.empty:
        return empty
    charted = chart_rows(each, by=["change_key"], rules=rules, phase=None, exclude="after")
    if not charted.results:
        return empty
    pts = charted.points.sort_values(["change_key", "x"], ignore_index=True)
    shifts = _shifts(pts.merge(changes[["change_key", "start"]], on="change_key"), rules)
    if shifts.empty:
        return empty
    return _tie(shifts, changes, rows)


#: At most this many points of a shift's run may come before the change it follows.
BEFORE_CHANGE = 2
#: A shift is still showing when one of the series' last RECENT points is beyond a limit
#: on its side or in a run as long as a shift there (as holding the gains reads an
#: improvement as lost: :func:`qi.accountability.holding_gains`).
RECENT = 3


def min_before(rules: str) -> int:
    """How many months before a change (in its phase) its lines need: the rule set's
    shift length, so that a run as long as a shift could have been seen before it."""
    return new_phase_points("anhoej") if rules == "anhoej" else int(shift_length(rules))


def _shifts(pts: pd.DataFrame, rules: str) -> pd.DataFrame:
    """Each change's first sustained shift from its start on, read against the lines of
    the months before it: ``change_key``, ``shift_from``, ``rule``, ``side``, ``points``.
    Runs are read through the whole phase: a run counts from the change's month, with at
    most :data:`BEFORE_CHANGE` of its points before it, and only while one of the series'
    last :data:`RECENT` points still shows it (beyond a limit or in a long run there)."""
    pts = pts[pts["y"].notna() & pts["cl"].notna()]
    y = pts["y"].to_numpy(dtype=float)
    side = np.sign(y - pts["cl"].to_numpy(dtype=float))
    keep = side != 0 if rules in _SKIP_ON_LINE else np.ones(len(side), dtype=bool)
    p = pts[keep].reset_index(drop=True)
    seg, side, y = p["change_key"].to_numpy(), side[keep], y[keep]
    if not len(p):
        return pd.DataFrame()
    run = run_length_here(side.astype(float), seg)
    run_id = np.cumsum(run == 1)
    beyond = ((side > 0) & (y > p["ucl"].to_numpy(dtype=float))) | (
        (side < 0) & (y < p["lcl"].to_numpy(dtype=float))
    )
    runs = pd.DataFrame({
        "run": run_id, "change_key": seg, "side": side, "x": p["x"].to_numpy(),
        "beyond": beyond & (p["x"] >= p["start"]).to_numpy(), "start": p["start"].to_numpy(),
    })  # fmt: skip
    if rules == "anhoej":
        # Anhøj's limit for the number of useful points of the phase
        useful = runs.groupby("change_key")["x"].transform("size").to_numpy()
        runs["need"] = shift_length("anhoej", useful)
    else:
        runs["need"] = shift_length(rules)
    runs = runs[runs["side"] != 0]
    size = runs.groupby("run")["x"].transform("size")
    # from the first point beyond the limits in the run (after the change), how many
    # points to its end
    first_beyond = runs["x"].where(runs["beyond"]).groupby(runs["run"]).transform("min")
    after_beyond = (runs["x"] >= first_beyond).groupby(runs["run"]).transform("sum")
    from_start = (runs["x"] >= runs["start"]).groupby(runs["run"]).transform("sum")
    runs = runs.assign(size=size, first_beyond=first_beyond, after_beyond=after_beyond,
                       from_start=from_start)  # fmt: skip
    # does the series still show it? as holding the gains reads it: one of its last
    # RECENT points is beyond a limit on that side or in a run as long as a shift there
    showing = (runs["size"] >= runs["need"]).to_numpy() | beyond[runs.index.to_numpy()]
    last = runs.assign(showing=showing).groupby("change_key").tail(RECENT)
    shown_sides = last[last["showing"]].groupby("change_key")["side"]
    still_below, still_above = shown_sides.min() < 0, shown_sides.max() > 0
    head = runs.groupby("run", sort=False).first()
    # a run counts from the change: as long as a shift from the change's month on, and
    # at most BEFORE_CHANGE of its points before it (a point or two on the new side just
    # before a change is chance; a run already long before it is not the change's)
    is_shift = (head["from_start"] >= head["need"]) & (
        head["size"] - head["from_start"] <= BEFORE_CHANGE
    )
    is_beyond = ~is_shift & head["first_beyond"].notna() & (head["after_beyond"] >= FOLLOW)
    # sustained: the series is still on the shift's side now (an improvement that faded
    # is not a new process level, and a phase across it would hide the fade)
    below = head["change_key"].isin(still_below.index[still_below.to_numpy(dtype=bool)])
    above = head["change_key"].isin(still_above.index[still_above.to_numpy(dtype=bool)])
    sustained = np.where(head["side"] < 0, below, above)
    found = head[(is_shift | is_beyond) & sustained].copy()
    shift = is_shift[found.index].to_numpy()
    found["rule"] = np.where(shift, "shift", "beyond limit")
    dated = np.maximum(found["x"].to_numpy(), found["start"].to_numpy())
    found["shift_from"] = pd.to_datetime(np.where(shift, dated, found["first_beyond"])).astype(
        "datetime64[ns]"
    )
    found["points"] = np.where(shift, found["from_start"], found["after_beyond"]).astype(int)
    found["side"] = np.where(found["side"] > 0, "above", "below")
    found = found.sort_values("shift_from").drop_duplicates("change_key")
    return found[["change_key", "shift_from", "rule", "side", "points"]].reset_index(drop=True)


def _tie(shifts, changes, rows) -> pd.DataFrame:
    """Each change's first shift, kept when that change is the latest logged one at or
    before the shift's first month (a later cycle takes the shifts that follow it), and
    the first of a series' phase; with its kind and reason (see :func:`offers`)."""
    tied = shifts.merge(changes, on="change_key")
    ch = changes[[*_KEYS, "start", "change_key"]].rename(columns={"change_key": "latest"})
    ch = ch.assign(start=ch["start"].astype("datetime64[ns]")).sort_values("start")
    tied = pd.merge_asof(
        tied.sort_values("shift_from"), ch.rename(columns={"start": "latest_start"}),
        left_on="shift_from", right_on="latest_start", by=_KEYS, direction="backward",
    )  # fmt: skip
    # the same month can start two cycles: either is the latest
    tied = tied[tied["latest_start"] == tied["start"].astype("datetime64[ns]")]
    tied = tied.sort_values([*_KEYS, "start", "cycle"]).drop_duplicates([*_KEYS, "phase"])
    if tied.empty:
        return pd.DataFrame(columns=list(OFFER_COLUMNS))
    tied = tied.reset_index(drop=True)
    facts = rows.groupby(_KEYS)[["improvement"]].first()
    facts["rare"] = rows.groupby(_KEYS)["rare"].any() if "rare" in rows else False
    f = facts.reindex(pd.MultiIndex.from_frame(tied[_KEYS]))
    better = f["improvement"].map(_DIRECTION).fillna(0).to_numpy()
    # a rare event is drawn as the exposure between events: longer is fewer events
    better = np.where(f["rare"].fillna(False).astype(bool).to_numpy(), -better, better)
    up = np.where(tied["side"] == "above", 1, -1)
    tied["kind"] = np.select([better == 0, better == up], ["neutral", "improvement"], "concern")
    tied["reason"] = [_reason(r) for r in tied.itertuples(index=False)]
    tied["cycle"] = tied["cycle"].astype(int)
    return tied[list(OFFER_COLUMNS)].sort_values([*_KEYS, "start"], ignore_index=True)


def _reason(r) -> str:
    when = f"{pd.Timestamp(r.shift_from):%B %Y}"
    after = f"after PDSA {int(r.cycle)} of {r.change_idea}"
    if r.rule == "shift":
        return f"{after}: a run of {int(r.points)} {r.side} the centre line from {when}"
    limit = "upper" if r.side == "above" else "lower"
    return (
        f"{after}: a point {r.side} the {limit} limit in {when}, and a run of "
        f"{int(r.points)} {r.side} the centre line from it"
    )


def for_series(offered: pd.DataFrame, team: str, measure: str, group: str) -> pd.DataFrame:
    """The offers of one series."""
    hit = (offered["team"] == team) & (offered["measure"] == measure) & (offered["group"] == group)
    return offered[hit]


def accept(
    store,
    *,
    team: str,
    measure: str,
    group: str = ALL,
    start,
    rules: str = "mdc",
    user: str = "system",
) -> int:
    """Record the phase offered for ``team`` × ``measure`` × ``group`` from the month
    ``start``: the offers are computed again from what ``store`` holds now (its
    observations, PDSA cycles and recorded phases), and a phase that none supports is
    refused with a :class:`qi.store.StoreError` saying why. Returns the phase's id."""
    from qi.snapshot import Snapshot
    from qi.store import StoreError

    month = pd.Timestamp(start).to_period("M").to_timestamp()
    snap = Snapshot.from_store(store, teams=[team], measures=[measure])
    changes = logged_changes(snap.pdsa)
    mine = changes[
        (changes["team"] == team) & (changes["measure"] == measure) & (changes["group"] == group)
    ]
    where = f"{team} · {measure} · {group}"
    if mine.empty:
        raise StoreError(f"no phase for {where}: no change is logged for this series")
    if not (mine["start"] == month).any():
        months = ", ".join(f"{m:%Y-%m}" for m in sorted(mine["start"].unique()))
        raise StoreError(
            f"no phase for {where} from {month:%Y-%m}: a phase starts at a logged change's "
            f"cycle, and this series' cycles start in {months}"
        )
    if month in phase_starts(snap.phases, team, measure, group):
        raise StoreError(f"a phase of {where} from {month:%Y-%m} is already recorded")

    def offered(snapshot: Snapshot) -> pd.Series:
        found = for_series(
            offers(snapshot.series(), snapshot.pdsa, rules=rules, phases=snapshot.phases),
            team, measure, group,
        )  # fmt: skip
        hit = found[found["start"] == month]
        if hit.empty:
            raise StoreError(
                f"no phase for {where} from {month:%Y-%m}: no sustained shift starts at or "
                f"after that change (rules: {RULE_SETS[rules].label}), with enough months "
                "before and since, so the chart's lines stay as they are"
            )
        return hit.iloc[0]

    o = offered(snap)

    def supported() -> str:
        # again under the store's write lock, from what is stored now
        again = offered(Snapshot.from_store(store, teams=[team], measures=[measure]))
        if (again["change_idea_id"], again["cycle"]) != (o["change_idea_id"], o["cycle"]):
            raise StoreError(f"the data of {where} changed meanwhile: look at the chart again")
        return f"{again['reason']} ({RULE_SETS[rules].label})"

    return store.record_phase(
        team=team, measure=measure, group=group, start=month,
        change_idea=int(o["change_idea_id"]), cycle=int(o["cycle"]), supported=supported,
        user=user,
    )  # fmt: skip


def phase_starts(phases: pd.DataFrame, team: str, measure: str, group: str) -> list:
    """The months the recorded (not withdrawn) phases of one series start."""
    if phases is None or phases.empty:
        return []
    p = phases
    if "withdrawn_at" in p:
        p = p[p["withdrawn_at"].isna()]
    hit = p[(p["team"] == team) & (p["measure"] == measure) & (p["group"] == group)]
    return sorted(pd.Timestamp(s) for s in hit["start"].unique())



def _words():
    from qi.words import Column

    return [
        Column("group", "Group"),
        Column("start", "New phase from", "month"),
        Column("reason", "Why"),
        Column("created_by", "Recorded by"),
        Column("created_at", "Recorded at", "time"),
    ]


#: The recorded phases as a table in words (:func:`qi.words.table`).
WORDS = _words()

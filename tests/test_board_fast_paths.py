"""The board's fast paths give what the plain paths give.

Each vectorised or deferred step of the Board (issue 22: the board at national scale)
is checked against the plain computation it replaces, on data built so that every
branch is taken: lines with one, two or no hidden counts, ties, zeros and missing
values for the disclosure rule; selections in any order for the lazy sentences.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from qi import disclosure, exports, screens
from qi.series import ALL
from qi.snapshot import Snapshot
from qi.store import Store

TODAY = dt.date(2026, 11, 25)
KEYS = ["unit", "measure", "group"]


@pytest.fixture(scope="module")
def snap(sample_db) -> Snapshot:
    with Store.open(f"sqlite:///{sample_db}") as store:
        return Snapshot.from_store(store)


def _secondary_one_by_one(hidden, v, keys, is_all, has_all) -> None:
    """The secondary rule line by line, as it was written first (the reference)."""
    rows = np.flatnonzero(has_all)
    for key in dict.fromkeys(keys[rows]):
        members = rows[keys[rows] == key]
        while hidden[members].sum() == 1:
            shown = members[~hidden[members] & np.isfinite(v[members]) & (v[members] > 0)]
            if not len(shown):
                break
            hidden[sorted(shown, key=lambda i: (bool(is_all[i]), v[i]))[0]] = True


@pytest.mark.parametrize("seed", range(20))
def test_the_secondary_rule_hides_what_the_line_by_line_rule_hides(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    keys = rng.integers(0, max(1, n // 4), n)
    # small values, repeats (ties), zeros and missing counts
    v = rng.choice([np.nan, 0.0, 1.0, 3.0, 7.0, 8.0, 9.0, 12.0, 40.0], n)
    is_all = rng.random(n) < 0.2
    has_all = np.isin(keys, keys[is_all])
    hidden = (v >= 1) & (v <= 7) & (rng.random(n) < 0.7)
    expected = hidden.copy()
    _secondary_one_by_one(expected, v, keys, is_all, has_all)
    disclosure._secondary(hidden, v, keys, is_all, has_all)
    assert (hidden == expected).all()


def _as_in_by_merge(out, context, *, line, counts, threshold):
    """A table's rows suppressed as they are in the whole lines of ``context``, by a
    merge on the keys written as text (the reference: how it was written first)."""
    keys = [*line, "group"]
    whole = disclosure.suppress_points(context[[*keys, *counts]], line=line, counts=counts,
                                       values=(), limits=(), threshold=threshold)  # fmt: skip
    flags = pd.DataFrame({k: whole[k].astype(object).fillna("").astype(str) for k in keys})
    for col in counts:
        flags[f"_hide_{col}"] = (whole[col].astype(object) == disclosure.SUPPRESSED).to_numpy()
    flags["_reason"] = whole["suppressed"].to_numpy()
    flags = flags.drop_duplicates(keys)
    mine = pd.DataFrame({k: out[k].astype(object).fillna("").astype(str) for k in keys})
    found = mine.merge(flags, on=keys, how="left")
    hide = {}
    for col in counts:
        h = found[f"_hide_{col}"].fillna(False).to_numpy(dtype=bool, copy=True)
        v = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float)
        hide[col] = h | ((v >= 1) & (v <= threshold))
    any_hidden = np.logical_or.reduce(list(hide.values()))
    reason = found["_reason"].fillna("").to_numpy(dtype=object)
    return hide, np.where(any_hidden, np.where(reason == "", "small number", reason), "")


@pytest.mark.parametrize("seed", range(20))
def test_a_tables_rows_are_found_in_their_whole_lines_as_a_merge_finds_them(seed):
    """The rows of a chart's table are looked up in the whole lines (context) by integer
    codes, not a merge: the same cells are hidden, for the same reasons, with rows the
    context lacks, repeated context rows (the first counts), missing keys and keys read
    as numbers on one side and text on the other."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    context = pd.DataFrame({
        "unit": rng.choice(["A", "B", None], n, p=[0.45, 0.45, 0.1]),
        "measure": rng.choice(["m1", "m2"], n),
        "period": rng.choice(["2024-01", "2024-02", "2024-03", "2024-04"], n),
        "group": rng.choice([ALL, "Black", "White", "Asian"], n, p=[0.3, 0.3, 0.3, 0.1]),
        "numerator": rng.choice([np.nan, 0.0, 1.0, 3.0, 7.0, 8.0, 12.0, 40.0], n),
        "denominator": rng.choice([np.nan, 0.0, 5.0, 9.0, 30.0, 200.0], n),
    })  # fmt: skip
    if seed % 4 == 0:  # a key read as numbers in the context, as text in the table
        context["measure"] = rng.integers(1, 3, n)
    m = int(rng.integers(1, 200))
    out = context.sample(m, replace=True, random_state=seed).reset_index(drop=True)
    strangers = rng.random(m) < 0.2  # rows the context does not have
    out.loc[strangers, "period"] = "2030-01"
    out["measure"] = out["measure"].astype(str)
    out["numerator"] = np.where(rng.random(m) < 0.1, 4.0, out["numerator"])
    line = ["unit", "measure", "period"]
    counts = ["numerator", "denominator"]
    for threshold in (7, 30):
        want, why = _as_in_by_merge(out, context, line=line, counts=counts, threshold=threshold)
        got = disclosure.hidden_counts(out, line=line, counts=counts, threshold=threshold,
                                       context=context)  # fmt: skip
        for col in counts:
            np.testing.assert_array_equal(got[col].to_numpy(), want[col])
        table = disclosure.suppress_points(out, line=line, values=(), limits=(),
                                           threshold=threshold, context=context)  # fmt: skip
        np.testing.assert_array_equal(table["suppressed"].to_numpy(dtype=object), why)


def test_the_secondary_rule_picks_a_group_before_all_and_the_first_among_equals():
    keys = np.array([0, 0, 0, 0, 1, 1, 1])
    v = np.array([3.0, 9.0, 9.0, 9.0, 2.0, 0.0, 10.0])
    is_all = np.array([False, True, False, False, False, False, True])
    hidden = np.array([True, False, False, False, True, False, False])
    disclosure._secondary(hidden, v, keys, is_all, np.ones(7, dtype=bool))
    # line 0: the first group's 9 (row 2), not All's; line 1: only All is left to hide
    assert hidden.tolist() == [True, False, True, False, True, False, True]


@pytest.mark.parametrize("small_numbers", [False, True])
def test_the_board_writes_each_groups_sentences_as_it_writes_every_row_at_once(snap, small_numbers):
    from qi.accountability import changes_from, holding_gains
    from qi.sentences import facts, gap_change

    view = screens.board(snap, level="team", today=TODAY)
    plain = screens.board(snap, level="team", today=TODAY)
    # every row's facts in one pass, from the board's own reading (as the board worked
    # them out before it did so a group at a time, when the group is first shown)
    source = plain.facts_from
    everything = facts(
        source.charted, snap.measures, cycles=snap.pdsa,
        gains=holding_gains(snap.series(), changes_from(snap.pdsa)),
        gaps=gap_change(source.complete, snap.measures, reference="White"),
    )  # fmt: skip
    object.__setattr__(plain, "_facts", lambda group: everything)
    threshold = 0 if small_numbers else disclosure.THRESHOLD
    every_row = exports.matrix_data(plain.rows, threshold=threshold)
    hidden = every_row["value"] == disclosure.SUPPRESSED
    assert hidden.any() != small_numbers
    eager = plain._summary(plain.rows, "every group", small_numbers, hidden)
    eager = pd.Series(eager, index=plain.rows.index)
    # the cases: a gap to White, a change and whether its improvement holds
    assert eager.str.contains("the gap to the White group is").any()
    assert eager.str.contains("(improvement sustained)", regex=False).any()
    for group in reversed(view.groups):  # whatever the order the groups are chosen in
        picked = view.select(group=group, small_numbers=small_numbers)
        rows = view.rows[view.rows["group"] == group]
        assert picked.download["summary"].tolist() == eager[rows.index].tolist()
        assert picked.rows["summary"].tolist() == eager[rows.index].tolist()
    # every group written: the view no longer keeps the series its facts came from
    assert view.facts_from.charted is None and view.facts_from.held is None
    again = view.select(group=ALL, small_numbers=small_numbers)  # written, so still there
    assert again.rows["summary"].tolist() == eager[view.rows["group"] == ALL].tolist()


def test_a_group_with_nothing_to_chart_still_says_so(snap):
    # two teams' staff disciplinary cases: neither has had a case of the Other group
    narrow = screens.narrowed(snap, teams=["Hawthorn Ward", "Westhaven Community Team"],
                              measures=["staff_disciplinary"])  # fmt: skip
    view = screens.board(narrow, level="team", today=TODAY)
    said = view.select(group="Other").rows["summary"].tolist()
    assert said == [
        f"At {team}, staff entering a formal disciplinary process: No events since Nov 2023: "
        "nothing to chart."
        for team in ["Hawthorn Ward", "Westhaven Community Team"]
    ]
    assert view.select(group=ALL).rows["summary"].str.len().gt(0).all()


def _sparkline_one_by_one(part: pd.DataFrame) -> list:
    """One series' sparkline as it was first specified (the reference): the 24 months up
    to its latest, a month without a row or hidden None; a rare event's rows (a month
    with events each) one after another."""
    if part["by_event"].all():
        return [None if pd.isna(v) else float(v) for v in part["value"].tail(24)]
    months = part["period"].dt.to_period("M")
    window = pd.period_range(months.max() - 23, months.max(), freq="M")
    by_month = part.set_index(months)["value"]
    return [None if m not in by_month.index or pd.isna(by_month[m]) else float(by_month[m])
            for m in window]  # fmt: skip


@pytest.mark.parametrize("level", ["team", "trust"])
@pytest.mark.parametrize("small_numbers", [False, True])
def test_the_boards_sparklines_are_each_series_recent_months_with_gaps(snap, small_numbers, level):
    view = screens.board(snap, level=level, today=TODAY)
    recent = view.recent
    threshold = 0 if small_numbers else disclosure.THRESHOLD
    keep = ~disclosure.hidden(recent, line=["unit", "measure", "period"], threshold=threshold)
    expected = (
        recent.assign(value=recent["value"].where(keep))
        .groupby(KEYS)[["period", "value", "by_event"]]
        .apply(_sparkline_one_by_one)
    )
    gaps = 0
    for group in view.groups:
        rows = view.select(group=group, small_numbers=small_numbers).rows
        want = expected.reindex(pd.MultiIndex.from_frame(rows[KEYS])).tolist()
        assert rows["sparkline"].tolist() == want
        drawn = [s for s in want if isinstance(s, list)]
        assert all(len(s) <= 24 for s in drawn)
        gaps += sum(None in s for s in drawn)
    assert gaps  # (the sample has months not sent, and small numbers)
    if level == "team":  # a rare event's sparkline is one point per month with events
        assert recent["by_event"].any() and not recent["by_event"].all()


def test_a_month_not_sent_is_a_gap_in_the_sparkline_not_a_line_across(snap):
    """Cedar Ward's months of one measure with one month taken out: its sparkline has
    None in that month's place, and the months before it keep theirs; with only its
    last three months, they are the last three of 24 (not spread over the width)."""
    obs = snap.observations
    measure = "felt_respected"
    months = sorted(obs.loc[(obs["team"] == "Cedar Ward") & (obs["measure"] == measure),
                            "period"].unique())  # fmt: skip
    gone = months[-5]
    series = (obs["team"] == "Cedar Ward") & (obs["measure"] == measure)
    narrow = dataclasses.replace(
        snap, observations=obs[~(series & (obs["period"] == gone))].reset_index(drop=True)
    )
    young = dataclasses.replace(
        snap, observations=obs[~(series & (obs["period"] < months[-3]))].reset_index(drop=True)
    )
    before, after, late = [
        screens.board(s, level="team", today=TODAY)
        .select(group=ALL, small_numbers=True)
        .rows.set_index(KEYS)
        .loc[("Cedar Ward", measure, ALL), "sparkline"]
        for s in (snap, narrow, young)
    ]
    assert len(before) == len(after) == len(late) == 24
    assert after[-5] is None and before[-5] is not None
    assert after[:-5] == before[:-5] and after[-4:] == before[-4:]
    assert late == [None] * 21 + before[-3:] and None not in before[-3:]


def test_the_95_percent_z_without_scipy_is_scipys_to_the_last_bit():
    from scipy import special

    from qi.equality import _lazy

    assert _lazy.Z95 == float(special.ndtri(0.975)) == _lazy.ndtri(0.5 * (1 + 0.95))
    assert _lazy.ndtri(0.95) == float(special.ndtri(0.95))


def _latest_runs_grouped(points: pd.DataFrame) -> pd.DataFrame:
    """The runs of :func:`qi.sentences._latest_runs` by grouped frames, as first written."""
    keys = KEYS
    pts = points.sort_values([*keys, "x"], kind="stable").reset_index(drop=True)
    kind = pts["point_type"].astype(str).to_numpy()
    key = pts.groupby(keys, sort=False, dropna=False, observed=True).ngroup().to_numpy()
    phase = pts["phase"].to_numpy()
    new = np.r_[True, (key[1:] != key[:-1]) | (phase[1:] != phase[:-1]) | (kind[1:] != kind[:-1])]
    pts["_run"] = np.cumsum(new)
    pts["_phase_id"] = np.cumsum(np.r_[True, (key[1:] != key[:-1]) | (phase[1:] != phase[:-1])])
    grouped = pts.groupby(keys, sort=False)
    last = grouped.tail(1).set_index(keys)
    return pd.DataFrame(
        {
            "signal_from": pts.groupby("_run")["x"].min().reindex(last["_run"]).to_numpy(),
            "months": pts.groupby("_run").size().reindex(last["_run"]).to_numpy(),
            "points": pts.groupby("_phase_id").size().reindex(last["_phase_id"]).to_numpy(),
            "phase_from": pts.groupby("_phase_id")["x"].min().reindex(last["_phase_id"]).to_numpy(),
            "first_period": grouped["x"].min().reindex(last.index).to_numpy(),
            "short": last["short_group_warning"].astype(bool).to_numpy(),
        },
        index=last.index,
    )


def test_the_latest_runs_are_those_of_the_grouped_frames(snap):
    from qi.board import chart
    from qi.sentences import _latest_runs, _mdc_points

    series = snap.series()
    rng = np.random.default_rng(5)
    # phases at random months, and the points shuffled: the runs are read in x order
    series = series.assign(phase=(rng.random(len(series)) < 0.05).cumsum() % 3)
    points = _mdc_points(chart(series)).sample(frac=1.0, random_state=5)
    fast = _latest_runs(points)
    plain = _latest_runs_grouped(points).reindex(fast.index)
    assert len(fast) == len(plain) == points.groupby(KEYS).ngroups
    pd.testing.assert_frame_equal(fast, plain, check_dtype=False)
    assert (fast["months"] > 1).any() and (fast["points"] < fast["months"].max()).any()


def _sum_counts_grouped(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grouped = frame.groupby(keys, sort=False, observed=True, dropna=False)
    return pd.DataFrame(
        {
            "numerator": grouped["numerator"].sum(),
            "denominator": grouped["denominator"].sum(min_count=1),
        }
    ).reset_index()


def test_counts_summed_by_one_integer_key_are_those_summed_by_the_key_columns(snap):
    from qi.series import series_frame, sum_counts

    obs = snap.observations
    for keys in (["team", "measure", "broad_group", "period"], ["trust", "measure", "period"]):
        pd.testing.assert_frame_equal(sum_counts(obs, keys), _sum_counts_grouped(obs, keys))
    # missing keys and denominators, fractional counts, rows in any order
    rng = np.random.default_rng(9)
    n = 500
    frame = pd.DataFrame(
        {
            "team": rng.choice(["A", "B", None], n),
            "period": pd.to_datetime(rng.choice(["2024-01-01", "2024-02-01", None], n)),
            "numerator": rng.random(n) * 10,
            "denominator": np.where(rng.random(n) < 0.3, np.nan, rng.random(n) * 100),
        }
    )
    pd.testing.assert_frame_equal(
        sum_counts(frame, ["team", "period"]), _sum_counts_grouped(frame, ["team", "period"])
    )
    # series_frame's rows come sorted by series and month, as they were sorted last
    series = series_frame(obs, snap.measures, rare=snap.rare)
    keys = ["unit", "measure", "group", "period"]
    pd.testing.assert_frame_equal(series, series.sort_values(keys, ignore_index=True))


def test_the_boards_recent_months_are_each_series_last_rows():
    from qi.screens.board import _tail

    rng = np.random.default_rng(2)
    n = 3000
    frame = pd.DataFrame(
        {
            "unit": rng.choice(["Oak", "Ash", "Elm"], n),
            "measure": rng.choice(["a", "b"], n),
            "group": rng.choice(["All", "Black", "White"], n),
            "value": rng.random(n),
        }
    )
    for months in (1, 24, 1000):
        expected = frame.groupby(KEYS, sort=False).tail(months)
        pd.testing.assert_frame_equal(_tail(frame, KEYS, months), expected)


def test_the_sentences_written_in_the_background_are_those_written_on_demand(snap):
    import threading

    view = screens.board(snap, level="team", today=TODAY)
    plain = screens.board(snap, level="team", today=TODAY)
    first = view.select(group="Black", others_in_background=True)
    for t in [t for t in threading.enumerate() if t.name == "qi-board-sentences"]:
        t.join(timeout=60)
    assert all((disclosure.THRESHOLD, g) in view._disclosed for g in view.groups)
    for group in view.groups:
        assert (
            view.select(group=group).download["summary"].tolist()
            == plain.select(group=group).download["summary"].tolist()
        )
    assert first.rows["summary"].tolist() == plain.select(group="Black").rows["summary"].tolist()


def test_a_reader_does_not_wait_for_another_groups_sentences(snap, monkeypatch):
    """While one group's sentences are being written (in the background, for readers
    who may choose it), a reader of a group already written gets it at once."""
    import threading

    from qi.screens.board import BoardView

    view = screens.board(snap, level="team", today=TODAY)
    view.select()  # ``All`` written, as the first page writes it
    writing, finish = threading.Event(), threading.Event()
    summary = BoardView._summary

    def slow_for_black(self, rows, group, small_numbers, hidden):
        if group == "Black":
            writing.set()
            finish.wait(60)
        return summary(self, rows, group, small_numbers, hidden)

    monkeypatch.setattr(BoardView, "_summary", slow_for_black)
    black = threading.Thread(target=lambda: view.select(group="Black"))
    black.start()
    try:
        assert writing.wait(60)
        read = threading.Event()
        reader = threading.Thread(target=lambda: (view.select(), read.set()), daemon=True)
        reader.start()
        assert read.wait(30), "the reader of All waited for Black's sentences"
    finally:
        finish.set()
        black.join(60)
    assert view.select(group="Black").rows["summary"].notna().all()


def test_what_readers_arriving_together_share_is_made_once(snap, monkeypatch):
    import threading

    from qi.screens.board import BoardView

    view = screens.board(snap, level="team", today=TODAY)
    made: list[int] = []
    sparklines = BoardView._sparklines

    def counted(self, threshold):
        made.append(threshold)
        return sparklines(self, threshold)

    monkeypatch.setattr(BoardView, "_sparklines", counted)
    start = threading.Barrier(8)
    got: list = []

    def read() -> None:
        start.wait()
        got.append(view.select().rows)

    readers = [threading.Thread(target=read) for _ in range(8)]
    for r in readers:
        r.start()
    for r in readers:
        r.join(60)
    assert made == [disclosure.THRESHOLD]
    assert len(got) == 8
    for rows in got[1:]:
        pd.testing.assert_frame_equal(rows, got[0])


def test_series_are_numbered_as_a_grouping_numbers_them(snap):
    from qi.series import series_numbers

    obs = snap.observations.sample(frac=1.0, random_state=3)
    for keys in (["team", "measure", "broad_group"], ["trust", "period"]):
        expected = obs.groupby(keys, sort=False, observed=True).ngroup().to_numpy()
        np.testing.assert_array_equal(series_numbers(obs, keys), expected)
    with_missing = obs.assign(team=obs["team"].where(np.arange(len(obs)) % 7 > 0))
    expected = with_missing.groupby(["team", "measure"], sort=False).ngroup().to_numpy()
    np.testing.assert_array_equal(series_numbers(with_missing, ["team", "measure"]), expected)

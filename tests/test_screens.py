"""The screen functions of qi.screens on the sample collaborative, without Streamlit.

The answers are the sample's stories (sample_data/README.md): Willow Ward's
de-escalation training cut restraint of Black patients (a shift, the gap to White
patients narrowing); Cedar Ward's safety huddle changed nothing; Rowan Ward's PRN review
helped and then faded; Southmoor's August 2025 never arrived; Riverside North's June
2025 was corrected.
"""

from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import pandas as pd
import pytest

from qi import screens
from qi.measures import Measure, chart_measure
from qi.series import series_frame
from qi.snapshot import Snapshot
from qi.store import Store

TODAY = dt.date(2026, 11, 25)  # the sample's "today"
RESTRAINT = "restraint_per_1000_obd"


@pytest.fixture(scope="module")
def snap(sample_db) -> Snapshot:
    with Store.open(f"sqlite:///{sample_db}") as store:
        return Snapshot.from_store(store)


def test_the_team_chart_finds_the_shift_for_black_patients_only(snap):
    view = screens.team_chart(
        snap, unit="Willow Ward", measure=RESTRAINT, groups=["Black", "White"], rules="anhoej"
    )
    assert view.groups == ("Black", "White")  # All was not asked for
    summary = view.result.summary.set_index("group")
    assert summary.loc["Black", "runs_signal"] and summary.loc["Black", "longest_run"] == 9
    assert not summary.loc["White", "runs_signal"]
    assert view.measure.chart == "u" and view.measure.multiplier == 1000
    # the icons are Making Data Count's whatever rules draw the chart
    assert set(view.icons["variation"]) <= {"common_cause", "special_cause_improvement"}
    assert view.icons["variation_text"].notna().all()


def test_the_team_chart_draws_at_first_the_groups_a_reader_can_see(snap):
    """Groups whose points are mostly hidden as small numbers are left out of the
    default choice (they would be panels of lines without points); shown, they are in."""
    view = screens.team_chart(snap, unit="Cedar Ward", measure="detained_admissions",
                              groups=[], rules="mdc")  # fmt: skip
    everything = screens.team_chart(snap, unit="Cedar Ward", measure="detained_admissions",
                                    groups=list(view.available), rules="mdc")  # fmt: skip
    shown = everything.shown_points().groupby("group")["y"].agg(["count", "size"])
    readable = everything.readable_groups()
    assert 0 < len(readable) < len(view.available)  # the sample's small groups are left out
    for group, row in shown.iterrows():
        assert (group in readable) == (row["count"] >= 2 and 2 * row["count"] >= row["size"])
    assert everything.readable_groups(small_numbers=True) == everything.groups


def test_a_chart_hides_exactly_the_cells_its_file_hides(snap):
    """``chart_hidden`` (what a drawn chart leaves out, worked out without writing the
    file) agrees with the file's ``*`` cell for cell: on every chart of the sample, with
    every group and with two (the small numbers decided on the whole lines either
    way), at the disclosure threshold and at one that hides far more (secondary
    suppression everywhere)."""
    from qi import exports
    from qi.disclosure import SUPPRESSED

    obs = snap.observations
    shared = screens.SharedReads(snap)  # (as a pack reads its charts)
    checked = hidden_cells = 0
    for (team, measure), rows in obs.groupby(["team", "measure"]):
        groups = sorted(set(rows["group"]) - {"All"})
        for shown_groups, thresholds in (
            (["All", *groups], (exports.THRESHOLD, 30)),
            (["All", groups[0]], (30,)),
        ):
            view = screens.team_chart(snap, unit=team, measure=measure, groups=shown_groups,
                                      rules="mdc", shared=shared, facts=False)  # fmt: skip
            if view.empty:
                continue
            for threshold in thresholds:
                file = view.data(threshold=threshold)
                hidden = exports.chart_hidden(**view._file_inputs(), threshold=threshold)
                assert len(hidden) == len(file) == len(view.result.points)
                np.testing.assert_array_equal(hidden["value"], file["value"] == SUPPRESSED)
                np.testing.assert_array_equal(hidden["limits"], file["upper"] == SUPPRESSED)
                checked += len(file)
                hidden_cells += int(hidden["value"].sum())
            # and the chart a reader sees leaves out those points and limits
            shown = view.shown_points()
            file = view.data()
            assert (shown["y"].isna() | (file["value"] != SUPPRESSED)).all()
            np.testing.assert_array_equal(
                shown["y"].isna() & view.result.points["y"].notna(),
                (file["value"] == SUPPRESSED) & view.result.points["y"].notna(),
            )
            np.testing.assert_array_equal(
                shown["ucl"].isna() & view.result.points["ucl"].notna(),
                (file["upper"] == SUPPRESSED) & view.result.points["ucl"].notna(),
            )
    assert checked > 10_000 and 0.05 * checked < hidden_cells < 0.9 * checked


def test_the_team_chart_phases_from_the_change(snap):
    """Cedar Ward's huddle (2024-11): centre lines about 16.3 before and 17 after, no
    signal either side; ``starts="changes"`` finds the month from the change log."""
    view = screens.team_chart(
        snap, unit="Cedar Ward", measure=RESTRAINT, groups=["All"], rules="anhoej",
        starts="changes",
    )  # fmt: skip
    assert view.starts == (pd.Timestamp("2024-11-01"),)
    summary = view.result.summary
    assert summary["cl"].round(1).tolist() == [16.3, 17.0]
    assert not summary["runs_signal"].any()
    whole = screens.team_chart(snap, unit="Cedar Ward", measure=RESTRAINT, groups=["All"],
                               rules="anhoej").result.summary.iloc[0]  # fmt: skip
    assert (whole["longest_run"], whole["n_crossings"]) == (5, 18)
    assert len(view.cycles) and view.uploads


def test_the_team_chart_is_the_recipe_and_its_data_download(snap):
    """The screen is the one recipe on the unit's series, and its download has a row per
    point with counts from 1 to 7 hidden."""
    view = screens.team_chart(snap, unit="Willow Ward", measure=RESTRAINT, groups=["Black"])
    rows = series_frame(
        snap.observations[snap.observations["team"] == "Willow Ward"], snap.measures
    )
    rows = rows[(rows["measure"] == RESTRAINT) & (rows["group"] == "Black")]
    direct = chart_measure(Measure.from_catalogue(snap.measures, RESTRAINT), rows)
    pd.testing.assert_frame_equal(view.result.points, direct.result.points)
    data = view.data()
    assert len(data) == len(view.result.points)
    assert not pd.to_numeric(data["numerator"], errors="coerce").between(1, 7).any()
    # a cached screen is pickled: it keeps its icons
    again = pickle.loads(pickle.dumps(view))
    pd.testing.assert_frame_equal(again.icons, view.icons)


def test_the_equality_view_shows_the_gap_narrowing(snap):
    view = screens.equality_view(snap, unit="Willow Ward", measure=RESTRAINT)
    assert view.reference == "White"
    assert "Black" in view.groups and "White" not in set(view.gaps["group"])
    black = view.gaps[view.gaps["group"] == "Black"].set_index("period")["ratio"]
    assert black[:"2025-03-01"].median() > 1.8  # about 2.3 before the training
    assert black["2025-06-01":].median() < 1.2  # about 0.8 after
    assert view.latest["group"].is_unique and len(view.latest) == len(view.groups) - 1
    assert view.gap_result is not None and view.recording_result.rules == "anhoej"
    table = view.count_table()
    assert not pd.to_numeric(table.stack(), errors="coerce").between(1, 7).any()


def test_the_teams_funnel_has_every_team_over_twelve_months(snap):
    funnel = screens.team_funnel(snap, RESTRAINT)
    wards = {"Willow Ward", "Cedar Ward", "Rowan Ward", "Hawthorn Ward"}
    assert set(funnel.points["group"]) == wards
    assert (funnel.first, funnel.last) == (pd.Timestamp("2025-11-01"), pd.Timestamp("2026-10-01"))
    # a team's point is its All series over the window, summed
    obs = snap.observations
    willow = obs[(obs["team"] == "Willow Ward") & (obs["measure"] == RESTRAINT)]
    willow = willow[willow["period"] >= "2025-11-01"]
    point = funnel.points.set_index("group").loc["Willow Ward"]
    assert point["numerator"] == willow["numerator"].sum()
    assert point["denominator"] == willow["denominator"].sum()


def test_the_board_reads_the_faded_change_as_at_risk(snap):
    view = screens.board(snap, level="team", today=TODAY)
    rows = view.select(group="All").rows.set_index(["unit", "measure"])
    rowan = rows.loc[("Rowan Ward", "rapid_tranq_per_1000_obd")]
    assert rowan["variation"] == "common_cause" and rowan["gains"] == "at risk"
    assert rows.loc[("Cedar Ward", RESTRAINT), "gains"] == "no improvement"
    black = view.select(group="Black").rows.set_index(["unit", "measure"])
    assert black.loc[("Willow Ward", RESTRAINT), "gains"] == "sustained"
    at_risk = view.select(group="All", at_risk_only=True)
    assert set(at_risk.rows["gains"]) == {"at risk"}
    chosen = view.select(group="All", trusts=["Southmoor Care NHS Foundation Trust"])
    assert set(chosen.teams) == {"Rowan Ward", "Southmoor Adult Community Team"}
    assert chosen.improving + chosen.concerning <= len(chosen.rows)
    whole = screens.board(snap, level="collaborative", today=TODAY)
    assert whole.rows["unit"].nunique() == 1 and whole.rows["gains"].isna().all()
    assert len(whole.select(group="All").teams) == 8


def test_what_if_a_month_leaves_the_limits(snap):
    recorded = screens.what_if(snap, team="Cedar Ward", measure=RESTRAINT, rules="anhoej")
    assert recorded.month == "2026-10" and not recorded.changed
    assert recorded.changed_signals.empty
    high = screens.what_if(snap, team="Cedar Ward", measure=RESTRAINT, rules="anhoej",
                           month="2026-10", value=recorded.original * 10)  # fmt: skip
    assert high.changed
    moved = high.changed_signals.set_index("month")
    assert "Outside the control limits" in moved.loc["2026-10", "signal after"]
    assert high.recorded("2026-10") == recorded.original
    # the chart's text alternative says which month changed, from what to what
    from qi.figures import description

    said = description(high.figure())
    was = recorded.after.points.set_index("x")["y"][pd.Timestamp("2026-10-01")]
    now = high.after.points.set_index("x")["y"][pd.Timestamp("2026-10-01")]
    assert said.endswith(f" Oct 2026 changed here: was {was:,.3g}, now {now:,.3g}.")


def test_completeness_finds_the_missing_and_the_corrected_month(snap):
    view = screens.completeness(snap, due_day=15, today=TODAY)
    status = view.status.set_index(["team", "period"])
    assert status.loc[("Southmoor Adult Community Team", pd.Timestamp("2025-08-01")),
                      "status"] == "missing"  # fmt: skip
    corrected = view.status[view.status["corrected"]]
    assert corrected[["team", "period"]].values.tolist() == [
        ["Riverside North Community Mental Health Team", pd.Timestamp("2025-06-01")]
    ]
    assert view.totals["missing"] == 1 and view.totals["corrected"] == 1
    assert view.grid().shape == (8, 36)
    by_team = view.by_team()
    assert by_team.loc["Southmoor Adult Community Team", "missing"] == 1


def test_accountability_gives_the_stories_status(snap):
    view = screens.accountability(snap, today=TODAY)
    gains = view.gains.set_index(["team", "measure"])["status"]
    assert gains[("Willow Ward", RESTRAINT)] == "sustained"
    assert gains[("Rowan Ward", "rapid_tranq_per_1000_obd")] == "at risk"
    assert gains[("Cedar Ward", RESTRAINT)] == "no improvement"
    assert view.co_designed == pytest.approx(2 / 7)
    assert len(view.overdue) >= 1  # the sample has an overdue action
    assert view.at_risk()["status"].eq("at risk").all()


def test_the_packs_equality_month_compares_every_team_with_white(snap):
    month = screens.equality_month(snap, RESTRAINT, month="2026-10")
    assert month.reference == "White" and "White" not in month.groups
    assert set(month.teams) == {"Willow Ward", "Cedar Ward", "Rowan Ward", "Hawthorn Ward"}
    assert set(month.gaps["period"]) == {pd.Timestamp("2026-10-01")}
    assert set(month.gaps["unit"]) <= set(month.teams)
    assert month.funnel is not None and month.funnel.last == pd.Timestamp("2026-10-01")
    earlier = screens.equality_month(snap, RESTRAINT, month="2025-06")
    assert earlier.funnel.last == pd.Timestamp("2025-06-01")  # nothing after the month
    assert screens.reference_group(["Asian", "Black"], "White") == "Asian"


def test_the_small_screens_on_the_sample(snap):
    log = screens.change_log(snap, teams=["Willow Ward"])
    assert set(log.cycles["team"]) == {"Willow Ward"}
    assert log.involvement.sum() == pytest.approx(1.0)
    assert screens.change_groups(snap, "Willow Ward", RESTRAINT) == ["Black"]
    preview = screens.pack_preview(snap, teams=["Willow Ward"], measures=[RESTRAINT],
                                   month="2025-06")  # fmt: skip
    assert len(preview) == 1 and preview["period"].iloc[0] == pd.Timestamp("2025-06-01")
    narrow = screens.narrowed(snap, teams=["Cedar Ward"], until="2024-12")
    assert set(narrow.observations["team"]) == {"Cedar Ward"}
    assert narrow.observations["period"].max() == pd.Timestamp("2024-12-01")
    clean = snap.observations.head(20)
    table = screens.upload_preview(clean)
    assert table["rows"].sum() == 20 and {"first month", "last month"} <= set(table.columns)


def test_a_snapshot_as_of_an_instant_leaves_out_what_came_after(sample_copy):
    with Store.open(sample_copy) as store:
        before = pd.Timestamp.now(tz="UTC")
        body = "team,measure,period,group,numerator,denominator\n" + "".join(
            f"Willow Ward,{RESTRAINT},2026-10,{g},0,100\n"
            for g in ("Asian", "Black", "Mixed", "White", "Other", "Not stated")
        )
        upload = store.import_file(body.encode(), "late.csv").upload_id
        store.add_annotation(team="Willow Ward", measure=RESTRAINT, period="2026-10",
                             text="after", author="x")  # fmt: skip
        store.rollback(upload)
        then = Snapshot.from_store(store, as_of=before)
        now = Snapshot.from_store(store)
    assert "after" not in set(then.annotations["text"]) and "after" in set(now.annotations["text"])
    assert upload not in set(then.upload_slices["upload_id"])
    rolled = now.upload_slices[now.upload_slices["upload_id"] == upload]
    assert rolled["rolled_back_at"].notna().all()
    pd.testing.assert_frame_equal(then.observations, now.observations)


def test_a_measure_without_denominators_is_charted_and_has_no_funnel(snap):
    """A count measure (c chart, no denominators) beside one with them: both on the
    board, and the funnel (rates need denominators) says there is none."""
    from dataclasses import replace

    extra = pd.DataFrame(
        {"id": ["incidents"], "name": ["Incidents"], "unit": ["count"], "chart": ["c"],
         "multiplier": [1.0], "improvement": ["decrease"], "target": [np.nan],
         "groups": [()], "definition": [""], "numerator_definition": [""],
         "denominator_definition": [""]}
    )  # fmt: skip
    obs = snap.observations
    counts = obs[obs["measure"] == RESTRAINT].assign(measure="incidents", denominator=np.nan)
    more = replace(snap, measures=pd.concat([snap.measures, extra], ignore_index=True),
                   observations=pd.concat([obs, counts], ignore_index=True))  # fmt: skip
    rows = screens.board(more, level="team", today=TODAY).rows
    assert set(rows.loc[rows["measure"] == "incidents", "unit"]) == {
        "Willow Ward", "Cedar Ward", "Rowan Ward", "Hawthorn Ward"
    }
    assert screens.team_funnel(more, "incidents") is None
    chart = screens.team_chart(more, unit="Willow Ward", measure="incidents", groups=["All"])
    assert chart.result.chart == "c" and chart.result.points["n"].isna().all()


def test_an_xbar_measure_is_charted_without_its_denominators():
    """xbar and s read the rows' own values: a denominator uploaded beside them is not
    used, and a month without one is not dropped."""
    months = pd.date_range("2024-01-01", periods=12, freq="MS")
    rows = pd.DataFrame({"period": np.repeat(months, 3), "group": "All",
                         "numerator": np.tile([70.0, 72.0, 71.0], 12),
                         "denominator": [1.0] * 30 + [np.nan] * 6})  # fmt: skip
    m = Measure(id="w", name="Weight", unit="kg", chart="xbar", multiplier=1.0,
                improvement="neutral")  # fmt: skip
    charted = chart_measure(m, rows)
    assert len(charted.result.points) == 12 and charted.result.points["n"].isna().all()
    assert charted.result.points["y"].iloc[0] == pytest.approx(71.0)


def _shared_and_alone_agree(data, month, *, recorded=False, level="team") -> int:
    """Draws every chart of ``data`` up to ``month`` alone and from shared reads, and
    checks they are the same chart; returns how many were compared."""
    shared = screens.SharedReads(data, level=level, until=month)
    obs = data.observations
    compared, alone_charts, deferred = 0, [], []
    for measure in data.measure_ids():
        here = obs.loc[(obs["measure"] == measure) & (obs["period"] <= month), level]
        for unit in sorted(here.dropna().unique()):
            groups = ["All"]
            if level == "team":
                groups += screens.change_groups(data, unit, measure, until=month)
            kwargs = dict(unit=unit, level=level, measure=measure, groups=groups,
                          until=month, starts=screens.CHANGES, recorded=recorded)  # fmt: skip
            alone = screens.team_chart(data, **kwargs)
            together = screens.team_chart(data, shared=shared, **kwargs)
            pd.testing.assert_frame_equal(together.series, alone.series)
            pd.testing.assert_frame_equal(together.charted.rows, alone.charted.rows)
            pd.testing.assert_frame_equal(together.facts, alone.facts)
            pd.testing.assert_frame_equal(together.summary(), alone.summary())
            assert together.starts == alone.starts and together.uploads == alone.uploads
            compared += 1
            alone_charts.append(alone)
            deferred.append(screens.team_chart(data, shared=shared, facts=False, **kwargs))
    # the facts of every chart worked out in one pass: each chart's own
    assert all(c.facts.empty for c in deferred)
    for alone, batched in zip(alone_charts, screens.with_facts(deferred, data, shared),
                              strict=True):  # fmt: skip
        pd.testing.assert_frame_equal(batched.facts, alone.facts)
        pd.testing.assert_frame_equal(batched.summary(), alone.summary())
        assert batched.sentence() == alone.sentence()
        assert batched.sentence(small_numbers=True) == alone.sentence(small_numbers=True)
    if deferred:  # two charts of one line (other groups, other phases) would be mixed up
        with pytest.raises(ValueError, match="one chart per unit and measure"):
            screens.with_facts([deferred[0], deferred[0]], data, shared)
    return compared


def test_charts_drawn_from_shared_reads_are_the_charts_drawn_alone(snap):
    """A board pack draws its forty charts from reads they share (every team's series
    summed once, the gaps once per reference group, the sentences' facts in one pass):
    each is the chart drawn alone. One team has no White rows, so its gaps are to
    another group; one chart has a phase recorded from a change, the others a new phase
    at each change idea."""
    import dataclasses

    obs = snap.observations
    lone = sorted(obs["team"].unique())[0]
    obs = obs[~((obs["team"] == lone) & (obs["broad_group"] == "White"))]
    recorded = pd.DataFrame({
        "id": [1], "team": ["Willow Ward"], "measure": [RESTRAINT], "group": ["Black"],
        "start": [pd.Timestamp("2025-03-01")], "change_idea": ["De-escalation"],
        "change_idea_id": [1], "cycle": [1], "reason": ["after PDSA 1: a run below"],
        "created_at": [pd.Timestamp("2025-10-01")], "created_by": ["facilitator"],
        "withdrawn_at": [pd.NaT], "withdrawn_by": [None],
    })  # fmt: skip
    data = dataclasses.replace(snap, observations=obs.reset_index(drop=True), phases=recorded)
    month = sorted(obs["period"].unique())[-3]
    willow = screens.team_chart(data, unit="Willow Ward", measure=RESTRAINT, until=month,
                                groups=["All", "Black"], recorded=True)  # fmt: skip
    assert pd.Timestamp("2025-03-01") in willow.starts  # the recorded phase is drawn
    assert _shared_and_alone_agree(data, month, recorded=True) >= 40
    shared = screens.SharedReads(data, until=month)
    with pytest.raises(ValueError, match="another snapshot"):
        screens.team_chart(data, unit=lone, measure=data.measure_ids()[0], shared=shared)


def test_shared_reads_when_a_reference_group_falls_between_the_gap_windows(snap):
    """Team A has no White rows on a rate measure, so it is compared with Asian; on the
    proportions, only team B has Asian rows, and only in months between the earliest and
    latest twelve. Comparing every line with Asian at once must neither fail nor lend a
    gap to a line whose windows hold no Asian row; drawn alone, those lines have none."""
    import dataclasses

    from qi import report

    obs = snap.observations
    months = sorted(obs["period"].unique())
    a, b = sorted(obs["team"].unique())[:2]
    chart = snap.measures.set_index("id")["chart"]
    rate = next(m for m in chart.index if chart[m] == "u")
    proportions = [m for m in chart.index if chart[m] == "p"]
    x = obs[obs["team"].isin([a, b])]
    x = x[~((x["team"] == a) & (x["measure"] == rate) & (x["broad_group"] == "White"))]
    middle = (x["period"] > months[14]) & (x["period"] < months[-14])
    asian_kept = (x["team"] == b) & middle
    x = x[~((x["broad_group"] == "Asian") & x["measure"].isin(proportions) & ~asian_kept)]
    data = dataclasses.replace(snap, observations=x.reset_index(drop=True))
    assert _shared_and_alone_agree(data, months[-1]) >= 9
    upto = screens.narrowed(data, until=months[-1])
    catalogue = data.measures.set_index("id")
    context = report._Context(upto, catalogue, months[-1], "mdc", "none", None, "White")
    assert len(context.charts(list(data.measure_ids()))) >= 9


def test_shared_reads_above_team_level_leave_out_a_team_without_a_trust(snap):
    """A team without a trust is in no trust's chart: the shared series are those of
    the trusts' own teams, the same types as a trust's chart drawn alone."""
    import dataclasses

    obs = snap.observations
    lone = sorted(obs["team"].unique())[0]
    data = dataclasses.replace(
        snap, observations=obs.assign(trust=obs["trust"].where(obs["team"] != lone, None))
    )
    assert _shared_and_alone_agree(data, sorted(obs["period"].unique())[-1], level="trust")

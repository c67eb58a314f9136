"""What the board sees is true (issue 21), on the sample collaborative: complete months,
rare events, one disclosure rule on screen and in files, reviews that mean something,
and no silent traps in the engine."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re

import numpy as np
import pandas as pd
import pytest

import qi
from qi import board, figures, report, screens
from qi.cli import main
from qi.series import series_frame
from qi.snapshot import Snapshot
from qi.store import Store
from tests.conftest import pressed
from tests.test_pages_access import app
from tests.test_pages_access import site as site

HEADER = "team,measure,period,group,numerator,denominator\n"
WILLOW_TRUST = "Riverside Mental Health NHS Foundation Trust"
#: What Willow Ward reports (staff disciplinary aside: a rare event has no provisional rate)
WARD_MEASURES = ("restraint_per_1000_obd", "detained_admissions", "rapid_tranq_per_1000_obd",
                 "felt_respected")  # fmt: skip


def _november(store: Store) -> None:
    """Willow Ward alone sends November 2026, for every measure it reports."""
    obs = store.observations(teams=["Willow Ward"])
    october = obs[obs["period"] == "2026-10-01"]
    rows = [
        f"Willow Ward,{r.measure},2026-11,{r.group},{int(r.numerator)},{int(r.denominator)}"
        for r in october.itertuples(index=False)
    ]
    result = store.import_file((HEADER + "\n".join(rows) + "\n").encode(), "willow-nov.csv")
    assert result.ok, result.problems


def _board(url: str, *args: str, capsys) -> pd.DataFrame:
    capsys.readouterr()
    assert main(["--db", url, "board", *args]) == 0
    return pd.read_csv(io.StringIO(capsys.readouterr().out), dtype=str, keep_default_na=False)


def test_a_partial_month_stays_provisional_on_the_board_and_in_the_pack(sample_copy, capsys):
    with Store.open(sample_copy) as store:
        _november(store)
        # the whole collaborative: only Willow Ward has sent November
        whole = _board(sample_copy, "--level", "collaborative", capsys=capsys)
        assert set(whole["period"]) == {"2026-10"}
        sent = whole["measure"].isin(WARD_MEASURES)
        assert set(whole.loc[sent, "provisional_period"]) == {"2026-11"}
        assert set(whole.loc[sent, "provisional_teams"]) <= {"1 of 4 teams", "1 of 8 teams"}
        assert set(whole.loc[~sent, "provisional_period"]) == {""}  # nobody else sent one
        # a trust: Willow Ward's trust also holds a community team. The measures both
        # report read October; those only the ward reports are complete in November
        trust = _board(sample_copy, "--level", "trust", capsys=capsys)
        mine = trust[trust["unit"] == WILLOW_TRUST].set_index("measure")
        assert mine.loc["felt_respected", "period"] == "2026-10"
        assert mine.loc["felt_respected", "provisional_teams"] == "1 of 2 teams"
        assert mine.loc["restraint_per_1000_obd", "period"] == "2026-11"
        assert mine.loc["restraint_per_1000_obd", "provisional_period"] == ""
        # (a rare event's row reads the month of its latest event)
        others = trust[(trust["unit"] != WILLOW_TRUST) & (trust["measure"] != "staff_disciplinary")]
        assert set(others["period"]) == {"2026-10"} and set(others["provisional_period"]) == {""}
        # November is never read by the rules at collaborative level: the board's values
        # and icons are those of the store before Willow's upload
        snap = Snapshot.from_store(store)
        assert snap.latest_complete_month() == pd.Timestamp("2026-10-01")
        assert snap.provisional_months() == {pd.Timestamp("2026-11-01"): "1 of 8 teams"}
        view = screens.board(snap, level="collaborative").select(group="Black")
        felt = view.rows.set_index("measure").loc["felt_respected"]
        assert felt["period"] == pd.Timestamp("2026-10-01")
        assert "Nov 2026" in felt["provisional"] and "1 of 8 teams" in felt["provisional"]
        doc = report.pack_document(store, measures=["felt_respected"], commentary="")
        assert doc.period == pd.Timestamp("2026-10-01")


def test_a_team_not_expected_does_not_hold_its_trust_back(sample_copy):
    with Store.open(sample_copy) as store:
        _november(store)
        store.mark_not_expected(
            "Riverside North Community Mental Health Team", start="2026-11", reason="merger"
        )
        snap = Snapshot.from_store(store)
        trust = series_frame(snap.observations, snap.measures, level="trust",
                             not_expected=snap.not_expected)  # fmt: skip
        nov = trust[(trust["unit"] == WILLOW_TRUST) & (trust["period"] == "2026-11-01")]
        assert nov["complete"].all() and (nov["expected"] == 1).all()
        status = screens.completeness(snap, today=dt.date(2027, 1, 20)).status
        riverside = status[status["team"].str.startswith("Riverside North")]
        assert riverside.set_index("period").loc["2026-11-01", "status"] == "not expected"
        with pytest.raises(ValueError, match="give a reason"):
            store.mark_not_expected("Willow Ward", start="2026-12", reason=" ")


def test_the_rare_event_measure_is_not_an_improvement_and_says_why(sample_db):
    with Store.open(f"sqlite:///{sample_db}") as store:
        snap = Snapshot.from_store(store)
    assert snap.rare == {"staff_disciplinary"}
    # the artefact, read as a p chart: runs of zero months look like improvement
    as_rates = board.matrix(series_frame(snap.observations, snap.measures))
    artefact = as_rates[(as_rates["measure"] == "staff_disciplinary")
                        & (as_rates["variation"] == "special_cause_improvement")]  # fmt: skip
    assert len(artefact) >= 3
    for level in ("team", "collaborative"):
        rows = screens.board(snap, level=level).rows
        rare = rows[rows["measure"] == "staff_disciplinary"]
        assert len(rare) and not (rare["variation"] == "special_cause_improvement").any()
        assert set(rare["chart"]) == {"g"}
    chart = screens.team_chart(snap, unit="Willow Ward", measure="staff_disciplinary",
                               groups=["All"])  # fmt: skip
    assert "Rare events" in chart.drawn_as and chart.result.chart == "g"
    assert chart.y_title.endswith("between events")
    fig = chart.figure(small_numbers=True)
    assert fig.layout.yaxis.title.text.endswith("between events")
    # the exposure between events: staff-months since the previous case
    obs = snap.observations
    willow = obs[(obs["team"] == "Willow Ward") & (obs["measure"] == "staff_disciplinary")]
    monthly = willow.groupby("period")[["numerator", "denominator"]].sum()
    cases = monthly[monthly["numerator"] > 0]
    total = monthly["denominator"].cumsum()
    first = cases.index[0]
    assert chart.result.points["y"].iloc[0] == pytest.approx(
        total[first] / cases.loc[first, "numerator"]
    )


# ---------------------------------------------------------------- one disclosure rule


def _screen_hides(table: pd.DataFrame, column: str) -> pd.Series:
    return table[column].astype(str) == "*"


def _drawn_x(picture: str) -> set[float]:
    """The x of every point a sparkline's picture (a data URI of an SVG) draws."""
    svg = base64.b64decode(picture.split(",", 1)[1]).decode()
    xs = {float(x) for x in re.findall(r'cx="([\d.]+)"', svg)}
    for points in re.findall(r'points="([^"]+)"', svg):
        xs |= {float(p.split(",")[0]) for p in points.split()}
    return xs


@pytest.mark.parametrize("who", ["board", "fac"])
def test_the_board_on_screen_hides_what_its_download_hides(site, downloads, who):
    # with its details shown, so that the sparklines are on screen too
    at = app(site.token(who), page=None, level="team", group="Black", details="1")
    if who == "fac":  # allowed small numbers: hidden until asked, then shown everywhere
        shown = at.dataframe[0].value
        assert _screen_hides(shown, "latest").any()
        next(c for c in at.checkbox if c.label.startswith("Show small numbers")).check().run()
    shown = at.dataframe[0].value
    file = pd.read_csv(io.BytesIO(pressed(downloads, "Matrix (CSV)")), dtype=str,
                       keep_default_na=False)  # fmt: skip
    assert len(shown) == len(file)
    on_screen = _screen_hides(shown, "latest").tolist()
    assert on_screen == (file["value"] == "*").tolist()
    assert any(on_screen) == (who == "board")
    # sparklines never draw a point whose counts the file would hide
    if who == "board":
        # (a row's last point is at the right edge, less the picture's margin)
        last_x = figures.sparkline_svg([1.0, 2.0]).split('points="')[1].split('"')[0]
        last_x = float(last_x.split()[-1].split(",")[0])
        hidden_rows = shown[_screen_hides(shown, "latest")]
        drawn = [_drawn_x(picture) for picture in hidden_rows["sparkline"]]
        assert all(last_x not in xs for xs in drawn)
        assert any(drawn) and not all(drawn)  # some draw their earlier months, some nothing
    else:  # small numbers shown: every row with a latest value draws its last point
        assert all(_drawn_x(p) for p in shown.loc[shown["latest"] != "", "sparkline"])


@pytest.mark.parametrize("who", ["board", "fac"])
def test_the_team_chart_draws_no_point_its_download_hides(site, downloads, who):
    at = app(site.token(who), page="app_pages/team.py", unit="Willow Ward",
             measure="detained_admissions", group="Black")  # fmt: skip
    if who == "fac":
        next(c for c in at.checkbox if c.label.startswith("Show small numbers")).check().run()
    file = pd.read_csv(io.BytesIO(pressed(downloads, "Data (CSV)")), dtype=str,
                       keep_default_na=False)  # fmt: skip
    (spec,) = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    line = next(t for t in spec["data"] if t.get("mode") == "lines+markers")
    ys = _values(line["y"])
    assert len(ys) == len(file)
    drawn = [y is not None and np.isfinite(y) for y in ys]
    assert drawn == (file["value"] != "*").tolist()
    assert (not all(drawn)) == (who == "board")


def test_the_equality_tables_hide_what_their_download_hides(site, downloads):
    at = app(site.token("board"), page="app_pages/equality.py", unit="Willow Ward",
             measure="detained_admissions")  # fmt: skip
    latest = at.dataframe[0].value
    file = pd.read_csv(io.BytesIO(pressed(downloads, "Gaps by month (CSV)")), dtype=str,
                       keep_default_na=False)  # fmt: skip
    last = file.sort_values("period").groupby("group").tail(1).set_index("group")
    for group, ratio in zip(latest["Group"], latest["Ratio to reference"], strict=True):
        assert (ratio == "*") == (last.loc[group, "ratio"] == "*")
    assert (file["ratio"] == "*").any()  # Willow Ward's small groups
    counts = at.dataframe[-1].value
    assert not pd.to_numeric(counts.stack(), errors="coerce").between(1, 7).any()


def _values(arr):
    """A plotly array (plain or a typed ``bdata`` array) as Python numbers."""
    import base64

    if isinstance(arr, dict) and "bdata" in arr:
        return np.frombuffer(base64.b64decode(arr["bdata"]), dtype=arr["dtype"]).tolist()
    return [np.nan if v is None else v for v in arr]


# ---------------------------------------------------------------- accountability


def test_reviews_are_explicit_and_counted_from_when_the_owner_was_set(sample_copy, capsys):
    with Store.open(sample_copy) as store:
        snap = Snapshot.from_store(store)
        today = dt.date(2026, 11, 25)
        view = screens.accountability(snap, today=today)
        late = view.reviews[view.reviews["overdue"]]
        assert set(zip(late["team"], late["measure"], strict=True)) == {
            ("Rowan Ward", "rapid_tranq_per_1000_obd"),
            ("Southmoor Adult Community Team", "days_to_first_contact"),
            ("Westhaven Community Team", "staff_disciplinary"),
        }
        assert main(["--db", sample_copy, "review", "Rowan Ward", "rapid_tranq_per_1000_obd",
                     "--on", "2026-11-24", "--note", "looked at it"]) == 0  # fmt: skip
        again = screens.accountability(Snapshot.from_store(store), today=today)
        assert again.reviews["overdue"].sum() == 2
        # a review of a measure nobody owns is refused, and says why
        assert main(["--db", sample_copy, "review", "Willow Ward", "assessed_within_28_days"]) == 1
        assert "has no owner" in capsys.readouterr().err


def test_overdue_actions_follow_the_board_filters(sample_db):
    with Store.open(f"sqlite:///{sample_db}") as store:
        view = screens.board(Snapshot.from_store(store), level="team",
                             today=dt.date(2026, 11, 25))  # fmt: skip
    everyone = view.select(group="All").actions_overdue
    # the sample's overdue actions: two at Rowan Ward (rapid tranquillisation), one at
    # Southmoor Adult Community Team (days to first contact), both in Southmoor's trust
    assert everyone == 3
    assert view.select(group="All", trusts=["Southmoor Care NHS Foundation Trust"]
                       ).actions_overdue == 3  # fmt: skip
    assert view.select(group="All", trusts=[WILLOW_TRUST]).actions_overdue == 0
    rt = view.select(group="All", measures=["rapid_tranq_per_1000_obd"])
    assert rt.actions_overdue == 2
    assert view.select(group="All", measures=["restraint_per_1000_obd"]).actions_overdue == 0


# ---------------------------------------------------------------- engine traps


def test_a_group_without_population_has_no_comparison_and_says_why():
    data = pd.DataFrame({"g": ["White", "Black", "Not stated"], "e": [10, 5, 3],
                         "n": [1000, 200, 0]})  # fmt: skip
    out = qi.equality.compare(data, group="g", events="e", exposure="n", reference="White")
    out = out.set_index("group")
    stated = out.loc["Not stated"]
    assert np.isnan(stated[["value", "ratio", "ratio_lower", "ratio_upper", "p_value",
                            "difference"]].astype(float)).all()  # fmt: skip
    assert "no population" in stated["note"]
    assert np.isfinite(out.loc["Black", "ratio"]) and out.loc["Black", "note"] == ""
    gap = qi.equality.gap(data.assign(k=1), by=["k"], group="g", events="e", exposure="n",
                          reference="White")  # fmt: skip
    assert not np.isinf(gap.select_dtypes("number").to_numpy()).any()


@pytest.mark.parametrize(
    "months",
    [
        [f"2024-{m:02d}" for m in range(1, 13)],
        ["Jan-24", "Feb-24", "Mar-24", "Apr-24", "May-24", "Jun-24", "Jul-24", "Aug-24",
         "Sep-24", "Oct-24", "Nov-24", "Dec-24"],
    ],
)  # fmt: skip
def test_qi_spc_reads_months_written_as_text_as_months(months):
    y = [1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    shuffled = pd.DataFrame({"m": months, "y": y}).sample(frac=1, random_state=3)
    got = qi.spc(shuffled, x="m", y="y", chart="i")
    dates = pd.DataFrame({"m": pd.date_range("2024-01-01", periods=12, freq="MS"), "y": y})
    want = qi.spc(dates, x="m", y="y", chart="i")
    pd.testing.assert_frame_equal(got.points, want.points)
    assert got.summary["runs_signal"].iloc[0]  # a trend, read in time order


def test_qi_spc_refuses_text_that_is_partly_months():
    with pytest.raises(ValueError, match="'Marchh 2024' is not one"):
        qi.spc(pd.DataFrame({"m": ["2024-02", "Marchh 2024"], "y": [1.0, 2.0]}), x="m", y="y")
    with pytest.raises(ValueError, match="'2024-13' is not a real month"):
        qi.spc(pd.DataFrame({"m": ["2024-12", "2024-13"], "y": [1.0, 2.0]}), x="m", y="y")
    wards = qi.spc(pd.DataFrame({"m": ["Ward B", "Ward A"], "y": [1.0, 2.0]}), x="m", y="y")
    assert wards.points["x"].tolist() == ["Ward A", "Ward B"]  # names stay text

"""Known-answer tests of the bundled sample collaborative (``sample_data/``).

Every story built into the data by ``sample_data/make_sample.py`` is found on the
charts at its team, measure, group and month; the cycles with no effect show no
signal; the fading change shows an improvement that is then lost. The files are the
ones committed: regenerating them gives the same bytes, and the upload calendar has its
late, missing, corrected and closed months.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import qi
from tests.sample_files import (
    SAMPLE_DIR,
    UPLOAD_COLUMNS,
    load_generator,
    parse_period,
    read_all_versions,
    read_manifest,
    read_table,
    read_upload,
    read_uploads,
)

gen = load_generator()
GROUPS = ["Asian", "Black", "Mixed", "White", "Other", "Not stated"]
MINORITY = ["Asian", "Black", "Mixed", "Other"]
TODAY = pd.Timestamp("2026-11-25")


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return read_uploads()


@pytest.fixture(scope="module")
def every_version() -> pd.DataFrame:
    return read_all_versions()


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    out = tmp_path_factory.mktemp("sample")
    t0 = time.perf_counter()
    # the files only: the prebuilt store is checked in tests/test_store_bulk.py
    gen.main(["--out", str(out), "--no-store"])
    return out, time.perf_counter() - t0


# --------------------------------------------------------------------------------------
# Reading a story's series and judging it
# --------------------------------------------------------------------------------------


def month(text: str) -> pd.Timestamp:
    return pd.Timestamp(f"{text}-01")


def series(data: pd.DataFrame, team: str, measure: str, group: str | None = None) -> pd.DataFrame:
    """Monthly numerator and denominator of one team × measure, one group or all summed."""
    s = data[(data["team"] == team) & (data["measure"] == measure)]
    if group is not None:
        s = s[s["group"] == group]
    return s.groupby("period", as_index=False)[["numerator", "denominator"]].sum()


def not_stated_share(data: pd.DataFrame, team: str, measure: str) -> pd.DataFrame:
    """The "Not stated" denominator over the whole denominator, per month."""
    s = data[(data["team"] == team) & (data["measure"] == measure)]
    ns = s["denominator"].where(s["group"] == "Not stated", 0)
    return (
        s.assign(numerator=ns).groupby("period", as_index=False)[["numerator", "denominator"]].sum()
    )


def story_chart(data: pd.DataFrame, story) -> tuple[pd.DataFrame, str, float, str]:
    """The series a story is read on, its chart type, multiplier and better direction."""
    if story.kind == "recording":
        return not_stated_share(data, story.team, story.measure), "p", 100, "decrease"
    m = gen.MEASURE_BY_ID[story.measure]
    return (
        series(data, story.team, story.measure, story.group),
        m.chart,
        m.multiplier,
        m.improvement,
    )


def charts(s: pd.DataFrame, chart: str, multiply: float, improvement: str, start: str):
    """The three readings of a series around a change at ``start``.

    - ``whole``: Anhøj rules over the whole series, no phases;
    - ``split``: Anhøj rules with a new phase from ``start``;
    - ``mdc``: Making Data Count rules, lines fixed on the months before ``start``.
    """
    # a month with a zero denominator (the closed ward) has no value: leave it out, as
    # MDC's trend rule cannot step over a missing value
    s = s[s["denominator"] > 0]
    s = s.assign(phase=np.where(s["period"] < month(start), 1, 2))
    k = int((s["phase"] == 1).sum())
    kw = {"x": "period", "y": "numerator", "n": "denominator", "chart": chart}
    kw["multiply"] = multiply
    whole = qi.spc(s, **kw)
    split = qi.spc(s, phase="phase", **kw)
    mdc = qi.spc(s, rules="mdc", improvement=improvement, baseline=k, **kw)
    return whole, split, mdc, k


def longest_true_run(flags: np.ndarray) -> int:
    best = cur = 0
    for f in flags:
        cur = cur + 1 if f else 0
        best = max(best, cur)
    return best


def better(after: float, before: float, improvement: str, by: float) -> bool:
    """``after`` is better than ``before`` by at least the fraction ``by``."""
    if improvement == "decrease":
        return after <= before * (1 - by)
    return after >= before * (1 + by)


def story_problems(data: pd.DataFrame, story) -> list[str]:
    """What the charts fail to show of a story (empty when they show all of it)."""
    s, chart, multiply, improvement = story_chart(data, story)
    whole, split, mdc, k = charts(s, chart, multiply, improvement, story.start)
    runs = bool(whole.summary["runs_signal"].iloc[0])
    cl_before, cl_after = split.summary["cl"].tolist()
    improved = (mdc.points["point_type"] == "special_cause_improvement").to_numpy()
    problems = []
    if story.kind in ("sustained", "recording"):
        if not runs:
            problems.append("no Anhøj runs signal over the whole series")
        if not better(cl_after, cl_before, improvement, 0.2):
            problems.append(f"centre line moved only from {cl_before:.3g} to {cl_after:.3g}")
        if split.summary["runs_signal"].iloc[1]:
            problems.append("the new level is not stable (runs signal after the change)")
        if improved[k:].mean() < 0.7:
            problems.append(f"only {improved[k:].mean():.0%} of points after the change improved")
        early = improved[: max(k - 3, 0)]
        if early.sum() > 2 or longest_true_run(early) >= 2:
            problems.append(f"{early.sum()} months flagged improved well before the change")
    elif story.kind == "none":
        if runs:
            problems.append("an Anhøj runs signal where nothing changed")
        if abs(cl_after / cl_before - 1) > 0.25:
            problems.append(f"centre line moved from {cl_before:.3g} to {cl_after:.3g}")
        if longest_true_run(improved[k:]) >= 7:
            problems.append("an MDC shift of improvement after a change with no effect")
    elif story.kind == "fades":
        held = improved[k : k + story.hold]
        if held.sum() < story.hold - 2:
            problems.append(f"only {held.sum()} of {story.hold} months improved while it held")
        last = mdc.points.tail(12)
        if improved[-12:].any():
            problems.append("still improved in the last 12 months: it did not fade")
        base_cl = mdc.points["cl"].iloc[0]
        if abs(last["y"].mean() / base_cl - 1) > 0.2:
            problems.append(f"last 12 months mean {last['y'].mean():.3g}, baseline {base_cl:.3g}")
    return problems


# --------------------------------------------------------------------------------------
# The stories
# --------------------------------------------------------------------------------------


def test_the_stories_cover_every_kind() -> None:
    kinds = [s.kind for s in gen.STORIES]
    assert kinds.count("sustained") >= 2
    assert kinds.count("none") >= 1
    assert kinds.count("fades") == 1
    assert kinds.count("recording") == 1
    for s in gen.STORIES:
        assert s.team in gen.TEAM_BY_NAME and s.measure in gen.MEASURE_BY_ID
        assert s.group in (None, *GROUPS)
        assert gen.MEASURE_BY_ID[s.measure] in gen.team_measures(gen.TEAM_BY_NAME[s.team])
        assert (s.effect == 1) == (s.kind == "none")


@pytest.mark.parametrize("story", gen.STORIES, ids=lambda s: s.key)
def test_every_story_is_on_the_charts_where_it_was_built(data: pd.DataFrame, story) -> None:
    assert story_problems(data, story) == []


def test_willow_ward_restraint_of_black_patients_drops_from_april_2025(
    data: pd.DataFrame,
) -> None:
    story = gen.STORY_BY_KEY["willow_deescalation"]
    assert (story.team, story.measure, story.group, story.start) == (
        "Willow Ward",
        "restraint_per_1000_obd",
        "Black",
        "2025-04",
    )
    s = series(data, "Willow Ward", "restraint_per_1000_obd", "Black")
    _, split, mdc, k = charts(s, "u", 1000, "decrease", "2025-04")
    assert k == 17  # the change is in the 18th month of 36
    # MDC: the shift below the baseline mean runs through every month from April 2025
    pts = mdc.points.set_index("x")
    after = pts.loc[month("2025-04") :]
    assert (after["point_type"] == "special_cause_improvement").all()
    assert set(after["special_cause"]) <= {"7 Points Below CL", "Below LCL", "2 in 3 Below CL"}
    assert not pts.loc[: month("2025-01"), "point_type"].eq("special_cause_improvement").any()
    # with the phase split at the change, the centre line falls by more than half
    cl = split.summary["cl"].to_numpy()
    assert cl[0] > 28 and cl[1] < 0.5 * cl[0]


def test_willow_ward_white_patients_are_unchanged_so_the_gap_narrows(
    data: pd.DataFrame,
) -> None:
    white = series(data, "Willow Ward", "restraint_per_1000_obd", "White")
    whole, split, _, _ = charts(white, "u", 1000, "decrease", "2025-04")
    assert not whole.summary["runs_signal"].iloc[0]
    cl_white = split.summary["cl"].to_numpy()
    assert abs(cl_white[1] / cl_white[0] - 1) < 0.3
    black = series(data, "Willow Ward", "restraint_per_1000_obd", "Black")
    _, split_black, _, _ = charts(black, "u", 1000, "decrease", "2025-04")
    ratio = split_black.summary["cl"].to_numpy() / cl_white
    assert ratio[0] > 1.8  # before: Black patients restrained about twice as often
    assert ratio[1] < 1.3  # after: close to parity


def test_the_fading_change_improves_then_returns(data: pd.DataFrame) -> None:
    story = gen.STORY_BY_KEY["rowan_rt_review"]
    s = series(data, story.team, story.measure)
    _, _, mdc, _ = charts(s, "u", 1000, "decrease", story.start)
    pts = mdc.points.set_index("x")
    improved = pts["point_type"] == "special_cause_improvement"
    held = improved.loc[month("2024-11") : month("2025-05")]
    assert held.all()  # every month of the seven it held
    assert not improved.loc[month("2025-11") :].any()  # back to common cause
    assert pts.loc[month("2025-11") :, "point_type"].eq("common_cause").all()


def test_recording_completeness_improves_on_every_measure_of_hawthorn_ward(
    data: pd.DataFrame,
) -> None:
    story = gen.STORY_BY_KEY["hawthorn_recording"]
    for m in gen.team_measures(gen.TEAM_BY_NAME[story.team]):
        if m.id == "staff_disciplinary":
            continue  # staff records are not patient records
        s = not_stated_share(data, story.team, m.id)
        before = s[s["period"] < month(story.start)]
        after = s[s["period"] >= month(story.start)]
        share_before = before["numerator"].sum() / before["denominator"].sum()
        share_after = after["numerator"].sum() / after["denominator"].sum()
        assert share_before > 0.15 and share_after < 0.08, m.id
    # the other teams record ethnicity well throughout
    others = data[(data["team"] != story.team) & (data["measure"] != "staff_disciplinary")]
    by_team = others.groupby("team").apply(
        lambda t: t.loc[t["group"] == "Not stated", "denominator"].sum() / t["denominator"].sum(),
        include_groups=False,
    )
    assert (by_team < 0.08).all()


def test_black_patients_are_detained_and_restrained_more_at_baseline(
    data: pd.DataFrame,
) -> None:
    first_year = data[data["period"] < month("2024-11")]

    def rate(measure: str, group: str) -> float:
        t = first_year[(first_year["measure"] == measure) & (first_year["group"] == group)]
        return t["numerator"].sum() / t["denominator"].sum()

    assert rate("restraint_per_1000_obd", "Black") > 1.7 * rate("restraint_per_1000_obd", "White")
    assert rate("detained_admissions", "Black") > rate("detained_admissions", "White") + 0.1
    assert rate("rapid_tranq_per_1000_obd", "Black") > 1.3 * rate(
        "rapid_tranq_per_1000_obd", "White"
    )


def test_ethnic_minority_staff_are_more_likely_to_enter_a_disciplinary_process(
    data: pd.DataFrame,
) -> None:
    staff = data[data["measure"] == "staff_disciplinary"]
    minority = staff[staff["group"].isin(MINORITY)]
    white = staff[staff["group"] == "White"]
    rate_minority = minority["numerator"].sum() / minority["denominator"].sum()
    rate_white = white["numerator"].sum() / white["denominator"].sum()
    assert white["numerator"].sum() >= 5  # enough cases for the board to read
    assert 1.3 < rate_minority / rate_white < 4


# --------------------------------------------------------------------------------------
# The upload calendar: late, missing, corrected and closed months
# --------------------------------------------------------------------------------------


def test_one_team_month_is_missing_entirely(data: pd.DataFrame) -> None:
    months = pd.date_range("2023-11-01", "2026-10-01", freq="MS")
    assert len(months) == 36
    have = data.groupby("team")["period"].unique()
    gaps = {(t, m) for t, ps in have.items() for m in months if m not in set(ps)}
    assert gaps == {("Southmoor Adult Community Team", month("2025-08"))}
    assert len(have) == len(gen.TEAMS)


def test_uploads_arrive_by_mid_month_but_some_are_late(every_version: pd.DataFrame) -> None:
    first = every_version.sort_values("order").drop_duplicates(["team", "period"])
    arrived = first["uploaded_at"].dt.tz_localize(None)
    delay = (arrived - (first["period"] + pd.DateOffset(months=1))).dt.days
    assert (delay >= 0).all()
    assert ((delay >= 7) & (delay <= 16)).mean() > 0.75  # normally the 8th to the 17th
    late = first[delay >= 20]
    assert len(late) >= 5
    a_month_late = first[delay >= 40]
    assert list(zip(a_month_late["team"], a_month_late["period"], strict=True)) == [
        ("Northvale Early Intervention in Psychosis Team", month("2024-12"))
    ]
    assert (arrived < TODAY).all()


def test_a_correction_replaces_the_first_upload_and_is_visible(
    data: pd.DataFrame, every_version: pd.DataFrame
) -> None:
    files = every_version.groupby(["team", "period"])["file"].nunique()
    assert files[files > 1].index.tolist() == [
        ("Riverside North Community Mental Health Team", month("2025-06"))
    ]
    team, period = "Riverside North Community Mental Health Team", month("2025-06")
    versions = every_version[(every_version["team"] == team) & (every_version["period"] == period)]
    first, second = sorted(versions["file"].unique(), key=lambda f: versions.loc[
        versions["file"] == f, "uploaded_at"].iloc[0])  # fmt: skip
    assert second.endswith("_v2.csv")
    when = versions.groupby("file")["uploaded_at"].first()
    assert (when[second] - when[first]).days >= 14  # weeks later
    key = ["measure", "group"]
    a = versions[versions["file"] == first].set_index(key)["numerator"]
    b = versions[versions["file"] == second].set_index(key)["numerator"]
    changed = a[a != b].index.tolist()
    assert changed == [("days_to_first_contact", "White")]
    assert a[changed[0]] == 10 * b[changed[0]]
    # the reader keeps the correction only
    kept = data[(data["team"] == team) & (data["period"] == period)].set_index(key)
    assert kept["numerator"].equals(b.loc[kept.index])
    # on the chart, the first upload would be an astronomical point; the correction is not
    white = series(data, team, "days_to_first_contact", "White")
    right = qi.spc(white, x="period", y="numerator", n="denominator", chart="i")
    wrong_white = white.copy()
    wrong_white.loc[wrong_white["period"] == period, "numerator"] *= 10
    wrong = qi.spc(wrong_white, x="period", y="numerator", n="denominator", chart="i")
    at = right.points["x"] == period
    assert wrong.points.loc[at, "sigma_signal"].item()
    assert not right.points.loc[at, "sigma_signal"].item()


def test_a_ward_closed_for_refurbishment_reports_zero_activity(data: pd.DataFrame) -> None:
    cedar = data[(data["team"] == "Cedar Ward") & (data["period"] == month("2025-08"))]
    patients = cedar[cedar["measure"] != "staff_disciplinary"]
    assert len(patients) == 4 * 6
    assert (patients[["numerator", "denominator"]] == 0).all().all()
    staff = cedar[cedar["measure"] == "staff_disciplinary"]
    assert staff["denominator"].sum() > 30  # the staff were redeployed, not gone
    # no other patient row of any ward has a zero bed-day total
    obd = data[data["measure"] == "restraint_per_1000_obd"]
    totals = obd.groupby(["team", "period"])["denominator"].sum()
    assert totals[totals == 0].index.tolist() == [("Cedar Ward", month("2025-08"))]
    assert totals[totals > 0].between(480, 720).all()
    # the chart leaves the month out rather than failing
    s = series(data, "Cedar Ward", "restraint_per_1000_obd")
    pts = qi.spc(s, x="period", y="numerator", n="denominator", chart="u").points
    assert np.isnan(pts.loc[pts["x"] == month("2025-08"), "y"].item())


def test_small_counts_abound_for_small_groups(data: pd.DataFrame) -> None:
    small = data[data["group"].isin(["Mixed", "Other"])]
    counted = small[small["measure"] != "days_to_first_contact"]
    share_1_to_7 = counted["numerator"].between(1, 7).mean()
    assert share_1_to_7 > 0.3
    assert (counted["numerator"] <= 7).mean() > 0.9
    assert counted["denominator"].between(1, 7).mean() > 0.2


# --------------------------------------------------------------------------------------
# The files and their formats
# --------------------------------------------------------------------------------------


def test_teams_table() -> None:
    teams = read_table("teams")
    assert list(teams.columns) == ["collaborative", "ics", "trust", "team"]
    assert teams["collaborative"].nunique() == 1
    assert 2 <= teams["ics"].nunique() <= 3
    assert 4 <= teams["trust"].nunique() <= 5
    assert teams["team"].is_unique and len(teams) == 8
    assert teams["team"].str.contains("Ward").sum() == 4
    assert teams.groupby("trust")["ics"].nunique().eq(1).all()


def test_measures_table() -> None:
    m = read_table("measures")
    assert list(m.columns) == [
        "id", "name", "definition", "numerator_definition", "denominator_definition", "unit",
        "multiplier", "chart", "improvement", "target", "groups",
    ]  # fmt: skip
    assert m["id"].is_unique and m["id"].str.fullmatch(r"[a-z][a-z0-9_]*").all()
    assert m["chart"].isin(list(qi.CHART_TYPES)).all()
    assert m["improvement"].isin(["increase", "decrease"]).all()
    assert pd.to_numeric(m["multiplier"]).gt(0).all()
    targets = pd.to_numeric(m["target"].replace("", np.nan))
    assert targets.notna().any() and targets.isna().any()
    assert (m["groups"] == "Asian;Black;Mixed;White;Other;Not stated").all()
    by_id = m.set_index("id")
    assert by_id.loc["restraint_per_1000_obd", ["chart", "multiplier"]].tolist() == ["u", "1000"]
    assert by_id.loc["days_to_first_contact", "chart"] == "i"
    assert len(m) == 8


def test_every_upload_has_the_upload_layout(data: pd.DataFrame) -> None:
    manifest = read_manifest()
    assert list(read_table("uploads").columns) == ["file", "uploaded_by", "uploaded_at", "note"]
    files = {p.relative_to(SAMPLE_DIR).as_posix() for p in (SAMPLE_DIR / "uploads").rglob("*.*")}
    assert files == set(manifest["file"])
    assert manifest["uploaded_at"].is_monotonic_increasing
    assert (
        read_table("uploads")["uploaded_at"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    )
    for f in manifest["file"]:
        df = read_upload(SAMPLE_DIR / f)
        assert list(df.columns) == UPLOAD_COLUMNS, f
        assert df["team"].nunique() == 1 and df["period"].nunique() == 1, f
        assert len(df) == df["measure"].nunique() * 6, f
    assert set(data["group"]) == set(GROUPS)  # no "All" rows: totals are derived
    assert not data.duplicated(["team", "measure", "period", "group"]).any()
    assert (data.groupby(["team", "measure", "period"]).size() == 6).all()
    assert (data[["numerator", "denominator"]] >= 0).all().all()
    m = read_table("measures").set_index("id")
    proportions = data["measure"].map(m["chart"]).eq("p")
    assert (data.loc[proportions, "numerator"] <= data.loc[proportions, "denominator"]).all()
    assert set(data["measure"]) <= set(m.index)
    assert set(data["team"]) == set(read_table("teams")["team"])


def test_wards_carry_the_inpatient_measures_and_community_teams_the_access_ones(
    data: pd.DataFrame,
) -> None:
    carried = data.groupby("team")["measure"].apply(set)
    inpatient = {"restraint_per_1000_obd", "detained_admissions", "rapid_tranq_per_1000_obd"}
    access = {"assessed_within_28_days", "days_to_first_contact", "coproduced_care_plans"}
    for team, measures in carried.items():
        if "Ward" in team:
            assert inpatient <= measures and not access & measures
        else:
            assert access <= measures and not inpatient & measures
        assert {"felt_respected", "staff_disciplinary"} <= measures


def test_bed_days_and_restraint_are_realistic(data: pd.DataFrame) -> None:
    ward = data[data["measure"] == "restraint_per_1000_obd"]
    totals = ward.groupby(["team", "period"])[["numerator", "denominator"]].sum()
    open_months = totals[totals["denominator"] > 0]
    assert open_months["denominator"].median() > 600
    assert open_months["numerator"].between(1, 40).all()
    assert 4 <= open_months["numerator"].median() <= 20


def test_teams_spell_the_period_their_own_way() -> None:
    manifest = read_manifest()
    spelled = {}
    for f in manifest["file"]:
        df = read_upload(SAMPLE_DIR / f)
        spelled.setdefault(df["team"].iloc[0], set()).add(str(df["period"].iloc[0]))
    patterns = {
        "YYYY-MM": r"\d{4}-\d\d",
        "YYYY-MM-DD": r"\d{4}-\d\d-01",
        "DD/MM/YYYY": r"01/\d\d/\d{4}",
        "Mon-YY": r"[A-Z][a-z]{2}-\d\d",
    }
    used = set()
    for team, periods in spelled.items():
        styles = {k for k, p in patterns.items() if all(pd.Series(list(periods)).str.fullmatch(p))}
        assert len(styles) == 1, team
        used |= styles
    assert used == set(patterns)
    xlsx = manifest[manifest["file"].str.endswith(".xlsx")]
    assert 1 <= xlsx["file"].str.split("/").str[1].nunique() <= 3


@pytest.mark.parametrize(
    "text",
    ["2024-03", "2024-03-01", "01/03/2024", "Mar-24", "mar-24", " 2024-3 "],
)
def test_the_four_period_spellings_parse_to_the_month(text: str) -> None:
    assert parse_period(text) == pd.Timestamp("2024-03-01")


@pytest.mark.parametrize("text", ["03/2024", "2024/03", "Mars-24", "13/2024/01", ""])
def test_other_spellings_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="Unrecognised period"):
        parse_period(text)


def test_pdsa_cycles() -> None:
    pdsa = read_table("pdsa")
    assert list(pdsa.columns) == [
        "team", "measure", "group", "change_idea", "cycle", "stage", "start", "end",
        "learning", "lived_experience", "tag",
    ]  # fmt: skip
    # every change idea is tagged with a change of the package
    package = read_table("change_package")
    assert pdsa["tag"].isin(package["tag"]).all()
    assert pdsa["stage"].isin(["plan", "do", "study", "act"]).all()
    assert pdsa["lived_experience"].isin(["co-designed", "consulted", "not involved"]).all()
    assert pdsa["group"].isin(["", *GROUPS]).all()
    start = pd.to_datetime(pdsa["start"], format="%Y-%m-%d")
    ended = pdsa["end"] != ""
    end = pd.to_datetime(pdsa.loc[ended, "end"], format="%Y-%m-%d")
    assert (end >= start[ended]).all()
    for _, idea in pdsa.groupby(["team", "change_idea"]):
        assert idea["cycle"].astype(int).tolist() == list(range(1, len(idea) + 1))
    # every story's change went in at the start of a cycle at its team, measure and group
    for s in gen.STORIES:
        rows = pdsa[
            (pdsa["team"] == s.team)
            & (pdsa["measure"] == s.measure)
            & (pdsa["group"] == (s.group or ""))
        ]
        assert month(s.start) in set(start[rows.index].dt.to_period("M").dt.start_time), s.key


def test_owners_cover_every_team_and_measure(data: pd.DataFrame) -> None:
    owners = read_table("owners")
    assert list(owners.columns) == [
        "team", "measure", "owner", "sponsor", "review_every_months", "since",
    ]  # fmt: skip
    have = set(zip(owners["team"], owners["measure"], strict=True))
    assert have == set(zip(data["team"], data["measure"], strict=True))
    assert owners["review_every_months"].astype(int).isin([1, 3, 6, 12]).all()
    assert set(owners["since"]) == {"2024-01-01"}


def test_owners_review_on_time_but_three_stopped() -> None:
    """Each owned measure reviewed every cadence (its last four kept), except three whose
    reviews stopped: by the sample's today those are the overdue ones."""
    owners = read_table("owners")
    reviews = read_table("reviews")
    assert list(reviews.columns) == ["team", "measure", "reviewed_on", "note"]
    last = pd.to_datetime(reviews["reviewed_on"]).groupby([reviews["team"],
                                                             reviews["measure"]]).max()  # fmt: skip
    every = owners.set_index(["team", "measure"])["review_every_months"].astype(int)
    due = [
        k
        for k in every.index
        if last[k] + pd.DateOffset(months=int(every[k])) < pd.Timestamp("2026-11-25")
    ]
    assert sorted(due) == [
        ("Rowan Ward", "rapid_tranq_per_1000_obd"),
        ("Southmoor Adult Community Team", "days_to_first_contact"),
        ("Westhaven Community Team", "staff_disciplinary"),
    ]
    assert reviews.groupby(["team", "measure"]).size().max() <= 4


def test_actions_include_an_overdue_one() -> None:
    actions = read_table("actions")
    assert list(actions.columns) == [
        "team", "measure", "period", "raised_by", "decision", "action", "owner", "due", "done",
    ]  # fmt: skip
    assert actions["raised_by"].isin(["board", "team"]).all()
    assert actions["period"].str.fullmatch(r"\d{4}-\d\d").all()
    due = pd.to_datetime(actions["due"], format="%Y-%m-%d")
    overdue = actions[(due < TODAY) & (actions["done"] == "")]
    assert len(overdue) >= 1
    done = actions["done"] != ""
    assert (pd.to_datetime(actions.loc[done, "done"], format="%Y-%m-%d") < TODAY).all()
    measures = set(read_table("measures")["id"])
    assert set(actions["measure"]) <= measures
    assert set(actions["team"]) <= set(read_table("teams")["team"])


# --------------------------------------------------------------------------------------
# Reproducible and small
# --------------------------------------------------------------------------------------


def test_regenerating_gives_the_committed_files(regenerated: tuple[Path, float]) -> None:
    out, _ = regenerated
    made = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(SAMPLE_DIR).as_posix()
        for p in SAMPLE_DIR.rglob("*")
        if p.is_file() and p.suffix in (".csv", ".xlsx")
    }
    assert made == committed
    for name in sorted(made):
        if name.endswith(".csv"):
            assert (out / name).read_bytes() == (SAMPLE_DIR / name).read_bytes(), name
        else:  # Excel: the same cells (the bytes are fixed too, but depend on openpyxl)
            pd.testing.assert_frame_equal(read_upload(out / name), read_upload(SAMPLE_DIR / name))


def test_generation_is_quick(regenerated: tuple[Path, float]) -> None:
    _, seconds = regenerated
    assert seconds < 60  # a generous bound: it takes about a second or two


def test_the_files_are_small() -> None:
    total = sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*") if p.is_file())
    assert total < 2_000_000


def test_another_seed_draws_other_numbers_for_the_same_stories(tmp_path: Path) -> None:
    gen.main(["--out", str(tmp_path), "--seed", "7"])
    other = read_uploads(tmp_path)
    ours = read_uploads()
    assert other[["team", "measure", "period", "group"]].equals(
        ours[["team", "measure", "period", "group"]]
    )
    assert not other["numerator"].equals(ours["numerator"])


def test_the_readme_describes_every_story_and_the_calendar() -> None:
    text = (SAMPLE_DIR / "README.md").read_text(encoding="utf-8")
    for s in gen.STORIES:
        assert s.key in text and s.start in text and s.team in text, s.key
    for team, month_ in (*gen.MISSING, *gen.CLOSED):
        assert team in text and month_ in text
    assert f"**{gen.SEED}**" in text

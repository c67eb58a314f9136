"""What the collaborative learned (qi.learning, the change package, the Learning page).

Known answers are the sample's stories (sample_data/README.md): Willow Ward's culturally
informed de-escalation training cut restraint of Black patients for good (improvement
sustained); Rowan Ward's pharmacist-led PRN review helped and then faded (improvement at
risk); Cedar Ward's safety huddle and Southmoor's text reminders changed nothing (no
signal). Synthetic series with known signals check the rest: a change too recent to judge,
a change with no months before it, untagged ideas, a change tested at two teams.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from qi import screens
from qi.access import AccessDenied
from qi.learning import OUTCOMES, UNTAGGED, by_change, driver_diagram, learning, learning_of
from qi.snapshot import Snapshot
from qi.store import Store, StoreError, UploadRejected
from tests.test_pages import APP

RESTRAINT = "restraint_per_1000_obd"
TODAY = "2026-11-25"


# ---------------------------------------------------------------------- the sample


@pytest.fixture(scope="module")
def snap(sample_db):
    with Store.open(f"sqlite:///{sample_db}") as store:
        return Snapshot.from_store(store)


@pytest.fixture(scope="module")
def table(snap):
    return learning_of(snap).set_index(["tag", "team"])


def test_the_de_escalation_training_is_sustained_at_willow_for_black_patients(table):
    row = table.loc[("deescalation", "Willow Ward")]
    assert (row["measure"], row["group"]) == (RESTRAINT, "Black")
    assert row["outcome"] == "improvement sustained"
    assert row["cycles"] == 3  # pilot, roll-out, refreshers
    assert row["first_start"] == pd.Timestamp("2025-02-01")  # the pilot cycle
    assert row["improved_from"] == pd.Timestamp("2025-04-01")  # the story's month
    assert row["months_held"] >= 12
    assert row["primary_driver"] == "Restrictive practice is used less and fairly"


def test_the_prn_review_faded_and_is_at_risk(table):
    row = table.loc[("prn-review", "Rowan Ward")]
    assert row["outcome"] == "improvement at risk"
    assert row["improved_from"] == pd.Timestamp("2024-11-01")
    # the story: improvement 2024-11…2025-07, common cause from 2025-08
    assert row["concern_from"] == pd.Timestamp("2025-08-01")


@pytest.mark.parametrize(
    ("tag", "team"),
    [("safety-huddle", "Cedar Ward"), ("reminders", "Southmoor Adult Community Team")],
)
def test_changes_without_effect_have_no_signal(table, tag, team):
    row = table.loc[(tag, team)]
    assert row["outcome"] == "no signal"
    assert row["months_before"] >= 7 and row["months_after"] >= 7
    assert pd.isna(row["improved_from"])


def test_the_sample_table_matches_holding_the_gains(snap, table):
    """One judgement across the dashboard: the Learning table says in words what the
    Accountability page's holding-the-gains status says (every story has one idea)."""
    gains = screens.accountability(snap).gains.set_index(["team", "measure", "group"])
    words = {"sustained": "improvement sustained", "holding": "improvement holding",
             "at risk": "improvement at risk", "no improvement": "no signal"}  # fmt: skip
    for (_, team), row in table.iterrows():
        status = gains.loc[(team, row["measure"], row["group"]), "status"]
        assert row["outcome"] == words[status], team


def test_the_roll_up_lists_every_change_of_the_package(snap):
    view = screens.learning_view(snap)
    changes = view.changes.set_index("tag")
    assert list(changes.index) == list(snap.change_package["tag"])  # the package's order
    assert changes.loc["deescalation", "improvement sustained"] == 1
    assert changes.loc["deescalation", "tested_at"] == "Willow Ward"
    assert changes.loc["lived-experience-panel", "teams"] == 0
    assert changes.loc["lived-experience-panel", "outcomes"] == "not tested yet"
    assert view.outcome_counts() == {
        "improvement sustained": 2, "improvement holding": 0, "improvement at risk": 2,
        "no signal": 3, "not enough data yet": 0,
    }  # fmt: skip
    # the driver diagram: each primary driver's changes together, in the package's order
    diagram = driver_diagram(snap.change_package)
    primaries = list(dict.fromkeys(diagram["primary_driver"]))
    assert primaries[0] == "Restrictive practice is used less and fairly"
    assert (diagram["primary_driver"] != diagram["primary_driver"].shift()).sum() == len(primaries)


def test_a_chart_link_opens_the_chart_the_board_would(snap):
    view = screens.learning_view(snap, tags=["deescalation"])
    assert len(view.table) == 1
    query = view.chart_query(0)
    assert query == {"level": "team", "unit": "Willow Ward", "measure": RESTRAINT,
                     "group": "Black", "rules": "mdc", "phase": ["2025-02"]}  # fmt: skip
    board = screens.board(snap, level="team", today=pd.Timestamp(TODAY).date())
    starts = board.phase_starts("Willow Ward", RESTRAINT, "Black")
    assert query["phase"] == [f"{s:%Y-%m}" for s in starts]
    address = view.chart_address(0)
    assert address.startswith("team?level=team&unit=Willow+Ward&measure=")
    assert "phase=2025-02" in address
    assert view.download()["Chart (address in the dashboard)"].tolist() == [address]


def test_filters_keep_the_roll_up_whole(snap):
    view = screens.learning_view(snap, outcomes=["no signal"])
    assert set(view.table["outcome"]) == {"no signal"}
    assert set(view.table["tag"]) == {"safety-huddle", "reminders", "record-ethnicity"}
    assert len(view.changes) == len(snap.change_package)


def test_learning_runs_without_streamlit(sample_db):
    """A notebook's call: no Streamlit module is loaded."""
    code = (
        "import sys\n"
        "from qi.store import Store\nfrom qi.snapshot import Snapshot\n"
        "from qi.learning import learning_of\n"
        f"t = learning_of(Snapshot.from_store(Store.open('sqlite:///{sample_db}')))\n"
        "assert 'streamlit' not in sys.modules, 'streamlit was imported'\n"
        "print(t.set_index('tag').loc['deescalation', 'outcome'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "improvement sustained"


# ---------------------------------------------------------------------- synthetic series

MONTHS = pd.date_range("2023-01-01", periods=36, freq="MS")


def ward_series(rate: np.ndarray, team: str = "Ward A", seed: int = 1) -> pd.DataFrame:
    """A team's monthly restraint series (u chart per 1,000 bed days) at ``rate``."""
    rng = np.random.default_rng(seed)
    n = np.full(len(rate), 3000.0)
    return pd.DataFrame({
        "unit": team, "level": "team", "measure": "restraint", "group": "All",
        "period": MONTHS[: len(rate)], "numerator": rng.poisson(rate * n / 1000),
        "denominator": n, "chart": "u", "multiplier": 1000.0, "improvement": "decrease",
    })  # fmt: skip


def cycles(rows: list[tuple]) -> pd.DataFrame:
    """PDSA rows: (team, change idea, cycle, start, tag)."""
    return pd.DataFrame(
        [{"team": t, "measure": "restraint", "group": "", "change_idea": idea, "cycle": c,
          "start": pd.Timestamp(s), "tag": tag} for t, idea, c, s, tag in rows]
    )  # fmt: skip


PACKAGE = pd.DataFrame({
    "tag": ["huddle", "training"], "change": ["Safety huddle", "Training"],
    "primary_driver": ["Less restraint"] * 2, "secondary_driver": ["Risk", "Skills"],
})  # fmt: skip


def test_a_change_too_recent_to_judge_is_not_enough_data_yet():
    series = ward_series(np.full(36, 20.0))
    recent = cycles([("Ward A", "Huddle", 1, MONTHS[32], "huddle")])  # 4 months after
    row = learning(series, recent, PACKAGE).iloc[0]
    assert (row["months_before"], row["months_after"]) == (32, 4)
    assert row["outcome"] == "not enough data yet"
    # the same change with 7 months after it: no effect, so no signal
    older = cycles([("Ward A", "Huddle", 1, MONTHS[29], "huddle")])
    assert learning(series, older, PACKAGE).iloc[0]["outcome"] == "no signal"


def test_a_change_with_no_months_before_it_is_not_enough_data_yet():
    series = ward_series(np.full(36, 20.0))
    first = cycles([("Ward A", "Huddle", 1, MONTHS[0], "huddle")])
    row = learning(series, first, PACKAGE).iloc[0]
    assert row["months_before"] == 0 and row["outcome"] == "not enough data yet"


def test_an_early_clear_improvement_is_holding_not_too_soon():
    """A fall far beyond the old limits shows at once: improved, held under 12 months."""
    series = ward_series(np.r_[np.full(30, 20.0), np.full(6, 5.0)])
    row = learning(series, cycles([("Ward A", "T", 1, MONTHS[30], "training")]), PACKAGE)
    assert row.iloc[0]["outcome"] == "improvement holding"
    assert row.iloc[0]["improved_from"] == MONTHS[30]


def test_a_change_tested_at_two_teams_and_untagged_ideas():
    series = pd.concat([
        ward_series(np.r_[np.full(18, 20.0), np.full(18, 8.0)], "Ward A", seed=2),
        ward_series(np.full(36, 20.0), "Ward B", seed=3),
    ])  # fmt: skip
    rows = cycles([
        ("Ward A", "Training for all staff", 1, MONTHS[18], "training"),
        ("Ward A", "Training for all staff", 2, MONTHS[20], "training"),
        ("Ward B", "Our training", 1, MONTHS[18], "training"),
        ("Ward B", "A new rota", 1, MONTHS[10], None),
    ])  # fmt: skip
    table = learning(series, rows, PACKAGE)
    trained = table[table["tag"] == "training"].set_index("team")
    assert trained.loc["Ward A", "outcome"] == "improvement sustained"
    assert trained.loc["Ward A", "cycles"] == 2
    assert trained.loc["Ward B", "outcome"] == "no signal"
    # every change on a series is a phase of its chart, as on the board
    assert trained.loc["Ward B", "phases"] == ("2023-11", "2024-07")
    untagged = table[table["tag"] == UNTAGGED].iloc[0]
    assert untagged["change"] == "(change ideas without a tag)"
    assert table["tag"].iloc[-1] == UNTAGGED  # after the package's changes
    rolled = by_change(table, PACKAGE).set_index("tag")
    assert rolled.loc["training", "teams"] == 2
    assert rolled.loc["training", "outcomes"] == "1 improvement sustained; 1 no signal"
    assert rolled.loc["huddle", "outcomes"] == "not tested yet"
    assert rolled.loc[UNTAGGED, "teams"] == 1


@settings(max_examples=15, deadline=None)
@given(
    start=st.integers(min_value=0, max_value=35),
    length=st.integers(min_value=2, max_value=36),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_not_enough_data_only_when_too_few_months_and_no_improvement(start, length, seed):
    series = ward_series(np.full(36, 20.0), seed=seed).iloc[:length]
    row = learning(series, cycles([("Ward A", "H", 1, MONTHS[start], "huddle")])).iloc[0]
    assert row["outcome"] in OUTCOMES
    before, after = min(start, length), max(length - start, 0)
    assert (row["months_before"], row["months_after"]) == (before, after)
    too_few = before < 7 or after < 7
    if row["outcome"] == "not enough data yet":
        assert too_few and pd.isna(row["improved_from"])
    elif row["outcome"] == "no signal":
        assert not too_few


# ---------------------------------------------------------------------- the store

GOOD = pd.DataFrame({
    "tag": ["huddle", "training"], "change": ["Safety huddle", "Training <b>"],
    "primary_driver": ["Less restraint"] * 2, "secondary_driver": ["Risk", "Skills"],
    "description": ["", "=1+1"],
})  # fmt: skip


def idea(tag: str | None = None, **kw) -> pd.DataFrame:
    row = {"team": "Willow Ward", "measure": "restraint", "group": "", "change_idea": "Huddle",
           "cycle": "1", "stage": "plan", "start": "2024-05-01", "end": "", "learning": "",
           "lived_experience": "consulted", **kw}  # fmt: skip
    if tag is not None:
        row["tag"] = tag
    return pd.DataFrame([row])


def test_the_package_loads_as_typed_and_tags_ideas(store):
    assert store.load_change_package(GOOD) == 2
    package = store.change_package()
    assert package["tag"].tolist() == ["huddle", "training"]
    assert package["change"].tolist() == ["Safety huddle", "Training <b>"]
    assert package["description"].tolist() == ["", "=1+1"]
    store.import_pdsa(idea("huddle"))
    assert store.pdsa()["tag"].tolist() == ["huddle"]
    # an old file without a tag column, or an empty tag, leaves the tag as it is
    store.import_pdsa(idea(learning="more"))
    store.import_pdsa(idea("", learning="again"))
    cycles = store.pdsa()
    assert cycles["tag"].tolist() == ["huddle"] and cycles["learning"].tolist() == ["again"]
    # re-tagging is audited, with the tags before and after
    store.set_change_tag(int(cycles["change_idea_id"].iloc[0]), "training", user="lead")
    assert store.pdsa()["tag"].tolist() == ["training"]
    entry = store.audit_log().iloc[-1]
    assert (entry["action"], entry["detail"]) == ("set_change_tag", "huddle -> training")
    store.set_change_tag(int(cycles["change_idea_id"].iloc[0]), None)
    assert store.pdsa()["tag"].isna().all()


def test_a_bad_package_is_refused_with_row_and_column_and_nothing_changes(store, tmp_path):
    store.load_change_package(GOOD)
    store.import_pdsa(idea("huddle"))
    path = tmp_path / "package.csv"
    path.write_text(
        "tag,change,primary_driver,secondary_driver\n"
        "training,Training,Less restraint,Skills\n"
        "Bad Tag,Something,Less restraint,Skills\n"
        "training,Again,Less restraint,Skills\n"
        "untagged,Reserved,Less restraint,\n"
    )
    before, counts = store.change_package(), store.counts()
    with pytest.raises(UploadRejected) as err:
        store.load_change_package(path)
    found = {(Path(p.file).name, p.row, p.column) for p in err.value.problems}
    assert {("package.csv", 3, "tag"), ("package.csv", 4, "tag"), ("package.csv", 5, "tag"),
            ("package.csv", 5, "secondary_driver")} <= found  # fmt: skip
    # "huddle" is carried by an idea: the file may not drop it
    assert any(p.row is None and "'huddle'" in p.message for p in err.value.problems)
    pd.testing.assert_frame_equal(store.change_package(), before)
    assert store.counts() == counts


def test_an_unknown_tag_is_refused_with_row_and_column(store):
    store.load_change_package(GOOD)
    counts = store.counts()
    rows = pd.concat([idea("huddle"), idea("no-such-change", change_idea="Other")])
    with pytest.raises(UploadRejected) as err:
        store.import_pdsa(rows)
    assert [(p.row, p.column) for p in err.value.problems] == [(3, "tag")]
    assert store.counts() == counts  # the good row was not written either
    store.import_pdsa(idea("huddle"))
    with pytest.raises(StoreError, match="unknown tag"):
        store.set_change_tag(int(store.pdsa()["change_idea_id"].iloc[0]), "no-such-change")


def test_only_a_facilitator_of_the_collaborative_loads_the_package(store):
    store.add_user("fac", password="facilitator pass 1", role="facilitator",
                   scope="collaborative", name="Test Collaborative", user="set-up")  # fmt: skip
    fac = store.sign_in("fac", "facilitator pass 1")
    fac.add_user("willow", password="willow ward member", role="team_member",
                 scope="team", name="Willow Ward")  # fmt: skip
    fac.add_user("oak", password="oak ward member pass", role="team_member",
                 scope="team", name="Oak Ward")  # fmt: skip
    willow = store.sign_in("willow", "willow ward member")
    with pytest.raises(AccessDenied):
        willow.load_change_package(GOOD)
    assert fac.load_change_package(GOOD) == 2
    willow.import_pdsa(idea("huddle"))  # a team tags its own ideas
    oak = store.sign_in("oak", "oak ward member pass")
    with pytest.raises(AccessDenied):  # and no one else's
        oak.set_change_tag(int(willow.pdsa()["change_idea_id"].iloc[0]), "training")
    assert willow.pdsa()["tag"].tolist() == ["huddle"]


# ---------------------------------------------------------------------- pages and CLI


@pytest.fixture
def db_url(sample_copy, monkeypatch) -> str:
    monkeypatch.setenv("QI_DATABASE_URL", sample_copy)
    return sample_copy


def test_the_learning_page_shows_what_followed_each_change(db_url):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page("app_pages/learning.py").run()
    assert not at.exception, at.exception
    shown = at.dataframe[0].value.set_index(["Tag", "Team"])
    assert shown.loc[("deescalation", "Willow Ward"), "What followed"] == "improvement sustained"
    assert shown.loc[("prn-review", "Rowan Ward"), "What followed"] == "improvement at risk"
    assert shown.loc[("safety-huddle", "Cedar Ward"), "What followed"] == "no signal"
    assert shown.map(lambda v: isinstance(v, str)).all().all()  # a table in words
    tree = next(m.value for m in at.markdown if "Primary driver" in m.value)
    assert "Data on ethnicity are complete" in tree
    # choosing an outcome narrows the table and keeps the choice in the address
    at.multiselect[1].set_value(["improvement at risk"]).run()
    assert set(at.dataframe[0].value["What followed"]) == {"improvement at risk"}
    assert at.query_params["outcome"] in ("improvement at risk", ["improvement at risk"])


def test_a_facilitator_replaces_the_package_on_the_page(db_url):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page("app_pages/learning.py").run()
    before = Store.open(db_url).change_package()
    # a file that drops tags the sample's ideas carry is refused whole, with its problems
    bad = "tag,change,primary_driver,secondary_driver\nnew-one,New,Driver,Secondary\n"
    at.file_uploader[0].upload("package.csv", bad.encode(), "text/csv").run()
    next(b for b in at.button if b.label == "Replace the change package").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["Not loaded, nothing changed:"]
    problems = at.dataframe[-1].value
    assert problems["message"].str.contains("'deescalation'").any()
    pd.testing.assert_frame_equal(Store.open(db_url).change_package(), before)
    # the same package with one more change is loaded, and the page shows it
    good = before.drop(columns="position")
    good.loc[len(good)] = ["new-one", "A <b>new</b> change", "Care is co-produced",
                           "People with lived experience shape care plans", ""]  # fmt: skip
    at.file_uploader[0].upload("package.csv", good.to_csv(index=False).encode(), "text/csv")
    next(b for b in at.button if b.label == "Replace the change package").click().run()
    assert not at.exception, at.exception
    assert Store.open(db_url).change_package()["tag"].tolist()[-1] == "new-one"
    tree = next(m.value for m in at.markdown if "Primary driver" in m.value)
    assert "A \\<b\\>new\\</b\\> change" in tree  # shown as typed, not as markup


def test_a_team_tags_its_change_idea_on_the_change_log_page(db_url):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page("app_pages/changelog.py").run()
    assert not at.exception, at.exception
    pick = next(s for s in at.selectbox if s.label == "Change idea")
    cedar = next(i for i in pick.options if i.startswith("Cedar Ward"))
    pick.set_value(pick.options.index(cedar)).run()  # its value is its place in the list
    tag = next(s for s in at.selectbox if s.label == "Change of the package")
    assert tag.value == "safety-huddle"
    tag.set_value("deescalation").run()
    next(b for b in at.button if b.label == "Save the tag").click().run()
    assert not at.exception, at.exception
    cycles = Store.open(db_url).pdsa()
    assert set(cycles.loc[cycles["team"] == "Cedar Ward", "tag"]) == {"deescalation"}


def test_the_cli_loads_and_prints_the_package_and_the_learning_table(sample_copy, tmp_path):
    def qi(*args):
        return subprocess.run(
            [sys.executable, "-m", "qi.cli", "--db", sample_copy, *args],
            capture_output=True, text=True, env={**os.environ, "COLUMNS": "250"},
        )  # fmt: skip

    out = qi("learning")
    assert out.returncode == 0, out.stderr
    willow = next(line for line in out.stdout.splitlines() if "Willow Ward" in line)
    assert "improvement sustained" in willow
    assert "lived-experience-panel" in qi("package").stdout
    bad = tmp_path / "package.csv"
    bad.write_text("tag,change,primary_driver,secondary_driver\nBad Tag,x,y,z\n")
    refused = qi("package", str(bad))
    assert refused.returncode == 1
    assert "package.csv:2:tag:" in refused.stdout + refused.stderr
    written = tmp_path / "learning.csv"
    assert qi("learning", "--output", str(written)).returncode == 0
    assert "improvement at risk" in written.read_text(encoding="utf-8-sig")

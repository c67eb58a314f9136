"""Phases tied to changes (:mod:`qi.phasing`, :mod:`qi.store.phases`): synthetic series
with known shifts, the sample's stories as known answers, the store's refusals and
audit, and the board, pack and Team page showing recorded phases and their reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qi import phasing, screens
from qi.snapshot import Snapshot
from qi.store import Store, StoreError
from tests.conftest import HEADER

MONTHS = pd.date_range("2024-01-01", periods=40, freq="MS")
IDEA = "Calm-down boxes"


def series(values, improvement="decrease", group="All") -> pd.DataFrame:
    """One team's I-chart series of ``values`` from January 2024."""
    n = len(values)
    return pd.DataFrame({
        "unit": "Ward A", "measure": "waits", "group": group, "period": MONTHS[:n],
        "numerator": np.asarray(values, dtype=float), "denominator": np.nan, "chart": "i",
        "multiplier": 1.0, "improvement": improvement, "target": np.nan,
    })  # fmt: skip


def cycles(*starts, group="") -> pd.DataFrame:
    return pd.DataFrame({
        "team": "Ward A", "measure": "waits", "group": group, "change_idea": IDEA,
        "cycle": range(1, len(starts) + 1), "stage": "act", "start": pd.to_datetime(starts),
    })  # fmt: skip


#: 12 months alternating 49, 51 around 50 (an I chart's limits about 44.7 and 55.3);
#: the last is 51, above the line, so no run carries over into month 13.
BEFORE = [49.0, 51.0] * 6


def test_a_shift_after_a_logged_change_offers_a_phase_from_that_change():
    values = BEFORE + [47.0, 48.0] * 6 + [47.0]  # 13 months below 50 from January 2025
    got = phasing.offers(series(values), cycles("2024-06-10", "2025-01-06"))
    assert len(got) == 1
    o = got.iloc[0]
    assert (o["start"], o["cycle"], o["shift_from"]) == (
        pd.Timestamp("2025-01-01"),
        2,
        pd.Timestamp("2025-01-01"),
    )
    assert (o["rule"], o["side"], o["points"], o["kind"]) == ("shift", "below", 13, "improvement")
    assert o["reason"] == (
        f"after PDSA 2 of {IDEA}: a run of 13 below the centre line from January 2025"
    )
    # the same fall where higher is better is a concern
    worse = phasing.offers(series(values, "increase"), cycles("2024-06-10", "2025-01-06"))
    assert worse["kind"].tolist() == ["concern"]


def test_the_shift_is_tied_to_the_latest_change_before_it():
    # the run starts in March 2025; cycles began in January and in February
    values = BEFORE + [51.0, 52.0] + [47.0, 48.0] * 6
    got = phasing.offers(series(values), cycles("2025-01-02", "2025-02-03"))
    assert got[["start", "cycle", "shift_from"]].values.tolist() == [
        [pd.Timestamp("2025-02-01"), 2, pd.Timestamp("2025-03-01")]
    ]


def test_a_shift_before_any_change_offers_nothing():
    # the level falls in July 2024; the only change comes in January 2025
    values = [49.0, 51.0] * 3 + [45.0, 46.0] * 9 + [45.0]
    assert phasing.offers(series(values), cycles("2025-01-06")).empty


def test_no_shift_offers_nothing():
    values = [49.0, 51.0] * 12 + [49.0]
    for rules in ("mdc", "anhoej", "ihi", "western_electric"):
        assert phasing.offers(series(values), cycles("2025-01-06"), rules=rules).empty


def test_a_point_beyond_the_limits_then_a_run_offers_a_phase():
    # 40 is below the lower limit (about 44.7); then three more below the line, then
    # points either side: no run of 7, but the point beyond the limits and its run; and
    # the last month below the old lower limit again (the shift still shows now)
    values = BEFORE + [40.0, 48.0, 47.0, 48.0] + [52.0, 48.0] * 3 + [52.0, 48.0, 47.0, 40.0]
    got = phasing.offers(series(values), cycles("2025-01-06"))
    assert got[["rule", "side", "points", "start"]].values.tolist() == [
        ["beyond limit", "below", 4, pd.Timestamp("2025-01-01")]
    ]
    assert got["reason"].iloc[0] == (
        f"after PDSA 1 of {IDEA}: a point below the lower limit in January 2025, and a run "
        "of 4 below the centre line from it"
    )
    # a single point beyond the limits, the next above the line: no sustained shift
    lone = BEFORE + [40.0] + [52.0, 48.0] * 6
    assert phasing.offers(series(lone), cycles("2025-01-06")).empty
    # the point and its run, and then back around the old centre line: it faded
    faded = BEFORE + [40.0, 48.0, 47.0, 48.0] + [52.0, 48.0] * 4 + [52.0]
    assert phasing.offers(series(faded), cycles("2025-01-06")).empty


def test_a_shift_that_faded_offers_nothing():
    # ten months below the line after the change, then back to the old level
    values = BEFORE + [47.0, 48.0] * 5 + [49.0, 51.0] * 4 + [52.0, 51.0, 52.0]
    assert phasing.offers(series(values), cycles("2025-01-06")).empty
    # the same run, and the last month below the old lower limit: it still shows
    held = BEFORE + [47.0, 48.0] * 5 + [49.0, 51.0] * 4 + [48.0, 47.0, 40.0]
    assert len(phasing.offers(series(held), cycles("2025-01-06"))) == 1


def test_a_chance_point_on_the_new_side_just_before_the_change_is_not_its_shift():
    # the last month before the change happens to be below the line, then 13 below
    values = BEFORE[:-1] + [49.0] + [47.0, 48.0] * 6 + [47.0]
    got = phasing.offers(series(values), cycles("2025-01-06"))
    assert got[["start", "shift_from", "points"]].values.tolist() == [
        [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-01"), 13]
    ]
    # but a run long before the change is not the change's shift
    early = [49.0, 51.0] * 3 + [45.0, 46.0] * 9 + [45.0]
    assert phasing.offers(series(early), cycles("2025-01-06")).empty


@pytest.mark.parametrize(
    ("run", "rules", "offered"),
    [
        (6, "ihi", True),  # IHI's shift is 6
        (6, "mdc", False),  # Making Data Count's is 7
        (8, "mdc", True),
        (8, "western_electric", True),  # its run rule is 8
        (8, "anhoej", False),  # 25 useful points: longest run allowed 8, a shift is 9
        (9, "anhoej", True),
    ],
)
def test_each_rule_set_uses_its_own_shift_length(run, rules, offered):
    after = [47.0, 48.0] * (run // 2) + [47.0] * (run % 2)
    # then a month above the line, and points either side, the last one below the old
    # lower limit (the series still shows the shift now), 25 points in all
    f = 9 - run
    rest = [52.0] + [48.0, 52.0] * (f // 2) + [52.0] * (f % 2) + [48.0, 47.0, 40.0]
    values = BEFORE + after + rest
    assert len(values) == 25
    got = phasing.offers(series(values), cycles("2025-01-06"), rules=rules)
    assert (len(got) == 1) is offered, got
    if offered:
        assert got["points"].iloc[0] == run


def test_anhoej_shift_length_follows_the_number_of_points():
    assert phasing.shift_length("anhoej", [10, 24, 25, 60]).tolist() == [7, 9, 9, 10]
    assert phasing.shift_length("mdc") == 7 and phasing.shift_length("ihi") == 6
    assert phasing.shift_length("western_electric") == 8


def test_too_few_points_after_the_change_offer_nothing():
    # Making Data Count needs 13 points in a new phase; 12 here
    values = BEFORE + [47.0, 48.0] * 6
    assert phasing.offers(series(values[:24]), cycles("2025-01-06")).empty
    # IHI needs its shift length, 6
    assert len(phasing.offers(series(values[:24]), cycles("2025-01-06"), rules="ihi")) == 1


def test_a_recorded_phase_is_not_offered_again_and_changes_the_lines():
    values = BEFORE + [47.0, 48.0] * 6 + [47.0]
    recorded = pd.DataFrame(
        {
            "team": ["Ward A"],
            "measure": ["waits"],
            "group": ["All"],
            "start": [pd.Timestamp("2025-01-01")],
            "withdrawn_at": [pd.NaT],
        }
    )
    assert phasing.offers(series(values), cycles("2025-01-06"), phases=recorded).empty
    withdrawn = recorded.assign(withdrawn_at=pd.Timestamp("2026-01-01"))
    assert len(phasing.offers(series(values), cycles("2025-01-06"), phases=withdrawn)) == 1


def test_offers_are_one_grouped_computation_over_many_series():
    values = BEFORE + [47.0, 48.0] * 6 + [47.0]
    flat = [49.0, 51.0] * 12 + [49.0]
    many = pd.concat([series(values, group=g) for g in ("Black", "White")]
                     + [series(flat, group="Asian")])  # fmt: skip
    changes = pd.concat([cycles("2025-01-06", group=g) for g in ("Black", "Asian")])
    got = phasing.offers(many, changes)
    # White has a shift but no change of its own; Asian a change but no shift
    assert got["group"].tolist() == ["Black"]


# ---------------------------------------------------------------- the sample's stories


@pytest.fixture(scope="module")
def sample_snap(sample_db) -> Snapshot:
    with Store.open(f"sqlite:///{sample_db}") as store:
        return Snapshot.from_store(store)


@pytest.fixture(scope="module")
def sample_offers(sample_snap) -> pd.DataFrame:
    return phasing.offers(sample_snap.series(), sample_snap.pdsa)


def _offer(offers, team, measure, group="All"):
    return phasing.for_series(offers, team, measure, group)


def test_willow_ward_black_restraint_is_offered_a_phase_from_the_training(sample_offers):
    got = _offer(sample_offers, "Willow Ward", "restraint_per_1000_obd", "Black")
    assert len(got) == 1
    o = got.iloc[0]
    # the training's pilot (PDSA 1) began in February 2025; the whole ward was trained
    # from PDSA 2, April 2025, and restraint of Black patients fell from April
    assert (o["start"], o["cycle"], o["shift_from"]) == (
        pd.Timestamp("2025-04-01"),
        2,
        pd.Timestamp("2025-04-01"),
    )
    assert o["kind"] == "improvement" and o["side"] == "below"
    assert o["reason"].startswith("after PDSA 2 of Culturally informed de-escalation training")
    assert o["reason"].endswith("below the centre line from April 2025")
    # nothing for White patients, who had no change of their own
    assert _offer(sample_offers, "Willow Ward", "restraint_per_1000_obd", "White").empty


def test_the_sample_offers_phases_where_changes_worked_and_none_where_they_did_not(
    sample_offers,
):
    peer = _offer(sample_offers, "Northvale Early Intervention in Psychosis Team",
                  "coproduced_care_plans")  # fmt: skip
    # the run above the old lines starts in December 2024, after the pilot (PDSA 1)
    assert peer[["start", "cycle", "shift_from", "side", "kind"]].values.tolist() == [
        [pd.Timestamp("2024-11-01"), 1, pd.Timestamp("2024-12-01"), "above", "improvement"]
    ]
    interpreters = _offer(sample_offers, "Riverside North Community Mental Health Team",
                          "assessed_within_28_days", "Asian")  # fmt: skip
    assert interpreters[["start", "cycle", "shift_from"]].values.tolist() == [
        [pd.Timestamp("2024-10-01"), 2, pd.Timestamp("2024-10-01")]
    ]
    assert _offer(sample_offers, "Cedar Ward", "restraint_per_1000_obd").empty
    assert _offer(sample_offers, "Southmoor Adult Community Team", "days_to_first_contact").empty
    # the PRN review: rapid tranquillisation fell from November 2024 (a run of 9) and
    # then rose again; none of the last three months is in a long run below the old
    # line or beyond its limit: the shift faded, so no new level to draw lines for (a
    # phase across the gain and the fade would average them away)
    assert _offer(sample_offers, "Rowan Ward", "rapid_tranq_per_1000_obd").empty
    # the stories' series that held are the only ones offered a phase
    assert len(sample_offers) == 3


# ---------------------------------------------------------------- the store


def _store_with_a_change(store: Store) -> Store:
    store.import_pdsa(pd.DataFrame({
        "team": ["Willow Ward"] * 2, "measure": ["restraint"] * 2, "group": ["Black"] * 2,
        "change_idea": ["Safe words"] * 2, "cycle": ["1", "2"], "stage": ["act", "do"],
        "start": ["2025-01-06", "2025-03-03"], "end": ["", ""], "learning": ["", ""],
        "lived_experience": ["co-designed"] * 2,
    }))  # fmt: skip
    return store


def test_recording_a_phase_is_audited_with_who_and_when(store):
    _store_with_a_change(store)
    pid = store.record_phase(team="Willow Ward", measure="restraint", group="Black",
                             start="2025-03", change_idea="Safe words", cycle=2,
                             supported=lambda: "after PDSA 2 of Safe words: a run of 8 below "
                             "the centre line from May 2025", user="system")  # fmt: skip
    got = store.recorded_phases()
    assert got[["id", "team", "group", "start", "change_idea", "cycle"]].values.tolist() == [
        [pid, "Willow Ward", "Black", pd.Timestamp("2025-03-01"), "Safe words", 2]
    ]
    assert got["created_by"].iloc[0] and pd.notna(got["created_at"].iloc[0])
    audit = store.audit_log()
    entry = audit[audit["action"] == "record_phase"].iloc[-1]
    assert entry["entity_id"] == str(pid) and "a run of 8 below" in entry["detail"]


def test_the_store_refuses_a_phase_without_a_logged_change(store):
    _store_with_a_change(store)
    before = store.counts()
    refusals = [
        # an idea that is not logged
        dict(group="Black", start="2025-03", change_idea="Something else"),
        # the idea is logged for Black patients, not for everyone
        dict(group="All", start="2025-03", change_idea="Safe words"),
        # the cycle started in March, not April
        dict(group="Black", start="2025-04", change_idea="Safe words", cycle=2),
        # no third cycle
        dict(group="Black", start="2025-03", change_idea="Safe words", cycle=3),
        # no reason
        dict(group="Black", start="2025-03", change_idea="Safe words", cycle=2,
             supported=lambda: " "),
    ]

    def no_shift() -> str:
        raise StoreError("no sustained shift")

    refusals.append(dict(group="Black", start="2025-03", change_idea="Safe words", cycle=2,
                         supported=no_shift))  # fmt: skip
    for kw in refusals:
        kw = {"team": "Willow Ward", "measure": "restraint", "supported": lambda: "r", **kw}
        with pytest.raises(StoreError):
            store.record_phase(**kw)
    assert store.counts() == before
    assert store.recorded_phases().empty


def test_a_phase_is_recorded_once_and_withdrawn_not_deleted(store):
    _store_with_a_change(store)
    kw = dict(team="Willow Ward", measure="restraint", group="Black", start="2025-01",
              change_idea="Safe words", supported=lambda: "after PDSA 1")  # fmt: skip
    pid = store.record_phase(**kw)
    with pytest.raises(StoreError, match="already recorded"):
        store.record_phase(**kw)
    version = store.version()
    store.withdraw_phase(pid)
    assert store.version() > version
    assert store.recorded_phases().empty
    kept = store.recorded_phases(withdrawn=True)
    assert kept["id"].tolist() == [pid] and kept["withdrawn_by"].iloc[0]
    # as it was before the withdrawal
    at = kept["created_at"].iloc[0] + pd.Timedelta(microseconds=1)
    assert store.recorded_phases(as_of=at)["id"].tolist() == [pid]
    with pytest.raises(StoreError, match="already withdrawn"):
        store.withdraw_phase(pid)
    # once withdrawn, the same phase may be recorded again
    assert store.record_phase(**kw) != pid


def test_accept_refuses_a_phase_no_shift_supports(store):
    _store_with_a_change(store)
    # flat restraint for Black patients: 24 months of 5 in 200 bed days
    rows = [
        f"Willow Ward,restraint,{m:%Y-%m},Black,{5 + (i % 2)},200"
        for i, m in enumerate(pd.date_range("2024-01-01", periods=26, freq="MS"))
    ]
    result = store.import_file((HEADER + "\n".join(rows) + "\n").encode(), "flat.csv")
    assert not result.problems
    with pytest.raises(StoreError, match="no sustained shift"):
        phasing.accept(store, team="Willow Ward", measure="restraint", group="Black",
                       start="2025-03")  # fmt: skip
    with pytest.raises(StoreError, match="no change is logged"):
        phasing.accept(store, team="Willow Ward", measure="restraint", group="White",
                       start="2025-03")  # fmt: skip
    assert store.recorded_phases().empty


def test_accept_records_the_offer_and_the_board_and_chart_use_it(sample_copy):
    with Store.open(sample_copy) as store:
        pid = phasing.accept(store, team="Willow Ward", measure="restraint_per_1000_obd",
                             group="Black", start="2025-04")  # fmt: skip
        phases = store.recorded_phases()
        assert phases["id"].tolist() == [pid] and phases["cycle"].tolist() == [2]
        snap = Snapshot.from_store(store)
    # no offer is left for that series
    left = phasing.offers(snap.series(), snap.pdsa, phases=snap.phases)
    assert _offer(left, "Willow Ward", "restraint_per_1000_obd", "Black").empty
    # the board phases the row there too, and says why in its detail
    view = screens.board(snap)
    row = view.rows[(view.rows["unit"] == "Willow Ward")
                    & (view.rows["measure"] == "restraint_per_1000_obd")]  # fmt: skip
    said = row.set_index("group")["phases"]
    assert said["Black"].startswith("from Apr 2025: after PDSA 2 of Culturally informed")
    assert said["White"] == ""
    assert pd.Timestamp("2025-04-01") in view.phase_starts(
        "Willow Ward", "restraint_per_1000_obd", "Black"
    )
    # the team chart re-phases Black at April 2025 (and only Black), marking why
    chart = screens.team_chart(snap, unit="Willow Ward", measure="restraint_per_1000_obd",
                               groups=["All", "Black", "White"], recorded=True)  # fmt: skip
    phases_by_group = chart.result.summary.groupby("group")["phase"].nunique()
    assert phases_by_group.to_dict() == {"All": 1, "Black": 2, "White": 1}
    black = chart.result.summary[chart.result.summary["group"] == "Black"]
    assert black["cl"].iloc[1] < black["cl"].iloc[0] / 2  # about 49 → about 15
    notes = [a.hovertext for a in chart.figure(small_numbers=True).layout.annotations
             if a.name == "note"]  # fmt: skip
    assert any(n.startswith("New phase recorded from April 2025: after PDSA 2") for n in notes)
    # without recorded phases asked for, the chart is as before
    plain = screens.team_chart(snap, unit="Willow Ward", measure="restraint_per_1000_obd",
                               groups=["All", "Black"])  # fmt: skip
    assert plain.result.summary["phase"].max() == 1


def test_the_sample_board_is_unchanged_when_nothing_is_recorded(sample_snap):
    from dataclasses import replace

    view = screens.board(sample_snap)
    assert (view.rows["phases"] == "").all()
    before = replace(sample_snap, phases=sample_snap.phases.iloc[:0])
    again = screens.board(before)
    cols = ["unit", "measure", "group", "value", "variation", "assurance", "gains"]
    pd.testing.assert_frame_equal(view.rows[cols], again.rows[cols])


# ---------------------------------------------------------------- CLI, pack and page


def test_qi_phase_offers_accepts_lists_and_withdraws(sample_copy, capsys):
    from qi.cli import main

    assert main(["--db", sample_copy, "phase", "offer", "--teams", "Willow Ward"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Willow Ward · restraint_per_1000_obd · Black: a new phase from "
                          "2025-04: after PDSA 2 of Culturally informed")  # fmt: skip
    assert main(["--db", sample_copy, "phase", "accept", "Cedar Ward", "restraint_per_1000_obd",
                 "--from", "2024-11"]) == 1  # fmt: skip
    assert "no sustained shift" in capsys.readouterr().err
    accept = ["phase", "accept", "Willow Ward", "restraint_per_1000_obd", "--group", "Black"]
    assert main(["--db", sample_copy, *accept, "--from", "2025-04"]) == 0
    assert main(["--db", sample_copy, "phase", "list"]) == 0
    assert "a run of 19 below the centre line from April 2025" in capsys.readouterr().out
    pid = Store.open(sample_copy).recorded_phases()["id"].iloc[0]
    assert main(["--db", sample_copy, "phase", "withdraw", str(pid)]) == 0
    with Store.open(sample_copy) as store:
        assert store.recorded_phases().empty
        assert len(store.recorded_phases(withdrawn=True)) == 1


def test_the_pack_states_recorded_phases_and_their_reasons(sample_copy):
    import io

    from pypdf import PdfReader

    from qi import report

    with Store.open(sample_copy) as store:
        phasing.accept(store, team="Willow Ward", measure="restraint_per_1000_obd",
                       group="Black", start="2025-04")  # fmt: skip
        # as the store was a second after the phase was recorded (a pack reads whole seconds)
        after = store.recorded_phases()["created_at"].iloc[0] + pd.Timedelta(seconds=1)
        doc = report.pack_document(
            store, teams=["Willow Ward"], measures=["restraint_per_1000_obd"], phases="recorded",
            as_of=after,
        )  # fmt: skip
    text = " ".join(
        " ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(doc.pdf())).pages
    )
    assert "Recorded phases (drawn on the chart):" in text
    assert "Black, from April 2025: after PDSA 2 of Culturally informed de-escalation" in text
    assert "(phases recorded from changes)" in text


def test_the_team_page_offers_records_and_rephases(sample_copy, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.test_pages import APP

    monkeypatch.setenv("QI_DATABASE_URL", sample_copy)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update({"unit": "Willow Ward", "measure": "restraint_per_1000_obd",
                            "group": ["All", "Black"]})  # fmt: skip
    at.switch_page("app_pages/team.py").run()
    assert not at.exception, at.exception
    offered = [i.value for i in at.info if "is offered" in i.value]
    assert len(offered) == 1 and "a new phase from April 2025 is offered" in offered[0]
    summary = next(d.value for d in at.dataframe if "Phase" in d.value.columns)
    assert set(summary["Phase"].astype(str)) == {"1"}
    record = next(b for b in at.button if b.label.startswith("Record this phase"))
    record.click().run()
    assert not at.exception, at.exception
    assert any("Phase from April 2025 recorded for Black" in s.value for s in at.success)
    assert not [i.value for i in at.info if "is offered" in i.value]
    summary = next(d.value for d in at.dataframe if "Phase" in d.value.columns)
    phases = summary.groupby("Group")["Phase"].nunique().to_dict()
    assert phases == {"All": 1, "Black": 2}
    listed = next(d.value for d in at.dataframe if "Why" in d.value.columns)
    assert listed["Why"].str.startswith("after PDSA 2 of Culturally informed").all()
    # withdrawn in two steps: the chart goes back to one phase
    next(b for b in at.button if b.label == "Withdraw…").click().run()
    assert any("Withdraw the phase of Black" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Yes, withdraw the phase").click().run()
    assert not at.exception, at.exception
    assert any("Phase withdrawn" in s.value for s in at.success)
    with Store.open(sample_copy) as store:
        assert store.recorded_phases().empty

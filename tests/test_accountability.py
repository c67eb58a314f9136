"""Holding the gains, reviews and actions on the sample collaborative, whose stories
(sample_data/README.md) give the answers: Willow Ward's de-escalation training cut
restraint of Black patients for good; Rowan Ward's rapid-tranquillisation change
helped and then faded; Cedar Ward's cycle changed nothing."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from qi.accountability import changes_from, holding_gains, overdue_actions, review_status
from qi.series import series_frame
from qi.store import Store
from tests.test_pages import APP

TODAY = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def sample(sample_db):
    with Store.open(f"sqlite:///{sample_db}") as store:
        yield {
            "observations": store.observations(),
            "measures": store.measures(),
            "pdsa": store.pdsa(),
            "owners": store.owners(),
            "actions": store.actions(),
            "reviews": store.reviews(),
        }


@pytest.fixture(scope="module")
def gains(sample):
    series = series_frame(sample["observations"], sample["measures"])
    return holding_gains(series, changes_from(sample["pdsa"])).set_index(["team", "measure"])


def test_a_lasting_improvement_is_sustained(gains):
    willow = gains.loc[("Willow Ward", "restraint_per_1000_obd")]
    assert willow["group"] == "Black"
    assert willow["status"] == "sustained"
    assert willow["improved_from"] >= willow["start"]
    assert willow["months_held"] >= 12


def test_a_faded_improvement_is_flagged_at_risk(gains):
    rowan = gains.loc[("Rowan Ward", "rapid_tranq_per_1000_obd")]
    assert rowan["improved"]
    assert rowan["status"] == "at risk"
    assert rowan["concern_from"] > rowan["improved_from"]


def test_a_change_without_effect_is_not_an_improvement(gains):
    assert gains.loc[("Cedar Ward", "restraint_per_1000_obd"), "status"] == "no improvement"


def test_a_roll_up_equals_the_sum_by_hand(sample):
    obs = sample["observations"]
    trust = series_frame(obs, sample["measures"], level="trust")
    row = trust.iloc[len(trust) // 2]
    by_hand = obs[(obs["trust"] == row["unit"]) & (obs["measure"] == row["measure"])
                  & (obs["period"] == row["period"])]  # fmt: skip
    if row["group"] != "All":
        by_hand = by_hand[by_hand["broad_group"] == row["group"]]
    assert row["numerator"] == by_hand["numerator"].sum()
    assert row["denominator"] == pytest.approx(by_hand["denominator"].sum())


def test_overdue_actions_and_reviews(sample):
    late = overdue_actions(sample["actions"], today=TODAY)
    assert len(late) >= 1 and (late["days_overdue"] > 0).all()
    reviews = review_status(sample["owners"], sample["reviews"], today=TODAY)
    assert set(reviews.columns) >= {"owner", "sponsor", "last_review", "next_review", "overdue"}
    reviewed = reviews.dropna(subset=["last_review"])
    assert len(reviewed) >= 1
    # a review is what the owner records: only the three whose reviews stopped are overdue
    late = reviews[reviews["overdue"]].set_index(["team", "measure"]).index.tolist()
    assert sorted(late) == [
        ("Rowan Ward", "rapid_tranq_per_1000_obd"),
        ("Southmoor Adult Community Team", "days_to_first_contact"),
        ("Westhaven Community Team", "staff_disciplinary"),
    ]


def test_the_accountability_page_records_an_action_that_survives_a_restart(
    sample_copy, monkeypatch
):
    monkeypatch.setenv("QI_DATABASE_URL", sample_copy)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page("app_pages/accountability.py").run()
    assert not at.exception, at.exception
    gains = at.dataframe[0].value  # a table in words
    assert "improvement at risk" in set(gains["Status"])
    at.toggle[0].set_value(True).run()
    assert set(at.dataframe[0].value["Status"]) == {"improvement at risk"}
    before = len(Store.open(sample_copy).actions())
    inputs = {}
    for t in at.text_input:  # the form that records a new one comes first
        inputs.setdefault(t.label, t)
    inputs["Action"].input("<b>Report back</b> next month")
    inputs["Owner (a role)"].input("Director of Nursing")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception, at.exception
    # a new session (a restart) reads it back from the store
    again = AppTest.from_file(str(APP), default_timeout=120)
    again.run()
    again.switch_page("app_pages/accountability.py").run()
    actions = Store.open(sample_copy).actions()
    assert len(actions) == before + 1
    assert actions["action"].iloc[-1] == "<b>Report back</b> next month"
    shown = next(d.value for d in again.dataframe if "Recorded by" in d.value.columns)
    assert "<b>Report back</b> next month" in set(shown["Action"])


def test_a_fade_after_an_early_dip_is_still_at_risk():
    rng = np.random.default_rng(5)
    months = pd.date_range("2022-01-01", periods=60, freq="MS")
    # 24 months at 20 per 1,000, 2 worse months, 14 improved at 8, then back at 20
    rate = np.r_[np.full(24, 20.0), np.full(2, 30.0), np.full(14, 8.0), np.full(20, 20.0)]
    n = np.full(60, 2000.0)
    series = pd.DataFrame({
        "unit": "Ward", "level": "team", "measure": "restraint", "group": "All",
        "period": months, "numerator": rng.poisson(rate * n / 1000), "denominator": n,
        "chart": "u", "multiplier": 1000.0, "improvement": "decrease",
    })  # fmt: skip
    changes = pd.DataFrame({"team": ["Ward"], "measure": ["restraint"], "group": [None],
                            "change_idea": ["x"], "start": [months[24]]})  # fmt: skip
    gains = holding_gains(series, changes).iloc[0]
    assert gains["improved"] and gains["status"] == "at risk"
    assert gains["concern_from"] > gains["improved_from"]
    held = holding_gains(series.assign(numerator=rng.poisson(np.r_[np.full(24, 20.0), np.full(36, 8.0)] * 2)), changes).iloc[0]  # noqa: E501
    assert held["status"] == "sustained"

"""A chart in a sentence (qi.sentences): known answers on the sample's stories, synthetic
series with known signals, and a property: a sentence never contradicts the icons."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qi import screens
from qi.measures import chart_rows
from qi.sentences import SENTENCE_COLUMNS, gap_change, period_words, sentences
from qi.snapshot import Snapshot
from qi.store import Store

TODAY = dt.date(2026, 11, 25)
RESTRAINT = "restraint_per_1000_obd"
RAPID = "rapid_tranq_per_1000_obd"


# --------------------------------------------------------------------------- synthetic


def catalogue(improvement="decrease", target=None, frequency="month", unit="days"):
    return pd.DataFrame(
        [{"id": "wait", "name": "Days waited", "unit": unit, "improvement": improvement,
          "target": target, "frequency": frequency}]
    )  # fmt: skip


def series(values, *, improvement="decrease", target=None, start="2023-01-01", step=1,
           groups=None, denominator=None, unit="Oak Ward"):  # fmt: skip
    """One I-chart series per group (``groups``: group → values), months from ``start``."""
    groups = groups or {"All": values}
    frames = []
    for group, vals in groups.items():
        periods = pd.date_range(start, periods=len(vals), freq=pd.DateOffset(months=step))
        frames.append(
            pd.DataFrame(
                {
                    "unit": unit,
                    "measure": "wait",
                    "group": group,
                    "period": periods,
                    "numerator": np.asarray(vals, dtype=float),
                    "denominator": denominator if denominator is not None else np.nan,
                    "chart": "i" if denominator is None else "u",
                    "multiplier": 1.0 if denominator is None else 1000.0,
                    "improvement": improvement,
                    "target": np.nan if target is None else target,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def read(rows, **kwargs):
    charted = chart_rows(rows, by=["unit", "measure", "group"], rules="mdc")
    measures = kwargs.pop("measures", None)
    if measures is None:
        first = rows.iloc[0]
        target = None if pd.isna(first["target"]) else float(first["target"])
        measures = catalogue(first["improvement"], target)
    return charted, sentences(charted, measures, **kwargs)


NOISE = [10, 11, 9, 10.5, 9.5, 10, 11, 9, 10, 10.5, 9.5, 11, 9, 10, 10.5, 9.5, 10, 11, 9, 10]
LOW = [5, 5.5, 4.5, 5, 5.5, 4.5, 5, 5.5]  # 8 months well below


def test_a_fall_that_is_better_is_said_as_an_improvement_from_its_first_month():
    rows = series(NOISE + LOW)
    _, said = read(rows)
    (row,) = said.itertuples()
    assert row.variation == "special_cause_improvement"
    assert row.signal_from == pd.Timestamp("2024-09-01") and row.months == 8
    assert row.sentence.startswith("At Oak Ward, days waited fell from September 2024")
    assert "8 months of special-cause improvement" in row.sentence
    assert "the latest value is 5.5 days (April 2025)" in row.sentence
    assert "worse" not in row.sentence and "after" not in row.sentence
    assert list(said.columns) == ["unit", "measure", "group", *SENTENCE_COLUMNS]


def test_the_same_fall_when_higher_is_better_is_a_concern():
    _, said = read(series(NOISE + LOW, improvement="increase"))
    (row,) = said.itertuples()
    assert row.variation == "special_cause_concern"
    assert "fell from September 2024" in row.sentence and "concern" in row.sentence
    assert "improv" not in row.sentence


def test_a_signal_is_after_a_cycle_only_when_it_starts_at_or_after_it():
    rows = series(NOISE + LOW)
    cycles = pd.DataFrame(
        {"team": "Oak Ward", "measure": "wait", "group": [None, None],
         "change_idea": ["Ring people the day before", "Ring people the day before"],
         "cycle": [1, 2], "start": pd.to_datetime(["2024-08-12", "2024-09-01"])}
    )  # fmt: skip
    _, said = read(rows, cycles=cycles)
    assert (
        "fell from September 2024, after PDSA 2 of “Ring people the day before”"
        in (said["sentence"].iloc[0])
    )
    # a cycle that started after the signal began is not what it came after
    late = cycles.assign(start=pd.to_datetime(["2024-10-01", "2024-11-01"]))
    _, said = read(rows, cycles=late)
    assert said["change"].iloc[0] is None and "after" not in said["sentence"].iloc[0]


def test_common_cause_makes_no_claim_of_change():
    _, said = read(series(NOISE))
    (row,) = said.itertuples()
    assert row.variation == "common_cause" and row.months == 0 and pd.isna(row.signal_from)
    assert "no significant change" in row.sentence
    assert not re.search(r"\b(fell|rose|improv|worse|higher|lower)", row.sentence)


def test_too_few_points_say_so_and_read_nothing():
    _, said = read(series(NOISE[:9]))
    (row,) = said.itertuples()
    assert not row.enough_data and row.points == 9
    assert "too few months to read its variation yet (9 of the 13" in row.sentence
    assert "no significant change" not in row.sentence


def test_a_short_phase_with_a_signal_says_the_icon_with_its_caveat():
    # nine months, the last far above: the icon is a special cause of concern even on
    # a phase too short for its limits, and the sentence says so, never "too few"
    _, said = read(series([10, 11, 9, 10, 11, 9, 10, 11, 25], target=12))
    (row,) = said.itertuples()
    assert not row.enough_data and row.variation == "special_cause_concern"
    assert "rose from" in row.sentence and "concern" in row.sentence
    assert "on only 9 of the 13 months the rules need for their limits" in row.sentence
    assert "too few" not in row.sentence and "improv" not in row.sentence
    assert row.assurance and "target of 12 days" in row.sentence


def test_what_followed_a_change_is_too_early_to_tell_in_its_first_months():
    rows = series(NOISE)
    start = pd.Timestamp("2024-06-03")  # the series runs to August 2024: 3 months after
    changes = pd.DataFrame({"team": ["Oak Ward"], "measure": ["wait"], "group": ["All"],
                            "change_idea": ["Ring people"], "start": [start]})  # fmt: skip
    from qi.accountability import holding_gains

    gains = holding_gains(rows, changes)
    _, said = read(rows, gains=gains)
    text = said["sentence"].iloc[0]
    assert "too early to tell what followed “Ring people” (from June 2024)" in text
    assert "no signal after" not in text


def test_a_target_is_said_as_the_assurance_icon_says():
    _, said = read(series(NOISE, target=20))
    (row,) = said.itertuples()
    assert row.assurance == "consistent_pass"
    assert "it will consistently pass the target of 20 days" in row.sentence
    _, said = read(series(NOISE, target=10))
    assert said["assurance"].iloc[0] == "inconsistent"
    assert "hit and miss the target of 10 days" in said["sentence"].iloc[0]


def test_a_quarterly_measure_is_said_in_quarters():
    rows = series(NOISE + LOW, start="2020-04-01", step=3)
    charted = chart_rows(rows, by=["unit", "measure", "group"], rules="mdc")
    said = sentences(charted, catalogue(frequency="quarter"))
    text = said["sentence"].iloc[0]
    assert "fell from 2025/26 Q1" in text and "8 quarters of special-cause improvement" in text
    assert period_words(pd.Timestamp("2025-04-01"), "year") == "2025/26"


def test_a_suppressed_value_never_appears_in_the_sentence():
    """A latest count from 1 to 7 is hidden: neither the value nor the structured field
    shows it, unless the reader may see small numbers."""
    counts = [30, 33, 27, 31, 29, 30, 32, 28, 30, 31, 29, 30, 31, 28, 30, 3]
    rows = series(counts, denominator=1000.0)
    measures = catalogue(unit="per 1,000 bed days")
    _, said = read(rows, measures=measures, context=rows)
    (row,) = said.itertuples()
    assert row.latest_hidden and np.isnan(row.latest)
    assert "3.0" not in row.sentence and "is not shown: small numbers" in row.sentence
    charted = chart_rows(rows, by=["unit", "measure", "group"], rules="mdc")
    shown = sentences(charted, measures, context=rows, small_numbers=True)
    assert "the latest value is 3.0 per 1,000 bed days" in shown["sentence"].iloc[0]


def test_the_gap_narrows_only_when_the_intervals_part():
    n = 24
    white = [20] * n
    black = [60] * 12 + [21] * 12  # 3× then about 1×
    rows = series(None, groups={"Black": black, "White": white}, denominator=1000.0)
    measures = catalogue(unit="per 1,000 bed days")
    gaps = gap_change(rows, measures.assign(chart="u", multiplier=1000))
    black_gap = gaps.set_index("group").loc["Black"]
    assert black_gap["gap_before"] == pytest.approx(3.0)
    assert black_gap["gap_now"] == pytest.approx(1.05)
    assert black_gap["gap_trend"] == "narrowed"
    _, said = read(rows, measures=measures, gaps=gaps)
    text = said.set_index("group").loc["Black", "sentence"]
    assert "the gap to the White group narrowed from 3.0× to 1.1× (95% CI" in text
    # 1.5× then 1×, on few events: the intervals overlap, so no claim of a change
    small = series(None, groups={"Black": [3] * 12 + [2] * 12, "White": [2] * 24},
                   denominator=1000.0)  # fmt: skip
    gaps = gap_change(small, measures.assign(chart="u", multiplier=1000), threshold=0)
    assert gaps.set_index("group").loc["Black", "gap_trend"] == "no clear change"
    # no events for Black patients in the latest months: a ratio of 0 with no upper
    # limit says nothing, so the sentence leaves the gap out
    none = series(None, groups={"Black": [30] * 12 + [0] * 12, "White": [20] * 24},
                  denominator=1000.0)  # fmt: skip
    gaps = gap_change(none, measures.assign(chart="u", multiplier=1000), threshold=0)
    _, said = read(none, measures=measures, gaps=gaps)
    assert "gap" not in said.set_index("group").loc["Black", "sentence"]
    # a measure of means (an I chart of total days ÷ people) has no ratio of events
    means = series(None, groups={"Black": black, "White": white}, denominator=1000.0)
    assert gap_change(means, measures.assign(chart="i", multiplier=1)).empty


# --------------------------------------------------------------------------- property


VERBS = {"increase": ("rose", "fell"), "decrease": ("fell", "rose")}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=5, max_value=40),
    shift_at=st.integers(min_value=1, max_value=39),
    shift=st.floats(min_value=-8, max_value=8),
    trend=st.floats(min_value=-0.4, max_value=0.4),
    seed=st.integers(min_value=0, max_value=2**16),
    improvement=st.sampled_from(["increase", "decrease", "neutral"]),
    target=st.one_of(st.none(), st.floats(min_value=0, max_value=30)),
    cycle_at=st.integers(min_value=0, max_value=45),
)
def test_a_sentence_never_contradicts_the_icons(
    n, shift_at, shift, trend, seed, improvement, target, cycle_at
):
    rng = np.random.default_rng(seed)
    values = 15 + rng.normal(0, 1.5, n) + trend * np.arange(n)
    values[min(shift_at, n - 1) :] += shift
    rows = series(values, improvement=improvement, target=target)
    started = pd.Timestamp("2023-01-01") + pd.DateOffset(months=cycle_at, days=9)
    cycles = pd.DataFrame(
        {"team": ["Oak Ward"], "measure": ["wait"], "group": [None], "change_idea": ["A change"],
         "cycle": [1], "start": [started]}
    )  # fmt: skip
    charted, said = read(rows, cycles=cycles)
    icons = charted.icons
    (row,) = said.itertuples()
    text = row.sentence
    assert row.variation == icons["variation"].iloc[0]  # the icon's own reading
    assert (row.assurance or None) == (icons["assurance"].iloc[0] or None)
    signal = row.variation.startswith("special_cause")
    if not row.enough_data:
        if not signal:
            assert "too few" in text
            assert not re.search(r"\b(fell|rose|improv|worse|concern)", text)
            return
        # a short phase whose icon shows a signal says the icon, with the caveat
        assert "on only" in text and "too few" not in text
    # "after" a cycle only when the signal starts in or after the cycle's month
    if row.change:
        assert row.signal_from >= started.replace(day=1) and ", after PDSA 1 of" in text
    else:
        assert "after" not in text
    better, worse = VERBS.get(improvement, ("", ""))
    if row.variation == "special_cause_improvement":
        assert f" {better} from " in text and "improvement" in text
        assert "worse" not in text and "concern" not in text
    elif row.variation == "special_cause_concern":
        assert f" {worse} from " in text and "concern" in text
        assert "improv" not in text
    elif row.variation.startswith("special_cause_neutral"):
        assert "neither better nor worse" in text
        assert not re.search(r"\bimprov|concern", text)
    else:
        assert "no significant change" in text
        assert not re.search(r"\b(fell|rose|improv|worse|concern|higher|lower)", text)
    assurance_words = {
        "consistent_pass": "will consistently pass the target",
        "consistent_fail": "will consistently fail the target",
        "inconsistent": "will hit and miss the target",
    }
    for key, words in assurance_words.items():
        assert (words in text) == (row.assurance == key and (row.enough_data or signal))


# --------------------------------------------------------------------------- the sample


@pytest.fixture(scope="module")
def snap(sample_db) -> Snapshot:
    with Store.open(f"sqlite:///{sample_db}") as store:
        return Snapshot.from_store(store)


def test_willow_ward_black_restraint_fell_after_the_de_escalation_training(snap):
    view = screens.team_chart(snap, unit="Willow Ward", measure=RESTRAINT,
                              groups=["All", "Black", "White"])  # fmt: skip
    said = view.summary().set_index("group")
    black = said.loc["Black"]
    # the chart's own reading (its icon) is common cause in the latest months; against
    # the months before the training, lower from April 2025, after its second cycle
    assert black["variation"] == view.latest("Black")["variation"] == "common_cause"
    assert black["gains"] == "sustained" and black["gains_from"] == pd.Timestamp("2025-04-01")
    assert black["gains_change"] == "PDSA 2"
    text = black["sentence"]
    assert text.startswith("At Willow Ward, restraint incidents per 1,000 occupied bed days "
                           "(Black group): no significant change")  # fmt: skip
    assert "against the months before “Culturally informed de-escalation training" in text
    assert "lower since April 2025, after its PDSA 2 (improvement sustained)" in text
    # the gap to White patients: about 2.3× before, about 0.8× now (README)
    assert black["gap_reference"] == "White" and black["gap_trend"] == "narrowed"
    assert 2.0 < black["gap_before"] < 2.8 and 0.6 < black["gap_now"] < 1.0
    assert black["gap_low"] < black["gap_now"] < black["gap_high"]
    assert re.search(r"the gap to the White group narrowed from 2\.\d× to 0\.\d× \(95% CI", text)
    # the latest month's Black count is from 1 to 7: not written for this reader
    assert black["latest_hidden"] and "is not shown: small numbers" in text
    assert "because" not in " ".join(said["sentence"])
    # White patients: no change was logged for them, no claim made
    assert said.loc["White", "gains"] is None and "lower" not in said.loc["White", "sentence"]


def test_rowan_ward_rapid_tranquillisation_is_common_cause_now_and_at_risk(snap):
    view = screens.team_chart(snap, unit="Rowan Ward", measure=RAPID, groups=["All"])
    row = view.summary().iloc[0]
    assert row["variation"] == "common_cause" and row["gains"] == "at risk"
    text = row["sentence"]
    assert "no significant change in the latest months" in text
    assert "lower from November 2024, after its PDSA 1, but that improvement is at risk " \
           "since August 2025" in text  # fmt: skip


def test_cedar_ward_safety_huddle_had_no_signal(snap):
    view = screens.team_chart(snap, unit="Cedar Ward", measure=RESTRAINT, groups=["All"])
    row = view.summary().iloc[0]
    assert row["variation"] == "common_cause" and row["gains"] == "no improvement"
    assert "no signal after “Daily safety huddle" in row["sentence"]
    assert "(from November 2024) against the months before it" in row["sentence"]
    assert (
        "the latest value is 17.2 per 1,000 occupied bed days (October 2026)" in (row["sentence"])
    )


def test_a_short_chart_of_the_sample_says_the_data_are_too_few(snap):
    view = screens.team_chart(snap, unit="Cedar Ward", measure=RESTRAINT, groups=["All"],
                              until="2024-06")  # fmt: skip
    row = view.summary().iloc[0]
    assert not row["enough_data"] and row["points"] == 8
    assert "too few months to read its variation yet (8 of the 13" in row["sentence"]


def test_the_sentence_is_in_the_charts_text_alternative_and_its_data(snap):
    from qi.figures import description

    view = screens.team_chart(snap, unit="Willow Ward", measure=RESTRAINT,
                              groups=["All", "Black"])  # fmt: skip
    fig = view.figure()
    said = view.summary()
    assert fig.layout.meta["sentences"] == said["sentence"].tolist()
    assert description(fig).startswith(" ".join(said["sentence"]))
    data = view.data()
    by_group = said.set_index("group")["sentence"]
    assert (data["summary"] == data["group"].map(by_group)).all()
    # small numbers: the file written for a reader allowed them says the value
    shown = view.data(threshold=0)
    black = shown.loc[shown["group"] == "Black", "summary"].iloc[0]
    assert "the latest value is " in black and "not shown" not in black.split("; the gap")[0]


def test_the_board_says_each_row_in_its_own_reading(snap):
    view = screens.board(snap, level="team", today=TODAY)
    for group in ("All", "Black"):
        picked = view.select(group=group)
        rows = picked.rows
        assert (rows["summary"] != "").all()
        assert picked.download["summary"].tolist() == rows["summary"].tolist()
        common = rows["variation"] == "common_cause"
        words = rows.loc[common, "summary"]
        assert (words.str.contains("no significant change") | words.str.contains("too few")).all()
        assert not words.str.contains(r"\b(?:fell|rose) from").any()
    black = view.select(group="Black").rows.set_index(["unit", "measure"])
    willow = black.loc[("Willow Ward", RESTRAINT), "summary"]
    assert "lower since April 2025, after its PDSA 2 (improvement sustained)" in willow
    rows = view.select(group="All").rows.set_index(["unit", "measure"])
    assert "improvement is at risk since August 2025" in rows.loc[("Rowan Ward", RAPID), "summary"]
    # a value the board shows as * is never in the sentence
    hidden = rows[rows["latest"] == "*"]
    assert len(hidden) and not hidden["summary"].str.contains("the latest value is").any()
    rated = hidden[hidden["chart"] != "g"]  # a rare event's sentence gives no value at all
    assert len(rated) and rated["summary"].str.contains("is not shown: small numbers").all()


# --------------------------------------------------------------------------- pages


def test_the_team_page_says_the_chart_in_a_sentence_under_it(sample_copy, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.test_pages import APP

    monkeypatch.setenv("QI_DATABASE_URL", sample_copy)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update({"unit": "Willow Ward", "measure": RESTRAINT, "rules": "mdc"})
    at.query_params["group"] = ["All", "Black"]
    at.switch_page("app_pages/team.py").run()
    assert not at.exception, at.exception
    (said,) = [c.value for c in at.caption if "Control chart of " in c.value]
    said = re.sub(r"\\(.)", r"\1", said)  # as shown: the Markdown escapes taken out
    # right under the chart, its text alternative opens with a paragraph per group
    paragraphs = said.split("\n\n")
    assert paragraphs[0].startswith("At Willow Ward, restraint incidents per 1,000 occupied")
    assert paragraphs[1].startswith("At Willow Ward, restraint incidents per 1,000 occupied "
                                    "bed days (Black group)")  # fmt: skip
    assert "lower since April 2025, after its PDSA 2 (improvement sustained)" in paragraphs[1]
    assert paragraphs[2].startswith("Restraint incidents per 1,000 occupied bed days — Willow")


def test_the_boards_details_have_each_row_in_a_sentence(sample_copy, monkeypatch, downloads):
    import io

    from streamlit.testing.v1 import AppTest

    from tests.conftest import pressed
    from tests.test_pages import APP

    monkeypatch.setenv("QI_DATABASE_URL", sample_copy)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["details"] = "1"
    at.run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table["summary"].str.startswith("At ").all()
    rowan = table[(table["unit"] == "Rowan Ward") & table["measure_name"].str.startswith("Rapid")]
    assert "at risk since August 2025" in rowan["summary"].iloc[0]
    csv = pd.read_csv(io.BytesIO(pressed(downloads, "Matrix (CSV)")), dtype=str)
    assert csv["summary"].str.startswith("At ").all()


def test_the_pack_says_each_chart_in_a_sentence_under_it(sample_db):
    from html import escape

    from qi import report

    with Store.open(f"sqlite:///{sample_db}") as store:
        doc = report.pack_document(store, teams=["Willow Ward"], measures=[RESTRAINT])
    summaries = re.findall(r'<p class="summary">([^<]*)</p>', doc.html)
    (said,) = summaries  # one chart: All and Black, the group the change aims at
    assert said.startswith("At Willow Ward, restraint incidents per 1,000 occupied bed days:")
    assert escape("lower since April 2025, after its PDSA 2 (improvement sustained)") in said
    # the chart's text alternative opens with the same words
    (alt,) = re.findall(r'<div class="chart"><img[^>]* alt="([^"]*)"', doc.html)
    assert alt.startswith(said)

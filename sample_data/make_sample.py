"""Make the sample collaborative: teams, measures, monthly uploads, PDSA cycles, owners,
reviews, actions.

Run from the project root::

    python sample_data/make_sample.py                 # rewrites sample_data/
    python sample_data/make_sample.py --out /tmp/s    # somewhere else
    python sample_data/make_sample.py --seed 7        # another draw of the same stories

Everything is drawn from one numpy Generator seed, so the files are the same on every
run (CSV byte for byte; the Excel files too, because their workbook properties and zip
timestamps are fixed). Each team × measure series draws from its own child generator
(``default_rng([seed, team, measure])``), so changing one series leaves the others alone.

The models (documented in README.md) are deliberately simple:

- denominators (occupied bed days, admissions, referrals, care plans, survey
  responses, people seen, staff headcount) are Poisson or fixed totals split between
  ethnic groups by a multinomial around the team's group shares;
- counts are Poisson (rates per 1,000 bed days), binomial (proportions) or a gamma
  sum (total days waited), around group-specific baseline rates × a team factor;
- a story's effect multiplies the rate (count measures), the odds (proportions), the
  mean (days waited) or the share recorded as "Not stated" (recording completeness),
  from its start month: a step (``sustained``), nothing (``none``), or a step held for
  ``hold`` months that then drifts back to 1 over ``fade`` months (``fades``).

The stories are :data:`STORIES`; the tests import this file and check that every one
of them is found on the charts where it was built.
"""

from __future__ import annotations

import argparse
import io
import re
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 78  # chosen so that every story reads cleanly on the charts: see README.md
FIRST_MONTH, LAST_MONTH = "2023-11", "2026-10"
MONTHS = pd.period_range(FIRST_MONTH, LAST_MONTH, freq="M")
TODAY = "2026-11-25"
COLLABORATIVE = "Advancing Equality Sample Collaborative"
GROUPS = ("Asian", "Black", "Mixed", "White", "Other", "Not stated")
NAMED = GROUPS[:-1]  # the groups a person's recorded ethnicity can fall in
UPLOAD_COLUMNS = ("team", "measure", "period", "group", "numerator", "denominator")
_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: Fixed date of the Excel files' workbook properties and zip entries (for reproducible bytes).
XLSX_DATE = datetime(2026, 11, 1)


# --------------------------------------------------------------------------------------
# Teams
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    """A team of the collaborative and how it uploads.

    ``shares`` are the true ethnic mix of its patients (named groups, summing to 1);
    ``not_stated`` the share of records with no ethnicity recorded; ``size`` beds for a
    ward, the mean monthly referrals for a community team; ``factor`` multiplies every
    rate and mean wait of the team (teams differ; proportions keep the group baselines);
    ``period_style`` the ``strftime`` spelling of the
    period its uploads use; ``late_share`` the share of months uploaded after the 20th.
    """

    name: str
    slug: str
    ics: str
    trust: str
    kind: str  # "ward" or "community"
    size: int
    shares: dict[str, float]
    not_stated: float
    factor: float
    period_style: str
    file_format: str  # "csv" or "xlsx"
    upload_day: int
    uploaded_by: str
    late_share: float = 0.0
    staff: int = 50


_ICS_NORTH = "Riverside and Northvale ICS"
_ICS_SOUTH = "Southmoor and Eastbrook ICS"
_ICS_WEST = "Westhaven ICS"
_RIVERSIDE = "Riverside Mental Health NHS Foundation Trust"
_NORTHVALE = "Northvale Partnership NHS Trust"
_SOUTHMOOR = "Southmoor Care NHS Foundation Trust"
_EASTBROOK = "Eastbrook Mental Health NHS Trust"
_WESTHAVEN = "Westhaven Healthcare NHS Trust"


def _mix(asian: float, black: float, mixed: float, other: float) -> dict[str, float]:
    return {
        "Asian": asian,
        "Black": black,
        "Mixed": mixed,
        "White": round(1 - asian - black - mixed - other, 4),
        "Other": other,
    }


TEAMS: tuple[Team, ...] = (
    Team("Willow Ward", "willow_ward", _ICS_NORTH, _RIVERSIDE, "ward", 23,
         _mix(0.10, 0.30, 0.05, 0.03), 0.04, 1.3, "%Y-%m", "csv", 11,
         "Ward administrator", staff=62),
    Team("Cedar Ward", "cedar_ward", _ICS_NORTH, _NORTHVALE, "ward", 22,
         _mix(0.09, 0.13, 0.05, 0.03), 0.04, 1.0, "%Y-%m-%d", "csv", 12,
         "Ward manager", staff=58),
    Team("Rowan Ward", "rowan_ward", _ICS_SOUTH, _SOUTHMOOR, "ward", 23,
         _mix(0.12, 0.18, 0.05, 0.03), 0.04, 1.5, "%d/%m/%Y", "csv", 14,
         "Ward clerk", late_share=0.3, staff=60),
    Team("Hawthorn Ward", "hawthorn_ward", _ICS_SOUTH, _EASTBROOK, "ward", 21,
         _mix(0.12, 0.14, 0.05, 0.03), 0.22, 1.0, "%b-%y", "xlsx", 13,
         "Information analyst", staff=55),
    Team("Riverside North Community Mental Health Team", "riverside_north_cmht", _ICS_NORTH,
         _RIVERSIDE, "community", 120, _mix(0.25, 0.10, 0.04, 0.04), 0.03, 1.0, "%Y-%m",
         "csv", 10, "Team administrator", staff=45),
    Team("Northvale Early Intervention in Psychosis Team", "northvale_eip", _ICS_NORTH,
         _NORTHVALE, "community", 38, _mix(0.12, 0.20, 0.05, 0.03), 0.03, 1.0, "%d/%m/%Y",
         "csv", 12, "Team manager", staff=30),
    Team("Southmoor Adult Community Team", "southmoor_act", _ICS_SOUTH, _SOUTHMOOR,
         "community", 110, _mix(0.10, 0.08, 0.04, 0.03), 0.04, 1.1, "%b-%y", "csv", 13,
         "Performance officer", staff=48),
    Team("Westhaven Community Team", "westhaven_ct", _ICS_WEST, _WESTHAVEN, "community", 90,
         _mix(0.08, 0.05, 0.03, 0.02), 0.05, 0.95, "%Y-%m-%d", "xlsx", 15,
         "Business support officer", staff=42),
)  # fmt: skip
TEAM_BY_NAME = {t.name: t for t in TEAMS}


# --------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """A measure, its columns of ``measures.csv`` and the model its counts are drawn from.

    ``model``: ``rate`` (Poisson numerator per ``per`` units of denominator), ``proportion``
    (binomial), ``mean`` (numerator = total days waited by the people in the
    denominator) or ``staff`` (binomial over headcount). ``base`` is the baseline rate,
    proportion or mean days per group; ``denominator`` names the shared denominator it
    uses (measures with the same name share the same numbers, as restraint and rapid
    tranquillisation share occupied bed days). ``setting``: which teams carry it.
    """

    id: str
    name: str
    definition: str
    numerator_definition: str
    denominator_definition: str
    unit: str
    multiplier: int
    chart: str
    improvement: str
    target: float | None
    setting: str  # "ward", "community" or "all"
    model: str
    denominator: str
    base: dict[str, float]
    per: float = 1.0


def _g(asian: float, black: float, mixed: float, white: float, other: float, ns: float):
    return dict(zip(GROUPS, (asian, black, mixed, white, other, ns), strict=True))


MEASURES: tuple[Measure, ...] = (
    Measure(
        "restraint_per_1000_obd",
        "Restraint incidents per 1,000 occupied bed days",
        "Incidents of physical, mechanical or chemical restraint recorded on the ward in the "
        "month, per 1,000 occupied bed days, by the patient's recorded ethnicity.",
        "Restraint incidents in the month",
        "Occupied bed days in the month",
        "per 1,000 occupied bed days",
        1000, "u", "decrease", None, "ward", "rate", "obd",
        _g(13.0, 33.0, 19.0, 14.0, 15.0, 16.0), per=1000,
    ),
    Measure(
        "detained_admissions",
        "Admissions detained under the Mental Health Act",
        "Proportion of admissions in the month where the patient was detained under the "
        "Mental Health Act 1983 at admission or within 72 hours.",
        "Admissions detained under the Mental Health Act",
        "Admissions in the month",
        "%", 100, "p", "decrease", None, "ward", "proportion", "admissions",
        _g(0.50, 0.68, 0.57, 0.45, 0.55, 0.50),
    ),
    Measure(
        "rapid_tranq_per_1000_obd",
        "Rapid tranquillisation per 1,000 occupied bed days",
        "Episodes of rapid tranquillisation (intramuscular or oral medication given to calm "
        "acute disturbance) per 1,000 occupied bed days.",
        "Episodes of rapid tranquillisation in the month",
        "Occupied bed days in the month",
        "per 1,000 occupied bed days",
        1000, "u", "decrease", None, "ward", "rate", "obd",
        _g(8.0, 17.0, 11.0, 9.5, 9.0, 10.0), per=1000,
    ),
    Measure(
        "assessed_within_28_days",
        "Referrals assessed within 28 days",
        "Proportion of referrals whose 28 days from referral ended in the month that had "
        "been assessed within those 28 days.",
        "Referrals assessed within 28 days of referral",
        "Referrals reaching 28 days since referral in the month",
        "%", 100, "p", "increase", 80.0, "community", "proportion", "referrals",
        _g(0.62, 0.72, 0.74, 0.80, 0.66, 0.75),
    ),
    Measure(
        "coproduced_care_plans",
        "Care plans co-produced with the service user",
        "Proportion of care plans agreed or reviewed in the month that the service user "
        "says they wrote with staff (recorded at the review).",
        "Care plans recorded as co-produced with the service user",
        "Care plans agreed or reviewed in the month",
        "%", 100, "p", "increase", 50.0, "community", "proportion", "care_plans",
        _g(0.33, 0.29, 0.35, 0.40, 0.33, 0.35),
    ),
    Measure(
        "felt_respected",
        "Patients who felt respected",
        "Proportion of experience-survey respondents in the month who answered 'always' or "
        "'mostly' to 'Did staff treat you with respect?'.",
        "Respondents who felt respected",
        "Respondents to the question",
        "%", 100, "p", "increase", 80.0, "all", "proportion", "survey",
        _g(0.72, 0.66, 0.72, 0.80, 0.70, 0.75),
    ),
    Measure(
        "days_to_first_contact",
        "Days from referral to first contact",
        "Mean days from referral to first face-to-face contact for the people first seen "
        "in the month: total days waited divided by people seen (an I chart of the mean).",
        "Total days from referral to first contact, summed over the people first seen",
        "People first seen in the month",
        "days (mean)", 1, "i", "decrease", 14.0, "community", "mean", "first_seen",
        _g(21.0, 19.0, 17.0, 16.0, 20.0, 18.0),
    ),
    Measure(
        "staff_disciplinary",
        "Staff entering a formal disciplinary process",
        "Staff of the team entering a formal disciplinary process in the month, by the staff "
        "member's ethnicity (Workforce Race Equality Standard indicator 3). The board reads "
        "the relative likelihood for ethnic minority staff (Asian, Black, Mixed, Other) "
        "against White staff, over 12 months and over the collaborative.",
        "Staff entering a formal disciplinary process in the month",
        "Staff headcount at the end of the month",
        "per 1,000 staff per month", 1000, "p", "decrease", None, "all", "staff",
        "headcount", _g(0.0017, 0.0030, 0.0017, 0.0012, 0.0017, 0.0014),
    ),
)  # fmt: skip
MEASURE_BY_ID = {m.id: m for m in MEASURES}


def team_measures(team: Team) -> list[Measure]:
    """The measures a team uploads: wards the inpatient ones, community teams the access ones."""
    return [m for m in MEASURES if m.setting in (team.kind, "all")]


# --------------------------------------------------------------------------------------
# Stories
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cycle:
    """One PDSA cycle of a story's change idea (a row of ``pdsa.csv``)."""

    start: str  # YYYY-MM-DD
    end: str  # YYYY-MM-DD or "" (ongoing)
    stage: str  # plan, do, study, act: the stage the cycle has reached
    learning: str


@dataclass(frozen=True)
class Story:
    """An effect built into the data, and the change idea and PDSA cycles behind it.

    ``effect`` multiplies the rate (``rate`` measures), the odds (``proportion``), the
    mean days (``mean``) or, for ``kind="recording"``, the share of the team's records
    with ethnicity "Not stated" (every measure of the team). ``group`` is the group the
    change targets (None: everyone). ``start`` is the first month the effect is in the
    data, the start of the cycle that put the change into practice. ``kind``:
    ``sustained`` (a step that stays), ``none`` (no effect at all: effect 1),
    ``fades`` (the step holds ``hold`` months then drifts back to 1 over ``fade``
    months), ``recording`` (a sustained fall in "Not stated").
    """

    key: str
    team: str
    measure: str
    group: str | None
    start: str  # YYYY-MM
    effect: float
    kind: str
    change_idea: str
    lived_experience: str
    cycles: tuple[Cycle, ...]
    expected: str  # what a reader should see on the chart
    hold: int = 0
    fade: int = 0
    tag: str = ""  # the change of the change package it tests (CHANGE_PACKAGE)

    def factor(self, months: pd.PeriodIndex) -> np.ndarray:
        """The multiplier of each month: 1 before ``start``, then by ``kind``."""
        k = months.get_loc(pd.Period(self.start, "M"))
        since = np.arange(len(months)) - k
        f = np.ones(len(months))
        if self.kind in ("sustained", "recording", "none"):
            f[since >= 0] = self.effect
        elif self.kind == "fades":
            f[(since >= 0) & (since < self.hold)] = self.effect
            drift = (since >= self.hold) & (since < self.hold + self.fade)
            f[drift] = self.effect + (1 - self.effect) * (since[drift] - self.hold + 1) / (
                self.fade + 1
            )
        else:
            raise ValueError(f"Unknown story kind {self.kind!r}.")
        return f


STORIES: tuple[Story, ...] = (
    Story(
        key="willow_deescalation",
        tag="deescalation",
        team="Willow Ward",
        measure="restraint_per_1000_obd",
        group="Black",
        start="2025-04",
        effect=0.40,
        kind="sustained",
        change_idea="Culturally informed de-escalation training, co-delivered with Black "
        "service users and a community organisation",
        lived_experience="co-designed",
        cycles=(
            Cycle("2025-02-03", "2025-03-28", "act",
                  "Two pilot sessions with one shift; staff asked for scenarios written by "
                  "service users; adapted the course."),
            Cycle("2025-04-01", "2025-09-30", "act",
                  "All ward staff trained by June. Restraint of Black patients fell from "
                  "April and stayed down; White patients unchanged. Adopt."),
            Cycle("2025-10-01", "", "study",
                  "Refresher sessions for new starters and bank staff; watching that the "
                  "fall holds."),
        ),
        expected="Restraint of Black patients at Willow Ward drops from 2025-04 and stays "
        "down (a shift below the centre line: Anhøj runs signal, MDC special cause "
        "improvement within months of the change); White patients do not change, so the "
        "Black/White rate ratio falls from about 2.3 to about 1.",
    ),
    Story(
        key="northvale_peer_worker",
        tag="peer-workers",
        team="Northvale Early Intervention in Psychosis Team",
        measure="coproduced_care_plans",
        group=None,
        start="2025-01",
        effect=3.5,
        kind="sustained",
        change_idea="Peer support workers with lived experience join care-planning meetings",
        lived_experience="co-designed",
        cycles=(
            Cycle("2024-11-04", "2024-12-20", "act",
                  "One peer worker joined three care-planning meetings; service users said "
                  "the plan felt like theirs. Extend to the whole caseload."),
            Cycle("2025-01-06", "2025-06-30", "act",
                  "Peer workers offered at every care-plan review from January; co-produced "
                  "plans rose from about a third to about two thirds. Adopt."),
        ),
        expected="Co-produced care plans at Northvale Early Intervention rise from 2025-01 "
        "for everyone (all groups together: runs signal; MDC special cause improvement).",
    ),
    Story(
        key="riverside_interpreters",
        tag="interpreters",
        team="Riverside North Community Mental Health Team",
        measure="assessed_within_28_days",
        group="Asian",
        start="2024-10",
        effect=3.5,
        kind="sustained",
        change_idea="Interpreter booked at triage and outreach through community and faith "
        "groups for South Asian communities",
        lived_experience="consulted",
        cycles=(
            Cycle("2024-08-05", "2024-09-30", "act",
                  "Booking interpreters at triage for Urdu and Bengali speakers; fewer "
                  "appointments lost to no interpreter. Extend to all languages."),
            Cycle("2024-10-01", "2025-03-31", "act",
                  "Interpreters at triage for all languages plus outreach sessions at two "
                  "community centres. Asian referrals assessed in time rose and stayed up."),
        ),
        expected="Referrals of Asian people assessed within 28 days at Riverside North "
        "CMHT rise from 2024-10 (from about 58 % to about 82 %) and stay up.",
    ),
    Story(
        key="rowan_rt_review",
        tag="prn-review",
        team="Rowan Ward",
        measure="rapid_tranq_per_1000_obd",
        group=None,
        start="2024-11",
        effect=0.40,
        kind="fades",
        hold=7,
        fade=5,
        change_idea="Pharmacist-led daily review of as-required (PRN) medication and "
        "calm-down plans",
        lived_experience="consulted",
        cycles=(
            Cycle("2024-11-04", "2025-05-30", "act",
                  "Daily PRN review more than halved rapid tranquillisation from November. "
                  "The pharmacist post ended in May and the reviews lapsed over the summer."),
            Cycle("2026-09-01", "", "plan",
                  "Rapid tranquillisation is back at its old level: plan to restore the "
                  "reviews with ward nurses leading them."),
        ),
        expected="Rapid tranquillisation at Rowan Ward (all groups) falls from 2024-11, "
        "holds for 7 months (to 2025-05), then drifts back to its old level over 2025-06 … "
        "2025-10: an improvement at risk, then lost. MDC with the lines fixed on the "
        "baseline flags special cause improvement in 2024-11 … 2025-05 and only common cause "
        "from 2025-11.",
    ),
    Story(
        key="cedar_safety_huddle",
        tag="safety-huddle",
        team="Cedar Ward",
        measure="restraint_per_1000_obd",
        group=None,
        start="2024-11",
        effect=1.0,
        kind="none",
        change_idea="Daily safety huddle to identify patients at risk of restraint",
        lived_experience="not involved",
        cycles=(
            Cycle("2024-11-04", "2025-02-28", "act",
                  "Huddles happened most days but restraint did not change; the huddle "
                  "named the same patients each day. Abandon; try a different idea."),
        ),
        expected="Restraint at Cedar Ward does not change around 2024-11: no runs signal, "
        "centre lines before and after within a few per cent.",
    ),
    Story(
        key="southmoor_text_reminders",
        tag="reminders",
        team="Southmoor Adult Community Team",
        measure="days_to_first_contact",
        group=None,
        start="2025-02",
        effect=1.0,
        kind="none",
        change_idea="Text message reminders of first appointments to cut rebooking",
        lived_experience="consulted",
        cycles=(
            Cycle("2025-02-03", "2025-05-30", "act",
                  "Reminders sent to everyone; missed first appointments fell a little but "
                  "days to first contact did not change: the wait is for the first slot, not "
                  "rebooking. Keep the reminders; look for another idea for the wait."),
        ),
        expected="Days to first contact at Southmoor do not change around 2025-02: no runs "
        "signal on the I chart.",
    ),
    Story(
        key="hawthorn_recording",
        tag="record-ethnicity",
        team="Hawthorn Ward",
        measure="restraint_per_1000_obd",
        group="Not stated",
        start="2024-10",
        effect=0.22,
        kind="recording",
        change_idea="Ask and record ethnicity at admission, with a script explaining why",
        lived_experience="consulted",
        cycles=(
            Cycle("2024-08-05", "2024-09-27", "act",
                  "Audit: a fifth of admissions had no ethnicity recorded, mostly because "
                  "staff did not ask. Wrote a short script with service users."),
            Cycle("2024-10-01", "2025-03-28", "act",
                  "Script used at every admission; 'Not stated' fell from about 22 % to "
                  "about 5 % of records. Adopt."),
        ),
        expected="The share of Hawthorn Ward's records with ethnicity 'Not stated' falls "
        "from about 22 % to about 5 % from 2024-10, on every measure of the ward. A P chart "
        "of the Not stated share of occupied bed days (the restraint measure's denominator) "
        "shows a runs signal and MDC special cause improvement (lower is better).",
    ),
)  # fmt: skip
STORY_BY_KEY = {s.key: s for s in STORIES}

#: The collaborative's change package: an aim-level driver diagram (primary driver →
#: secondary driver → change), each change with the tag teams give their change ideas.
#: Every story's change idea carries one; one change (the lived-experience panel) is in
#: the package but not yet tested anywhere.
CHANGE_PACKAGE: tuple[tuple[str, str, str, str, str], ...] = (
    # (tag, change, primary driver, secondary driver, description)
    ("deescalation",
     "Culturally informed de-escalation training, co-delivered with people with lived "
     "experience",
     "Restrictive practice is used less and fairly",
     "Staff de-escalate in ways that fit each person's culture",
     "Training in de-escalation with scenarios written and delivered with service users "
     "and community organisations."),
    ("safety-huddle",
     "Daily safety huddle to identify patients at risk of restraint",
     "Restrictive practice is used less and fairly",
     "Risks are spotted and planned for early",
     "A short daily meeting of the shift to name patients at risk and plan support."),
    ("prn-review",
     "Pharmacist-led daily review of as-required (PRN) medication and calm-down plans",
     "Restrictive practice is used less and fairly",
     "Medicines are a last resort",
     "A pharmacist reviews as-required medication and each patient's calm-down plan daily."),
    ("interpreters",
     "Interpreter booked at triage and outreach through community and faith groups",
     "Access is timely and equal",
     "People are understood from their first contact",
     "Book an interpreter when the referral is triaged; reach communities through their "
     "own groups."),
    ("reminders",
     "Reminders of first appointments",
     "Access is timely and equal",
     "First appointments are kept",
     "Text or letter reminders of a first appointment, to cut missed appointments and "
     "rebooking."),
    ("peer-workers",
     "Peer support workers with lived experience join care-planning meetings",
     "Care is co-produced",
     "People with lived experience shape care plans",
     "Peer workers offered at every care-planning meeting."),
    ("lived-experience-panel",
     "A lived-experience panel reviews the team's equality data each quarter",
     "Care is co-produced",
     "Services learn from people with lived experience",
     "Service users and carers from racialised communities read the team's charts and "
     "choose what to test next."),
    ("record-ethnicity",
     "Ask and record ethnicity at admission, with a script explaining why",
     "Data on ethnicity are complete",
     "Ethnicity is asked for and recorded at every first contact",
     "A script for staff saying why ethnicity is asked and how it is used."),
)  # fmt: skip


# --------------------------------------------------------------------------------------
# Upload calendar: late, missing, corrected and closed months
# --------------------------------------------------------------------------------------

#: (team, month) never uploaded.
MISSING = (("Southmoor Adult Community Team", "2025-08"),)
#: (team, month): the ward was closed for refurbishment (zero activity; staff redeployed).
CLOSED = (("Cedar Ward", "2025-08"),)
#: (team, month) uploaded a month late, with the day it came.
MONTH_LATE = (("Northvale Early Intervention in Psychosis Team", "2024-12", "2025-02-17"),)


@dataclass(frozen=True)
class Correction:
    """A team-month uploaded with an error and re-uploaded weeks later."""

    team: str
    month: str
    measure: str
    group: str
    wrong_factor: int  # the first upload's numerator was this many times the true one
    corrected_on: str
    note: str


CORRECTIONS = (
    Correction(
        "Riverside North Community Mental Health Team",
        "2025-06",
        "days_to_first_contact",
        "White",
        10,
        "2025-08-04",
        "Correction: total days to first contact for White patients was typed with an "
        "extra zero in the first upload.",
    ),
)


# --------------------------------------------------------------------------------------
# Drawing the counts
# --------------------------------------------------------------------------------------


def _recorded_shares(team: Team, not_stated: np.ndarray) -> np.ndarray:
    """Shares of records by group (GROUPS order) per month: true mix × (1 − not stated)."""
    named = np.array([team.shares[g] for g in NAMED])
    return np.column_stack([np.outer(1 - not_stated, named), not_stated])


def _split(rng: np.random.Generator, totals: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Split monthly totals between groups: Dirichlet-perturbed shares, then multinomial."""
    out = np.zeros((len(totals), len(GROUPS)), dtype=np.int64)
    for t, total in enumerate(totals):
        p = rng.dirichlet(400 * shares[t] + 0.5)
        out[t] = rng.multinomial(int(total), p)
    return out


def _denominators(team: Team, ti: int, seed: int, not_stated: np.ndarray) -> dict[str, np.ndarray]:
    """Each denominator a team's measures use: months × groups, integers."""
    rng = np.random.default_rng([seed, ti, 1000])
    shares = _recorded_shares(team, not_stated)
    days = MONTHS.days_in_month.to_numpy()
    n = len(MONTHS)
    out: dict[str, np.ndarray] = {}
    if team.kind == "ward":
        occupancy = np.clip(rng.normal(0.93, 0.03, n), 0.80, 0.99)
        out["obd"] = _split(rng, np.round(team.size * days * occupancy).astype(int), shares)
        out["admissions"] = _split(rng, rng.poisson(0.8 * team.size, n), shares)
        out["survey"] = _split(rng, rng.poisson(0.55 * team.size, n), shares)
    else:
        out["referrals"] = _split(rng, rng.poisson(team.size, n), shares)
        out["care_plans"] = _split(rng, rng.poisson(0.5 * team.size + 8, n), shares)
        out["first_seen"] = _split(rng, rng.poisson(0.85 * team.size, n), shares)
        out["survey"] = _split(rng, rng.poisson(0.2 * team.size + 6, n), shares)
    # staff: a headcount per group that drifts by a person now and then
    staff_mix = np.array([0.14, 0.20, 0.03, 0.58, 0.02, 0.03])
    head = rng.multinomial(team.staff, staff_mix).astype(np.int64)
    steps = rng.choice([-1, 0, 1], size=(n, len(GROUPS)), p=[0.08, 0.84, 0.08])
    steps[0] = 0
    out["headcount"] = np.maximum(head + np.cumsum(steps, axis=0), 0)
    for month in _closed_months(team):
        for k in out:
            if k != "headcount":
                out[k][month] = 0
    return out


def _closed_months(team: Team) -> list[int]:
    return [MONTHS.get_loc(pd.Period(m, "M")) for t, m in CLOSED if t == team.name]


def _story_factor(team: Team, measure: Measure) -> np.ndarray:
    """Months × groups multiplier of the measure's rate, odds or mean from the stories."""
    f = np.ones((len(MONTHS), len(GROUPS)))
    for s in STORIES:
        if s.team != team.name or s.measure != measure.id or s.kind == "recording":
            continue
        cols = [GROUPS.index(s.group)] if s.group else list(range(len(GROUPS)))
        f[:, cols] *= s.factor(MONTHS)[:, None]
    return f


def _not_stated(team: Team) -> np.ndarray:
    """Share of the team's records with ethnicity not stated, per month."""
    ns = np.full(len(MONTHS), team.not_stated)
    for s in STORIES:
        if s.team == team.name and s.kind == "recording":
            ns = ns * s.factor(MONTHS)
    return ns


def _numerators(
    measure: Measure, den: np.ndarray, factor: np.ndarray, team: Team, rng: np.random.Generator
) -> np.ndarray:
    base = np.array([measure.base[g] for g in GROUPS])[None, :]
    if measure.model == "rate":
        lam = base * team.factor * factor * den / measure.per
        return rng.poisson(lam)
    if measure.model in ("proportion", "staff"):
        # the team factor is for rates and waits only: proportions keep the group baselines
        odds = base / (1 - base) * factor
        return rng.binomial(den, odds / (1 + odds))
    if measure.model == "mean":
        # each person's wait ~ Gamma(shape 1.5, mean m): the total over n people is
        # Gamma(1.5 n, m / 1.5)
        mean = base * team.factor * factor
        shape = np.where(den > 0, 1.5 * den, 1.0)
        total = rng.gamma(shape, mean / 1.5)
        return np.where(den > 0, np.round(total), 0).astype(np.int64)
    raise ValueError(f"Unknown model {measure.model!r}.")


def simulate(seed: int = SEED) -> pd.DataFrame:
    """The true monthly counts: team, measure, month (Period), group, numerator, denominator."""
    frames = []
    for ti, team in enumerate(TEAMS):
        dens = _denominators(team, ti, seed, _not_stated(team))
        for measure in team_measures(team):
            mi = MEASURES.index(measure)
            rng = np.random.default_rng([seed, ti, mi])
            den = dens[measure.denominator]
            num = _numerators(measure, den, _story_factor(team, measure), team, rng)
            frames.append(
                pd.DataFrame(
                    {
                        "team": team.name,
                        "measure": measure.id,
                        "month": MONTHS.repeat(len(GROUPS)),
                        "group": np.tile(GROUPS, len(MONTHS)),
                        "numerator": num.ravel().astype(np.int64),
                        "denominator": den.ravel().astype(np.int64),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------
# Uploads
# --------------------------------------------------------------------------------------


def period_text(month: pd.Period, style: str) -> str:
    """The period as a team spells it (month abbreviations fixed, not locale-dependent)."""
    if style == "%b-%y":
        return f"{_MONTH_ABBR[month.month - 1]}-{month.year % 100:02d}"
    return month.start_time.strftime(style)


def _upload_times(seed: int) -> dict[tuple[str, str], datetime]:
    """When each team-month was first uploaded (UTC)."""
    rng = np.random.default_rng([seed, 9999])
    last = datetime.fromisoformat(TODAY).replace(tzinfo=UTC) - timedelta(hours=12)
    out = {}
    for team in TEAMS:
        for month in MONTHS:
            nxt = (month + 1).start_time
            day = team.upload_day + int(rng.integers(-2, 3))
            if rng.random() < team.late_share:
                day = int(rng.integers(21, 28))
            hour, minute = int(rng.integers(8, 17)), int(rng.integers(0, 60))
            when = _working_day(datetime(nxt.year, nxt.month, day, hour, minute, tzinfo=UTC))
            out[team.name, str(month)] = min(when, last)
    for team_name, month, day in MONTH_LATE:
        out[team_name, month] = datetime.fromisoformat(day).replace(hour=10, minute=5, tzinfo=UTC)
    return out


def _working_day(when: datetime) -> datetime:
    """The same time on the next working day (no weekends, Christmas or Boxing Day)."""
    while when.weekday() >= 5 or (when.month, when.day) in ((12, 25), (12, 26)):
        when += timedelta(days=1)
    return when


def _frame(rows: pd.DataFrame, team: Team) -> pd.DataFrame:
    df = rows[["team", "measure", "month", "group", "numerator", "denominator"]].copy()
    df["period"] = [period_text(m, team.period_style) for m in df["month"]]
    return df[list(UPLOAD_COLUMNS)].reset_index(drop=True)


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n")


def _write_xlsx(df: pd.DataFrame, path: Path) -> None:
    """Excel through pandas and openpyxl, with fixed properties and zip timestamps."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        df.to_excel(xw, index=False, sheet_name="Upload")
        props = xw.book.properties
        props.creator = props.lastModifiedBy = COLLABORATIVE
        props.created = props.modified = XLSX_DATE
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    stamp = XLSX_DATE.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=XLSX_DATE.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                # openpyxl stamps the save time as "modified" whatever it was set to
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp + rb"\g<2>",
                    data,
                )
            dst.writestr(fixed, data)
    path.write_bytes(out.getvalue())


def write_uploads(truth: pd.DataFrame, out: Path, seed: int) -> pd.DataFrame:
    """Write one file per team-month (plus corrections); return the manifest."""
    times = _upload_times(seed)
    missing = {(t, m) for t, m in MISSING}
    closed = {(t, m) for t, m in CLOSED}
    late = {(t, m) for t, m, _ in MONTH_LATE}
    fixes = {(c.team, c.month): c for c in CORRECTIONS}
    manifest = []
    by_team_month = truth.groupby(["team", "month"], sort=False)
    for team in TEAMS:
        folder = out / "uploads" / team.slug
        folder.mkdir(parents=True, exist_ok=True)
        for month in MONTHS:
            key = (team.name, str(month))
            if key in missing:
                continue
            df = _frame(by_team_month.get_group((team.name, month)), team)
            stem = f"{team.slug}_{month}"
            when = times[key]
            note = "Monthly upload"
            if when.day > 20 or (when.year, when.month) != _next(month):
                note = "Late upload"
            if key in late:
                note = "Late upload: a month late (team short-staffed over Christmas)"
            if key in closed:
                note = "Ward closed for refurbishment: no patients, zero activity"
            first = df
            if key in fixes:
                c = fixes[key]
                first = df.copy()
                row = (first["measure"] == c.measure) & (first["group"] == c.group)
                first.loc[row, "numerator"] *= c.wrong_factor
            name = f"{stem}.{team.file_format}"
            _write(first, folder / name, team.file_format)
            manifest.append((f"uploads/{team.slug}/{name}", team.uploaded_by, when, note))
            if key in fixes:
                c = fixes[key]
                name = f"{stem}_v2.{team.file_format}"
                _write(df, folder / name, team.file_format)
                when2 = datetime.fromisoformat(c.corrected_on).replace(
                    hour=14, minute=20, tzinfo=UTC
                )
                manifest.append((f"uploads/{team.slug}/{name}", team.uploaded_by, when2, c.note))
    m = pd.DataFrame(manifest, columns=["file", "uploaded_by", "uploaded_at", "note"])
    m = m.sort_values(["uploaded_at", "file"], kind="stable").reset_index(drop=True)
    m["uploaded_at"] = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in m["uploaded_at"]]
    return m


def _next(month: pd.Period) -> tuple[int, int]:
    n = month + 1
    return n.year, n.month


def _write(df: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        _write_csv(df, path)
    else:
        _write_xlsx(df, path)


# --------------------------------------------------------------------------------------
# The other tables
# --------------------------------------------------------------------------------------


def teams_table() -> pd.DataFrame:
    return pd.DataFrame(
        [(COLLABORATIVE, t.ics, t.trust, t.name) for t in TEAMS],
        columns=["collaborative", "ics", "trust", "team"],
    )


def measures_table() -> pd.DataFrame:
    rows = [
        {
            "id": m.id,
            "name": m.name,
            "definition": m.definition,
            "numerator_definition": m.numerator_definition,
            "denominator_definition": m.denominator_definition,
            "unit": m.unit,
            "multiplier": m.multiplier,
            "chart": m.chart,
            "improvement": m.improvement,
            "target": "" if m.target is None else f"{m.target:g}",
            "groups": ";".join(GROUPS),
        }
        for m in MEASURES
    ]
    return pd.DataFrame(rows)


def change_package_table() -> pd.DataFrame:
    return pd.DataFrame(
        CHANGE_PACKAGE,
        columns=["tag", "change", "primary_driver", "secondary_driver", "description"],
    )


def pdsa_table() -> pd.DataFrame:
    rows = []
    for s in STORIES:
        for i, c in enumerate(s.cycles, start=1):
            rows.append(
                {
                    "team": s.team,
                    "measure": s.measure,
                    "group": s.group or "",
                    "change_idea": s.change_idea,
                    "cycle": i,
                    "stage": c.stage,
                    "start": c.start,
                    "end": c.end,
                    "learning": c.learning,
                    "lived_experience": s.lived_experience,
                    "tag": s.tag,
                }
            )
    return pd.DataFrame(rows)


_OWNER = {
    "restraint_per_1000_obd": ("Ward manager", "Director of Nursing", 1),
    "detained_admissions": ("Consultant psychiatrist", "Medical Director", 3),
    "rapid_tranq_per_1000_obd": ("Ward pharmacist", "Chief Pharmacist", 1),
    "assessed_within_28_days": ("Team manager", "Director of Operations", 1),
    "coproduced_care_plans": ("Lead for lived experience", "Director of Nursing", 3),
    "felt_respected": ("Patient experience lead", "Director of Nursing", 3),
    "days_to_first_contact": ("Team manager", "Director of Operations", 1),
    "staff_disciplinary": ("Equality, diversity and inclusion lead", "Chief People Officer", 6),
}


def owners_table() -> pd.DataFrame:
    rows = []
    for t in TEAMS:
        for m in team_measures(t):
            owner, sponsor, every = _OWNER[m.id]
            if t.kind == "community" and owner == "Ward manager":
                owner = "Team manager"
            rows.append((t.name, m.id, owner, sponsor, every, OWNERS_SINCE))
    return pd.DataFrame(
        rows, columns=["team", "measure", "owner", "sponsor", "review_every_months", "since"]
    )


#: When the owners took their measures on (the collaborative's third month).
OWNERS_SINCE = "2024-01-01"
#: Owned measures whose reviews stopped: (team, measure, last month reviewed). Every other
#: owned measure was reviewed on the 20th of the month after each cadence, on time.
REVIEWS_STOPPED = {
    ("Westhaven Community Team", "staff_disciplinary"): "2025-12",
    ("Southmoor Adult Community Team", "days_to_first_contact"): "2026-06",
    ("Rowan Ward", "rapid_tranq_per_1000_obd"): "2026-05",
}
#: The reviews kept per owned measure (the most recent; older ones add nothing).
REVIEWS_KEPT = 4


def reviews_table() -> pd.DataFrame:
    """The owners' recorded reviews: each owned measure reviewed every cadence since
    :data:`OWNERS_SINCE`, the latest :data:`REVIEWS_KEPT` kept, except those in
    :data:`REVIEWS_STOPPED` (overdue by the sample's today)."""
    today = pd.Timestamp(TODAY)
    rows = []
    for rec in owners_table().itertuples(index=False):
        stop = REVIEWS_STOPPED.get((rec.team, rec.measure))
        last_month = pd.Timestamp(stop) if stop else today
        due = pd.Timestamp(OWNERS_SINCE)
        dates = []
        while True:
            due = due + pd.DateOffset(months=int(rec.review_every_months))
            reviewed = due.replace(day=20)
            if reviewed > today or reviewed.to_period("M") > last_month.to_period("M"):
                break
            dates.append(reviewed)
        for d in dates[-REVIEWS_KEPT:]:
            rows.append((rec.team, rec.measure, f"{d:%Y-%m-%d}", f"{rec.owner}: reviewed"))
    return pd.DataFrame(rows, columns=["team", "measure", "reviewed_on", "note"])


ACTIONS = (
    ("Willow Ward", "restraint_per_1000_obd", "2025-01", "board",
     "Restraint of Black patients at Willow Ward is more than twice that of White patients.",
     "Fund culturally informed de-escalation training, co-delivered with service users.",
     "Director of Nursing", "2025-03-31", "2025-03-21"),
    ("Willow Ward", "restraint_per_1000_obd", "2025-10", "team",
     "The fall in restraint of Black patients has held for six months.",
     "Add the training to induction for new starters and bank staff.",
     "Ward manager", "2025-12-31", "2025-12-12"),
    ("Rowan Ward", "rapid_tranq_per_1000_obd", "2025-08", "team",
     "Rapid tranquillisation is rising again since the pharmacist post ended.",
     "Find funding to restore the daily PRN review.",
     "Chief Pharmacist", "2025-10-31", ""),
    ("Rowan Ward", "rapid_tranq_per_1000_obd", "2026-08", "board",
     "The improvement in rapid tranquillisation has been lost (improvement at risk).",
     "Report back with a plan for nurse-led PRN reviews.",
     "Ward manager", "2026-10-31", ""),
    ("Cedar Ward", "restraint_per_1000_obd", "2025-03", "team",
     "The daily safety huddle made no difference to restraint.",
     "Stop the huddle; choose a new change idea with service users.",
     "Ward manager", "2025-05-31", "2025-05-09"),
    ("Cedar Ward", "restraint_per_1000_obd", "2025-07", "team",
     "Ward closes for refurbishment in August 2025.",
     "Upload a zero-activity return for August so the month is not read as missing.",
     "Ward manager", "2025-09-15", "2025-09-12"),
    ("Hawthorn Ward", "restraint_per_1000_obd", "2024-07", "board",
     "A fifth of Hawthorn Ward's records have no ethnicity recorded.",
     "Audit recording at admission and test a script for asking.",
     "Information analyst", "2024-09-30", "2024-09-27"),
    ("Southmoor Adult Community Team", "days_to_first_contact", "2025-09", "board",
     "The August 2025 return is missing.",
     "Submit the August 2025 return.",
     "Performance officer", "2025-10-31", ""),
    ("Riverside North Community Mental Health Team", "assessed_within_28_days", "2024-07",
     "board",
     "Asian people referred to Riverside North wait longer for assessment.",
     "Test booking interpreters at triage and outreach with community groups.",
     "Team manager", "2024-09-30", "2024-09-27"),
    ("Riverside North Community Mental Health Team", "days_to_first_contact", "2025-07",
     "team",
     "The June 2025 upload had an impossible wait for White patients.",
     "Re-upload June 2025 with the corrected total.",
     "Team administrator", "2025-08-15", "2025-08-04"),
    ("Northvale Early Intervention in Psychosis Team", "coproduced_care_plans", "2025-08",
     "board",
     "Co-produced care plans doubled after peer workers joined care planning.",
     "Share the peer-worker model with the other community teams.",
     "Lead for lived experience", "2026-12-31", ""),
    ("Westhaven Community Team", "staff_disciplinary", "2026-06", "board",
     "Ethnic minority staff across the collaborative are about one and a half times as "
     "likely to enter a formal disciplinary process (WRES indicator 3).",
     "Introduce a pre-disciplinary check by a senior manager outside the line.",
     "Chief People Officer", "2026-12-31", ""),
)  # fmt: skip


def actions_table() -> pd.DataFrame:
    return pd.DataFrame(
        ACTIONS,
        columns=[
            "team", "measure", "period", "raised_by", "decision", "action", "owner", "due",
            "done",
        ],
    )  # fmt: skip


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def generate(out: Path, seed: int = SEED) -> None:
    """Write every file of the sample collaborative into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    truth = simulate(seed)
    _write_csv(teams_table(), out / "teams.csv")
    _write_csv(measures_table(), out / "measures.csv")
    _write_csv(write_uploads(truth, out, seed), out / "uploads.csv")
    _write_csv(change_package_table(), out / "change_package.csv")
    _write_csv(pdsa_table(), out / "pdsa.csv")
    _write_csv(owners_table(), out / "owners.csv")
    _write_csv(actions_table(), out / "actions.csv")
    _write_csv(reviews_table(), out / "reviews.csv")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="folder to write into (default: this script's folder, sample_data/)",
    )
    parser.add_argument(
        "--no-store",
        action="store_true",
        help="do not build the prebuilt store (qi.sample.PREBUILT) from the files written",
    )
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    generate(args.out, args.seed)
    print(f"Wrote the sample collaborative to {args.out} in {time.perf_counter() - t0:.2f} s")
    if not args.no_store:
        # the files through the ordinary import path, once, into the store a new
        # dashboard copies (qi.sample.ensure_sample): a first start in a fraction of
        # a second; tests/test_sample_store.py checks it is up to date and equal
        from qi.sample import build_prebuilt

        t0 = time.perf_counter()
        built = build_prebuilt(args.out)
        print(f"Built {built.name} in {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()

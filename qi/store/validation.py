"""Validating an upload of observations, every problem at once, without touching the store.

:func:`validate_observations` takes the rows read by :mod:`qi.store.reading` and what
the store knows (a :class:`Catalogue`: teams, measures, group aliases) and returns
the clean rows ready to store and the list of problems. It is pure pandas, vectorised
over the rows (a 100,000-row file is checked in well under a second), and never
raises for bad data: a user fixes a file from the whole list, not one error at a time.

Rules (each problem names the file, the spreadsheet row and the column):

* the columns ``team``, ``measure``, ``period``, ``group``, ``numerator`` and
  ``denominator`` are present (others are ignored);
* ``team`` and ``measure`` are registered (``qi teams``, ``qi measures``);
* ``period`` is a month, written ``2024-03``, ``2024-03-01``, ``01/03/2024`` (UK, day
  first) or ``Mar-24``; a date other than the first of a month is not a month; a month
  after the current one lies in the future;
* ``group`` is ``All``, one of the measure's groups, or an NHS ethnic category (code,
  label or a known local spelling) whose label or broad group is one of the measure's
  groups;
* ``numerator`` is a number, not negative, and a whole number for count charts;
* ``denominator`` is a number, not negative (a zero is a closed ward, and allowed),
  present when the measure's chart needs one, and a whole number not below the
  numerator for a proportion; a rate with events needs a denominator above zero;
* no two rows are for the same team, measure, period and group.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from qi.store.groups import ALL, normalise
from qi.store.reading import Problem, Table

REQUIRED = ("team", "measure", "period", "group", "numerator", "denominator")
#: Charts whose points are numerator / denominator and so need a denominator.
NEEDS_DENOMINATOR = frozenset({"p", "pp", "u", "up", "xbar"})
#: Charts of proportions: the numerator cannot exceed the denominator.
PROPORTION_CHARTS = frozenset({"p", "pp"})
#: Charts of counts: numerators are whole numbers.
COUNT_CHARTS = frozenset({"p", "pp", "u", "up", "c", "g"})
PERIOD_FORMATS = "2024-03, 2024-03-01, 01/03/2024 or Mar-24"
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}


@dataclass
class Catalogue:
    """What an upload is checked against."""

    teams: frozenset[str]
    #: indexed by measure id; columns ``chart`` and ``groups`` (a tuple of group names)
    measures: pd.DataFrame
    #: group aliases: ``alias`` (normalised), ``code``, ``label``, ``broad_group``
    aliases: pd.DataFrame
    today: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())


OBSERVATION_COLUMNS = (
    "row",
    "team",
    "measure",
    "period",
    "group",
    "broad_group",
    "numerator",
    "denominator",
)


def parse_periods(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Month starts of period texts, and a reason for each one that is not a month.

    Returns ``(periods, reasons)``: ``periods`` datetime64 (NaT where not a month),
    ``reasons`` text ("" where the period is fine, apart from lying in the future).
    """
    text = values.astype(str).str.strip()
    year = pd.Series(np.nan, index=text.index)
    month = year.copy()
    day = pd.Series(1.0, index=text.index)
    patterns = [
        (r"^(?P<y>\d{4})-(?P<m>\d{1,2})$", False),
        (r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$", True),
        (r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})$", True),
    ]
    for pattern, has_day in patterns:
        found = text.str.extract(pattern)
        hit = found["y"].notna()
        year[hit] = found.loc[hit, "y"].astype(float)
        month[hit] = found.loc[hit, "m"].astype(float)
        if has_day:
            day[hit] = found.loc[hit, "d"].astype(float)
    found = text.str.extract(r"^(?P<m>[A-Za-z]{3})[A-Za-z]*[-\s](?P<y>\d{2}|\d{4})$")
    hit = found["m"].notna()
    named = found.loc[hit, "m"].str.lower().map(_MONTHS)
    yy = found.loc[hit, "y"].astype(float)
    year[hit] = np.where(yy < 100, 2000 + yy, yy)
    month[hit] = named.astype(float)

    reasons = pd.Series("", index=text.index, dtype=object)
    empty = text.eq("") | values.isna()
    bad = year.isna() | month.isna() | ~month.between(1, 12)
    reasons[bad] = "'" + text[bad] + "' is not a month: write it as " + PERIOD_FORMATS
    reasons[empty] = "period is empty: give the month, as " + PERIOD_FORMATS
    ok = ~bad & ~empty
    periods = pd.to_datetime(
        pd.DataFrame({"year": year.where(ok, 2000), "month": month.where(ok, 1), "day": 1}),
        errors="coerce",
    ).where(ok)
    # a full date must be a real date and the first of its month
    with_day = ok & day.ne(1)
    if with_day.any():
        real = pd.to_datetime(
            pd.DataFrame({"year": year[with_day], "month": month[with_day], "day": day[with_day]}),
            errors="coerce",
        )
        reasons[with_day] = np.where(
            real.isna(),
            "'" + text[with_day] + "' is not a date",
            "'" + text[with_day] + "' is a day, not a month: give the month, as " + PERIOD_FORMATS,
        )
        periods[with_day] = pd.NaT
    return periods, reasons


def _numbers(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(numbers, empty, not-a-number) for a column of cells."""
    text = values.astype(str).str.strip()
    empty = text.eq("") | values.isna()
    numbers = pd.to_numeric(text.where(~empty), errors="coerce")
    return numbers, empty, numbers.isna() & ~empty


def validate_observations(table: Table, catalogue: Catalogue) -> tuple[pd.DataFrame, list[Problem]]:
    """Check every row of an upload; return the clean rows and every problem found.

    The clean rows (columns :data:`OBSERVATION_COLUMNS`) are meaningful only when
    the list of problems is empty: a file with any problem is stored not at all.
    """
    name = table.name
    problems: list[Problem] = []
    missing = [c for c in REQUIRED if c not in table.data.columns]
    if missing:
        problems.append(
            Problem(
                name,
                None,
                None,
                f"the file has no column {', '.join(repr(c) for c in missing)}: the header must "
                f"name the columns {', '.join(REQUIRED)} (in any order)",
            )
        )
        return pd.DataFrame(columns=OBSERVATION_COLUMNS), problems

    d = table.data
    rows = table.rows.to_numpy()

    def report(mask: pd.Series | np.ndarray, column: str, messages: pd.Series | str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        msgs = (
            [messages] * int(mask.sum())
            if isinstance(messages, str)
            else list(pd.Series(messages).to_numpy()[mask])
        )
        problems.extend(
            Problem(name, int(r), column, m) for r, m in zip(rows[mask], msgs, strict=True)
        )

    team = d["team"].astype(str).str.strip()
    measure = d["measure"].astype(str).str.strip()
    report(team.eq(""), "team", "team is empty: give the team's name as registered")
    unknown_team = team.ne("") & ~team.isin(catalogue.teams)
    if unknown_team.any():
        known = _some(sorted(catalogue.teams))
        report(
            unknown_team,
            "team",
            "unknown team '" + team + f"': register it first (qi teams) or use one of {known}",
        )
    report(measure.eq(""), "measure", "measure is empty: give the measure's id")
    measures = catalogue.measures
    unknown_measure = measure.ne("") & ~measure.isin(measures.index)
    if unknown_measure.any():
        known = _some(sorted(measures.index))
        report(
            unknown_measure,
            "measure",
            "unknown measure '" + measure + f"': load it into the catalogue first "
            f"(qi measures) or use one of {known}",
        )
    known_measure = measure.isin(measures.index)
    chart = measure.map(measures["chart"]).where(known_measure, "")

    periods, reasons = parse_periods(d["period"])
    report(reasons.ne(""), "period", reasons)
    this_month = pd.Timestamp(catalogue.today.replace(day=1))
    future = periods.notna() & (periods > this_month)
    report(
        future,
        "period",
        "'" + d["period"].astype(str).str.strip() + "' lies in the future: check the year",
    )

    group, broad = _groups(d["group"], measure, known_measure, catalogue, report)

    numerator, num_empty, num_nan = _numbers(d["numerator"])
    report(num_empty, "numerator", "numerator is empty: enter 0 if there were none")
    report(
        num_nan,
        "numerator",
        "numerator '" + d["numerator"].astype(str).str.strip() + "' is not a number",
    )
    report(numerator < 0, "numerator", "numerator is negative: counts cannot be below 0")
    whole = numerator.notna() & (numerator >= 0) & (numerator % 1 != 0)
    report(
        whole & chart.isin(COUNT_CHARTS),
        "numerator",
        "numerator " + numerator.astype(str) + " is not a whole number: this measure counts "
        "events or people",
    )

    denominator, den_empty, den_nan = _numbers(d["denominator"])
    report(
        den_empty & chart.isin(NEEDS_DENOMINATOR),
        "denominator",
        "denominator is empty: this measure is a rate or proportion and needs one "
        "(0 if, say, the ward was closed)",
    )
    report(
        den_nan,
        "denominator",
        "denominator '" + d["denominator"].astype(str).str.strip() + "' is not a number",
    )
    report(denominator < 0, "denominator", "denominator is negative: it cannot be below 0")
    proportion = chart.isin(PROPORTION_CHARTS)
    report(
        proportion & denominator.notna() & (denominator % 1 != 0) & (denominator >= 0),
        "denominator",
        "denominator " + denominator.astype(str) + " is not a whole number: a proportion's "
        "denominator counts people or records",
    )
    report(
        proportion & (numerator > denominator),
        "numerator",
        "numerator "
        + numerator.astype(str)
        + " is above the denominator "
        + denominator.astype(str)
        + ": a proportion cannot exceed its denominator",
    )
    report(
        chart.isin(NEEDS_DENOMINATOR) & ~proportion & (denominator == 0) & (numerator > 0),
        "denominator",
        "denominator is 0 but the numerator is "
        + numerator.astype(str)
        + ": events need exposure (bed days, people) above 0",
    )

    clean = pd.DataFrame(
        {
            "row": rows,
            "team": team.to_numpy(),
            "measure": measure.to_numpy(),
            "period": periods.to_numpy(),
            "group": group.to_numpy(),
            "broad_group": broad.to_numpy(),
            "numerator": numerator.to_numpy(dtype=float),
            "denominator": denominator.to_numpy(dtype=float),
        }
    )
    key = ["team", "measure", "period", "group"]
    checkable = clean["period"].notna() & clean["group"].notna()
    dup = clean[checkable].duplicated(key, keep=False)
    if dup.any():
        dups = clean[checkable][dup]
        first_row = dups.groupby(key, dropna=False)["row"].transform("min")
        later = dups["row"] != first_row
        problems.extend(
            Problem(
                name,
                int(r),
                "period",
                f"duplicate row: row {int(f)} has the same team, measure, period and group",
            )
            for r, f in zip(dups.loc[later, "row"], first_row[later], strict=True)
        )
    return clean, problems


def _some(values: list[str], k: int = 8) -> str:
    shown = ", ".join(repr(v) for v in values[:k])
    return shown + (f" and {len(values) - k} more" if len(values) > k else "") if values else "none"


def _groups(values, measure, known_measure, catalogue, report):
    """Canonical group and broad group of each row; reports the values that map to nothing."""
    text = values.astype(str).str.strip()
    empty = text.eq("") | values.isna()
    report(empty, "group", f"group is empty: give the group, or '{ALL}' for everyone")
    aliases = catalogue.aliases.set_index("alias")
    key = text.map(normalise)
    label = key.map(aliases["label"])
    broad = key.map(aliases["broad_group"])

    group_lists = measure.map(catalogue.measures["groups"]).where(known_measure, None)
    # the measure's own spelling of a group (matched case- and punctuation-insensitively)
    declared = {(m, normalise(g)): g for m, gs in catalogue.measures["groups"].items() for g in gs}
    pairs = list(zip(measure, key, strict=True))
    own = pd.Series([declared.get(p) for p in pairs], index=text.index, dtype=object)
    is_all = key.eq(normalise(ALL))
    by_label = pd.Series(
        [
            declared.get((m, normalise(lbl))) if isinstance(lbl, str) else None
            for m, lbl in zip(measure, label, strict=True)
        ],
        index=text.index,
        dtype=object,
    )
    by_broad = pd.Series(
        [
            declared.get((m, normalise(b))) if isinstance(b, str) else None
            for m, b in zip(measure, broad, strict=True)
        ],
        index=text.index,
        dtype=object,
    )

    group = own.copy()
    group[is_all] = ALL
    use_label = group.isna() & by_label.notna()
    group[use_label] = by_label[use_label]
    detailed = group.isna() & by_broad.notna()
    group[detailed] = label[detailed]  # a detailed category under a broad group the measure has
    broad_out = pd.Series(np.where(broad.notna(), broad, group), index=text.index, dtype=object)
    broad_out[is_all] = ALL
    broad_out[own.notna() & broad.isna()] = own[own.notna() & broad.isna()]
    # the broad group spelt as the measure spells it
    broad_out[by_broad.notna()] = by_broad[by_broad.notna()]

    unmapped = group.isna() & ~empty & known_measure
    if unmapped.any():
        allowed = group_lists[unmapped].map(lambda gs: ", ".join(gs) if gs else ALL)
        mapped_elsewhere = broad[unmapped].notna()
        msg = pd.Series(
            np.where(
                mapped_elsewhere,
                "group '"
                + text[unmapped]
                + "' is the ethnic group '"
                + broad[unmapped].fillna("")
                + "', which this measure does not report; "
                "allowed: " + allowed + f" or {ALL}",
                "group '"
                + text[unmapped]
                + "' is not a known group: use one of "
                + allowed
                + f", {ALL}, or an NHS ethnic category (a code A–S, Z or 99, "
                "or its name such as 'Black or Black British - African')",
            ),
            index=text[unmapped].index,
        )
        full = pd.Series("", index=text.index, dtype=object)
        full[unmapped] = msg
        report(unmapped, "group", full)
    return group, broad_out

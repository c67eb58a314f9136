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
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from qi.charts import CHART_TYPES
from qi.store import limits
from qi.store.columns import unknown_messages
from qi.store.groups import ALL, normalise
from qi.store.reading import Problem, Table

REQUIRED = ("team", "measure", "period", "group", "numerator", "denominator")
# What a chart type needs of its numbers is said once, by the registry (qi.charts):
#: Charts whose points are numerator / denominator and so need a denominator.
NEEDS_DENOMINATOR = frozenset(key for key, chart in CHART_TYPES.items() if chart.needs_n)
#: Charts of proportions: the numerator cannot exceed the denominator.
PROPORTION_CHARTS = frozenset(key for key, chart in CHART_TYPES.items() if chart.proportion)
#: Charts of counts: numerators are whole numbers.
COUNT_CHARTS = frozenset(key for key, chart in CHART_TYPES.items() if chart.counts)
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
    Each distinct spelling is parsed once (a file has few distinct periods).
    """
    text = values.where(values.notna(), "").astype(str).str.strip()
    codes, uniques = pd.factorize(text)
    periods, reasons = _parse_unique_periods(pd.Series(uniques, dtype=object))
    return (
        pd.Series(periods.to_numpy()[codes], index=values.index),
        pd.Series(reasons.to_numpy()[codes], index=values.index, dtype=object),
    )


_PERIOD_PATTERNS = (
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})$"),
    re.compile(r"^(?P<mon>[A-Za-z]{3})[A-Za-z]*[-\s](?P<y>\d{2}|\d{4})$"),
)


def _parse_period(text: str) -> tuple[pd.Timestamp | None, str]:
    """One period text: (its month's first day, "") or (None, why it is not a month)."""
    if text == "":
        return None, "period is empty: give the month, as " + PERIOD_FORMATS
    for pattern in _PERIOD_PATTERNS:
        found = pattern.match(text)
        if found is None:
            continue
        parts = found.groupdict()
        year = int(parts["y"])
        year = 2000 + year if year < 100 else year
        month = _MONTHS.get(parts["mon"][:3].lower(), 0) if parts.get("mon") else int(parts["m"])
        if not 1 <= month <= 12 or (parts.get("mon") and parts["mon"].lower()[:3] not in _MONTHS):
            break
        day = int(parts.get("d") or 1)
        try:
            dt.date(year, month, day)
        except ValueError:
            return None, f"'{text}' is not a date"
        if day != 1:
            return None, f"'{text}' is a day, not a month: give the month, as {PERIOD_FORMATS}"
        return pd.Timestamp(year, month, 1), ""
    return None, f"'{text}' is not a month: write it as {PERIOD_FORMATS}"


def _parse_unique_periods(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    parsed = [_parse_period(t) for t in text]
    periods = pd.Series(pd.to_datetime([p for p, _ in parsed]), index=text.index)
    reasons = pd.Series([r for _, r in parsed], index=text.index, dtype=object)
    return periods, reasons


def _numbers(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(numbers, empty, not-a-number) for a column of cells."""
    text = values.astype(str).str.strip()
    empty = text.eq("") | values.isna()
    numbers = pd.to_numeric(text.where(~empty), errors="coerce")
    numbers = numbers.where(np.isfinite(numbers.to_numpy(dtype=float)))  # "inf", "1e400"
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

    unlisted = 0  # problems found past limits.MAX_PROBLEMS: counted, never built

    def report(mask, column: str, messages) -> None:
        """Add a problem for each row in ``mask`` (messages: text, a Series, or a callable)."""
        nonlocal unlisted
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        room, found = limits.MAX_PROBLEMS - len(problems), int(mask.sum())
        if found > room:  # a million bad rows: the first ones listed, the rest counted
            unlisted += found - max(room, 0)
            if room <= 0:
                return
            first = np.flatnonzero(mask)[:room]
            mask = np.zeros_like(mask)
            mask[first] = True
        if callable(messages):  # built only when some row needs it
            messages = messages()
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
    if unknown_team.any():  # did you mean; invisible characters shown (qi.store.columns)
        how = "register it first (qi teams)"
        report(
            unknown_team,
            "team",
            lambda: unknown_messages(team, unknown_team, catalogue.teams, "team", how),
        )
    report(measure.eq(""), "measure", "measure is empty: give the measure's id")
    measures = catalogue.measures
    unknown_measure = measure.ne("") & ~measure.isin(measures.index)
    if unknown_measure.any():
        how = "load it into the catalogue first (qi measures)"
        report(
            unknown_measure,
            "measure",
            lambda: unknown_messages(measure, unknown_measure, measures.index, "measure", how),
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
        lambda: "'" + d["period"].astype(str).str.strip() + "' lies in the future: check the year",
    )

    group, broad = _groups(d["group"], measure, known_measure, catalogue, report)

    numerator, num_empty, num_nan = _numbers(d["numerator"])
    report(num_empty, "numerator", "numerator is empty: enter 0 if there were none")
    report(
        num_nan,
        "numerator",
        lambda: "numerator '" + d["numerator"].astype(str).str.strip() + "' is not a number",
    )
    report(numerator < 0, "numerator", "numerator is negative: counts cannot be below 0")
    whole = numerator.notna() & (numerator >= 0) & (numerator % 1 != 0)
    report(
        whole & chart.isin(COUNT_CHARTS),
        "numerator",
        lambda: (
            "numerator " + _fmt(numerator) + " is not a whole number: this measure "
            "counts events or people"
        ),
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
        lambda: "denominator '" + d["denominator"].astype(str).str.strip() + "' is not a number",
    )
    report(denominator < 0, "denominator", "denominator is negative: it cannot be below 0")
    proportion = chart.isin(PROPORTION_CHARTS)
    report(
        proportion & denominator.notna() & (denominator % 1 != 0) & (denominator >= 0),
        "denominator",
        lambda: (
            "denominator " + _fmt(denominator) + " is not a whole number: a "
            "proportion's denominator counts people or records"
        ),
    )
    report(
        proportion & (numerator > denominator),
        "numerator",
        lambda: (
            "numerator "
            + _fmt(numerator)
            + " is above the denominator "
            + _fmt(denominator)
            + ": a proportion cannot exceed its denominator"
        ),
    )
    report(
        chart.isin(NEEDS_DENOMINATOR) & ~proportion & (denominator == 0) & (numerator > 0),
        "denominator",
        lambda: (
            "denominator is 0 but the numerator is "
            + _fmt(numerator)
            + ": events need exposure (bed days, people) above 0"
        ),
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
    _mixed_levels(clean, name, problems)
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
    return clean, limits.listed(problems, name, unlisted)


def _mixed_levels(clean: pd.DataFrame, name: str, problems: list[Problem]) -> None:
    """A broad group and its own detailed categories in one team × measure × month
    would be counted twice when summed to the broad group: report the detailed rows."""
    ok = clean["period"].notna() & clean["group"].notna() & clean["broad_group"].notna()
    rows = clean[ok & (clean["group"] != ALL)]
    if rows.empty:
        return
    broad_row = rows["group"] == rows["broad_group"]
    key = ["team", "measure", "period", "broad_group"]
    has_broad = broad_row.groupby([rows[k] for k in key]).transform("any")
    clash = has_broad & ~broad_row
    problems.extend(
        Problem(
            name,
            int(r),
            "group",
            f"'{g}' is part of '{b}', which this file also gives for the same team, measure "
            "and month: give either the broad group or its categories, not both",
        )
        for r, g, b in zip(
            rows.loc[clash, "row"],
            rows.loc[clash, "group"],
            rows.loc[clash, "broad_group"],
            strict=True,
        )
    )


def _fmt(numbers: pd.Series) -> pd.Series:
    """Numbers as a person would write them (12, not 12.0)."""
    return numbers.map(lambda v: f"{v:g}")


def _some(values: list[str], k: int = 8) -> str:
    shown = ", ".join(repr(v) for v in values[:k])
    return shown + (f" and {len(values) - k} more" if len(values) > k else "") if values else "none"


def _groups(values, measure, known_measure, catalogue, report):
    """Canonical group and broad group of each row; reports the values that map to nothing.

    Worked out once per distinct (measure, group value) pair, then spread to the rows.
    """
    text = values.where(values.notna(), "").astype(str).str.strip()
    report(text.eq(""), "group", f"group is empty: give the group, or '{ALL}' for everyone")
    pairs = pd.MultiIndex.from_arrays([measure.to_numpy(), text.to_numpy()])
    codes, uniques = pd.factorize(pairs)
    aliases = catalogue.aliases.set_index("alias")
    alias_label = aliases["label"].to_dict()
    alias_broad = aliases["broad_group"].to_dict()
    groups_of = catalogue.measures["groups"].to_dict()
    declared = {m: {normalise(g): g for g in gs} for m, gs in groups_of.items()}
    all_key = normalise(ALL)

    group_u, broad_u, message_u = [], [], []
    for m, value in uniques:
        key = normalise(value)
        own = declared.get(m, {})
        label, broad = alias_label.get(key), alias_broad.get(key)
        group = out_broad = message = None
        if key == all_key:
            group = out_broad = ALL
        elif key in own:  # the measure's own spelling of one of its groups
            group = own[key]
            out_broad = own.get(normalise(broad), group) if broad else group
        elif label is not None and normalise(label) in own:
            group = out_broad = own[normalise(label)]
        elif broad is not None and normalise(broad) in own:
            group, out_broad = label, own[normalise(broad)]  # a detailed category
        elif value and m in declared:
            allowed = ", ".join(groups_of[m]) or ALL
            if broad is not None:
                message = (
                    f"group '{value}' is the ethnic group '{broad}', which this measure does "
                    f"not report; allowed: {allowed} or {ALL}"
                )
            else:
                message = (
                    f"group '{value}' is not a known group: use one of {allowed}, {ALL}, or an "
                    "NHS ethnic category (a code A–S, Z or 99, or its name such as "
                    "'Black or Black British - African')"
                )
        group_u.append(group)
        broad_u.append(out_broad)
        message_u.append(message)

    group = pd.Series(np.asarray(group_u, dtype=object)[codes], index=text.index, dtype=object)
    broad = pd.Series(np.asarray(broad_u, dtype=object)[codes], index=text.index, dtype=object)
    messages = pd.Series(np.asarray(message_u, dtype=object)[codes], index=text.index)
    report(messages.notna(), "group", messages)
    return group, broad

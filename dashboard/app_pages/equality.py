"""Equality: each group against the reference group over time, recording completeness
beside it, and a funnel plot across teams; small numbers suppressed (unless the
person's role allows them and they ask)."""

import streamlit as st

import qi
from dashboard import components as ui
from dashboard import reads, session
from qi import words
from qi.screens.equality import reference_group
from qi.series import ALL, LEVELS

snap = reads.snapshot()
ui.require_data(snap.observations)
st.title("Equality")
st.caption(
    "Each group's rate or proportion against the reference group's, month by month, as a "
    "ratio on a log scale: 1× means no gap, above 1× the group's rate is higher. The rules "
    "tell whether a gap is narrowing as a signal, not a guess. Counts from 1 to 7 are "
    "suppressed in the tables unless your role allows them and you ask."
)
levels = list(LEVELS)
e1, e2, e3, e4 = st.columns(4)
level = e1.selectbox("Level", levels, index=levels.index(ui.query_default("level", levels)))
units = snap.units(level)
unit = e2.selectbox("Unit", units, index=units.index(ui.query_default("unit", units)))
measure_ids = snap.measure_ids(level, unit)
names = snap.measures.set_index("id")["name"]
measure = e3.selectbox(
    "Measure", measure_ids, index=measure_ids.index(ui.query_default("measure", measure_ids)),
    format_func=lambda m: names[m],
)  # fmt: skip
rule_keys = list(qi.RULE_SETS)
rules = st.sidebar.selectbox(
    "Rules", rule_keys, index=rule_keys.index(ui.query_default("rules", rule_keys, "anhoej")),
    format_func=lambda k: qi.RULE_SETS[k].label,
)  # fmt: skip
groups = snap.groups(level, unit, measure)
reference = e4.selectbox(
    "Reference group", groups,
    index=groups.index(reference_group(groups, st.query_params.get("reference"))) if groups else 0,
)  # fmt: skip
st.query_params.update(
    {"level": level, "unit": unit, "measure": measure, "reference": reference, "rules": rules}
)
view = reads.equality_view(
    level=level, unit=unit, measure=measure, rules=rules, reference=reference
)  # fmt: skip
unsuppressed = session.small_numbers(view.teams, key="equality_small")

st.subheader(f"Gap to {ui.literal(view.reference)}")
if view.gap_result is None:
    st.info("Too few events to compare groups month by month; see the pooled table below.")
else:
    ui.chart(view.gap_figure(small_numbers=unsuppressed))
ui.table(
    view.latest_table(small_numbers=unsuppressed),
    words.gap_columns(words.decimals_for(snap.measure(measure).unit)),
)
ui.table_downloads(
    view.data(small_numbers=unsuppressed), label="Gaps by month",
    stem=f"equality-{measure}-{unit}".replace(" ", "_").replace("/", "_"),
)  # fmt: skip

st.subheader("Recording completeness")
ui.chart(view.recording_figure(small_numbers=unsuppressed))

st.subheader("Funnel plot across teams, last 12 months")
fgroups = [ALL, *groups]
fgroup = st.selectbox(
    "Group in the funnel", fgroups, index=fgroups.index(ui.query_default("funnel", fgroups, ALL))
)
ui.in_url("funnel", fgroup, ALL)
funnel = reads.team_funnel(measure=measure, group=fgroup)
if funnel is not None:
    ui.chart(funnel.figure(small_numbers=unsuppressed), key_heading="Teams on the funnel plot")
else:
    st.info("A funnel plot needs at least three teams with data.")

st.subheader("Counts by group, last 6 months")
# counts as whole numbers, "*" where hidden (text throughout: one type per column)
count_word = words.Column("", "", "count")
st.dataframe(view.count_table(small_numbers=unsuppressed).map(lambda v: words.cell(v, count_word)))
if unsuppressed:
    st.caption("Small numbers shown as counted: do not share this table outside your role.")
else:
    st.caption("* suppressed: a count from 1 to 7, or a cell that would let one be worked out.")

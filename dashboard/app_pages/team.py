"""Team charts: each measure's run or control chart, stratified by group, with the
team's change cycles on it and every signal explained."""

import pandas as pd
import streamlit as st

import qi
from dashboard import state
from qi import board, exports, images, mdc
from qi.access import AccessDenied
from qi.figures import spc_figure
from qi.store import StoreError

url, version = state.current()
store = state.store()
who = state.principal()
measures = state.measures(url, version).set_index("id")
obs = state.observations(url, version)
state.require_data(obs)

levels = list(board.LEVELS)
level = state.query_default("level", levels)
st.title("Charts")
c1, c2, c3 = st.columns([1, 2, 2])
level = c1.selectbox("Level", levels, index=levels.index(level))
units = sorted(obs[level].unique())
unit = c2.selectbox("Unit", units, index=units.index(state.query_default("unit", units)))
measure_ids = [m for m in measures.index if m in set(obs.loc[obs[level] == unit, "measure"])]
measure = c3.selectbox(
    "Measure",
    measure_ids,
    index=measure_ids.index(state.query_default("measure", measure_ids)),
    format_func=lambda m: measures.loc[m, "name"],
)
info = measures.loc[measure]

rule_keys = list(qi.RULE_SETS)
s1, s2, s3 = st.columns([1, 2, 1])
rules = s1.selectbox(
    "Rules",
    rule_keys,
    index=rule_keys.index(state.query_default("rules", rule_keys, "mdc")),
    format_func=lambda k: qi.RULE_SETS[k].label,
)
series = board.series_frame(obs[obs[level] == unit], measures.reset_index(), level=level)
series = series[series["measure"] == measure]
available = sorted(series["group"].unique(), key=lambda g: (g != "All", g))
default_groups = state.query_list("group", available) or available
groups = s2.multiselect("Groups", available, default=default_groups)
facet = s3.radio("Layout", ["Small multiples", "One chart"], horizontal=False) == "Small multiples"
st.query_params.update({"level": level, "unit": unit, "measure": measure, "rules": rules})
st.query_params["group"] = groups

cycles = state.pdsa(url, version)
cycles = (
    cycles[(cycles["team"] == unit) & (cycles["measure"] == measure)]
    if level == "team"
    else cycles.iloc[:0]
)
months = sorted(series["period"].dt.strftime("%Y-%m").unique())
suggested = sorted(cycles["start"].dt.strftime("%Y-%m").unique()) if len(cycles) else []
phase_starts = st.multiselect(
    "New phase from (for example the month a change started)",
    months,
    default=[m for m in state.query_list("phase", months)],
    help="Each month chosen starts a new phase with its own centre line and limits. "
    + (f"Change cycles of this team start in: {', '.join(suggested)}." if suggested else ""),
)
st.query_params["phase"] = phase_starts

data = series[series["group"].isin(groups)].copy()
if data.empty:
    st.info("No data for this choice.")
    st.stop()
data["phase"] = board.phases_from(data["period"], pd.to_datetime(phase_starts))
needs_n = data["denominator"].notna().any()
if needs_n:
    data = data[data["denominator"] > 0]  # a closed ward's month has no value
result = qi.spc(
    data,
    x="period",
    y="numerator",
    n="denominator" if needs_n else None,
    by="group",
    chart=info["chart"],
    multiply=float(info["multiplier"]),
    phase="phase",
    rules=rules,
    improvement=info["improvement"],
    target=None if pd.isna(info["target"]) else float(info["target"]),
)
notes = store.annotations(team=unit, measure=measure) if level == "team" else None
actions = store.actions()
actions = (
    actions[(actions["team"] == unit) & (actions["measure"] == measure)]
    if level == "team"
    else None
)
figure = spc_figure(
    result.points,
    group="group",
    title=f"{info['name']} — {unit}",
    y_title=info["unit"],
    improvement=info["improvement"],
    cycles=cycles if len(cycles) else None,
    annotations=notes,
    actions=actions,
    facet=facet,
    rules=result.rules,
)
st.plotly_chart(figure, theme=None)
icons = (
    result
    if rules == "mdc"
    else qi.spc(data, x="period", y="numerator", n="denominator" if needs_n else None,
                by="group", chart=info["chart"], multiply=float(info["multiplier"]),
                phase="phase", rules="mdc", improvement=info["improvement"],
                target=None if pd.isna(info["target"]) else float(info["target"]))
)  # fmt: skip
unsuppressed = state.small_numbers(obs.loc[obs[level] == unit, "team"].unique(), key="team_small")
chart_table = exports.chart_data(
    result.points.assign(unit=unit, measure=measure), data.assign(unit=unit),
    improvement=info["improvement"],
    summary=mdc.summary(icons).assign(unit=unit, measure=measure),
    threshold=0 if unsuppressed else exports.THRESHOLD, rules=result.rules,
)  # fmt: skip
stem = f"{measure}-{unit}".replace(" ", "_").replace("/", "_")
d1, d2, d3, d4 = st.columns(4)
# built when pressed (on Streamlit's download thread): the images need the browser
d1.download_button(
    "Chart (PNG)", data=lambda: images.image(figure, "png", width=1200, scale=2),
    file_name=f"{stem}.png", mime="image/png",
)  # fmt: skip
d2.download_button(
    "Chart (SVG)", data=lambda: images.image(figure, "svg", width=1200),
    file_name=f"{stem}.svg", mime="image/svg+xml",
)  # fmt: skip
state.table_downloads(chart_table, label="Data", stem=stem, into=(d3, d4))
st.caption(
    "The data: each point with its signal and each series' variation and assurance; "
    + ("small numbers shown as counted (your choice above)." if unsuppressed else
       "counts from 1 to 7 (and any that would give one back) shown as *.")
)  # fmt: skip
with st.expander("How to read this chart"):
    st.text(qi.RULE_SETS[rules].description)

st.subheader("Summary by group and phase")
st.dataframe(result.summary, hide_index=True)
if len(cycles):
    st.subheader("Change ideas and PDSA cycles on this chart")
    st.dataframe(
        cycles[["change_idea", "cycle", "stage", "start", "end", "learning", "lived_experience"]],
        hide_index=True,
    )

if actions is not None and len(actions):
    st.subheader("Decisions and actions on this measure")
    st.dataframe(actions.drop(columns=["team", "measure"]), hide_index=True)

if level == "team" and who.may("edit_changes"):
    with st.form("annotate", clear_on_submit=True):
        st.write("Add a note to a point of this chart (shown as typed).")
        n1, n2 = st.columns([1, 3])
        month = n1.selectbox("Month", months[::-1])
        note = n2.text_input("Note", max_chars=500)
        if st.form_submit_button("Save note") and note.strip():
            try:
                store.add_annotation(
                    team=unit, measure=measure, period=month, text=note, author=who.username
                )
                st.success("Note saved.")
                st.rerun()
            except (StoreError, AccessDenied) as exc:
                st.error(state.literal(exc))

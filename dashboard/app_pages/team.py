"""Team charts: each measure's run or control chart, stratified by group, with the
team's change cycles on it and every signal explained."""

import pandas as pd
import streamlit as st

import qi
from dashboard import components as ui
from dashboard import reads, session
from qi import images, phasing, words
from qi.access import AccessDenied
from qi.series import LEVELS
from qi.store import StoreError

snap = reads.snapshot()
store = session.store()
who = session.principal()
ui.require_data(snap.observations)

levels = list(LEVELS)
level = ui.query_default("level", levels)
st.title("Charts")
c1, c2, c3 = st.columns([1, 2, 2])
level = c1.selectbox("Level", levels, index=levels.index(level))
units = snap.units(level)
unit = c2.selectbox("Unit", units, index=units.index(ui.query_default("unit", units)))
measure_ids = snap.measure_ids(level, unit)
names = snap.measures.set_index("id")["name"]
measure = c3.selectbox(
    "Measure",
    measure_ids,
    index=measure_ids.index(ui.query_default("measure", measure_ids)),
    format_func=lambda m: names[m],
)

rule_keys = list(qi.RULE_SETS)
s1, s2, s3 = st.columns([1, 2, 1])
rules = s1.selectbox(
    "Rules",
    rule_keys,
    index=rule_keys.index(ui.query_default("rules", rule_keys, "mdc")),
    format_func=lambda k: qi.RULE_SETS[k].label,
)
# every group and month with data, to choose from (the chart itself comes below)
everything = reads.team_chart(level=level, unit=unit, measure=measure, rules=rules, groups=[])
available = list(everything.available)
# drawn by default: the groups with enough points shown to this reader (the rest, mostly
# small numbers, one click away in the list)
readable = list(
    reads.team_chart(
        level=level, unit=unit, measure=measure, rules=rules, groups=available
    ).readable_groups(small_numbers=bool(st.session_state.get("team_small")))
)
groups = s2.multiselect(
    "Groups", available, default=ui.query_list("group", available) or readable,
    help="Groups whose points are mostly hidden as small numbers are not drawn at first: "
    "add them here.",
)  # fmt: skip
layouts = ["Small multiples", "One chart"]
layout = s3.radio(
    "Layout", layouts, index=layouts.index(ui.query_default("layout", layouts)), horizontal=False
)
facet = layout == "Small multiples"
st.query_params.update({"level": level, "unit": unit, "measure": measure, "rules": rules})
ui.in_url("layout", layout, layouts[0])
ui.in_url("group", groups, readable)

months = [f"{m:%Y-%m}" for m in everything.months]
suggested = [f"{m:%Y-%m}" for m in everything.suggested_starts]
phase_starts = st.multiselect(
    "New phase from (for example the month a change started)",
    months,
    default=list(ui.query_list("phase", months)),
    help="Each month chosen starts a new phase with its own centre line and limits. "
    + (f"Change cycles of this team start in: {', '.join(suggested)}." if suggested else ""),
)
st.query_params["phase"] = phase_starts
recorded = level == "team" and st.toggle(
    "Recorded phases", value=st.query_params.get("recorded") != "0",
    help="A new phase at each phase recorded from a change (below the chart), for its group.",
)  # fmt: skip
if level == "team":
    ui.in_url("recorded", "1" if recorded else "0", "1")

view = reads.team_chart(
    level=level, unit=unit, measure=measure, rules=rules, groups=groups, starts=phase_starts,
    recorded=recorded,
)  # fmt: skip
if view.empty:
    st.info("No data for this choice.")
    st.stop()
unsuppressed = session.small_numbers(view.teams, key="team_small")
if view.drawn_as:
    st.info(view.drawn_as)
figure = view.figure(facet=facet, small_numbers=unsuppressed, width=ui.chart_width())
ui.chart(figure, key_heading="Change cycles and actions on the chart")
hidden = view.hidden_points(small_numbers=unsuppressed)
if hidden:
    st.caption(
        f"{hidden} point(s) from counts of 1 to 7 (or that would give one back) are left out "
        "of the chart, as the data files leave them out"
        + ("; tick “Show small numbers” above to see them." if session.may_see_small_numbers(
            view.teams) else ".")
    )  # fmt: skip
chart_table = view.data(threshold=0 if unsuppressed else None)
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
ui.table_downloads(chart_table, label="Data", stem=stem, into=(d3, d4))
st.caption(
    "The data: each point with its signal and each series' variation and assurance; "
    + ("small numbers shown as counted (your choice above)." if unsuppressed else
       "counts from 1 to 7 (and any that would give one back) shown as *, and their points "
       "left out of the chart.")
)  # fmt: skip
with st.expander("How to read this chart"):
    st.text(qi.RULE_SETS[rules].description)

st.subheader("Summary by group and phase")
ui.table(view.result.summary, words.summary_columns(rules, view.decimals))
if level == "team" and (len(view.offers) or len(view.phases)):
    st.subheader("Phases tied to changes")
    may_record = who.may("edit_changes")
    for o in view.offers.itertuples(index=False):
        st.info(
            f"{ui.literal(o.group)}: a new phase from {o.start:%B %Y} is offered: "
            f"{ui.literal(o.reason)}."
        )
        if may_record and st.button(
            f"Record this phase ({ui.literal(o.group)}, from {o.start:%b %Y})",
            key=f"record_{o.group}_{o.start:%Y-%m}",
        ):
            try:
                phasing.accept(
                    store, team=unit, measure=measure, group=o.group, start=o.start,
                    rules=rules, user=who.username,
                )  # fmt: skip
                ui.flash(f"Phase from {o.start:%B %Y} recorded for {o.group}.")
                st.rerun()
            except (StoreError, AccessDenied) as exc:
                st.error(ui.literal(exc))
    if len(view.phases):
        st.caption("Recorded phases (new centre line and limits from each, for its group):")
        ui.table(view.phases, phasing.WORDS)
    if may_record and len(view.phases):
        by_id = view.phases.set_index("id")
        with st.form("withdraw_phase"):
            chosen = st.selectbox(
                "Withdraw a recorded phase (it stays in the audit log)", by_id.index.tolist(),
                format_func=lambda i: f"{by_id.loc[i, 'group']} from "
                f"{pd.Timestamp(by_id.loc[i, 'start']):%b %Y}",
            )  # fmt: skip
            if st.form_submit_button("Withdraw…"):
                st.session_state["phase_pending"] = int(chosen)
        pending = st.session_state.get("phase_pending")
        if pending is not None and pending in by_id.index:
            row = by_id.loc[pending]
            st.warning(
                f"Withdraw the phase of {ui.literal(row['group'])} from "
                f"{pd.Timestamp(row['start']):%B %Y} (recorded by "
                f"{ui.literal(row['created_by'])})? The chart goes back to the lines without it."
            )
            yes, no, _ = st.columns([1, 1, 4])
            if yes.button("Yes, withdraw the phase", type="primary"):
                del st.session_state["phase_pending"]
                try:
                    store.withdraw_phase(pending, user=who.username)
                    ui.flash("Phase withdrawn.")
                    st.rerun()
                except (StoreError, AccessDenied) as exc:
                    st.error(ui.literal(exc))
            if no.button("Cancel", key="phase_cancel"):
                del st.session_state["phase_pending"]
                st.rerun()

if len(view.cycles):
    st.subheader("Change ideas and PDSA cycles on this chart")
    ui.table(view.cycles, words.CYCLE_COLUMNS[2:])

if len(view.actions):
    st.subheader("Decisions and actions on this measure")
    ui.table(view.actions, words.ACTION_COLUMNS[2:])

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
                ui.flash(f"Note saved on {month}.")
                st.rerun()
            except (StoreError, AccessDenied) as exc:
                st.error(ui.literal(exc))
    if len(view.notes):
        notes = view.notes.set_index("id")
        chosen = st.selectbox(
            "Change a note", notes.index.tolist(),
            format_func=lambda i: f"{pd.Timestamp(notes.loc[i, 'period']):%b %Y}: "
            f"{notes.loc[i, 'text'][:60]}",
        )  # fmt: skip
        with st.form(f"edit_note_{chosen}"):
            text = st.text_input("New text", value=notes.loc[chosen, "text"], max_chars=500)
            if st.form_submit_button("Save the change"):
                try:
                    store.update_annotation(int(chosen), text=text, user=who.username)
                    ui.flash("Note changed.")
                    st.rerun()
                except (StoreError, AccessDenied) as exc:
                    st.error(ui.literal(exc))

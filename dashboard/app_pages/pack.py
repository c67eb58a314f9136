"""Board pack: choose teams, measures and month, type the commentary, download the PDF."""

import pandas as pd
import streamlit as st

import qi
from dashboard import components as ui
from dashboard import reads, session
from qi import exports, report

snap = reads.snapshot()
store = session.store()
st.title("Board pack")
st.caption(
    "A PDF for the board: cover, summary matrix with the Making Data Count icons, a page "
    "per chart with its change cycles and where its data came from, the equality section, "
    "data completeness and your commentary. It is built when you press the button "
    "(about half a second a chart)."
)
teams = snap.units("team")
names = snap.measures.set_index("id")["name"].to_dict()
measure_ids = snap.measure_ids()
months = [f"{m:%Y-%m}" for m in snap.months()][::-1]

c1, c2 = st.columns(2)
chosen_teams = c1.multiselect("Teams", teams, default=ui.query_list("team", teams) or teams)
chosen_measures = c2.multiselect(
    "Measures", measure_ids, default=ui.query_list("measure", measure_ids) or measure_ids,
    format_func=names.get,
)  # fmt: skip
p1, p2, p3 = st.columns(3)
# the latest complete month by default (every team expected has sent it); a later month
# is offered, marked as provisional
complete = snap.latest_complete_month()
provisional = {f"{m:%Y-%m}": t for m, t in snap.provisional_months().items()}
default_month = f"{complete:%Y-%m}" if complete is not None else months[0]
month = p1.selectbox(
    "Month reported", months, index=months.index(ui.query_default("month", months, default_month)),
    format_func=lambda m: f"{m} (provisional: {provisional[m]} sent)" if m in provisional else m,
)  # fmt: skip
rule_keys = list(qi.RULE_SETS)
rules = p2.selectbox(
    "Chart rules", rule_keys, index=rule_keys.index(ui.query_default("rules", rule_keys, "mdc")),
    format_func=lambda k: qi.RULE_SETS[k].label,
)  # fmt: skip
phase_keys = list(report.PHASES)
phases = p3.radio(
    "Phases", phase_keys, horizontal=True,
    index=phase_keys.index(ui.query_default("phases", phase_keys, "none")),
    format_func={"none": "One phase", "changes": "New phase at each change idea"}.get,
)  # fmt: skip
title = st.text_input(
    "Title", value=st.query_params.get("title", "Board pack")[:120], max_chars=120
)
st.query_params.update({"month": month, "rules": rules, "phases": phases, "title": title})
commentary = st.text_area(
    "Commentary (printed as typed, on the last page)", height=160, max_chars=20000
)
st.query_params["team"] = chosen_teams
st.query_params["measure"] = chosen_measures

# the matrix as the pack prints it: the chosen teams and measures, up to the month reported
shown = reads.pack_preview(teams=chosen_teams, measures=chosen_measures, month=month)
charts = len(shown)
st.subheader(f"In the pack: {charts} charts")
if not charts:
    st.info("Choose at least one team and measure with data.")
    st.stop()


def build() -> bytes:
    # runs on its own thread when the button is pressed (Streamlit's deferred download)
    return report.build_pack(
        store, teams=chosen_teams, measures=chosen_measures, period=month, rules=rules,
        phases=phases, commentary=commentary, title=title or "Board pack",
    )  # fmt: skip


st.download_button(
    "Build and download the board pack (PDF)",
    data=build,
    file_name=f"board-pack-{month}.pdf",
    mime="application/pdf",
    type="primary",
    icon=":material/picture_as_pdf:",
)
st.caption("Latest month of each chart in the pack (group All), as the board page shows it.")
st.dataframe(
    shown[["unit", "measure_name", "period", "value", "target", "variation_text",
           "assurance_text"]],
    hide_index=True,
    column_config={
        "unit": "Team", "measure_name": "Measure",
        "period": st.column_config.DateColumn("Latest month", format="MMM YYYY"),
        "value": st.column_config.NumberColumn("Latest value", format="%.1f"),
        "target": st.column_config.NumberColumn("Target", format="%.1f"),
        "variation_text": "Variation", "assurance_text": "Assurance",
    },
)  # fmt: skip
data = exports.matrix_data(shown)
ui.table_downloads(
    data, label="Summary matrix", stem=f"summary-matrix-{pd.Timestamp.now():%Y-%m-%d}"
)
st.caption(
    "Counts from 1 to 7 (and any that would give one back) are shown as * in the data "
    "files; text that a spreadsheet would run as a formula is written as text."
)

"""Board pack: choose teams, measures and month, type the commentary, download the PDF."""

import pandas as pd
import streamlit as st

import qi
from dashboard import components as ui
from dashboard import reads, session
from qi import exports, images, report, words

# the browser that draws the charts starts now, while the pack is being chosen (a few
# seconds of the first pack otherwise); one per server process, kept for the next pack
images.start()
snap = reads.snapshot()
store = session.store()
st.title("Board pack")
st.caption(
    "A PDF for the board: cover, summary matrix with the Making Data Count icons, a page "
    "per chart with its change cycles and where its data came from, the equality section, "
    "data completeness, your commentary and how the pack was made. It is built when you "
    "press the button (about a fifth of a second a chart), with a progress bar."
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
    format_func={"none": "One phase", "changes": "New phase at each change idea",
                 "recorded": "Recorded phases"}.get,
)  # fmt: skip
title = st.text_input(
    "Title", value=st.query_params.get("title", "Board pack")[:120], max_chars=120
)
# the month is always written (a link to a pack names its month); the rest only when
# they differ from what the page would choose anyway
st.query_params["month"] = month
ui.in_url("rules", rules, "mdc")
ui.in_url("phases", phases, "none")
ui.in_url("title", title, "Board pack")
commentary = st.text_area(
    "Commentary (printed as typed, on the last page)", height=160, max_chars=20000
)
ui.in_url("team", chosen_teams, teams)
ui.in_url("measure", chosen_measures, measure_ids)

# the matrix as the pack prints it: the chosen teams and measures, up to the month reported
shown = reads.pack_preview(teams=chosen_teams, measures=chosen_measures, month=month)
left_out = shown[~shown["charted"]]
shown = shown[shown["charted"]]
charts = len(shown)
st.subheader(f"In the pack: {charts} chart{'' if charts == 1 else 's'}")
if len(left_out):
    series = [ui.literal(f"{r.unit} — {r.measure_name}") for r in left_out.itertuples()]
    st.caption(
        "Left out, with nothing to chart yet (an event that has not happened): "
        + ("; ".join(series) if len(series) <= 5 else f"{len(series)} series")
        + "."
    )
if not charts:
    st.info("Choose at least one team and measure with data to chart.")
    st.stop()

#: The last pack built in this session: (the choices it was built for, its PDF bytes).
BUILT = "pack_built"
choices = (tuple(chosen_teams), tuple(chosen_measures), month, rules, phases, title, commentary)
if st.button(
    "Build the board pack (PDF)", type="primary", icon=":material/picture_as_pdf:",
    help=f"About a fifth of a second a chart: {charts} charts.",
):  # fmt: skip
    bar = st.progress(0.0, text="Reading the data")

    def progress(done: float, what: str) -> None:
        bar.progress(min(max(float(done), 0.0), 1.0), text=what)

    try:
        pdf = report.build_pack(
            store, teams=chosen_teams, measures=chosen_measures, period=month, rules=rules,
            phases=phases, commentary=commentary, title=title or "Board pack", progress=progress,
            made_by=session.principal().label,
        )  # fmt: skip
    except Exception as error:  # said on the page (no browser, a bad choice); nothing stored
        bar.empty()
        st.session_state.pop(BUILT, None)
        st.error(f"The pack could not be built: {ui.literal(error)}")
    else:
        st.session_state[BUILT] = (choices, pdf)
built = st.session_state.get(BUILT)
if built is not None and built[0] == choices:
    st.download_button(
        "Download the board pack (PDF)", data=built[1], file_name=f"board-pack-{month}.pdf",
        mime="application/pdf", icon=":material/download:",
    )  # fmt: skip
elif built is not None:
    st.caption("The choices changed since the last pack was built: build it again.")
st.caption("Latest month of each chart in the pack (group All), as the board page shows it.")
ui.table(shown, [
    words.Column("unit", "Team"), words.Column("measure_name", "Measure"),
    words.Column("period", "Latest month", "month"),
    words.Column("value", "Latest value", "number"), words.Column("target", "Target", "number"),
    words.Column("variation_text", "Variation"), words.Column("assurance_text", "Assurance"),
])  # fmt: skip
data = exports.matrix_data(shown)
ui.table_downloads(
    data, label="Summary matrix", stem=f"summary-matrix-{pd.Timestamp.now():%Y-%m-%d}"
)
st.caption(
    "Counts from 1 to 7 (and any that would give one back) are shown as * in the data "
    "files; text that a spreadsheet would run as a formula is written as text."
)

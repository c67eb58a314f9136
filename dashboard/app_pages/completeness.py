"""Data completeness: which team has submitted which month, what is late, what was corrected."""

import streamlit as st

from dashboard import components as ui
from dashboard import reads, session
from qi import words
from qi.access import AccessDenied
from qi.store import StoreError

st.title("Data completeness")
days = list(range(1, 29))
due_day = st.sidebar.selectbox(
    "Data due by day of the next month", days, index=days.index(int(ui.query_default(
        "due", [str(d) for d in days], "15"))),
)  # fmt: skip
ui.in_url("due", str(due_day), "15")
view = reads.completeness(due_day=int(due_day))
totals = view.totals
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Team-months on time", totals["on time"])
c2.metric("Late", totals["late"])
c3.metric("Missing", totals["missing"])
c4.metric("Not expected", totals["not expected"])
c5.metric("Corrected", totals["corrected"])

st.subheader("Each team's months, newest first")
st.caption(
    "Green: on time. Amber: late. Red: missing. Grey: not due yet or not expected. "
    "“corrected” marks a month sent again."
)
st.dataframe(view.grid_styled(), width="stretch")
st.subheader("Late, missing and corrected")
ui.table(view.exceptions(), words.STATUS_COLUMNS)

st.subheader("Teams not expected to report")
snap = reads.snapshot()
st.caption(
    "A team not expected to send a month (a ward closed for refurbishment, a team that "
    "stopped) does not hold its trust's or the collaborative's month back from being "
    "complete, and is not counted as missing."
)
if len(snap.not_expected):
    st.dataframe(snap.not_expected.drop(columns=["id"]), hide_index=True)
who = session.principal()
if who.may("edit_changes"):
    with st.form("not_expected", clear_on_submit=True):
        g1, g2, g3 = st.columns([2, 1, 1])
        team = g1.selectbox("Team", snap.team_names())
        start = g2.text_input("From month (YYYY-MM)")
        end = g3.text_input("To month (YYYY-MM, empty: until further notice)")
        g4, g5 = st.columns([1, 2])
        measure_ids = ["", *snap.measures["id"]]
        names = dict(zip(snap.measures["id"], snap.measures["name"], strict=True))
        measure = g4.selectbox(
            "Measure", measure_ids, format_func=lambda m: names.get(m, "Every measure")
        )
        reason = g5.text_input("Reason", max_chars=500)
        if st.form_submit_button("Mark not expected"):
            try:
                session.store().mark_not_expected(
                    team, start=start, end=end or None, measure=measure or None, reason=reason,
                    user=who.username,
                )  # fmt: skip
                st.success("Saved.")
                st.rerun()
            except (StoreError, AccessDenied) as exc:
                st.error(ui.literal(exc))

"""Data completeness: which team has submitted which month, what is late, what was corrected."""

import datetime as dt

import streamlit as st

from dashboard import state
from qi.submissions import status_grid, submission_status

url, version = state.current()
store = state.store()
st.title("Data completeness")
due_day = st.sidebar.number_input("Data due by day of the next month", 1, 28, 15)
status = submission_status(
    store.upload_slices(),
    state.teams(url, version)["team"],
    due_day=int(due_day),
    today=dt.datetime.now(dt.UTC).date(),
)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Team-months on time", int((status["status"] == "on time").sum()))
c2.metric("Late", int((status["status"] == "late").sum()))
c3.metric("Missing", int((status["status"] == "missing").sum()))
c4.metric("Corrected", int(status["corrected"].sum()))

st.subheader("Each team's months")
st.dataframe(status_grid(status))
st.subheader("Late, missing and corrected")
st.dataframe(
    status[(status["status"] != "on time") | status["corrected"]].sort_values(
        ["period", "team"], ascending=[False, True]
    ),
    hide_index=True,
)

"""Data completeness: which team has submitted which month, what is late, what was corrected."""

import streamlit as st

from dashboard import reads

st.title("Data completeness")
due_day = st.sidebar.number_input("Data due by day of the next month", 1, 28, 15)
view = reads.completeness(due_day=int(due_day))
totals = view.totals
c1, c2, c3, c4 = st.columns(4)
c1.metric("Team-months on time", totals["on time"])
c2.metric("Late", totals["late"])
c3.metric("Missing", totals["missing"])
c4.metric("Corrected", totals["corrected"])

st.subheader("Each team's months")
st.dataframe(view.grid())
st.subheader("Late, missing and corrected")
st.dataframe(view.exceptions(), hide_index=True)

"""Home page: what the dashboard is, and a first chart on a small built-in example."""

import pandas as pd
import streamlit as st

import qi

st.title("Quality improvement for equality")
st.write(
    "Run charts and SPC charts, stratified by group, for QI teams, boards and facilitators. "
    "Upload, the team and board views and the workshop arrive with the next issues; "
    "this page shows the engine on a small example."
)

example = pd.DataFrame(
    {
        "month": pd.date_range("2024-01-01", periods=24, freq="MS"),
        "restraints": [9, 7, 8, 10, 6, 9, 8, 7, 9, 11, 8, 7, 5, 4, 5, 3, 4, 5, 4, 3, 4, 5, 3, 4],
        "bed_days": [1500] * 24,
    }
)
result = qi.spc(example, x="month", y="restraints", n="bed_days", chart="u", multiply=1000)
st.subheader("Restraint incidents per 1,000 occupied bed days (U chart)")
st.line_chart(result.points.set_index("x")[["y", "cl", "lcl", "ucl"]])
st.dataframe(result.summary)

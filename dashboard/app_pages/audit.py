"""Audit log: every change, sign-in and refused sign-in, with who and when (facilitators)."""

import streamlit as st

from dashboard import components as ui
from dashboard import session

store = session.store()
st.title("Audit log")
session.refusal(session.principal(), "read_audit")
st.caption(
    "Every upload, rollback, change-log edit, note, action and change to people and "
    "their roles, with who made it and when (UTC); sign-ins and refused sign-ins too. "
    "Newest first. Nothing here can be edited."
)
log = store.audit_log().sort_values("id", ascending=False, ignore_index=True)
f1, f2 = st.columns(2)
actors = sorted(log["actor"].unique())
actions = sorted(log["action"].unique())
chosen_actors = f1.multiselect("Who", actors, default=ui.query_list("actor", actors))
chosen_actions = f2.multiselect("What", actions, default=ui.query_list("action", actions))
st.query_params["actor"] = chosen_actors
st.query_params["action"] = chosen_actions
if chosen_actors:
    log = log[log["actor"].isin(chosen_actors)]
if chosen_actions:
    log = log[log["action"].isin(chosen_actions)]
st.metric("Entries shown", len(log))
st.dataframe(
    log,
    hide_index=True,
    column_config={
        "id": None,
        "at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "actor": st.column_config.TextColumn("Who"),
        "action": st.column_config.TextColumn("What"),
        "entity": st.column_config.TextColumn("On"),
        "entity_id": st.column_config.TextColumn("Which"),
        "detail": st.column_config.TextColumn("Detail"),
    },
)

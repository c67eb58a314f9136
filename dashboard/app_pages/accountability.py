"""Accountability: owners and reviews, board decisions and actions, whether gains hold."""

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import state
from qi import board
from qi.access import AccessDenied
from qi.accountability import changes_from, holding_gains, overdue_actions, review_status
from qi.store import StoreError, UploadRejected, problems_frame

url, version = state.current()
store = state.store()
who = state.principal()
today = dt.datetime.now(dt.UTC).date()
st.title("Accountability")

st.header("Are the gains holding?")
series = board.series_frame(state.observations(url, version), state.measures(url, version))
cycles = state.pdsa(url, version)
gains = holding_gains(series, changes_from(cycles))
only_risk = st.toggle("Only improvements at risk", value=st.query_params.get("risk") == "1")
st.query_params["risk"] = "1" if only_risk else "0"
shown = gains[gains["status"] == "at risk"] if only_risk else gains
st.dataframe(
    shown,
    hide_index=True,
    column_config={
        "start": st.column_config.DateColumn("Change started", format="MMM YYYY"),
        "improved_from": st.column_config.DateColumn("Improved from", format="MMM YYYY"),
        "concern_from": st.column_config.DateColumn("Concern from", format="MMM YYYY"),
    },
)
ideas = cycles.drop_duplicates("change_idea_id")
if len(ideas):
    share = (ideas["lived_experience"] == "co-designed").mean()
    st.metric("Change ideas co-designed with people with lived experience", f"{share:.0%}")

st.header("Owners and reviews")
reviews = review_status(store.owners(), store.actions(), today=today)
st.metric("Measures overdue for review", int(reviews["overdue"].sum()))
st.dataframe(reviews, hide_index=True)

st.header("Decisions and actions")
actions = store.actions()
late = overdue_actions(actions, today=today)
if len(late):
    st.warning(f"{len(late)} action(s) overdue.")
st.dataframe(actions, hide_index=True)

if not who.may("edit_changes"):
    st.stop()
teams = state.teams(url, version)["team"].tolist()
measures = state.measures(url, version)
with st.form("add_action", clear_on_submit=True):
    st.write("Record a decision or action")
    a1, a2, a3 = st.columns(3)
    team = a1.selectbox("Team", teams)
    measure = a2.selectbox("Measure", measures["id"])
    raised_by = a3.radio("Raised by", ["board", "team"], horizontal=True)
    decision = st.text_input("Decision")
    action = st.text_input("Action")
    b1, b2, b3 = st.columns(3)
    period = b1.date_input("Month reviewed", value=today.replace(day=1))
    owner = b2.text_input("Owner (a role)")
    due = b3.date_input("Due", value=None)
    if st.form_submit_button("Save"):
        row = pd.DataFrame(
            [{"team": team, "measure": measure, "period": period.strftime("%Y-%m"),
              "raised_by": raised_by, "decision": decision, "action": action, "owner": owner,
              "due": due.isoformat() if due else "", "done": ""}]
        )  # fmt: skip
        try:
            store.add_actions(row, user=who.username)
            st.success("Saved.")
            st.rerun()
        except UploadRejected as exc:
            st.error("Not saved:")
            st.dataframe(problems_frame(exc.problems), hide_index=True)
        except (StoreError, AccessDenied) as exc:
            st.error(state.literal(exc))
open_actions = actions[actions["done"].isna()]
if len(open_actions):
    with st.form("complete_action"):
        chosen = st.selectbox(
            "Mark an action done", open_actions["id"].tolist(),
            format_func=lambda i: f"{i}: {open_actions.set_index('id').loc[i, 'action'][:80]}",
        )  # fmt: skip
        if st.form_submit_button("Done"):
            try:
                store.complete_action(int(chosen), user=who.username)
                st.rerun()
            except (StoreError, AccessDenied) as exc:
                st.error(state.literal(exc))

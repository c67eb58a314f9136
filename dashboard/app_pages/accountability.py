"""Accountability: owners and reviews, board decisions and actions, whether gains hold."""

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import components as ui
from dashboard import reads, session
from qi.access import AccessDenied
from qi.store import StoreError, UploadRejected, problems_frame

snap = reads.snapshot()
store = session.store()
who = session.principal()
today = dt.datetime.now(dt.UTC).date()
view = reads.accountability()
st.title("Accountability")

st.header("Are the gains holding?")
only_risk = st.toggle("Only improvements at risk", value=st.query_params.get("risk") == "1")
st.query_params["risk"] = "1" if only_risk else "0"
st.dataframe(
    view.at_risk() if only_risk else view.gains,
    hide_index=True,
    column_config={
        "start": st.column_config.DateColumn("Change started", format="MMM YYYY"),
        "improved_from": st.column_config.DateColumn("Improved from", format="MMM YYYY"),
        "concern_from": st.column_config.DateColumn("Concern from", format="MMM YYYY"),
    },
)
if view.co_designed is not None:
    st.metric(
        "Change ideas co-designed with people with lived experience", f"{view.co_designed:.0%}"
    )

st.header("Owners and reviews")
st.metric("Measures overdue for review", int(view.reviews["overdue"].sum()))
st.dataframe(view.reviews, hide_index=True)

st.header("Decisions and actions")
if len(view.overdue):
    st.warning(f"{len(view.overdue)} action(s) overdue.")
st.dataframe(view.actions, hide_index=True)

if not who.may("edit_changes"):
    st.stop()
teams = snap.team_names()
measures = snap.measures
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
            st.error(ui.literal(exc))
open_actions = view.open_actions
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
                st.error(ui.literal(exc))

owned = view.reviews
if len(owned):
    with st.form("record_review", clear_on_submit=True):
        st.write("Record a review: the owner looked at this measure's chart")
        pairs = list(zip(owned["team"], owned["measure"], strict=True))
        names = snap.measures.set_index("id")["name"]
        r1, r2 = st.columns([3, 1])
        pair = r1.selectbox(
            "Team and measure", range(len(pairs)),
            format_func=lambda i: f"{pairs[i][0]}: {names.get(pairs[i][1], pairs[i][1])}",
        )  # fmt: skip
        on = r2.date_input("Reviewed on", value=today, max_value=today)
        note = st.text_input("Note (optional)", max_chars=500)
        if st.form_submit_button("Record review"):
            team, measure = pairs[int(pair)]
            try:
                store.record_review(team, measure, reviewed_on=on, note=note, user=who.username)
                st.success("Review recorded.")
                st.rerun()
            except (StoreError, AccessDenied) as exc:
                st.error(ui.literal(exc))

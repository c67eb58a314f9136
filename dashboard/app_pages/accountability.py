"""Accountability: owners and reviews, board decisions and actions, whether gains hold."""

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import components as ui
from dashboard import reads, session
from qi import words
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
ui.in_url("risk", "1" if only_risk else "0", "0")
ui.table(
    words.with_measure_names(view.at_risk() if only_risk else view.gains, snap.measures),
    words.GAINS_COLUMNS,
)
if view.co_designed is not None:
    st.metric(
        "Change ideas co-designed with people with lived experience", f"{view.co_designed:.0%}"
    )

st.header("Owners and reviews")
st.metric("Measures overdue for review", int(view.reviews["overdue"].sum()))
ui.table(words.with_measure_names(view.reviews, snap.measures), words.REVIEW_COLUMNS)

st.header("Decisions and actions")
if len(view.overdue):
    st.warning(f"{len(view.overdue)} action(s) overdue.")
ui.table(
    words.with_measure_names(
        view.actions.merge(view.overdue[["id", "days_overdue"]], on="id", how="left"),
        snap.measures,
    ),
    [words.Column("id", "Action number"), *words.ACTION_COLUMNS,
     words.Column("created_by", "Recorded by")],
)  # fmt: skip

if not who.may("edit_changes"):
    st.stop()
teams = snap.team_names()
measures = snap.measures
with st.form("add_action", clear_on_submit=True):
    st.write("Record a decision or action")
    a1, a2, a3 = st.columns(3)
    team = a1.selectbox("Team", teams)
    measure = a2.selectbox(
        "Measure", measures["id"],
        format_func=dict(zip(measures["id"], measures["name"], strict=True)).get,
    )  # fmt: skip
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
            ui.flash("Decision or action saved.")
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
                ui.flash(f"Action {chosen} marked done.")
                st.rerun()
            except (StoreError, AccessDenied) as exc:
                st.error(ui.literal(exc))

if len(view.actions):
    every = view.actions.set_index("id")
    pick = st.selectbox(
        "Change a decision or action", every.index.tolist(),
        format_func=lambda i: f"{i}: {(every.loc[i, 'action'] or every.loc[i, 'decision'])[:80]}",
    )  # fmt: skip
    rec = every.loc[pick]
    with st.form(f"edit_action_{pick}"):
        new_decision = st.text_input("Decision", value=rec["decision"] or "")
        new_action = st.text_input("Action", value=rec["action"] or "")
        c1, c2 = st.columns(2)
        new_owner = c1.text_input("Owner (a role)", value=rec["owner"] or "")
        new_due = c2.date_input(
            "Due", value=None if pd.isna(rec["due"]) else pd.Timestamp(rec["due"]).date()
        )
        if st.form_submit_button("Save the change"):
            try:
                store.update_action(
                    int(pick), decision=new_decision, action=new_action, owner=new_owner,
                    due=new_due, user=who.username,
                )  # fmt: skip
                ui.flash(f"Action {pick} changed.")
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
                ui.flash(f"Review of {names.get(measure, measure)} at {team} recorded.")
                st.rerun()
            except (StoreError, AccessDenied) as exc:
                st.error(ui.literal(exc))

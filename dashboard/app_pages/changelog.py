"""Change log: change ideas and PDSA cycles, and how people with lived experience were
involved; add a cycle here and it appears on the team's charts."""

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import components as ui
from dashboard import reads, session
from qi import words
from qi.access import AccessDenied
from qi.store import StoreError, UploadRejected, problems_frame
from qi.store.changelog import LIVED_EXPERIENCE, PDSA_STAGES

snap = reads.snapshot()
store = session.store()
who = session.principal()


def save_cycle(cycle: dict, said: str) -> None:
    """Store one cycle (a new one, or a change to one: the store keys it by team, measure,
    idea and cycle number) and say ``said`` after the rerun; or say why it was not saved."""
    try:
        store.import_pdsa(pd.DataFrame([cycle]), user=who.username)
        ui.flash(said)
        st.rerun()
    except UploadRejected as exc:
        st.error("Not saved:")
        st.dataframe(problems_frame(exc.problems), hide_index=True)
    except (StoreError, AccessDenied) as exc:
        st.error(ui.literal(exc))

st.title("Change ideas and PDSA cycles")
teams = snap.team_names()
measures = snap.measures

team_filter = st.multiselect("Teams", teams, default=ui.query_list("team", teams))
st.query_params["team"] = team_filter
log = reads.change_log(team_filter)
ui.table(words.with_measure_names(log.cycles, measures), words.CYCLE_COLUMNS)
if len(log.involvement):
    st.caption(
        "Change ideas by involvement of people with lived experience: "
        + ", ".join(f"{k} {v:.0%}" for k, v in log.involvement.items())
    )

if not who.may("edit_changes"):
    st.caption("Your role lets you read the change log, not add to it.")
    st.stop()
st.subheader("Add a cycle")
with st.form("add_cycle", clear_on_submit=True):
    a1, a2, a3 = st.columns(3)
    team = a1.selectbox("Team", teams)
    measure = a2.selectbox(
        "Measure",
        measures["id"],
        format_func=dict(zip(measures["id"], measures["name"], strict=True)).get,
    )
    group = a3.text_input("Group it targets (empty: everyone)")
    idea = st.text_input("Change idea")
    b1, b2, b3, b4 = st.columns(4)
    cycle = b1.number_input("Cycle", min_value=1, value=1, step=1)
    stage = b2.selectbox("Stage", PDSA_STAGES)
    start = b3.date_input("Start", value=dt.date.today())
    end = b4.date_input("End (optional)", value=None)
    learning = st.text_area("What was learnt")
    lived = st.radio("People with lived experience were", LIVED_EXPERIENCE, horizontal=True)
    if st.form_submit_button("Save cycle"):
        save_cycle(
            {"team": team, "measure": measure, "group": group, "change_idea": idea,
             "cycle": str(int(cycle)), "stage": stage, "start": start.isoformat(),
             "end": end.isoformat() if end else "", "learning": learning,
             "lived_experience": lived},
            f"Cycle {int(cycle)} ({stage}) of “{idea}” saved.",
        )  # fmt: skip

package = snap.change_package
if len(log.cycles) and len(package):
    st.subheader("Tag a change idea with a change of the package")
    ideas = log.cycles.drop_duplicates("change_idea_id").reset_index(drop=True)
    tags = ["", *package["tag"]]
    changes = dict(zip(package["tag"], package["change"], strict=True))
    t1, t2 = st.columns(2)
    which = t1.selectbox(
        "Change idea", ideas.index.tolist(),
        format_func=lambda i: f"{ideas.loc[i, 'team']}: {ideas.loc[i, 'change_idea'][:80]}",
    )  # fmt: skip
    current = ideas.loc[which, "tag"] if isinstance(ideas.loc[which, "tag"], str) else ""
    tag = t2.selectbox(
        "Change of the package", tags, index=tags.index(current) if current in tags else 0,
        format_func=lambda t: f"{changes[t]} ({t})" if t else "(no tag)", key=f"tag_{which}",
    )  # fmt: skip
    if st.button("Save the tag", disabled=tag == current):
        try:
            store.set_change_tag(
                int(ideas.loc[which, "change_idea_id"]), tag or None, user=who.username
            )
            ui.flash(f"Tag of “{ideas.loc[which, 'change_idea'][:80]}” saved.")
            st.rerun()
        except (StoreError, AccessDenied) as exc:
            st.error(ui.literal(exc))

if len(log.cycles):
    st.subheader("Change a cycle")
    cycles = log.cycles.reset_index(drop=True)
    pick = st.selectbox(
        "Cycle", cycles.index.tolist(),
        format_func=lambda i: f"{cycles.loc[i, 'team']}: {cycles.loc[i, 'change_idea'][:60]} — "
        f"cycle {cycles.loc[i, 'cycle']}, {cycles.loc[i, 'stage']}",
    )  # fmt: skip
    rec = cycles.loc[pick]
    with st.form(f"edit_cycle_{pick}"):
        e1, e2 = st.columns(2)
        new_start = e1.date_input("Start", value=pd.Timestamp(rec["start"]).date())
        old_end = None if pd.isna(rec["end"]) else pd.Timestamp(rec["end"]).date()
        new_end = e2.date_input("End (optional)", value=old_end)
        learnt = rec["learning"] if isinstance(rec["learning"], str) else ""
        new_learning = st.text_area("What was learnt", value=learnt)
        involved = list(LIVED_EXPERIENCE)
        new_lived = st.radio(
            "People with lived experience were", involved, horizontal=True,
            index=involved.index(rec["lived_experience"]) if rec["lived_experience"] in involved
            else 0,
        )  # fmt: skip
        if st.form_submit_button("Save the change"):
            save_cycle(
                {"team": rec["team"], "measure": rec["measure"],
                 "group": rec["group"] if isinstance(rec["group"], str) else "",
                 "change_idea": rec["change_idea"], "cycle": str(int(rec["cycle"])),
                 "stage": rec["stage"], "start": new_start.isoformat(),
                 "end": new_end.isoformat() if new_end else "", "learning": new_learning,
                 "lived_experience": new_lived},
                f"Cycle {int(rec['cycle'])} ({rec['stage']}) changed.",
            )  # fmt: skip

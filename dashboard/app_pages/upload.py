"""Upload: check files before anything is stored, then store them; history and rollback."""

import streamlit as st

from dashboard import state
from qi.access import AccessDenied
from qi.store import StoreError, problems_frame

store = state.store()
who = state.principal()
st.title("Upload monthly data")
state.refusal(who, "upload")
st.caption(
    "One row per team × measure × month × group, with the columns team, measure, period, "
    "group, numerator and denominator (CSV or Excel). Every file is checked whole first: "
    "a file with any problem stores nothing."
)

files = st.file_uploader(
    "Drop CSV or Excel files", type=["csv", "xlsx"], accept_multiple_files=True, key="files"
)
ready = []
for f in files or []:
    content = f.getvalue()
    clean, problems = store.validate(content, f.name)
    if problems:
        st.error(
            f"{state.literal(f.name)}: {len(problems)} problem(s). "
            "Nothing from this file will be stored."
        )
        st.dataframe(problems_frame(problems), hide_index=True)
    else:
        st.success(f"{state.literal(f.name)}: {len(clean)} rows ready to store.")
        summary = (
            clean.groupby(["team", "measure"])["period"]
            .agg(["min", "max", "count"])
            .rename(columns={"min": "first month", "max": "last month", "count": "rows"})
            .reset_index()
        )
        st.dataframe(summary, hide_index=True)
        ready.append((f.name, content))

if ready and st.button(f"Store {len(ready)} file(s)", type="primary"):
    for name, content in ready:
        try:
            result = store.import_file(content, name, user=who.username)
        except (StoreError, AccessDenied) as exc:
            st.error(state.literal(exc))
            continue
        if result.ok:
            replaced = (
                f"; it replaces what was shown for {result.replaced} month(s)"
                if result.replaced
                else ""
            )
            st.success(
                f"{state.literal(name)}: stored as upload {result.upload_id} "
                f"({result.rows} rows){replaced}."
            )
        else:
            st.error(f"{state.literal(name)}: nothing stored.")
            st.dataframe(result.problem_table, hide_index=True)

st.subheader("Upload history")
history = store.uploads()
st.dataframe(history, hide_index=True)
live = history[history["rolled_back_at"].isna()]
if len(live):
    with st.form("rollback"):
        chosen = st.selectbox(
            "Withdraw an upload (what it replaced is shown again; it stays in the history)",
            live["id"].tolist(),
            format_func=lambda i: f"upload {i}: {live.set_index('id').loc[i, 'file_name']}",
        )
        if st.form_submit_button("Roll back"):
            try:
                store.rollback(int(chosen), user=who.username)
                st.success(f"Upload {chosen} rolled back.")
                st.rerun()
            except (StoreError, AccessDenied) as exc:
                st.error(state.literal(exc))

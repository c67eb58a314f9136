"""Upload: check files before anything is stored, then store them; history and rollback."""

import streamlit as st

from dashboard import components as ui
from dashboard import session
from qi.access import AccessDenied
from qi.screens import upload_preview
from qi.store import StoreError, problems_frame

store = session.store()
who = session.principal()
st.title("Upload monthly data")
session.refusal(who, "upload")
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
    clean, problems = ui.check_upload(store, content, f.name)  # in a worker process
    if problems:
        st.error(
            f"{ui.literal(f.name)}: {len(problems)} problem(s). "
            "Nothing from this file will be stored."
        )
        st.dataframe(problems_frame(problems), hide_index=True)
    else:
        st.success(f"{ui.literal(f.name)}: {len(clean)} rows ready to store.")
        st.dataframe(upload_preview(clean), hide_index=True)
        ready.append((f.name, content))

if ready and st.button(f"Store {len(ready)} file(s)", type="primary"):
    for name, content in ready:
        try:
            result = ui.store_upload(store, content, name, user=who.username)
        except (StoreError, AccessDenied) as exc:
            st.error(ui.literal(exc))
            continue
        if result.ok:
            replaced = (
                f"; it replaces what was shown for {result.replaced} month(s)"
                if result.replaced
                else ""
            )
            st.success(
                f"{ui.literal(name)}: stored as upload {result.upload_id} "
                f"({result.rows} rows){replaced}."
            )
        else:
            st.error(f"{ui.literal(name)}: nothing stored.")
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
                st.error(ui.literal(exc))

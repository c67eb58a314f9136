"""Upload: check files before anything is stored, then store them; history and rollback."""

import streamlit as st

from dashboard import components as ui
from dashboard import session
from qi.access import AccessDenied
from qi.screens import replacement_preview, upload_preview
from qi.store import StoreError, problems_frame

store = session.store()
who = session.principal()
st.title("Upload monthly data")
session.refusal(who, "upload")
st.caption(
    "One row per team × measure × period × group, with the columns team, measure, period, "
    "group, numerator and denominator (CSV or Excel). Every file is checked whole first: "
    "a file with any problem stores nothing. A correction replaces exactly the rows it "
    "holds; what it replaces is listed here first, and is shown again if you roll it back."
)

files = st.file_uploader(
    "Drop CSV or Excel files", type=["csv", "xlsx"], accept_multiple_files=True, key="files"
)
ready = []
replacing = 0
for f in files or []:
    content = f.getvalue()
    clean, problems = store.validate(content, f.name)
    if problems:
        st.error(
            f"{ui.literal(f.name)}: {len(problems)} problem(s). "
            "Nothing from this file will be stored."
        )
        st.dataframe(problems_frame(problems), hide_index=True)
        continue
    st.success(f"{ui.literal(f.name)}: {len(clean)} rows ready to store.")
    st.dataframe(upload_preview(clean, store.measures()), hide_index=True)
    replaces = store.replacements(clean)
    if len(replaces):
        replacing += len(replaces)
        st.warning(
            f"{ui.literal(f.name)} replaces {len(replaces)} stored value(s), old → new. "
            "The old values stay in the history and are shown again if this upload is "
            "rolled back."
        )
        st.dataframe(replacement_preview(replaces), hide_index=True)
    ready.append((f.name, content))

confirmed = True
if ready and replacing:
    confirmed = st.checkbox(
        f"Replace the {replacing} stored value(s) listed above", key="confirm_replace"
    )
if ready and st.button(
    f"Store {len(ready)} file(s)",
    type="primary",
    disabled=not confirmed,
    help=None if confirmed else "Tick the box above to replace the stored values listed",
):
    for name, content in ready:
        try:
            result = store.import_file(content, name, user=who.username)
        except (StoreError, AccessDenied) as exc:
            st.error(ui.literal(exc))
            continue
        if result.ok:
            replaced = f"; it replaced {result.replaced} stored value(s)" if result.replaced else ""
            st.success(
                f"{ui.literal(name)}: stored as upload {result.upload_id} "
                f"({result.rows} rows){replaced}."
            )
            if result.replaced:
                st.dataframe(replacement_preview(result.replacements), hide_index=True)
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
                again = store.rollback(int(chosen), user=who.username)
                back = f" {again} stored value(s) it replaced are shown again." if again else ""
                st.success(f"Upload {chosen} rolled back.{back}")
                st.rerun()
            except (StoreError, AccessDenied) as exc:
                st.error(ui.literal(exc))

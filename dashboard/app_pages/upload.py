"""Upload: check files before anything is stored, then store them; templates, saved
layouts (made and previewed here), history and rollback."""

import streamlit as st

from dashboard import components as ui
from dashboard import session
from qi import words
from qi.access import AccessDenied
from qi.screens import replacement_preview, stored_rows, upload_preview
from qi.store import StoreError, problems_frame
from qi.store.columns import REQUIRED
from qi.store.layouts import Layout, LayoutError

AUTOMATIC = "Detect automatically (no layout)"
NOT_IN_FILE = "(not in the file)"

store = session.store()
who = session.principal()
st.title("Upload monthly data")
session.refusal(who, "upload")
st.caption(
    "One row per team × measure × period × group, with the columns team, measure, period, "
    "group, numerator and denominator (CSV or Excel; usual names such as Ward, Month, "
    "Ethnicity, Count or Bed days are read too, and title lines, notes sheets and months "
    "as columns are found). Every file is checked whole first: a file with any problem "
    "stores nothing. A correction replaces exactly the rows it holds; what it replaces is "
    "listed here first, and is shown again if you roll it back."
)
template_csv, template_xlsx = st.columns(2)
template_csv.download_button(
    "Template (CSV)",
    data=lambda: store.upload_template("csv"),
    file_name="upload-template.csv",
    mime="text/csv",
)
template_xlsx.download_button(
    "Template (Excel, with the allowed values)",
    data=lambda: store.upload_template("xlsx"),
    file_name="upload-template.xlsx",
    mime=ui.XLSX_MIME,
)

saved = store.layouts()
layout_name = st.selectbox(
    "Layout",
    [AUTOMATIC, *saved["name"].tolist()],
    key="layout",
    help="A saved layout reads a file in its own shape (see 'Make a layout' below).",
)
layout = None if layout_name == AUTOMATIC else layout_name

# What the last press of "Store" did, kept across the rerun that empties the uploader:
# (kind, message, table or None) for each file.
OUTCOME = "upload_outcome"
for kind, message, shown in st.session_state.pop(OUTCOME, []):
    getattr(st, kind)(ui.literal(message))
    if shown is not None:
        st.dataframe(shown, hide_index=True)

# a new key after each press of "Store": the uploader forgets the files it held, stored
# or refused, so that the next press can only store files chosen again
generation = st.session_state.setdefault("uploader_generation", 0)
files = st.file_uploader(
    "Drop CSV or Excel files",
    type=["csv", "txt", "xlsx"],
    accept_multiple_files=True,
    key=f"files_{generation}",
)
ready = []
replacing = 0
for f in files or []:
    content = f.getvalue()
    try:  # read and checked in a worker process of its own (a progress bar if large)
        clean, problems, intake = ui.check_upload(store, content, f.name, layout=layout)
    except LayoutError as exc:
        st.error(ui.literal(exc))
        continue
    if intake.notes and not problems:
        st.info(f"{ui.literal(f.name)} was read as follows: " + ui.literal("; ".join(intake.notes)))
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
    outcome = []
    for name, content in ready:
        try:
            result = ui.store_upload(store, content, name, user=who.username, layout=layout)
        except (StoreError, AccessDenied) as exc:
            outcome.append(("error", f"{name}: nothing stored. {exc}", None))
            continue
        if result.ok:
            replaced = f"; it replaced {result.replaced} stored value(s)" if result.replaced else ""
            outcome.append((
                "success", f"{name}: stored as upload {result.upload_id} ({result.rows} rows)"
                f"{replaced}.",
                replacement_preview(result.replacements) if result.replaced else None,
            ))  # fmt: skip
        else:
            outcome.append(("error", f"{name}: nothing stored.", result.problem_table))
    st.session_state[OUTCOME] = outcome
    st.session_state["uploader_generation"] = generation + 1
    st.rerun()


def layout_maker() -> None:
    """Pick a file's columns from lists, see the first rows as they will be stored, save."""
    if not files:
        st.caption("Drop a file above first; its columns are listed here to choose from.")
        return
    chosen = st.selectbox("File", [f.name for f in files], key="layout_file")
    content = next(f for f in files if f.name == chosen).getvalue()
    shape = ui.file_shape(store, content, chosen)
    if shape is None:
        st.error("This file cannot be read as a table.")
        return
    spec: dict = {"columns": {}, "constants": {}}
    if len(shape.sheets) > 1:
        sheet = st.selectbox(
            "Sheet",
            list(shape.sheets),
            index=list(shape.sheets).index(shape.sheet),
            key="layout_sheet",
        )
        spec["sheet"] = sheet
        shape = ui.file_shape(store, content, chosen, sheet=sheet)
    header_row = st.number_input(
        "Header row (as the spreadsheet numbers it)",
        min_value=1,
        value=shape.header_row,
        step=1,
        key="layout_header",
    )
    spec["header_row"] = int(header_row)
    shape = ui.file_shape(store, content, chosen, sheet=shape.sheet, header_row=int(header_row))
    wide = st.selectbox(
        "Months or groups as columns?",
        ["no", "months are columns", "groups are columns"],
        key="layout_wide",
    )
    wide_to = {"months are columns": "period", "groups are columns": "group"}.get(wide)
    if wide_to:
        picked = st.multiselect(
            "Those columns",
            list(shape.columns),
            default=list(shape.months) if wide_to == "period" else [],
            key="layout_wide_columns",
        )
        spec["wide"] = {"to": wide_to, "columns": picked}
    split = st.selectbox(
        "Numerator and denominator are rows told apart by a column?",
        ["no", *shape.columns],
        key="layout_by",
    )
    if split != "no":
        kinds = list(shape.values.get(split, ()))
        spec["values"] = {
            "by": split,
            "column": st.selectbox(
                "The column of the values", list(shape.columns), key="layout_value_column"
            ),
            "numerator": st.multiselect(f"{split} of the numerator", kinds, key="layout_num"),
            "denominator": st.multiselect(f"{split} of the denominator", kinds, key="layout_den"),
        }
    st.markdown("**Which column is what** (or one value for every row)")
    options = [NOT_IN_FILE, *shape.columns]
    for column in REQUIRED:
        if column == wide_to or (split != "no" and column in ("numerator", "denominator")):
            continue
        left, right = st.columns(2)
        guess = shape.guessed.get(column)
        source = left.selectbox(
            column,
            options,
            key=f"layout_col_{column}",
            index=options.index(guess) if guess in options else 0,
        )
        if source == NOT_IN_FILE:
            constant = right.text_input(f"{column} for every row", key=f"layout_const_{column}")
            if constant.strip():
                spec["constants"][column] = constant.strip()
        else:
            spec["columns"][column] = source
    keep_by = st.selectbox(
        "Keep only some rows, by the column", ["every row", *shape.columns], key="layout_filter"
    )
    if keep_by != "every row":
        kept = st.multiselect(
            "Keep the rows whose value is",
            list(shape.values.get(keep_by, ())),
            key="layout_filter_values",
        )
        if kept:
            spec["filters"] = {keep_by: kept}
    spec["description"] = st.text_input("Description", key="layout_description")
    try:
        made = Layout.from_dict(spec)
    except LayoutError as exc:
        st.error(ui.literal(exc))
        return
    clean, problems, _ = store.check_upload(content, chosen, layout=made)
    st.markdown("**The first rows as they will be stored**")
    if len(clean):
        st.dataframe(stored_rows(clean, store.measures()), hide_index=True)
    if problems:
        st.warning(f"{len(problems)} problem(s) with this layout:")
        st.dataframe(problems_frame(problems), hide_index=True)
    name = st.text_input("Save as (a name)", key="layout_name")
    if who.may("save_layouts") and st.button("Save layout", disabled=not name.strip()):
        try:
            store.save_layout(name, made, user=who.username)
            st.success(f"Layout {ui.literal(name.strip())} saved.")
        except (StoreError, AccessDenied) as exc:
            st.error(ui.literal(exc))


with st.expander("Make a layout: say once how a file in another shape is read"):
    layout_maker()

st.subheader("Upload history")
history = store.uploads()
ui.table(history, words.UPLOAD_COLUMNS)
live = history[history["rolled_back_at"].isna()]
if len(live):
    by_id = live.set_index("id")
    with st.form("rollback"):
        chosen = st.selectbox(
            "Withdraw an upload (what it replaced is shown again; it stays in the history)",
            live["id"].tolist(),
            format_func=lambda i: f"upload {i}: {by_id.loc[i, 'file_name']}",
        )
        if st.form_submit_button("Roll back…"):
            st.session_state["rollback_pending"] = int(chosen)
    pending = st.session_state.get("rollback_pending")
    if pending is not None and pending in by_id.index:
        # a second, deliberate step: say what goes before anything is withdrawn
        row = by_id.loc[pending]
        st.warning(
            f"Roll back upload {pending} ({ui.literal(row['file_name'])}, "
            f"{int(row['row_count'])} rows, uploaded by {ui.literal(row['uploaded_by'])} on "
            f"{row['uploaded_at']:%d %b %Y %H:%M} UTC)? Its values leave every chart, table "
            "and pack; the values it replaced are shown again. It stays in the history."
        )
        yes, no, _ = st.columns([1, 1, 4])
        if yes.button(f"Yes, roll back upload {pending}", type="primary"):
            del st.session_state["rollback_pending"]
            try:
                again = store.rollback(pending, user=who.username)
                back = f" {again} stored value(s) it replaced are shown again." if again else ""
                ui.flash(f"Upload {pending} rolled back.{back}")
                st.rerun()
            except (StoreError, AccessDenied) as exc:
                st.error(ui.literal(exc))
        if no.button("Cancel"):
            del st.session_state["rollback_pending"]
            st.rerun()

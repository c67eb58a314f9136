"""Board: every unit × measure × group at a glance, with Making Data Count icons."""

import base64

import streamlit as st

from dashboard import state
from qi import board, exports, mdc

url, version = state.current()
st.title("Board summary")
st.caption(
    "Each row is one measure for one team (or trust, system or the whole collaborative) "
    "and one group. Variation and assurance follow NHS England's Making Data Count rules; "
    "each icon has its meaning in words beside it. Select a row to open its chart."
)

levels = list(board.LEVELS)
level = st.sidebar.radio(
    "Level",
    levels,
    index=levels.index(state.query_default("level", levels)),
    format_func=lambda v: {"ics": "Integrated care system"}.get(v, v.capitalize()),
)
table = state.matrix(url, version, level)
state.require_data(table)
teams = state.teams(url, version)

units = sorted(table["unit"].unique())
trusts = sorted(teams["trust"].unique())
measure_names = dict(zip(table["measure"], table["measure_name"], strict=False))
groups = sorted(table["group"].unique(), key=lambda g: (g != "All", g))

col1, col2, col3 = st.columns(3)
if level == "team":
    chosen_trusts = col1.multiselect("Trust", trusts, default=state.query_list("trust", trusts))
else:
    chosen_trusts = []
chosen_measures = col2.multiselect(
    "Measure", list(measure_names), default=state.query_list("measure", list(measure_names)),
    format_func=measure_names.get,
)  # fmt: skip
chosen_group = col3.selectbox(
    "Group", groups, index=groups.index(state.query_default("group", groups, "All"))
)
st.query_params.update({"level": level, "group": chosen_group})
st.query_params["trust"] = chosen_trusts
st.query_params["measure"] = chosen_measures

shown = table[table["group"] == chosen_group]
owned, gains = state.accountability(url, version)
if level == "team":
    shown = shown.merge(
        owned[["team", "measure", "owner", "sponsor", "review_overdue", "actions_overdue"]],
        left_on=["unit", "measure"],
        right_on=["team", "measure"],
        how="left",
    ).drop(columns="team")
    shown = shown.merge(
        gains,
        left_on=["unit", "measure", "group"],
        right_on=["team", "measure", "group"],
        how="left",
    ).drop(columns="team")
    at_risk_only = st.toggle(
        "Only improvements at risk",
        value=st.query_params.get("risk") == "1",
        help="A change brought a signal of improvement, and the new phase now shows a "
        "special cause of concern.",
    )
    st.query_params["risk"] = "1" if at_risk_only else "0"
    if at_risk_only:
        shown = shown[shown["gains"] == "at risk"]
else:
    for col in ("owner", "sponsor", "review_overdue", "actions_overdue", "gains"):
        shown[col] = None
if chosen_trusts:
    in_trust = set(teams.loc[teams["trust"].isin(chosen_trusts), "team"])
    shown = shown[shown["unit"].isin(in_trust)]
if chosen_measures:
    shown = shown[shown["measure"].isin(chosen_measures)]
shown = shown.reset_index(drop=True)

concern = int((shown["variation"] == "special_cause_concern").sum())
improving = int((shown["variation"] == "special_cause_improvement").sum())
m1, m2, m3, m4 = st.columns(4)
m1.metric("Series shown", len(shown))
m2.metric("Special cause: improvement", improving)
m3.metric("Special cause: concern", concern)
m4.metric("Actions overdue", int(owned["actions_overdue"].sum()))


def data_uri(name):
    if not isinstance(name, str):
        return None
    return "data:image/svg+xml;base64," + base64.b64encode(mdc.icon_svg(name).encode()).decode()


view = shown.assign(
    variation_img=shown["variation_icon"].map(data_uri),
    assurance_img=shown["assurance_icon"].map(data_uri),
)[
    ["unit", "measure_name", "group", "period", "value", "target", "variation_img",
     "variation_text", "assurance_img", "assurance_text", "sparkline", "owner", "sponsor",
     "review_overdue", "actions_overdue", "gains", "measure"]
]  # fmt: skip
event = st.dataframe(
    view,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    column_config={
        "unit": st.column_config.TextColumn(level.capitalize() if level != "ics" else "ICS"),
        "measure_name": st.column_config.TextColumn("Measure"),
        "group": "Group",
        "period": st.column_config.DateColumn("Latest month", format="MMM YYYY"),
        "value": st.column_config.NumberColumn("Latest value", format="%.2f"),
        "target": st.column_config.NumberColumn("Target", format="%.2f"),
        "variation_img": st.column_config.ImageColumn("Variation"),
        "variation_text": st.column_config.TextColumn("Variation (in words)"),
        "assurance_img": st.column_config.ImageColumn("Assurance"),
        "assurance_text": st.column_config.TextColumn("Assurance (in words)"),
        "sparkline": st.column_config.LineChartColumn("Last 24 months"),
        "owner": st.column_config.TextColumn("Owner"),
        "sponsor": st.column_config.TextColumn("Executive sponsor"),
        "review_overdue": st.column_config.CheckboxColumn("Review overdue"),
        "actions_overdue": st.column_config.NumberColumn("Actions overdue"),
        "gains": st.column_config.TextColumn("Latest change"),
        "measure": None,
    },
)
if level == "team":
    in_view = shown["unit"].unique()
else:
    in_view = teams.loc[teams[level].isin(shown["unit"]), "team"].unique()
unsuppressed = state.small_numbers(in_view, key="board_small")
matrix_table = exports.matrix_data(shown, threshold=0 if unsuppressed else exports.THRESHOLD)
d1, d2, _ = st.columns([1, 1, 4])
state.table_downloads(matrix_table, label="Matrix", stem="summary-matrix", into=(d1, d2))
rows = event.selection.rows if event is not None else []
if rows:
    picked = view.iloc[rows[0]]
    st.query_params.clear()
    st.query_params.update({"level": level, "unit": picked["unit"], "measure": picked["measure"]})
    st.switch_page("app_pages/team.py")

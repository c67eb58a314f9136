"""Board: every unit × measure × group at a glance, with Making Data Count icons."""

import base64

import pandas as pd
import streamlit as st

from dashboard import components as ui
from dashboard import reads, session
from qi import figures, mdc, words
from qi.screens.board import format_number
from qi.series import LEVELS

st.title("Board summary")
st.caption(
    "Each row is one measure for one team (or trust, system or the whole collaborative) "
    "and one group. Variation and assurance follow NHS England's Making Data Count rules; "
    "each icon has its meaning in words beside it. Select a row to open its chart."
)

levels = list(LEVELS)
level = st.sidebar.radio(
    "Level",
    levels,
    index=levels.index(ui.query_default("level", levels)),
    format_func=lambda v: {"ics": "Integrated care system"}.get(v, v.capitalize()),
)
view = reads.board(level)
ui.require_data(view.rows)

trusts = view.trusts
measure_names = view.measure_names
groups = view.groups

col1, col2, col3 = st.columns(3)
if level == "team":
    chosen_trusts = col1.multiselect(
        "Trust", trusts, default=ui.query_filter("trusts", trusts, legacy="trust")
    )
else:
    chosen_trusts = []
chosen_measures = col2.multiselect(
    "Measure", list(measure_names),
    default=ui.query_filter("measures", list(measure_names), legacy="measure"),
    format_func=measure_names.get,
)  # fmt: skip
chosen_group = col3.selectbox(
    "Group", groups, index=groups.index(ui.query_default("group", groups, "All"))
)
# the board's own filters, under names no other page uses, so that the drill-down can
# carry them and browser Back finds them again (see the end of the page)
board_filters = [("trusts", chosen_trusts), ("measures", chosen_measures)]
st.query_params.update({"level": level, "group": chosen_group})
for key, values in board_filters:
    st.query_params[key] = values or [""]
at_risk_only = False
if level == "team":
    at_risk_only = st.toggle(
        "Only improvements at risk",
        value=st.query_params.get("risk") == "1",
        help="A change brought a signal of improvement, and the new phase now shows a "
        "special cause of concern.",
    )
    ui.in_url("risk", "1" if at_risk_only else "0", "0")
# the other groups' sentences are written in the background, for when one is chosen
picked = view.select(
    group=chosen_group, trusts=chosen_trusts, measures=chosen_measures,
    at_risk_only=at_risk_only, others_in_background=True,
)  # fmt: skip
if session.small_numbers(picked.teams, key="board_small"):
    picked = view.select(
        group=chosen_group, trusts=chosen_trusts, measures=chosen_measures,
        at_risk_only=at_risk_only, small_numbers=True, others_in_background=True,
    )  # fmt: skip
shown = picked.rows

if view.months_note:
    st.caption(view.months_note)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Series shown", len(shown))
m2.metric("Special cause: improvement", picked.improving)
m3.metric("Special cause: concern", picked.concerning)
m4.metric("Actions overdue", picked.actions_overdue)


#: Rows of the board shown at once.
PAGE_ROWS = 100


#: An empty picture for a row without an icon (no target: no assurance), so that the
#: cell is blank rather than saying "None".
NO_ICON = "data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'
).decode()


def svg_uri(svg: str | None) -> str:
    if svg is None:
        return NO_ICON
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def data_uri(name):
    return svg_uri(mdc.icon_svg(name) if isinstance(name, str) else None)


def spark_uri(values) -> str:
    """A row's last 24 points as a line with gaps where a month is hidden (Streamlit's
    own line column refuses a list with a gap, and shows it as a run of commas)."""
    return svg_uri(figures.sparkline_svg(values) if isinstance(values, list) else None)


details = st.toggle(
    "Show details (the row in a sentence, target, last 24 months, provisional month, owner, "
    "reviews, actions, latest change, recorded phases)",
    value=st.query_params.get("details") == "1",
)  # fmt: skip
ui.in_url("details", "1" if details else "0", "0")
# thousands of rows (a national collaborative) are read a page at a time
pages = max(1, -(-len(shown) // PAGE_ROWS))
page_no = 1
if pages > 1:
    choices = [str(p) for p in range(1, pages + 1)]
    page_no = int(
        st.selectbox(
            f"Page (of {pages}, {PAGE_ROWS} rows each)", choices,
            index=choices.index(ui.query_default("page", choices, "1")),
        )
    )  # fmt: skip
    ui.in_url("page", str(page_no), "1")
first = (page_no - 1) * PAGE_ROWS
shown = shown.iloc[first : first + PAGE_ROWS]
table = shown.assign(
    variation_img=shown["variation_icon"].map(data_uri),
    assurance_img=shown["assurance_icon"].map(data_uri),
    sparkline=shown["sparkline"].map(spark_uri) if details else None,
    target=shown["target"].map(format_number),
    review_overdue=shown["review_overdue"].map({True: "overdue", False: ""}),
    actions_overdue=shown["actions_overdue"].map(
        lambda n: "" if n is None or pd.isna(n) or n == 0 else f"{int(n)}"
    ),
    gains=shown["gains"].map(lambda g: words.GAINS.get(g, "") if isinstance(g, str) else ""),
    # words missing (no target: no assurance; no owner yet) are blank, not "None"
    **{
        col: shown[col].astype(object).where(shown[col].notna(), "")
        for col in ("latest", "variation_text", "assurance_text", "provisional", "owner",
                    "sponsor", "phases", "summary")
        if col in shown
    },
)
essential = ["unit", "measure_name", "group", "period", "latest", "variation_img",
             "variation_text", "assurance_img", "assurance_text"]  # fmt: skip
more = ["summary", "target", "sparkline", "provisional"] + (
    ["owner", "sponsor", "review_overdue", "actions_overdue", "gains", "phases"]
    if level == "team"
    else []
)
event = st.dataframe(
    table[essential + (more if details else [])],
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="board_rows",
    row_height=52,
    alt=f"Board: {len(table)} rows, one per {level} and measure for group {chosen_group}, with "
    "the latest value and its Making Data Count variation and assurance in words",
    column_config={
        "unit": st.column_config.TextColumn(
            {"ics": "ICS"}.get(level, level.capitalize()), pinned=True
        ),
        "measure_name": st.column_config.TextColumn("Measure", width="medium"),
        "group": st.column_config.TextColumn("Group", width="small"),
        "period": st.column_config.DateColumn("Month", format="MMM YYYY", width="small"),
        "latest": st.column_config.TextColumn("Latest", width="small"),
        "target": st.column_config.TextColumn("Target", width="small"),
        "variation_img": st.column_config.ImageColumn("Variation", width="small"),
        "variation_text": st.column_config.TextColumn("Variation in words", width="medium"),
        "assurance_img": st.column_config.ImageColumn("Assurance", width="small"),
        "assurance_text": st.column_config.TextColumn("Assurance in words", width="medium"),
        "sparkline": st.column_config.ImageColumn(
            "Last 24 complete months",
            help="The row's latest 24 points as its chart draws them (for rare events, the "
            "time between events). A gap is a month hidden for small numbers; the dot is "
            "the latest point shown; blank when no point can be shown.",
            width="medium",
        ),
        "provisional": st.column_config.TextColumn("Provisional month"),
        "owner": st.column_config.TextColumn("Owner"),
        "sponsor": st.column_config.TextColumn("Executive sponsor"),
        "review_overdue": st.column_config.TextColumn("Review"),
        "actions_overdue": st.column_config.TextColumn("Actions overdue"),
        "gains": st.column_config.TextColumn("Latest change"),
        "phases": st.column_config.TextColumn("Recorded phases", width="large"),
        "summary": st.column_config.TextColumn("In a sentence", width="large"),
    },
)
d1, d2, _ = st.columns([1, 1, 4])
ui.table_downloads(picked.download, label="Matrix", stem="summary-matrix", into=(d1, d2))
rows = event.selection.rows if event is not None else []
if rows:
    # open exactly this row's chart: its unit (at its level), measure and group, with the
    # board's rules and phases; the board's own address (with its filters) stays in the
    # browser's history, so Back returns to it
    chosen = shown.iloc[rows[0]]
    starts = view.phase_starts(chosen["unit"], chosen["measure"], chosen["group"])
    st.switch_page(
        "app_pages/team.py",
        query_params={
            "level": level, "unit": chosen["unit"], "measure": chosen["measure"],
            "group": chosen["group"], "rules": "mdc", "phase": [f"{s:%Y-%m}" for s in starts],
            # Back lands on the board with the URL of this switch: keep its filters in it
            **{key: values or [""] for key, values in board_filters},
            **({"risk": "1"} if at_risk_only else {}),
        },
    )  # fmt: skip

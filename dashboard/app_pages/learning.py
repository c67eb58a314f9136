"""Learning: the collaborative's change package as a driver diagram, and for each change
the teams that tested it, for whom, and what followed, with a link to each chart."""

import streamlit as st

from dashboard import components as ui
from dashboard import reads, session, theme
from qi.access import AccessDenied
from qi.learning import OUTCOMES
from qi.store import StoreError, UploadRejected, problems_frame

snap = reads.snapshot()
who = session.principal()
#: the change's words wrap in a narrower column, so what followed shows without scrolling
NARROW = {
    "Change": st.column_config.TextColumn(width=260),
    "What followed": st.column_config.TextColumn(width=170),
}

st.title("What the collaborative learned")
st.caption(
    "Each change of the collaborative's change package, the teams that tested it, for which "
    "group, and what followed on that team's chart (Making Data Count rules, the months "
    "before the change's first cycle as the old process): improvement sustained (12 months "
    "or more), improvement holding (less so far), improvement at risk (faded, or a concern "
    "since), no signal, or not enough data yet (fewer than 7 months with data before or "
    "after the change, and no improvement yet). What followed a change is not proof that "
    "the change caused it."
)

package = snap.change_package
tags = list(package["tag"])
words = dict(zip(package["tag"], package["change"], strict=True))
f1, f2 = st.columns(2)
chosen_tags = f1.multiselect(
    "Changes", [*tags, "untagged"], default=ui.query_list("tag", [*tags, "untagged"]),
    format_func=lambda t: words.get(t, "Change ideas without a tag"),
    placeholder="Every change",
)  # fmt: skip
chosen_outcomes = f2.multiselect(
    "What followed", list(OUTCOMES), default=ui.query_list("outcome", list(OUTCOMES)),
    placeholder="Every outcome",
)  # fmt: skip
ui.in_url("tag", chosen_tags, [])
ui.in_url("outcome", chosen_outcomes, [])
view = reads.learning_view(tags=chosen_tags, outcomes=chosen_outcomes)

st.header("Where each change was tested", anchor=False)
if len(view.table):
    st.dataframe(view.words(), hide_index=True, column_config=NARROW)
    st.caption(
        "In all: " + ", ".join(f"{n} {o}" for o, n in view.outcome_counts().items() if n) + "."
    )
    d1, d2, _ = st.columns([1, 1, 4])
    ui.table_downloads(view.download(), label="Learning table", stem="learning", into=(d1, d2))
    st.subheader("Open a chart", anchor=False)
    with st.container(key=theme.LINKS_KEY):
        for i in range(len(view.table)):
            st.page_link(
                "app_pages/team.py", label=ui.literal(view.link_label(i)),
                query_params=view.chart_query(i),
            )  # fmt: skip
else:
    st.info(
        "No change ideas to show: tag a change idea with a change of the package on the "
        "Change log page (or a tag column in the PDSA file), or choose other filters."
    )

st.header("The change package", anchor=False)
if len(view.diagram):
    lines = []
    for primary, under in view.diagram.groupby("primary_driver", sort=False):
        lines.append(f"- **Primary driver: {ui.literal(primary)}**")
        for secondary, changes in under.groupby("secondary_driver", sort=False):
            lines.append(f"    - Secondary driver: {ui.literal(secondary)}")
            for change, tag in zip(changes["change"], changes["tag"], strict=True):
                lines.append(f"        - {ui.literal(change)} (tag {ui.literal(tag)})")
    st.markdown("\n".join(lines))
    st.subheader("Each change across the collaborative", anchor=False)
    st.dataframe(view.changes_words(), hide_index=True, column_config=NARROW)
else:
    st.info(
        "No change package yet: a facilitator of the collaborative loads one here or with "
        "`qi package FILE`."
    )

if who.may("manage_catalogue"):
    with st.expander("Load or replace the change package (facilitators)"):
        st.caption(
            "A CSV or Excel file with the columns tag, change, primary_driver, "
            "secondary_driver and (optional) description, one change a row, in the order "
            "to show them. It replaces the package whole; a tag change ideas carry must stay."
        )
        upload = st.file_uploader("Change package file", type=["csv", "xlsx"])
        if upload is not None and st.button("Replace the change package"):
            try:
                n = session.store().load_change_package(
                    upload.getvalue(), name=upload.name, user=who.username
                )
                ui.flash(f"Change package replaced: {n} changes.")
                st.rerun()
            except UploadRejected as exc:
                st.error("Not loaded, nothing changed:")
                st.dataframe(problems_frame(exc.problems), hide_index=True)
            except (StoreError, AccessDenied) as exc:
                st.error(ui.literal(exc))

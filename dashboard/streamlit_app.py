"""Entry point of the dashboard: ``streamlit run dashboard/streamlit_app.py``.

The router only: it signs the person in (:func:`dashboard.session.sign_in`), then
offers the pages their role allows. Each page lives in ``dashboard/app_pages/`` and
reads, calls :mod:`qi`, and shows. The store is the one at ``QI_DATABASE_URL`` (an
SQLite file in the user's data folder by default); an empty store gets the bundled
sample.

Every page has its own address (``/board``, ``/team``, …); the Board is also the
front page (``/``). A page someone's role does not allow is hidden from their menu
but still has its address; opened that way, it shows the store's refusal. The store
checks every read and write whatever the menu shows.

The menu is drawn here with ``st.page_link`` (Streamlit's own is hidden): its markup
is plain links under section headings, which assistive technology reads correctly,
and the current page is marked by more than a shade of background (see
:mod:`dashboard.theme`).
"""

import streamlit as st

from dashboard import session, theme
from dashboard.components import literal, show_flash
from qi.access import AccessDenied


def shown_if(allowed: bool) -> str:
    return "visible" if allowed else "hidden"


def draw_menu(into, sections: dict[str, list], current) -> None:
    """Section headings and a link per visible page; the current page's link sits in a
    container that :mod:`dashboard.theme` marks (bold, a bar at its left)."""
    with into.container(key=theme.MENU_KEY):
        for section, pages in sections.items():
            shown = [p for p in pages if p.visibility == "visible"]
            if not shown:
                continue
            st.header(section, anchor=False)
            for p in shown:
                if p.title == current.title:
                    with st.container(key=theme.CURRENT_KEY):
                        st.page_link(p, label=p.title)
                else:
                    st.page_link(p, label=p.title)


st.set_page_config(page_title="QI for equality", layout="wide")
theme.apply()
menu = st.sidebar.container()  # above what sign-in and the pages put in the sidebar
who = session.sign_in()
manage = [
    st.Page(
        "app_pages/people.py", title="People", url_path="people",
        visibility=shown_if(who.may("manage_people")),
    ),
    st.Page(
        "app_pages/audit.py", title="Audit log", url_path="audit",
        visibility=shown_if(who.may("read_audit")),
    ),
]  # fmt: skip
sections = {
    "Review": [
        # the Board twice: at the front page, and at its own address (the menu's link)
        st.Page("app_pages/board.py", title="Board", url_path="", default=True,
                visibility="hidden"),
        st.Page("app_pages/board.py", title="Board", url_path="board"),
        st.Page("app_pages/team.py", title="Team charts", url_path="team"),
        st.Page("app_pages/equality.py", title="Equality", url_path="equality"),
        st.Page("app_pages/accountability.py", title="Accountability", url_path="accountability"),
        st.Page("app_pages/pack.py", title="Board pack", url_path="pack"),
    ],
    "Data": [
        st.Page(
            "app_pages/upload.py",
            title="Upload",
            url_path="upload",
            visibility=shown_if(who.may("upload")),
        ),
        st.Page("app_pages/changelog.py", title="Change log", url_path="changes"),
        st.Page("app_pages/completeness.py", title="Data completeness", url_path="completeness"),
    ],
    "Learn": [
        st.Page("app_pages/learning.py", title="Learning", url_path="learning"),
        st.Page("app_pages/workshop.py", title="Workshop", url_path="workshop"),
    ],
    "Manage": manage,  # the section is left out of the menu when both are hidden
}  # fmt: skip
page = st.navigation(sections, position="hidden")
draw_menu(menu, sections, page)
show_flash()  # what the last run saved, kept across its rerun
try:
    page.run()
except AccessDenied as exc:  # the store refused what the page asked: say so, no traceback
    st.error(literal(exc))

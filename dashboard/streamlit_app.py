"""Entry point of the dashboard: ``streamlit run dashboard/streamlit_app.py``.

The router only: it signs the person in (:func:`dashboard.session.sign_in`), then
offers the pages their role allows. Each page lives in ``dashboard/app_pages/`` and
reads, calls :mod:`qi`, and shows. The store is the one at ``QI_DATABASE_URL`` (an
SQLite file in the user's data folder by default); an empty store gets the bundled
sample.

A page someone's role does not allow is hidden from their menu but still has its
address; opened that way, it shows the store's refusal. The store checks every read
and write whatever the menu shows.
"""

import streamlit as st

from dashboard import session
from dashboard.components import literal, show_flash
from qi.access import AccessDenied


def shown_if(allowed: bool) -> str:
    return "visible" if allowed else "hidden"


st.set_page_config(page_title="QI for equality", layout="wide")
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
        st.Page("app_pages/board.py", title="Board", url_path="board", default=True),
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
        st.Page("app_pages/workshop.py", title="Workshop", url_path="workshop"),
    ],
}
if any(p.visibility == "visible" for p in manage):
    sections["Manage"] = manage
else:  # hidden, but still at their address (where they show the refusal)
    sections["Learn"] += manage
page = st.navigation(sections)
show_flash()  # what the last run saved, kept across its rerun
try:
    page.run()
except AccessDenied as exc:  # the store refused what the page asked: say so, no traceback
    st.error(literal(exc))

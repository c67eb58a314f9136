"""Entry point of the dashboard: ``streamlit run dashboard/streamlit_app.py``.

The router only: each page lives in ``dashboard/app_pages/`` and reads, calls
:mod:`qi`, and shows. The store is the one at ``QI_DATABASE_URL`` (an SQLite file in
the user's data folder by default); an empty store gets the bundled sample.
"""

import streamlit as st

from dashboard import state

st.set_page_config(page_title="QI for equality", layout="wide")
state.store()
state.local_mode_banner()
st.navigation(
    {
        "Review": [
            st.Page("app_pages/board.py", title="Board", url_path="board", default=True),
            st.Page("app_pages/team.py", title="Team charts", url_path="team"),
            st.Page("app_pages/equality.py", title="Equality", url_path="equality"),
            st.Page(
                "app_pages/accountability.py", title="Accountability", url_path="accountability"
            ),
            st.Page("app_pages/pack.py", title="Board pack", url_path="pack"),
        ],
        "Data": [
            st.Page("app_pages/upload.py", title="Upload", url_path="upload"),
            st.Page("app_pages/changelog.py", title="Change log", url_path="changes"),
            st.Page(
                "app_pages/completeness.py", title="Data completeness", url_path="completeness"
            ),
        ],
        "Learn": [
            st.Page("app_pages/workshop.py", title="Workshop", url_path="workshop"),
        ],
    }
).run()

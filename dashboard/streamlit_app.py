"""Entry point of the dashboard: ``streamlit run dashboard/streamlit_app.py``.

The router only: each page lives in ``dashboard/app_pages/`` and reads, calls
:mod:`qi`, and shows.
"""

import streamlit as st

st.set_page_config(page_title="QI for equality", layout="wide")
st.navigation(
    [
        st.Page("app_pages/home.py", title="Home", url_path="home", default=True),
    ]
).run()

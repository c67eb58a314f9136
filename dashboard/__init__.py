"""The Streamlit dashboard: thin pages over :mod:`qi`."""

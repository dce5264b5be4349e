"""Dashboards entry point. The foundation ships one overview page; login and the tenant pages
come with the dashboards issue (the tenant will then come from the login, never a widget)."""
import streamlit as st

st.set_page_config(page_title="mira-analytics", layout="wide")
pages = [st.Page("pages/overview.py", title="Overview", icon=":material/monitoring:")]
st.navigation(pages).run()

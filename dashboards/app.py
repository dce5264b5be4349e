"""Dashboards entry point (`streamlit run dashboards/app.py`, started by `mira serve`).

Logged out, the only page is the login. Logged in, `st.navigation` offers the pages of the
account's role, and each page checks the role again (dashboards/auth.py): a page that is not in
the navigation cannot be reached by URL, and one reached anyway refuses.

The page files live in app_pages/, not pages/: Streamlit treats a `pages/` folder beside the
entry script as a legacy multipage app until st.navigation has run once in the process, so the
first request after a server start (and every AppTest run) could run a page file directly,
without this script (no login check here, no sidebar)."""
from pathlib import Path

import streamlit as st

from dashboards import auth, session
from dashboards.i18n import _

# The icon is an emoji: Streamlit draws it in the page itself. A ":material/...:" icon made the
# browser fetch the favicon from an outside font host, and this product makes no outside request.
st.set_page_config(page_title="mira-analytics", page_icon="📦", layout="wide")

PAGES_DIR = Path(__file__).parent / "app_pages"   # not "pages/": see the docstring
# Chart toolbars: Streamlit offers "Copy Vega-Lite spec" (a developer action) whenever the page is
# served from localhost or 127.0.0.1, as the demo is, and "Show data" (the chart's raw columns,
# under query names). Neither is for customers; the tables below each chart show the same data
# in words, with the app's own downloads.
_CHART_TOOLBAR_CSS = """<style>
[data-testid="stElementToolbar"] button[aria-label^="Copy Vega-Lite spec"],
[data-testid="stElementToolbar"] button[aria-label^="Show data"] { display: none !important; }
</style>"""

st.html(_CHART_TOOLBAR_CSS)
account = auth.current_account()
session.start(account)
if account is None:
    page = st.navigation([st.Page(auth.login_page, title=_("Log in"), icon=":material/login:", url_path="login")],
                         position="hidden")
else:
    pages = [st.Page(PAGES_DIR / f"{name}.py", title=_(title), icon=icon, url_path=name)
             for name, (title, icon, _roles) in auth.PAGES.items() if name in auth.pages_for(account.role)]
    if not pages:
        st.error(_("Your account has no pages: ask your administrator."))
        if session.sidebar(account):
            auth.logout()
            st.rerun()
        st.stop()
    page = st.navigation(pages)
    if session.sidebar(account):
        auth.logout()
        st.rerun()
page.run()

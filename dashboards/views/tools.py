"""Tools: who holds which tool since when, overdue and lost tools, utilisation."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts
from dashboards.auth import PageContext
from dashboards.data import consumption, tools
from dashboards.downloads import Title
from dashboards.i18n import _
from dashboards.layout import page_header, people, table

PAGE = "tools"


def render(ctx: PageContext) -> None:
    lang = ctx.lang
    q, t, src = page_header(ctx, _("Tools"), tools.cached)
    custody = q.tool_custody(t, src)
    util = q.tool_utilisation(t, src)
    if custody.empty and util.empty:
        st.info(_("No data yet: run `mira run` to load movements; tools appear once they are checked out."))
        return
    info = consumption.cached.tenant_info(t, src)
    tenant_name = info.iloc[0]["tenant_name"] if not info.empty else t
    as_of = pd.Timestamp(util["as_of_date"].max()).date() if not util.empty else None

    def title(name: str) -> Title:
        return Title(name, tenant_name, None, as_of)

    m1, m2, m3 = st.columns(3)
    m1.metric(_("Tools out"), lang.integer(int(custody["quantity"].sum()) if not custody.empty else 0))
    m2.metric(_("Overdue"), lang.integer(int(custody["overdue"].sum()) if not custody.empty else 0))
    m3.metric(_("Lost"), lang.integer(int(custody["lost"].sum()) if not custody.empty else 0))

    st.subheader(_("Who holds which tool"))
    if custody.empty:
        st.success(_("Every tool is in a store."))
    else:
        screen, download = people(ctx, custody, PAGE, label_col="holder")
        only_late = st.toggle(_("Only overdue and lost"), key="tools_only_late")
        if only_late:
            late = custody["overdue"].to_numpy()
            screen, download = screen[late], download[late]
        if screen.empty:
            st.success(_("No tool is overdue."))
        else:
            table(ctx, screen, title(_("Tool custody")), "dl_custody", download_df=download,
                  show=["holder", "tool", "project", "since", "days_out", "overdue", "lost"])
        st.caption(_("Overdue after 14 days out, lost after 60 (counted to the latest movement day)."))

    st.subheader(_("Utilisation"))
    if util.empty:
        st.info(_("No tools in the catalogue yet."))
    else:
        st.altair_chart(charts.utilisation(util, lang), width="stretch")
        table(ctx, util, title(_("Tool utilisation")), "dl_utilisation",
              show=["tool", "units_checked_out", "units_in_store", "utilisation_share", "window_start_date"])

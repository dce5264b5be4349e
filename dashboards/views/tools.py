"""Tools: who holds which tool since when, overdue and lost tools, utilisation."""
from __future__ import annotations

import streamlit as st

from dashboards import charts
from dashboards.auth import PageContext
from dashboards.data import tools
from dashboards.layout import people, page_header, table

PAGE = "tools"


def render(ctx: PageContext) -> None:
    q, t, src = page_header(ctx, "Tools", tools.cached)
    custody = q.tool_custody(t, src)
    util = q.tool_utilisation(t, src)
    if custody.empty and util.empty:
        st.info("No data yet: run `mira run` to load movements; tools appear once they are checked out.")
        return

    m1, m2, m3 = st.columns(3)
    m1.metric("Tools out", f"{int(custody['quantity'].sum()) if not custody.empty else 0:,}")
    m2.metric("Overdue", f"{int(custody['overdue'].sum()) if not custody.empty else 0:,}")
    m3.metric("Lost", f"{int(custody['lost'].sum()) if not custody.empty else 0:,}")

    st.subheader("Who holds which tool")
    if custody.empty:
        st.success("Every tool is in a store.")
    else:
        screen, download = people(ctx, custody, PAGE, label_col="holder")
        only_late = st.toggle("Only overdue and lost", key="tools_only_late")
        if only_late:
            late = custody["overdue"].to_numpy()
            screen, download = screen[late], download[late]
        if screen.empty:
            st.success("No tool is overdue.")
        else:
            table(screen, "tool custody", "dl_custody", download_df=download,
                  column_config={"overdue": st.column_config.CheckboxColumn(),
                                 "lost": st.column_config.CheckboxColumn()})
        st.caption("Overdue after 14 days out, lost after 60 (counted to the latest movement day).")

    st.subheader("Utilisation")
    if util.empty:
        st.info("No tools in the catalogue yet.")
    else:
        st.altair_chart(charts.utilisation(util), width="stretch")
        table(util, "tool utilisation", "dl_utilisation",
              column_config={"utilisation_share": st.column_config.NumberColumn(format="percent")})

"""Insights: the ABC/XYZ matrix and unusual consumption (a material's last week against its own
history), the latter only over groups of at least five people."""
from __future__ import annotations

import streamlit as st

from dashboards import charts
from dashboards.auth import PageContext
from dashboards.data import insights
from dashboards.layout import empty, page_header, table


def render(ctx: PageContext) -> None:
    q, t, src = page_header(ctx, "Insights", insights.cached)
    if empty(matrix := q.abc_xyz_matrix(t, src),
             "No data yet: run `mira run`; the classification needs the catalogue and some consumption."):
        return

    st.subheader("ABC / XYZ")
    st.caption("ABC ranks materials by consumption value (A: the first 80%, B: the next 15%, C: the rest); "
               "XYZ by how steady weekly demand is (X steady, Y variable, Z erratic; '-' under two weeks "
               "of history).")
    st.altair_chart(charts.abc_xyz_heatmap(matrix), width="stretch")
    materials = q.abc_xyz_materials(t, src)
    cells = sorted(set(materials["abc_xyz_class"].dropna()))
    cell = st.selectbox("Materials in class", ["all"] + cells, key="insights_class")
    shown = materials if cell == "all" else materials[materials["abc_xyz_class"] == cell]
    table(shown, "abc xyz", "dl_abc",
          column_config={"cumulative_value_share": st.column_config.NumberColumn(format="percent"),
                         "consumed_value": st.column_config.NumberColumn(format="%.2f"),
                         "demand_cv": st.column_config.NumberColumn(format="%.2f")})

    st.subheader("Unusual consumption")
    st.caption(f"Each material's last 7 days against its own weekly history (z-score). Shown only when at "
               f"least {insights.MIN_PEOPLE} different people used it both recently and before, so no "
               f"individual's behaviour stands out. |z| >= {insights.UNUSUAL_Z:g} is flagged.")
    unusual = q.unusual_consumption(t, 12, insights.MIN_PEOPLE, src)
    if unusual.empty:
        st.info(f"No material was used by {insights.MIN_PEOPLE} or more people in the last week and before: "
                "nothing to compare safely yet.")
        return
    unusual = unusual.assign(flag=unusual["z_score"].map(
        lambda z: "spike" if z is not None and z >= insights.UNUSUAL_Z else
        ("drop" if z is not None and z <= -insights.UNUSUAL_Z else "")))
    table(unusual, "unusual consumption", "dl_unusual",
          column_config={"z_score": st.column_config.NumberColumn(format="%.2f"),
                         "history_mean": st.column_config.NumberColumn(format="%.2f"),
                         "history_stddev": st.column_config.NumberColumn(format="%.2f")})

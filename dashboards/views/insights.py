"""Insights: the ABC/XYZ matrix and unusual consumption (a material's last week against its own
history), the latter only over groups of at least five people."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts
from dashboards.auth import PageContext
from dashboards.data import consumption, insights
from dashboards.downloads import Title
from dashboards.i18n import _
from dashboards.layout import empty, page_header, table, translate_values


def render(ctx: PageContext) -> None:
    lang = ctx.lang
    q, t, src = page_header(ctx, _("Insights"), insights.cached)
    if empty(matrix := q.abc_xyz_matrix(t, src),
             _("No data yet: run `mira run`; the classification needs the catalogue and some consumption.")):
        return
    info = consumption.cached.tenant_info(t, src)
    tenant_name = info.iloc[0]["tenant_name"] if not info.empty else t

    st.subheader(_("ABC / XYZ"))
    st.caption(_("ABC ranks materials by consumption value (A: the first 80%, B: the next 15%, C: the rest); "
                 "XYZ by how steady weekly demand is (X steady, Y variable, Z erratic; '-' under two weeks "
                 "of history)."))
    st.altair_chart(charts.abc_xyz_heatmap(matrix, lang), width="stretch")
    materials = q.abc_xyz_materials(t, src)
    as_of = pd.Timestamp(materials["as_of_date"].max()).date() if not materials.empty else None
    cells = sorted(set(materials["abc_xyz_class"].dropna()))
    cell = st.selectbox(_("Materials in class"), ["all"] + cells, key=f"insights_class@{lang.code}",
                        format_func=lambda c: lang._("all") if c == "all" else c)
    shown = materials if cell == "all" else materials[materials["abc_xyz_class"] == cell]
    table(ctx, shown, Title(_("ABC XYZ classes"), tenant_name, None, as_of), "dl_abc",
          show=["material", "category", "abc_xyz_class", "consumed_value", "consumed_quantity",
                "cumulative_value_share", "demand_cv"])

    st.subheader(_("Unusual consumption"))
    st.caption(_("Each material's last 7 days against its own weekly history (z-score). Shown only when at "
                 "least {people} different people used it both recently and before, so no individual's "
                 "behaviour stands out. |z| >= {z} is flagged.", people=insights.MIN_PEOPLE,
                 z=lang.number(insights.UNUSUAL_Z, 1)))
    unusual = q.unusual_consumption(t, 12, insights.MIN_PEOPLE, src)
    if unusual.empty:
        st.info(_("No material was used by {people} or more people in the last week and before: nothing to "
                  "compare safely yet.", people=insights.MIN_PEOPLE))
        return
    unusual = unusual.assign(flag=unusual["z_score"].map(
        lambda z: "spike" if z is not None and z >= insights.UNUSUAL_Z else
        ("drop" if z is not None and z <= -insights.UNUSUAL_Z else "")))
    table(ctx, translate_values(unusual, lang, "flag"), Title(_("Unusual consumption"), tenant_name, None, as_of),
          "dl_unusual")

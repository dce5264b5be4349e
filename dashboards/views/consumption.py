"""Consumption: quantity and value over any period, by category, material, project, location and
person, against the previous period of equal length; top consumers; category drill-down; the
monthly report as PDF."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from dashboards import charts, downloads
from dashboards.auth import PageContext
from dashboards.data import consumption
from dashboards.layout import empty, delta_text, fmt_number, people, page_header, table

PAGE = "consumption"
DIMENSION_TITLES = {"category": "Category", "material": "Material", "project": "Project",
                    "location": "Location", "user": "Person"}


def render(ctx: PageContext) -> None:
    q, t, src = page_header(ctx, "Consumption", consumption.cached)
    bounds = q.usage_bounds(t, src)
    last = bounds.iloc[0]["last_date"] if not bounds.empty else None
    if last is None or pd.isna(last):
        st.info("No data yet: run `mira run` to load movements; consumption (issues, scrap and returns) "
                "appears here once they are processed.")
        return
    first, last = pd.Timestamp(bounds.iloc[0]["first_date"]).date(), pd.Timestamp(last).date()

    c1, c2, c3 = st.columns([2, 1, 1])
    # keyed by tenant: an analyst who switches tenant starts at that tenant's own default period
    picked = c1.date_input("Period", value=(max(first, last - timedelta(days=29)), last), key=f"cons_period:{t}",
                           format="YYYY-MM-DD", help=f"Consumption data runs from {first} to {last}.")
    grain = c2.radio("Grain", list(consumption.GRAINS), horizontal=True, key="cons_grain")
    measure = c3.radio("Measure", ["value", "quantity"], horizontal=True, key="cons_measure")
    if not isinstance(picked, (tuple, list)) or len(picked) != 2:
        st.info("Pick the last day of the period too.")
        return
    start, end = picked
    if start > end:
        start, end = end, start
    prev_start, prev_end = consumption.previous_period(start, end)

    totals = q.consumption_totals(t, start, end, src).iloc[0]
    if not totals["movements"]:
        st.info(f"No movements in this period ({start} to {end}): widen the dates. "
                f"Consumption data runs from {first} to {last}.")
        return

    m1, m2, m3 = st.columns(3)
    m1.metric("Consumption value", fmt_number(totals["value"]),
              delta_text(totals["value"], totals["previous_value"]), delta_color="off")
    m2.metric("Quantity (mixed units)", fmt_number(totals["quantity"]),
              delta_text(totals["quantity"], totals["previous_quantity"]), delta_color="off")
    m3.metric("Movements", fmt_number(totals["movements"], 0),
              delta_text(totals["movements"], totals["previous_movements"]), delta_color="off")
    st.caption(f"Compared with the previous {(end - start).days + 1} days ({prev_start} to {prev_end}): "
               f"value {fmt_number(totals['previous_value'])}, quantity {fmt_number(totals['previous_quantity'])}."
               + (f" {int(totals['rows_without_value'])} rows have no known cost and count in quantity only."
                  if totals["rows_without_value"] else ""))

    series = q.consumption_series(t, start, end, grain, src)
    st.subheader(f"{measure.capitalize()} per {grain}")
    st.altair_chart(charts.consumption_over_time(series, measure, grain), width="stretch")
    table(series, f"consumption per {grain}", "dl_series")

    st.subheader("Breakdown")
    dimension = st.selectbox("Break down by", list(DIMENSION_TITLES), format_func=DIMENSION_TITLES.get,
                             key="cons_dimension")
    _breakdown(ctx, start, end, dimension, measure)

    st.subheader("Drill down: a category's materials")
    categories = q.consumption_breakdown(t, start, end, "category", source=src)
    category = st.selectbox("Category", list(categories["key"]), key="cons_category")
    if category is not None:
        materials = q.consumption_breakdown(t, start, end, "material", category=category, source=src)
        _show_breakdown(materials, "material", measure, f"materials in {category}", "dl_drill")

    st.subheader("Top consumers")
    st.caption("People are shown by role and the first characters of their pseudonym.")
    top = q.top_consumers(t, start, end, 10, src)
    screen, download = people(ctx, _person_columns(top), PAGE, pseudonym_col="key")
    table(screen, "top consumers", "dl_top", download_df=download, column_config=_money(screen))

    _monthly_report(ctx, first, last)


def _person_columns(df: pd.DataFrame) -> pd.DataFrame:
    return df[["key", "role", "value", "previous_value", "change_value", "quantity", "previous_quantity",
               "movements"]]


def _money(df: pd.DataFrame) -> dict:
    return {c: st.column_config.NumberColumn(format="%.2f") for c in df.columns
            if c in ("value", "previous_value", "change_value", "quantity", "previous_quantity")}


def _breakdown(ctx: PageContext, start: date, end: date, dimension: str, measure: str) -> None:
    df = consumption.cached.consumption_breakdown(ctx.tenant_id, start, end, dimension, source=ctx.source)
    if dimension == "user":
        screen, download = people(ctx, _person_columns(df), PAGE, pseudonym_col="key")
        st.altair_chart(charts.breakdown_bars(screen, "person", measure), width="stretch")
        table(screen, "consumption by person", "dl_breakdown", download_df=download, column_config=_money(screen))
        return
    _show_breakdown(df, dimension, measure, f"consumption by {dimension}", "dl_breakdown")


def _show_breakdown(df: pd.DataFrame, dimension: str, measure: str, name: str, key: str) -> None:
    if empty(df, "No consumption for this selection: widen the dates."):
        return
    title = DIMENSION_TITLES[dimension].lower()
    shown = df.rename(columns={"label": title})
    cols = [title] + (["key"] if dimension in ("material",) else []) + \
        ["value", "previous_value", "change_value", "quantity", "previous_quantity", "movements"] + \
        (["unit"] if dimension == "material" else [])
    shown = shown[cols].rename(columns={"key": "material_id"})
    st.altair_chart(charts.breakdown_bars(shown, title, measure), width="stretch")
    table(shown, name, key, column_config=_money(shown))


def _monthly_report(ctx: PageContext, first: date, last: date) -> None:
    st.subheader("Monthly report")
    months = pd.date_range(pd.Timestamp(first).to_period("M").to_timestamp(), last, freq="MS")
    options = [m.date() for m in reversed(months)]
    if not options:
        return
    month = st.selectbox("Month", options, format_func=lambda m: f"{m:%B %Y}", key="cons_report_month")
    tenant, source = ctx.tenant_id, ctx.source
    name = consumption.cached.tenant_info(tenant, source)
    tenant_name = name.iloc[0]["tenant_name"] if not name.empty else tenant

    def build() -> bytes:
        return monthly_report(tenant, month, tenant_name, source)

    st.download_button("Monthly report (PDF)", data=downloads.deferred(build, "The report could not be made"),
                       file_name=f"consumption-{tenant}-{month:%Y-%m}.pdf", mime=downloads.PDF_MIME,
                       key="dl_report", icon=":material/picture_as_pdf:", on_click="ignore")


def monthly_report(tenant_id: str, month: date, tenant_name: str, source: str = "tenant") -> bytes:
    """The one-page PDF for a calendar month (plain data functions: no Streamlit needed)."""
    start = month.replace(day=1)
    end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
    prev_end = start - timedelta(days=1)
    prev_start = prev_end.replace(day=1)
    # totals against the previous calendar month (not the previous equal-length window)
    cur = consumption.consumption_totals(tenant_id, start, end, source)
    prev = consumption.consumption_totals(tenant_id, prev_start, prev_end, source)
    totals = cur.copy()
    for col in ("quantity", "value", "movements"):
        totals[f"previous_{col}"] = prev[col].values
    daily = consumption.consumption_series(tenant_id, start, end, "day", source)
    categories = consumption.consumption_breakdown(tenant_id, start, end, "category", source=source)
    materials = consumption.consumption_breakdown(tenant_id, start, end, "material", source=source)
    # "previous" in the tables: the previous calendar month too
    for df in (categories, materials):
        if not df.empty:
            dim = "category" if df is categories else "material"
            p = consumption.consumption_breakdown(tenant_id, prev_start, prev_end, dim, source=source)
            df["previous_value"] = df["key"].map(dict(zip(p["key"], p["value"]))).fillna(0)
    return downloads.monthly_report_pdf(tenant_name, start, totals, daily, categories, materials)

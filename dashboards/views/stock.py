"""Stock: on hand and value per location, below-minimum list with order suggestions, days of
cover and predicted stock-outs, ageing bands, count accuracy and shrinkage."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts
from dashboards.auth import PageContext
from dashboards.data import stock
from dashboards.layout import chart_and_table, empty, fmt_number, page_header, table


def render(ctx: PageContext) -> None:
    q, t, src = page_header(ctx, "Stock", stock.cached)
    if empty(by_location := q.stock_by_location(t, src),
             "No data yet: run `mira run` to load movements; stock appears once receipts are processed."):
        return
    reorder = q.reorder_suggestions(t, src)
    cover = q.days_of_cover(t, None, src)

    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Stock value", fmt_number(by_location["value_on_hand"].sum()))
    m2.metric("Locations", f"{len(by_location):,}")
    m3.metric("Below minimum", f"{int(reorder['is_below_minimum'].sum()):,}" if not reorder.empty else "0")
    soon = cover[pd.to_datetime(cover["predicted_stockout_date"]) <= pd.to_datetime(cover["as_of_date"])
                 + pd.Timedelta(days=14)] if not cover.empty else cover
    m4.metric("Stock-outs within 14 days", f"{len(soon):,}")

    st.subheader("On hand per location")
    st.altair_chart(charts.stock_value_by_location(by_location), width="stretch")
    table(by_location.drop(columns=["location_id"]), "stock per location", "dl_locations",
          column_config={"value_on_hand": st.column_config.NumberColumn(format="%.2f")})
    names = dict(zip(by_location["location_id"], by_location["location"]))
    location = st.selectbox("Materials at", list(names), format_func=names.get, key="stock_location")
    if location is not None:
        detail = q.stock_on_hand(t, location, src)
        table(detail, f"stock at {names[location]}", "dl_location_detail")

    st.subheader("Below minimum: suggested orders")
    if reorder.empty:
        st.success("Nothing is below its reorder level.")
    else:
        st.caption("Reorder level = average daily use x lead time + minimum stock; below it, order the usual "
                   "quantity or the shortfall, whichever is more.")
        table(reorder, "reorder suggestions", "dl_reorder",
              column_config={"order_value": st.column_config.NumberColumn(format="%.2f"),
                             "avg_daily_use": st.column_config.NumberColumn(format="%.3f"),
                             "reorder_level": st.column_config.NumberColumn(format="%.2f")})

    st.subheader("Days of cover and predicted stock-outs")
    within = st.slider("Running out within (days)", 1, 365, 30, key="stock_cover_days")
    shown = cover[pd.to_datetime(cover["predicted_stockout_date"]) <= pd.to_datetime(cover["as_of_date"])
                  + pd.Timedelta(days=within)] if not cover.empty else cover
    if shown.empty:
        st.info(f"Nothing runs out within {within} days at the recent rate of use: widen the horizon.")
    else:
        table(shown.drop(columns=["as_of_date"]), "days of cover", "dl_cover",
              column_config={"days_of_cover": st.column_config.NumberColumn(format="%.1f"),
                             "avg_daily_use": st.column_config.NumberColumn(format="%.3f")})

    chart_and_table("Stock ageing", q.stock_ageing(t, src), "No stock on hand to age.", charts.ageing_bands,
                    "stock ageing", "dl_ageing",
                    column_config={"average_age_days": st.column_config.NumberColumn(format="%.0f")})
    chart_and_table("Count accuracy and shrinkage", q.count_accuracy(t, src), "No counts or scrap recorded yet.",
                    charts.count_accuracy, "count accuracy", "dl_accuracy",
                    column_config={"count_accuracy": st.column_config.NumberColumn(format="percent")})

"""Stock: on hand and value per location, what is below its reorder level (and, apart, below its
minimum) with order suggestions, days of cover and what runs out soon, ageing bands, count
accuracy and shrinkage.

The headline names each count for what it counts: "below reorder level" (an order is due) is
not "below minimum stock" (the safety stock is being eaten), and "running out" is stock that is
still there; places already at zero are counted apart (they are out, not running out)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts
from dashboards.auth import PageContext
from dashboards.data import consumption, stock
from dashboards.downloads import Title
from dashboards.i18n import _
from dashboards.layout import chart_and_table, empty, page_header, table, translate_values

SOON_DAYS = 14


def running_out(cover: pd.DataFrame, within: int) -> pd.DataFrame:
    """Stock still on hand that lasts `within` days or less at the recent rate of use."""
    if cover.empty:
        return cover
    horizon = pd.to_datetime(cover["as_of_date"]) + pd.Timedelta(days=within)
    return cover[(cover["quantity_on_hand"] > 0) & (pd.to_datetime(cover["predicted_stockout_date"]) <= horizon)]


def render(ctx: PageContext) -> None:
    lang = ctx.lang
    q, t, src = page_header(ctx, _("Stock"), stock.cached)
    if empty(by_location := q.stock_by_location(t, src),
             _("No data yet: run `mira run` to load movements; stock appears once receipts are processed.")):
        return
    reorder = q.reorder_suggestions(t, src)
    cover = q.days_of_cover(t, None, src)
    info = consumption.cached.tenant_info(t, src)
    tenant_name = info.iloc[0]["tenant_name"] if not info.empty else t
    as_of = pd.Timestamp(cover["as_of_date"].max()).date() if not cover.empty else None

    def title(name: str) -> Title:
        return Title(name, tenant_name, None, as_of)

    out_now = cover[cover["quantity_on_hand"] <= 0] if not cover.empty else cover
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(_("Stock value"), lang.money(by_location["value_on_hand"].sum()))
    m2.metric(_("Below reorder level"), lang.integer(int(reorder["is_below_reorder_level"].sum()) if not reorder.empty else 0),
              help=_("Materials at a warehouse whose stock is below the level at which an order is due."))
    m3.metric(_("Below minimum stock"), lang.integer(int(reorder["is_below_minimum"].sum()) if not reorder.empty else 0),
              help=_("Materials at a warehouse whose stock is below the catalogue's minimum (the safety stock)."))
    m4.metric(_("Running out within {days} days", days=SOON_DAYS), lang.integer(len(running_out(cover, SOON_DAYS))),
              help=_("Stock still on hand that lasts {days} days or less at the recent rate of use; "
                     "{zero} places already at zero are not counted.", days=SOON_DAYS, zero=len(out_now)))

    st.subheader(_("On hand per location"))
    st.altair_chart(charts.stock_value_by_location(by_location, lang), width="stretch")
    table(ctx, translate_values(by_location.drop(columns=["location_id"]), lang, "kind"),
          title(_("Stock per location")), "dl_locations")
    names = dict(zip(by_location["location_id"], by_location["location"]))
    location = st.selectbox(_("Materials at"), list(names), format_func=names.get, key="stock_location")
    if location is not None:
        detail = q.stock_on_hand(t, location, src)
        table(ctx, detail, title(_("Stock at {location}", location=names[location])), "dl_location_detail",
              show=["material", "category", "quantity_on_hand", "unit", "value_on_hand", "last_movement_date"])

    st.subheader(_("Below reorder level: suggested orders"))
    if reorder.empty:
        st.success(_("Nothing is below its reorder level."))
    else:
        st.caption(_("Reorder level = average daily use x lead time + minimum stock. Below it, the suggestion is "
                     "the usual order quantity or the shortfall, whichever is more (ERPNext's rule), but never "
                     "more than brings stock to the reorder level plus 180 days of use: a slow mover is not "
                     "ordered for years. Capped suggestions are marked."))
        table(ctx, reorder, title(_("Suggested orders")), "dl_reorder",
              show=["material", "warehouse", "quantity_on_hand", "unit", "reorder_level", "is_below_minimum",
                    "reorder_qty", "suggested_order_qty", "is_capped", "order_value"])

    st.subheader(_("Days of cover and predicted stock-outs"))
    within = st.slider(_("Running out within (days)"), 1, 365, 30, key="stock_cover_days")
    shown = running_out(cover, within)
    if len(out_now):
        st.caption(_("{count} places are already at zero while still in use: they are out of stock, not "
                     "running out, and not in this list.", count=lang.integer(len(out_now))))
    if shown.empty:
        st.info(_("Nothing runs out within {days} days at the recent rate of use: widen the horizon.", days=within))
    else:
        table(ctx, shown.drop(columns=["as_of_date"]), title(_("Days of cover")), "dl_cover")

    chart_and_table(ctx, _("Stock ageing"), q.stock_ageing(t, src), _("No stock on hand to age."), charts.ageing_bands,
                    title(_("Stock ageing")), "dl_ageing",
                    show=["location", "value_on_hand", "value_age_0_30", "value_age_31_60",
                          "value_age_61_90", "value_age_91_180", "value_age_181_365", "value_age_over_365"])
    chart_and_table(ctx, _("Count accuracy and shrinkage"), q.count_accuracy(t, src),
                    _("No counts or scrap recorded yet."), charts.count_accuracy, title(_("Count accuracy")),
                    "dl_accuracy",
                    show=["month", "location", "count_accuracy", "counted_value", "missing_value", "scrap_value",
                          "shrinkage_value"])

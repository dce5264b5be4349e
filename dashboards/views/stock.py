"""Stock: on hand and value per location, stock on a chosen date, what is below its reorder level
(and, apart, below its minimum) with order suggestions and the purchase proposal per supplier,
days of cover and what runs out soon, dead and slow stock, ageing bands, count accuracy and
shrinkage.

The headline names each count for what it counts: "below reorder level" (an order is due) is
not "below minimum stock" (the safety stock is being eaten), and "running out" is stock that is
still there; places already at zero are counted apart (they are out, not running out)."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboards import charts
from dashboards.auth import PageContext
from dashboards.data import consumption, stock
from dashboards.downloads import Title
from dashboards.i18n import N_, _
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

    _stock_on_a_date(ctx, names, tenant_name, as_of)

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
        _purchase_proposal(ctx, title)

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

    _slow_stock(ctx, title)

    chart_and_table(ctx, _("Stock ageing"), q.stock_ageing(t, src), _("No stock on hand to age."), charts.ageing_bands,
                    title(_("Stock ageing")), "dl_ageing",
                    show=["location", "value_on_hand", "value_age_0_30", "value_age_31_60",
                          "value_age_61_90", "value_age_91_180", "value_age_181_365", "value_age_over_365"])
    chart_and_table(ctx, _("Count accuracy and shrinkage"), q.count_accuracy(t, src),
                    _("No counts or scrap recorded yet."), charts.count_accuracy, title(_("Count accuracy")),
                    "dl_accuracy",
                    show=["month", "location", "count_accuracy", "counted_value", "missing_value", "scrap_value",
                          "shrinkage_value"])


def _stock_on_a_date(ctx: PageContext, names: dict, tenant_name: str, as_of: date | None) -> None:
    """Stock on any past day, per location and material, from the ledger's daily levels (each
    valid from its day to the next change): what an accountant asks at a year's end."""
    lang, q, t, src = ctx.lang, stock.cached, ctx.tenant_id, ctx.source
    st.subheader(_("Stock on a chosen date"))
    bounds = consumption.cached.data_bounds(t, src)
    if bounds is None:
        return
    first, last = bounds
    c1, c2 = st.columns([1, 2])
    day = c1.date_input(_("Stock on"), value=last, min_value=first, max_value=last, key=f"stock_asof_date:{t}",
                        format="DD/MM/YYYY", help=_("Stock at the end of the day chosen; the data runs from {first} "
                                                    "to {last}.", first=lang.date(first), last=lang.date(last)))
    everywhere, all_label = "*", _("All locations")   # the label made now, in the reader's language
    where = c2.selectbox(_("Location"), [everywhere, *names], key=f"stock_asof_location@{lang.code}",
                         format_func=lambda k: all_label if k == everywhere else names.get(k, k))
    held = q.stock_as_of(t, day, src)
    if where != everywhere:
        held = held[held["location_id"] == where]
    place = _("all locations") if where == everywhere else names.get(where, where)
    st.caption(_("On {day} at {place}: {value} in {count} lines, valued at today's catalogue cost.",
                 day=lang.date(day), place=place, value=lang.money(held["value_on_hand"].sum()),
                 count=lang.integer(len(held))))
    if empty(held, _("Nothing was in stock there on that day: pick another date or location.")):
        return
    table(ctx, held.drop(columns=["location_id"]), Title(_("Stock on a chosen date"), tenant_name, None, day),
          "dl_asof", show=["location", "material", "category", "quantity_on_hand", "unit", "value_on_hand",
                           "last_movement_date"])


def _purchase_proposal(ctx: PageContext, title) -> None:
    """The suggested orders as something to send: one proposal per supplier."""
    lang = ctx.lang
    lines = stock.cached.purchase_proposal(ctx.tenant_id, ctx.source)
    st.subheader(_("Purchase proposal per supplier"))
    if empty(lines, _("Nothing to order.")):
        return
    lines = lines.assign(supplier=[_(NO_SUPPLIER_WORD) if s == stock.NO_SUPPLIER else s for s in lines["supplier"]])
    per_supplier = lines.groupby("supplier", sort=False).agg(
        order_lines=("material", "size"), order_value=("order_value", "sum")).reset_index()
    st.caption(_("{lines} order lines from {suppliers} suppliers, worth {value} at catalogue cost. Download the "
                 "whole proposal below, or one supplier's lines.", lines=lang.integer(len(lines)),
                 suppliers=lang.integer(len(per_supplier)), value=lang.money(lines["order_value"].sum())))
    columns = ["supplier", "sku", "material", "warehouse", "suggested_order_qty", "unit", "unit_cost", "order_value",
               "is_below_minimum"]
    table(ctx, per_supplier, title(_("Purchase proposal")), "dl_proposal", download_df=lines[columns])
    supplier = st.selectbox(_("Supplier"), list(per_supplier["supplier"]), key=f"stock_supplier@{lang.code}")
    if supplier is not None:
        mine = lines[lines["supplier"] == supplier][columns]
        table(ctx, mine, title(_("Purchase proposal {supplier}", supplier=supplier)), "dl_proposal_supplier",
              show=["sku", "material", "warehouse", "suggested_order_qty", "unit", "unit_cost", "order_value"])


NO_SUPPLIER_WORD = N_("(no supplier)")


def _slow_stock(ctx: PageContext, title) -> None:
    """What has not been issued for N days, what it is worth and where it lies."""
    lang = ctx.lang
    st.subheader(_("Dead and slow stock"))
    days = st.radio(_("No issue in"), list(stock.SLOW_DAYS), index=1, horizontal=True, key=f"stock_slow_days@{lang.code}",
                    format_func=lambda d: lang.n_("{n} day", "{n} days", d))
    slow = stock.cached.slow_stock(ctx.tenant_id, days, ctx.source)
    if empty(slow, _("Every material in stock was issued within the last {days} days.", days=days)):
        return
    st.caption(_("{count} materials worth {value} have had no issue in {days} days (or, never issued, have been "
                 "in stock that long). Tools are on the Tools page.", count=lang.integer(len(slow)),
                 value=lang.money(slow["value_on_hand"].sum()), days=days))
    table(ctx, slow, title(_("No issue in {days} days", days=days)), "dl_slow",
          show=["material", "category", "last_issue_date", "days_without_issue", "quantity_on_hand", "unit",
                "value_on_hand", "where_it_lies"])

"""Consumption: quantity and value over any period, by category, material, project, location and
person, against the previous period (one rule, stated on screen and in the PDF); top consumers;
category drill-down; the monthly report as PDF."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from dashboards import charts, downloads
from dashboards.auth import PageContext
from dashboards.data import consumption
from dashboards.downloads import Title
from dashboards.i18n import Lang, N_, _
from dashboards.layout import empty, page_header, people, table
from dashboards.report_pdf import PREVIOUS_RULE, monthly_report_pdf

PAGE = "consumption"
DIMENSION_TITLES = {"category": N_("Category"), "material": N_("Material"), "project": N_("Project"),
                    "location": N_("Location"), "user": N_("Person")}
GRAIN_TITLES = {"day": N_("day"), "week": N_("week"), "month": N_("month")}
MEASURE_TITLES = {"value": N_("value"), "quantity": N_("quantity")}
# on screen; every column is in the downloads
BREAKDOWN_SHOWN = ["value", "previous_value", "change_value", "quantity", "unit", "movements"]
PREVIOUS_RULE = PREVIOUS_RULE


def render(ctx: PageContext) -> None:
    lang = ctx.lang
    q, t, src = page_header(ctx, _("Consumption"), consumption.cached)
    bounds = q.usage_bounds(t, src)
    last = bounds.iloc[0]["last_date"] if not bounds.empty else None
    if last is None or pd.isna(last):
        st.info(_("No data yet: run `mira run` to load movements; consumption (issues, scrap and returns) "
                  "appears here once they are processed."))
        return
    first, last = pd.Timestamp(bounds.iloc[0]["first_date"]).date(), pd.Timestamp(last).date()
    tenant_name = _tenant_name(ctx)

    c1, c2, c3 = st.columns([2, 1, 1])
    # keyed by tenant: an analyst who switches tenant starts at that tenant's own default period
    picked = c1.date_input(_("Period"), value=(max(first, last - timedelta(days=29)), last), key=f"cons_period:{t}",
                           format="DD/MM/YYYY",
                           help=_("Consumption data runs from {first} to {last}.", first=lang.date(first),
                                  last=lang.date(last)))
    grain = c2.radio(_("Grain"), list(consumption.GRAINS), horizontal=True, key="cons_grain",
                     format_func=lambda g: lang._(GRAIN_TITLES[g]))
    measure = c3.radio(_("Measure"), ["value", "quantity"], horizontal=True, key="cons_measure",
                       format_func=lambda m: lang._(MEASURE_TITLES[m]))
    if not isinstance(picked, (tuple, list)) or len(picked) != 2:
        st.info(_("Pick the last day of the period too."))
        return
    start, end = picked
    if start > end:
        start, end = end, start
    prev_start, prev_end = consumption.previous_period(start, end)

    totals = q.consumption_totals(t, start, end, src).iloc[0]
    if not totals["movements"]:
        st.info(_("No movements in this period ({period}): widen the dates. Consumption data runs from "
                  "{first} to {last}.", period=lang.period(start, end), first=lang.date(first),
                  last=lang.date(last)))
        return

    m1, m2, m3 = st.columns(3)
    m1.metric(_("Consumption value"), lang.money(totals["value"]),
              lang.change(totals["value"], totals["previous_value"]), delta_color="off")
    m2.metric(_("Quantity (mixed units)"), lang.number(totals["quantity"]),
              lang.change(totals["quantity"], totals["previous_quantity"]), delta_color="off")
    m3.metric(_("Movements"), lang.integer(totals["movements"]),
              lang.change(totals["movements"], totals["previous_movements"]), delta_color="off")
    caption = _("Compared with {period}: value {value}, quantity {quantity}.",
                period=lang.period(prev_start, prev_end), value=lang.money(totals["previous_value"]),
                quantity=lang.number(totals["previous_quantity"])) + " " + _(PREVIOUS_RULE)
    if totals["rows_without_value"]:
        caption += " " + _("{rows} rows have no known cost and count in quantity only.",
                           rows=lang.integer(totals["rows_without_value"]))
    st.caption(caption)

    def title(name: str) -> Title:
        return Title(name, tenant_name, start, end)

    series = q.consumption_series(t, start, end, grain, src)
    st.subheader(_("{measure} per {grain}", measure=_(MEASURE_TITLES[measure]).capitalize(),
                   grain=_(GRAIN_TITLES[grain])))
    st.altair_chart(charts.consumption_over_time(series, measure, grain, lang), width="stretch")
    table(ctx, series, title(_("Consumption per {grain}", grain=_(GRAIN_TITLES[grain]))), "dl_series")

    st.subheader(_("Breakdown"))
    dimension = st.selectbox(_("Break down by"), list(DIMENSION_TITLES), format_func=lambda d: lang._(DIMENSION_TITLES[d]),
                             key="cons_dimension")
    _breakdown(ctx, start, end, dimension, measure, title)

    st.subheader(_("Drill down: a category's materials"))
    categories = q.consumption_breakdown(t, start, end, "category", source=src)
    category = st.selectbox(_("Category"), list(categories["key"]), key="cons_category",
                            placeholder=_("Choose a category"))
    if category is not None:
        materials = q.consumption_breakdown(t, start, end, "material", category=category, source=src)
        _show_breakdown(ctx, materials, "material", measure, title(_("Materials in {category}", category=category)),
                        "dl_drill")

    st.subheader(_("Top consumers"))
    st.caption(_("People are shown by role and the first characters of their pseudonym."))
    top = q.top_consumers(t, start, end, 10, src)
    screen, download = people(ctx, _person_columns(top), PAGE, pseudonym_col="key")
    table(ctx, screen, title(_("Top consumers")), "dl_top", download_df=download, show=["person", *BREAKDOWN_SHOWN])

    _monthly_report(ctx, first, last, tenant_name)


def _tenant_name(ctx: PageContext) -> str:
    name = consumption.cached.tenant_info(ctx.tenant_id, ctx.source)
    return name.iloc[0]["tenant_name"] if not name.empty else ctx.tenant_id


def _person_columns(df: pd.DataFrame) -> pd.DataFrame:
    return df[["key", "role", "value", "previous_value", "change_value", "quantity", "previous_quantity",
               "movements"]]


def _breakdown(ctx: PageContext, start: date, end: date, dimension: str, measure: str, title) -> None:
    df = consumption.cached.consumption_breakdown(ctx.tenant_id, start, end, dimension, source=ctx.source)
    name = title(_("Consumption by {dimension}", dimension=_(DIMENSION_TITLES[dimension]).lower()))
    if dimension == "user":
        if empty(df, _("No consumption for this selection: widen the dates.")):
            return
        screen, download = people(ctx, _person_columns(df), PAGE, pseudonym_col="key")
        st.altair_chart(charts.breakdown_bars(screen, "person", measure, ctx.lang), width="stretch")
        table(ctx, screen, name, "dl_breakdown", download_df=download, show=["person", *BREAKDOWN_SHOWN])
        return
    _show_breakdown(ctx, df, dimension, measure, name, "dl_breakdown")


_DIMENSION_COLUMN = {"category": "category", "material": "material", "project": "project", "location": "location"}


def _show_breakdown(ctx: PageContext, df: pd.DataFrame, dimension: str, measure: str, name: Title, key: str) -> None:
    if empty(df, _("No consumption for this selection: widen the dates.")):
        return
    label = _DIMENSION_COLUMN[dimension]
    shown = df.rename(columns={"label": label, "key": "material_id"})
    cols = [label] + (["material_id"] if dimension == "material" else []) + \
        ["value", "previous_value", "change_value", "quantity", "previous_quantity", "movements"] + \
        (["unit"] if dimension == "material" else [])
    shown = shown[cols]
    st.altair_chart(charts.breakdown_bars(shown, label, measure, ctx.lang), width="stretch")
    table(ctx, shown, name, key, show=[label, *[c for c in BREAKDOWN_SHOWN if c in cols]])


def _monthly_report(ctx: PageContext, first: date, last: date, tenant_name: str) -> None:
    lang = ctx.lang
    st.subheader(_("Monthly report"))
    months = pd.date_range(pd.Timestamp(first).to_period("M").to_timestamp(), last, freq="MS")
    options = [m.date() for m in reversed(months)]
    if not options:
        return
    month = st.selectbox(_("Month"), options, format_func=lang.month, key="cons_report_month")
    tenant, source = ctx.tenant_id, ctx.source

    def build() -> bytes:
        return monthly_report(tenant, month, tenant_name, source, lang=lang)

    st.download_button(_("Monthly report (PDF)"),
                       data=downloads.deferred(build, _("The report could not be made")),
                       file_name=downloads.file_stem(_("consumption report")) + f"_{month:%Y-%m}.pdf",
                       mime=downloads.PDF_MIME, key="dl_report", icon=":material/picture_as_pdf:", on_click="ignore")


def monthly_report(tenant_id: str, month: date, tenant_name: str, source: str = "tenant",
                   lang: Lang = Lang()) -> bytes:
    """The one-page PDF for a calendar month (plain data functions: no Streamlit needed), against
    the previous period by the page's own rule (a whole month: the month before)."""
    start = month.replace(day=1)
    end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
    prev_start, prev_end = consumption.previous_period(start, end)
    totals = consumption.consumption_totals(tenant_id, start, end, source)
    daily = consumption.consumption_series(tenant_id, start, end, "day", source)
    categories = consumption.consumption_breakdown(tenant_id, start, end, "category", source=source)
    materials = consumption.consumption_breakdown(tenant_id, start, end, "material", source=source)
    return monthly_report_pdf(lang, tenant_name, start, (prev_start, prev_end), totals, daily, categories, materials)

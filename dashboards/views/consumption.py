"""Consumption: quantity and value over any period, by category, material, project, location and
person, against the previous period and the same period last year (one rule each, stated on
screen and in the PDF); filters on project, location, category and person at once; top
consumers; a category's and a project's materials; the monthly report as PDF.

The filters narrow every figure below them (metrics, series, breakdowns, drill-downs, top
consumers) but not the monthly report, which is the tenant's whole month. People are offered by
their label (role + pseudonym) or, where the tenant shows its managers names, by name: the
list goes through the same `people` helper as the tables, so names are read and audited the
same way, and the filter itself holds pseudonyms only.
"""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from dashboards import charts, downloads
from dashboards.auth import PageContext
from dashboards.data import consumption, periods
from dashboards.data.consumption import NO_PROJECT, UNCATEGORISED, Filters
from dashboards.downloads import Title
from dashboards.i18n import N_, _
from dashboards.layout import empty, page_header, people, table
from dashboards.report_pdf import LAST_YEAR_RULE, PREVIOUS_RULE, compared_note, monthly_report

PAGE = "consumption"
DIMENSION_TITLES = {"category": N_("Category"), "material": N_("Material"), "project": N_("Project"),
                    "location": N_("Location"), "user": N_("Person")}
GRAIN_TITLES = {"day": N_("day"), "week": N_("week"), "month": N_("month")}
MEASURE_TITLES = {"value": N_("value"), "quantity": N_("quantity")}
# keys the data uses for consumption booked on no project / materials without a category
KEY_WORDS = {NO_PROJECT: N_("(no project)"), UNCATEGORISED: N_("(no category)")}
# on screen; every column is in the downloads
BREAKDOWN_SHOWN = ["value", "previous_value", "change_value", "last_year_value", "quantity", "unit", "movements"]
__all__ = ["render", "monthly_report", "PREVIOUS_RULE", "LAST_YEAR_RULE"]


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
    grain = c2.radio(_("Grain"), list(consumption.GRAINS), horizontal=True, key=f"cons_grain@{lang.code}",
                     format_func=lambda g: lang._(GRAIN_TITLES[g]))
    measure = c3.radio(_("Measure"), ["value", "quantity"], horizontal=True, key=f"cons_measure@{lang.code}",
                       format_func=lambda m: lang._(MEASURE_TITLES[m]))
    filters = _filters(ctx)
    if not isinstance(picked, (tuple, list)) or len(picked) != 2:
        st.info(_("Pick the last day of the period too."))
        return
    start, end = picked
    if start > end:
        start, end = end, start

    totals = q.consumption_totals(t, start, end, src, filters).iloc[0]
    if not totals["movements"]:
        if filters:
            st.info(_("No consumption for these filters in this period ({period}): widen the dates or clear "
                      "a filter.", period=lang.period(start, end)))
        else:
            st.info(_("No movements in this period ({period}): widen the dates. Consumption data runs from "
                      "{first} to {last}.", period=lang.period(start, end), first=lang.date(first),
                      last=lang.date(last)))
        return
    _headline(ctx, totals, start, end)

    def title(name: str) -> Title:
        return Title(name, tenant_name, start, end)

    series = q.consumption_series(t, start, end, grain, src, filters)
    st.subheader(_("{measure} per {grain}", measure=_(MEASURE_TITLES[measure]).capitalize(),
                   grain=_(GRAIN_TITLES[grain])))
    st.altair_chart(charts.consumption_over_time(series, measure, grain, lang), width="stretch")
    table(ctx, series, title(_("Consumption per {grain}", grain=_(GRAIN_TITLES[grain]))), "dl_series")

    st.subheader(_("Breakdown"))
    dimension = st.selectbox(_("Break down by"), list(DIMENSION_TITLES), format_func=lambda d: lang._(DIMENSION_TITLES[d]),
                             key=f"cons_dimension@{lang.code}")
    _breakdown(ctx, start, end, dimension, measure, filters, title)

    st.subheader(_("Drill down: a category's materials"))
    categories = q.consumption_breakdown(t, start, end, "category", source=src, filters=filters)
    category = st.selectbox(_("Category"), list(categories["key"]), key=f"cons_category@{lang.code}",
                            format_func=_labeller(), placeholder=_("Choose a category"))
    if category is not None:
        materials = q.consumption_breakdown(t, start, end, "material", category=category, source=src, filters=filters)
        _show_breakdown(ctx, materials, "material", measure,
                        title(_("Materials in {category}", category=_key_word(category))), "dl_drill")

    _project_drill(ctx, start, end, measure, filters, title)

    st.subheader(_("Top consumers"))
    st.caption(_("People are shown by role and the first characters of their pseudonym."))
    top = q.top_consumers(t, start, end, 10, src, filters)
    screen, download = people(ctx, _person_columns(top), PAGE, pseudonym_col="key")
    table(ctx, screen, title(_("Top consumers")), "dl_top", download_df=download, show=["person", *BREAKDOWN_SHOWN])

    _monthly_report(ctx, tenant_name)


def _key_word(key: object) -> str:
    return _(KEY_WORDS[key]) if key in KEY_WORDS else str(key)


def _labeller(labels: dict | None = None):
    """A widget's format_func with its words translated now: Streamlit may call it after the
    page's run, when the reader's language is no longer the current one."""
    words = {k: _(v) for k, v in KEY_WORDS.items()}
    labels = labels or {}
    return lambda k: words[k] if k in words else labels.get(k, str(k))


def _tenant_name(ctx: PageContext) -> str:
    name = consumption.cached.tenant_info(ctx.tenant_id, ctx.source)
    return name.iloc[0]["tenant_name"] if not name.empty else ctx.tenant_id


def _filters(ctx: PageContext) -> Filters:
    """Four filters side by side; each empty means all. Options come from the tenant's own
    dimensions, so a choice stays valid when the period changes."""
    options = consumption.cached.filter_options(ctx.tenant_id, ctx.source)
    names = {k: dict(zip(options[k]["key"], options[k]["label"])) for k in ("projects", "locations", "categories")}
    found = options["people"]
    person_labels: dict[str, str] = {}
    if not found.empty:
        screen, _download = people(ctx, found, PAGE, pseudonym_col="key")
        person_labels = dict(zip(found["key"], screen["person"]))
    columns = st.columns(4)
    chosen = {}
    for column, (name, label, labels) in zip(columns, (
            ("projects", _("Projects"), names["projects"]), ("locations", _("Locations"), names["locations"]),
            ("categories", _("Categories"), names["categories"]), ("people", _("People"), person_labels))):
        chosen[name] = tuple(column.multiselect(
            label, list(labels), key=f"cons_f_{name}@{ctx.lang.code}", placeholder=_("All"),
            format_func=_labeller(labels)))
    return Filters(**chosen)


def _headline(ctx: PageContext, totals: pd.Series, start: date, end: date) -> None:
    lang = ctx.lang
    prev_start, prev_end = periods.previous_period(start, end)
    ly_start, ly_end = periods.same_period_last_year(start, end)
    bounds = consumption.cached.data_bounds(ctx.tenant_id, ctx.source)
    notes = [compared_note(lang, p, bounds[0] if bounds else None)
             for p in ((prev_start, prev_end), (ly_start, ly_end))]
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(_("Consumption value"), lang.money(totals["value"]),
              lang.change(totals["value"], totals["previous_value"]), delta_color="off",
              help=_("Change against the previous period ({period}).", period=lang.period(prev_start, prev_end)))
    m2.metric(_("Quantity (mixed units)"), lang.number(totals["quantity"]),
              lang.change(totals["quantity"], totals["previous_quantity"]), delta_color="off")
    m3.metric(_("Movements"), lang.integer(totals["movements"]),
              lang.change(totals["movements"], totals["previous_movements"]), delta_color="off")
    m4.metric(_("Same period last year"), lang.money(totals["last_year_value"]),
              lang.change(totals["value"], totals["last_year_value"]), delta_color="off",
              help=_("Consumption value from {period}; the change is this period's value against it.",
                     period=lang.period(ly_start, ly_end)))
    caption = _("Compared with {period}: value {value}, quantity {quantity}.",
                period=lang.period(prev_start, prev_end), value=lang.money(totals["previous_value"]),
                quantity=lang.number(totals["previous_quantity"])) + _note(notes[0]) + " " + _(PREVIOUS_RULE) + "  \n" + \
        _("Same period last year ({period}): value {value}, quantity {quantity}.",
          period=lang.period(ly_start, ly_end), value=lang.money(totals["last_year_value"]),
          quantity=lang.number(totals["last_year_quantity"])) + _note(notes[1]) + " " + _(LAST_YEAR_RULE)
    if totals["rows_without_value"]:
        caption += " " + _("{rows} rows have no known cost and count in quantity only.",
                           rows=lang.integer(totals["rows_without_value"]))
    st.caption(caption)


def _note(note: str | None) -> str:
    return f" ({note})" if note else ""


def _person_columns(df: pd.DataFrame) -> pd.DataFrame:
    return df[["key", "role", "value", "previous_value", "change_value", "last_year_value", "quantity",
               "previous_quantity", "last_year_quantity", "movements"]]


def _breakdown(ctx: PageContext, start: date, end: date, dimension: str, measure: str, filters: Filters,
               title) -> None:
    df = consumption.cached.consumption_breakdown(ctx.tenant_id, start, end, dimension, source=ctx.source,
                                                  filters=filters)
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


def _show_breakdown(ctx: PageContext, df: pd.DataFrame, dimension: str, measure: str, name: Title, key: str,
                    chart: bool = True) -> None:
    if empty(df, _("No consumption for this selection: widen the dates.")):
        return
    label = _DIMENSION_COLUMN[dimension]
    shown = df.rename(columns={"label": label, "key": "material_id"})
    shown[label] = [_key_word(v) for v in shown[label]]
    cols = [label] + (["material_id"] if dimension == "material" else []) + \
        ["value", "previous_value", "change_value", "last_year_value", "quantity", "previous_quantity",
         "last_year_quantity", "movements"] + (["unit"] if dimension == "material" else [])
    shown = shown[cols]
    if chart:
        st.altair_chart(charts.breakdown_bars(shown, label, measure, ctx.lang), width="stretch")
    table(ctx, shown, name, key, show=[label, *[c for c in BREAKDOWN_SHOWN if c in cols]])


def _project_drill(ctx: PageContext, start: date, end: date, measure: str, filters: Filters, title) -> None:
    """What one project consumed in the period and what it cost, material by material."""
    lang, q, t, src = ctx.lang, consumption.cached, ctx.tenant_id, ctx.source
    st.subheader(_("Drill down: a project's materials"))
    projects = q.consumption_breakdown(t, start, end, "project", source=src, filters=filters)
    labels = dict(zip(projects["key"], projects["label"]))
    project = st.selectbox(_("Project"), list(labels), key=f"cons_project@{lang.code}", placeholder=_("Choose a project"),
                           format_func=_labeller(labels))
    if project is None:
        return
    narrowed = filters.only_project(project)
    total = q.consumption_totals(t, start, end, src, narrowed).iloc[0]
    name = _key_word(project) if project in KEY_WORDS else labels[project]
    st.caption(_("{project} consumed {value} in {period} ({movements} movements); previous period {previous}, "
                 "same period last year {last_year}.", project=name, value=lang.money(total["value"]),
                 period=lang.period(start, end), movements=lang.integer(total["movements"]),
                 previous=lang.money(total["previous_value"]), last_year=lang.money(total["last_year_value"])))
    materials = q.consumption_breakdown(t, start, end, "material", source=src, filters=narrowed)
    _show_breakdown(ctx, materials, "material", measure, title(_("Materials for {project}", project=name)),
                    "dl_project", chart=False)


def _monthly_report(ctx: PageContext, tenant_name: str) -> None:
    lang = ctx.lang
    st.subheader(_("Monthly report"))
    bounds = consumption.cached.data_bounds(ctx.tenant_id, ctx.source)
    if bounds is None:
        return
    months = periods.report_months(*bounds)
    covers = {m.month: m for m in months}
    default = periods.default_report_month(*bounds)

    def label(month: date) -> str:
        cover = covers[month]
        if not cover.partial:
            return lang.month(month)
        return _("{month} (partial: data from {first} to {last})", month=lang.month(month),
                 first=lang.date(cover.data_from), last=lang.date(cover.data_to))

    labels = {m: label(m) for m in covers}    # made now, in the reader's language
    month = st.selectbox(_("Month"), list(covers), index=list(covers).index(default), format_func=labels.get,
                         key=f"cons_report_month:{ctx.tenant_id}@{lang.code}",
                         help=_("The report opens on the last complete month; a partial month says so on the page."))
    tenant, source = ctx.tenant_id, ctx.source

    def build() -> bytes:
        return monthly_report(tenant, month, tenant_name, source, lang=lang)

    st.download_button(_("Monthly report (PDF)"),
                       data=downloads.deferred(build, _("The report could not be made")),
                       file_name=downloads.file_stem(_("consumption report")) + f"_{month:%Y-%m}.pdf",
                       mime=downloads.PDF_MIME, key="dl_report", icon=":material/picture_as_pdf:", on_click="ignore")

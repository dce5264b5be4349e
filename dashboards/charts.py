"""Altair charts, one function per kind of picture; every chart has titled axes and tooltips in
the reader's language, and numbers in their convention (Vega's number locale: decimal comma,
thousands separator, the tenant's currency in "$" formats).

Periods on an axis are labels made with Babel (Vega's own month names are English), so the
axis is ordinal, and its order is stated in the spec: Vega keeps the order in which it first
saw the values when a chart's data is replaced, which put December 2025 after December 2026
once the period changed.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from dashboards.columns import VALUES
from dashboards.data.stock import AGE_BANDS
from dashboards.i18n import Lang

_LABELS = alt.Axis(labelLimit=260)
MONEY = "$,.2f"          # d3: the locale's currency sign and separators
MONEY_AXIS = "$,.0f"


def _height(rows: int) -> int:
    return max(120, 26 * rows)


def number_locale(lang: Lang) -> dict:
    """d3's number locale for this reader and currency."""
    symbol = lang.currency_symbol
    after = lang.code == "fr" or lang.money(1).rstrip().endswith(symbol)
    return {"decimal": lang.decimal_sign, "thousands": lang.group_sign.replace("\u202f", "\u00a0"), "grouping": [3],
            "currency": ["", "\u00a0" + symbol] if after else [symbol + ("\u00a0" if lang.belgian else ""), ""]}


def _done(chart, lang: Lang):
    return chart.configure(locale={"number": number_locale(lang)})


def period_label(lang: Lang, grain: str):
    return {"day": lang.day_short, "week": lang.week_short, "month": lang.month_short}[grain]


def consumption_over_time(df: pd.DataFrame, measure: str, grain: str, lang: Lang) -> alt.Chart:
    _ = lang._
    title = _("value at cost") if measure == "value" else _("quantity (mixed units)")
    df = df.sort_values("period_start")
    labels = [period_label(lang, grain)(d) for d in df["period_start"]]
    df = df.assign(period=labels)
    return _done(alt.Chart(df).mark_bar().encode(
        x=alt.X("period:O", title=None, sort=labels, axis=alt.Axis(labelAngle=-40)),
        y=alt.Y(f"{measure}:Q", title=title, axis=alt.Axis(format=MONEY_AXIS if measure == "value" else ",.0f")),
        tooltip=[alt.Tooltip("period:N", title=_("Period")),
                 alt.Tooltip("value:Q", title=_("Value"), format=MONEY),
                 alt.Tooltip("quantity:Q", title=_("Quantity"), format=",.2f"),
                 alt.Tooltip("movements:Q", title=_("Movements"), format=",d")],
    ).properties(height=280), lang)


def breakdown_bars(df: pd.DataFrame, label_col: str, measure: str, lang: Lang, top: int = 15) -> alt.Chart:
    """Current period as bars, previous period as a tick on each bar."""
    _ = lang._
    shown = df.head(top).rename(columns={label_col: "label"})
    prev = "previous_value" if measure == "value" else "previous_quantity"
    fmt = MONEY if measure == "value" else ",.2f"
    base = alt.Chart(shown).encode(y=alt.Y("label:N", sort=None, title=None, axis=_LABELS))
    bars = base.mark_bar().encode(
        x=alt.X(f"{measure}:Q", title=_("value at cost") if measure == "value" else _("quantity"),
                axis=alt.Axis(format=MONEY_AXIS if measure == "value" else ",.0f")),
        tooltip=[alt.Tooltip("label:N", title=_("Name")),
                 alt.Tooltip(f"{measure}:Q", title=_("This period"), format=fmt),
                 alt.Tooltip(f"{prev}:Q", title=_("Previous period"), format=fmt)]
        + ([alt.Tooltip(f"last_year_{measure}:Q", title=_("Same period last year"), format=fmt)]
           if f"last_year_{measure}" in shown.columns else []))
    ticks = base.mark_tick(color="#d62728", thickness=2, size=14).encode(x=f"{prev}:Q")
    return _done((bars + ticks).properties(height=_height(len(shown))), lang)


def stock_value_by_location(df: pd.DataFrame, lang: Lang) -> alt.Chart:
    _ = lang._
    df = df.assign(kind=[_(VALUES.get(k, k)) if isinstance(k, str) else "" for k in df["kind"]])
    return _done(alt.Chart(df).mark_bar().encode(
        y=alt.Y("location:N", sort="-x", title=None, axis=_LABELS),
        x=alt.X("value_on_hand:Q", title=_("value on hand"), axis=alt.Axis(format=MONEY_AXIS)),
        color=alt.Color("kind:N", title=_("kind")),
        tooltip=[alt.Tooltip("location:N", title=_("Location")), alt.Tooltip("kind:N", title=_("Kind")),
                 alt.Tooltip("value_on_hand:Q", title=_("Value on hand"), format=MONEY),
                 alt.Tooltip("materials_in_stock:Q", title=_("Materials in stock"))],
    ).properties(height=_height(len(df))), lang)


def band_titles(lang: Lang) -> dict[str, str]:
    _ = lang._
    return {"0_30": _("0-30 d"), "31_60": _("31-60 d"), "61_90": _("61-90 d"), "91_180": _("91-180 d"),
            "181_365": _("181-365 d"), "over_365": _("> 365 d")}


def ageing_bands(df: pd.DataFrame, lang: Lang) -> alt.Chart:
    _ = lang._
    titles = band_titles(lang)
    long = df.melt(id_vars=["location"], value_vars=[f"value_age_{b}" for b in AGE_BANDS],
                   var_name="band", value_name="value")
    long["band"] = long["band"].str.removeprefix("value_age_").map(titles)
    order = [titles[b] for b in AGE_BANDS]
    return _done(alt.Chart(long).mark_bar().encode(
        y=alt.Y("location:N", sort=list(df["location"]), title=None, axis=_LABELS),
        x=alt.X("value:Q", stack="zero", title=_("value on hand"), axis=alt.Axis(format=MONEY_AXIS)),
        color=alt.Color("band:N", sort=order, title=_("age"), scale=alt.Scale(scheme="yelloworangered")),
        order=alt.Order("band_order:Q"),
        tooltip=[alt.Tooltip("location:N", title=_("Location")), alt.Tooltip("band:N", title=_("age")),
                 alt.Tooltip("value:Q", title=_("Value"), format=MONEY)],
    ).transform_calculate(
        band_order=f"indexof({order!r}, datum.band)"
    ).properties(height=_height(len(df))), lang)


def abc_xyz_heatmap(df: pd.DataFrame, lang: Lang) -> alt.Chart:
    _ = lang._
    base = alt.Chart(df).encode(
        x=alt.X("xyz_class:N", title=_("XYZ (demand variability)"), sort=["X", "Y", "Z", "-"]),
        y=alt.Y("abc_class:N", title=_("ABC (consumption value)"), sort=["A", "B", "C"]),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("value:Q", title=_("value"), scale=alt.Scale(scheme="blues"), legend=alt.Legend(format=MONEY_AXIS)),
        tooltip=[alt.Tooltip("abc_class:N", title=_("ABC")), alt.Tooltip("xyz_class:N", title=_("XYZ")),
                 alt.Tooltip("materials:Q", title=_("Materials")), alt.Tooltip("value:Q", title=_("Value"), format=MONEY)],
    )
    text = base.mark_text(fontSize=14).encode(text="materials:Q")
    return _done((cells + text).properties(height=220), lang)


def utilisation(df: pd.DataFrame, lang: Lang, top: int = 20) -> alt.Chart:
    _ = lang._
    shown = df.dropna(subset=["utilisation_share"]).head(top)
    return _done(alt.Chart(shown).mark_bar().encode(
        y=alt.Y("tool:N", sort="-x", title=None, axis=_LABELS),
        x=alt.X("utilisation_share:Q", title=_("share of unit-days out"), axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("tool:N", title=_("Tool")),
                 alt.Tooltip("utilisation_share:Q", title=_("Utilisation"), format=".0%"),
                 alt.Tooltip("units_checked_out:Q", title=_("Units out")),
                 alt.Tooltip("units_in_store:Q", title=_("Units in store"))],
    ).properties(height=_height(len(shown))), lang)


def count_accuracy(df: pd.DataFrame, lang: Lang) -> alt.Chart:
    _ = lang._
    monthly = df.groupby("month", as_index=False)[["shrinkage_value", "missing_value", "scrap_value"]].sum()
    monthly = monthly.sort_values("month")
    long = monthly.melt(id_vars=["month"], value_vars=["missing_value", "scrap_value"], var_name="kind",
                        value_name="value")
    long["kind"] = long["kind"].map({"missing_value": _("missing at counts"), "scrap_value": _("scrapped")})
    labels = [lang.month_short(m) for m in monthly["month"]]
    long["period"] = [lang.month_short(m) for m in long["month"]]
    return _done(alt.Chart(long.drop(columns=["month"])).mark_bar().encode(
        x=alt.X("period:O", title=None, sort=labels),
        y=alt.Y("value:Q", stack="zero", title=_("shrinkage value"), axis=alt.Axis(format=MONEY_AXIS)),
        color=alt.Color("kind:N", title=None),
        tooltip=[alt.Tooltip("period:N", title=_("Month")), alt.Tooltip("kind:N", title=_("Kind")),
                 alt.Tooltip("value:Q", title=_("Value"), format=MONEY)],
    ).properties(height=240), lang)

"""Altair charts, one function per kind of picture; every chart has titled axes and tooltips."""
from __future__ import annotations

import altair as alt
import pandas as pd

from dashboards.data.stock import AGE_BANDS

_GRAIN_FORMAT = {"day": "%a %d %b", "week": "week of %d %b", "month": "%b %Y"}
_LABELS = alt.Axis(labelLimit=260)


def _height(rows: int) -> int:
    return max(120, 26 * rows)


_BAND_TITLES = {"0_30": "0-30 d", "31_60": "31-60 d", "61_90": "61-90 d", "91_180": "91-180 d",
                "181_365": "181-365 d", "over_365": "> 365 d"}


def consumption_over_time(df: pd.DataFrame, measure: str, grain: str) -> alt.Chart:
    title = "value at cost" if measure == "value" else "quantity (mixed units)"
    df = df.assign(period=pd.to_datetime(df["period_start"]).dt.strftime(_GRAIN_FORMAT[grain]))
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("period:O", title=None, sort=None, axis=alt.Axis(labelAngle=-40)),
        y=alt.Y(f"{measure}:Q", title=title),
        tooltip=[alt.Tooltip("period_start:T", title=grain.capitalize(), format="%Y-%m-%d"),
                 alt.Tooltip("value:Q", title="value", format=",.2f"),
                 alt.Tooltip("quantity:Q", title="quantity", format=",.2f"),
                 alt.Tooltip("movements:Q", format=",d")],
    ).properties(height=280)


def breakdown_bars(df: pd.DataFrame, label_col: str, measure: str, top: int = 15) -> alt.Chart:
    """Current period as bars, previous period as a tick on each bar."""
    shown = df.head(top)
    prev = "previous_value" if measure == "value" else "previous_quantity"
    base = alt.Chart(shown).encode(y=alt.Y(f"{label_col}:N", sort=None, title=None, axis=_LABELS))
    bars = base.mark_bar().encode(
        x=alt.X(f"{measure}:Q", title="value at cost" if measure == "value" else "quantity"),
        tooltip=[alt.Tooltip(f"{label_col}:N", title=label_col), alt.Tooltip(f"{measure}:Q", format=",.2f"),
                 alt.Tooltip(f"{prev}:Q", title="previous period", format=",.2f")])
    ticks = base.mark_tick(color="#d62728", thickness=2, size=14).encode(x=f"{prev}:Q")
    return (bars + ticks).properties(height=_height(len(shown)))


def stock_value_by_location(df: pd.DataFrame) -> alt.Chart:
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("location:N", sort="-x", title=None, axis=_LABELS),
        x=alt.X("value_on_hand:Q", title="value on hand"),
        color=alt.Color("kind:N", title="kind"),
        tooltip=["location", "kind", alt.Tooltip("value_on_hand:Q", format=",.2f"), "materials_in_stock"],
    ).properties(height=_height(len(df)))


def ageing_bands(df: pd.DataFrame) -> alt.Chart:
    long = df.melt(id_vars=["location"], value_vars=[f"value_age_{b}" for b in AGE_BANDS],
                   var_name="band", value_name="value")
    long["band"] = long["band"].str.removeprefix("value_age_").map(_BAND_TITLES)
    order = [_BAND_TITLES[b] for b in AGE_BANDS]
    return alt.Chart(long).mark_bar().encode(
        y=alt.Y("location:N", sort=list(df["location"]), title=None, axis=_LABELS),
        x=alt.X("value:Q", stack="zero", title="value on hand"),
        color=alt.Color("band:N", sort=order, title="age", scale=alt.Scale(scheme="yelloworangered")),
        order=alt.Order("band_order:Q"),
        tooltip=["location", "band", alt.Tooltip("value:Q", format=",.2f")],
    ).transform_calculate(
        band_order=f"indexof({order!r}, datum.band)"
    ).properties(height=_height(len(df)))


def abc_xyz_heatmap(df: pd.DataFrame) -> alt.Chart:
    base = alt.Chart(df).encode(
        x=alt.X("xyz_class:N", title="XYZ (demand variability)", sort=["X", "Y", "Z", "-"]),
        y=alt.Y("abc_class:N", title="ABC (consumption value)", sort=["A", "B", "C"]),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("value:Q", title="value", scale=alt.Scale(scheme="blues")),
        tooltip=["abc_class", "xyz_class", "materials", alt.Tooltip("value:Q", format=",.2f")],
    )
    text = base.mark_text(fontSize=14).encode(text="materials:Q")
    return (cells + text).properties(height=220)


def utilisation(df: pd.DataFrame, top: int = 20) -> alt.Chart:
    shown = df.dropna(subset=["utilisation_share"]).head(top)
    return alt.Chart(shown).mark_bar().encode(
        y=alt.Y("tool:N", sort="-x", title=None, axis=_LABELS),
        x=alt.X("utilisation_share:Q", title="share of unit-days out", axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        tooltip=["tool", alt.Tooltip("utilisation_share:Q", format=".0%"), "units_checked_out", "units_in_store"],
    ).properties(height=_height(len(shown)))


def count_accuracy(df: pd.DataFrame) -> alt.Chart:
    monthly = df.groupby("month", as_index=False)[["shrinkage_value", "missing_value", "scrap_value"]].sum()
    long = monthly.melt(id_vars=["month"], value_vars=["missing_value", "scrap_value"], var_name="kind",
                        value_name="value")
    long["kind"] = long["kind"].map({"missing_value": "missing at counts", "scrap_value": "scrapped"})
    return alt.Chart(long).mark_bar().encode(
        x=alt.X("yearmonth(month):O", title=None),
        y=alt.Y("value:Q", stack="zero", title="shrinkage value"),
        color=alt.Color("kind:N", title=None),
        tooltip=[alt.Tooltip("yearmonth(month):T", title="month"), "kind", alt.Tooltip("value:Q", format=",.2f")],
    ).properties(height=240)

"""The one-page monthly consumption report as PDF, in the reader's language: what the Consumption
page offers as a download and what the monthly mail attaches (pipelines/mail), made by the same
function from the same queries.

One A4 page, filled: the month's totals against the previous period and the same month last
year, the value per day on a chart with a y axis in the reader's money format (days without data
shaded), then the top categories and projects and as many top materials as the rest of the page
holds. A partial month (the tenant's data starts or stops inside it, dashboards/data/periods.py)
says so under the title, and the footer states the rules the figures follow.

fpdf2's built-in Helvetica is written here in Windows-1252, which holds the euro sign and the
accents of Dutch and French; Babel's narrow no-break space (French thousands) becomes a plain
no-break space, which that encoding has.
"""
from __future__ import annotations

import math
from datetime import date

import pandas as pd

from dashboards.i18n import Lang, N_

PREVIOUS_RULE = N_("Previous period: for whole calendar months, the same number of months just before; "
                   "otherwise the same number of days just before.")
LAST_YEAR_RULE = N_("Same period last year: the same dates one year earlier (29 February counts as 28 February).")
PARTIAL_RULE = N_("A month is partial when the data starts after its first day or ends before its last working day.")
_KEY_WORDS = {"(no project)": N_("(no project)"), "(no category)": N_("(no category)")}   # data.consumption's keys
_BLUE, _GREY, _TEXT_GREY = (46, 110, 170), (160, 160, 160), (110, 110, 110)
_WIDTH = 190.0           # A4 less 10 mm margins
_FOOTER_MM = 24.0        # kept free at the bottom for the footer
_ROW = 5.0


def _text(value: object) -> str:
    text = str(value).replace("\u202f", "\xa0").replace("\u2009", " ")
    return text.encode("cp1252", "replace").decode("cp1252")


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """0 and round steps (1, 2, 2.5 or 5 times a power of ten) up to at least `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [step * i for i in range(math.ceil(top / step - 1e-9) + 1)]


def monthly_report(tenant_id: str, month: date, tenant_name: str, source: str = "tenant",
                   lang: Lang = Lang()) -> bytes:
    """The PDF for a calendar month (plain data functions: no Streamlit needed, so the monthly
    mail makes the very same file)."""
    from dashboards.data import consumption, periods

    start = periods.month_start(month)
    end = periods.month_end(start)
    bounds = consumption.data_bounds(tenant_id, source)
    cover = periods.month_cover(start, *bounds) if bounds else None
    data = {
        "totals": consumption.consumption_totals(tenant_id, start, end, source),
        "daily": consumption.consumption_series(tenant_id, start, end, "day", source),
        "categories": consumption.consumption_breakdown(tenant_id, start, end, "category", source=source),
        "projects": consumption.consumption_breakdown(tenant_id, start, end, "project", source=source),
        "materials": consumption.consumption_breakdown(tenant_id, start, end, "material", source=source),
    }
    return monthly_report_pdf(lang, tenant_name, start, periods.previous_period(start, end),
                              periods.same_period_last_year(start, end), cover, data,
                              bounds[0] if bounds else None)


def monthly_report_pdf(lang: Lang, tenant_name: str, month: date, previous: tuple[date, date],
                       last_year: tuple[date, date], cover, data: dict[str, pd.DataFrame],
                       first_day: date | None = None) -> bytes:
    """`cover`: the month's MonthCover (None: unknown); `first_day`: the tenant's first movement
    day, so a compared month from before the data says "no data" instead of showing zeros."""
    from fpdf import FPDF

    _ = lang._
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    title = _("Consumption report {month}", month=lang.month(month))
    pdf.set_title(_text(f"{title} - {tenant_name}"))
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 9, _text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, _text(tenant_name), new_x="LMARGIN", new_y="NEXT")
    if cover is not None and cover.empty:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(0, 6, _text(_("No data for this month.")), new_x="LMARGIN", new_y="NEXT")
    elif cover is not None and cover.partial:
        pdf.set_font("Helvetica", "B", 10)
        pdf.set_text_color(190, 90, 0)
        pdf.cell(0, 6, _text(_("Partial month: data from {first} to {last}.", first=lang.date(cover.data_from),
                                 last=lang.date(cover.data_to))), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    _totals(pdf, lang, month, previous, last_year, data["totals"], first_day)
    _daily_chart(pdf, lang, month, data["daily"], cover)
    _top_table(pdf, lang, _("Top categories"), data["categories"], rows=6)
    _top_table(pdf, lang, _("Top projects"), data["projects"], rows=6)
    _top_table(pdf, lang, _("Top materials"), data["materials"], rows=None, with_unit=True)

    pdf.set_y(-_FOOTER_MM + 4)
    pdf.set_font("Helvetica", "I", 7.5)
    pdf.set_text_color(*_TEXT_GREY)
    pdf.multi_cell(0, 3.6, _text(" ".join((
        _("Consumption = issues + scrap - returns, valued at cost (movement cost, else catalogue cost)."),
        _(PREVIOUS_RULE), _(LAST_YEAR_RULE), _(PARTIAL_RULE),
        _("Generated by mira-analytics.")))))
    return bytes(pdf.output())


def compared_note(lang: Lang, period: tuple[date, date], first_day: date | None) -> str | None:
    """What a compared period lacks: all data (it ends before the tenant's first day), or its
    start; None when the data covers it."""
    if first_day is None or first_day <= period[0]:
        return None
    if first_day > period[1]:
        return lang._("no data")
    return lang._("data from {day}", day=lang.date(first_day))


def _totals(pdf, lang: Lang, month: date, previous: tuple[date, date], last_year: tuple[date, date],
            totals: pd.DataFrame, first_day: date | None) -> None:
    _ = lang._
    t = totals.iloc[0] if not totals.empty else pd.Series(dtype=float)
    widths = (44, 32, 34, 20, 40, 20)
    pdf.set_font("Helvetica", "B", 9)
    for head, w in zip(("", _("This month"), _("Previous period"), _("Change"), _("Same month last year"),
                        _("Change")), widths):
        pdf.cell(w, 5.5, _text(head), align="R" if head else "L")
    pdf.ln()
    pdf.set_font("Helvetica", "", 7.5)
    pdf.set_text_color(*_TEXT_GREY)
    notes = [compared_note(lang, p, first_day) for p in (previous, last_year)]
    spans = ("", lang.month(month), lang.month(previous[0]) + (f" ({notes[0]})" if notes[0] else ""), "",
             lang.month(last_year[0]) + (f" ({notes[1]})" if notes[1] else ""), "")
    for span, w in zip(spans, widths):
        pdf.cell(w, 4, _text(span), border="B", align="R")
    pdf.ln()
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("Helvetica", "", 9.5)
    for label, key, fmt in ((_("Value at cost"), "value", lang.money),
                            (_("Quantity (mixed units)"), "quantity", lang.number),
                            (_("Movements"), "movements", lang.integer)):
        cur, prev, ly = t.get(key), t.get(f"previous_{key}"), t.get(f"last_year_{key}")
        prev = None if notes[0] == _("no data") else prev
        ly = None if notes[1] == _("no data") else ly
        cells = (label, fmt(cur, empty="-"), fmt(prev, empty="-"), lang.change(cur, prev) or "",
                 fmt(ly, empty="-"), lang.change(cur, ly) or "")
        for i, (text, w) in enumerate(zip(cells, widths)):
            pdf.cell(w, 6, _text(text), align="L" if i == 0 else "R")
        pdf.ln()
    pdf.ln(3)


def _daily_chart(pdf, lang: Lang, month: date, daily: pd.DataFrame, cover) -> None:
    """Value per day as bars over a y axis in the reader's money format; days the tenant's data
    does not cover are shaded, so an empty stretch reads as "no data", not "no use"."""
    _ = lang._
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, _text(_("Value per day")), new_x="LMARGIN", new_y="NEXT")
    axis_w, height = 24.0, 48.0
    x0, y0 = pdf.l_margin + axis_w, pdf.get_y() + 3
    width = _WIDTH - axis_w
    values = {pd.Timestamp(d).date(): float(v) for d, v in zip(daily["period_start"], daily["value"])
              if not pd.isna(v)} if not daily.empty else {}
    days = [d.date() for d in pd.date_range(month, pd.Timestamp(month) + pd.offsets.MonthEnd(0), freq="D")]
    ticks = nice_ticks(max([v for v in values.values()] + [0.0]))
    top = ticks[-1]
    bar_w = width / len(days)
    if cover is not None:
        pdf.set_fill_color(236, 236, 236)
        for i, d in enumerate(days):
            if d < cover.data_from or d > cover.data_to:
                pdf.rect(x0 + i * bar_w, y0, bar_w, height, style="F")
    pdf.set_font("Helvetica", "", 6.5)
    pdf.set_draw_color(225, 225, 225)
    for tick in ticks:
        y = y0 + height - height * tick / top
        pdf.line(x0, y, x0 + width, y)
        label = _text(lang.money(tick).replace(lang.decimal_sign + "00", ""))
        pdf.text(x0 - 1.5 - pdf.get_string_width(label), y + 1, label)
    pdf.set_draw_color(*_GREY)
    pdf.line(x0, y0, x0, y0 + height)
    pdf.line(x0, y0 + height, x0 + width, y0 + height)
    pdf.set_fill_color(*_BLUE)
    for i, d in enumerate(days):
        v = max(values.get(d, 0.0), 0.0)
        h = height * v / top
        if h > 0:
            pdf.rect(x0 + i * bar_w + 0.3, y0 + height - h, max(bar_w - 0.6, 0.2), h, style="F")
        if d.day in (1, 8, 15, 22, 29):
            pdf.text(x0 + i * bar_w + bar_w / 2 - 1, y0 + height + 3.2, str(d.day))
    pdf.set_y(y0 + height + 6)


def _top_table(pdf, lang: Lang, heading: str, df: pd.DataFrame, rows: int | None, with_unit: bool = False) -> None:
    """A top list by value; `rows` None: as many rows as the page still holds."""
    _ = lang._
    free = pdf.h - _FOOTER_MM - pdf.get_y() - 7 - 5 - 3
    fits = max(int(free // _ROW), 0)
    n = min(rows, fits) if rows is not None else fits
    if n <= 0 and not df.empty:
        return
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, _text(heading), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 8.5)
    widths = (70, 30, 30, 30, 30)
    for head, w in zip(("", _("Value"), _("Previous period"), _("Last year"), _("Quantity")), widths):
        pdf.cell(w, _ROW, _text(head), border="B", align="R" if head else "L")
    pdf.ln()
    pdf.set_font("Helvetica", "", 8.5)
    if df.empty:
        pdf.cell(0, _ROW, _text(_("No consumption this month.")), new_x="LMARGIN", new_y="NEXT")
    for _i, r in df.head(n).iterrows():
        label = _text(_(_KEY_WORDS[r["key"]]) if r["key"] in _KEY_WORDS else r["label"])
        while pdf.get_string_width(label) > widths[0] - 2 and len(label) > 4:
            label = label[:-2].rstrip() + "…"
        pdf.cell(widths[0], _ROW, _text(label))
        pdf.cell(widths[1], _ROW, _text(lang.money(r["value"], empty="-")), align="R")
        pdf.cell(widths[2], _ROW, _text(lang.money(r["previous_value"], empty="-")), align="R")
        pdf.cell(widths[3], _ROW, _text(lang.money(r.get("last_year_value"), empty="-")), align="R")
        unit = f" {r['unit']}" if with_unit and isinstance(r.get("unit"), str) else ""
        pdf.cell(widths[4], _ROW, _text(lang.number(r["quantity"], empty="-") + unit), align="R")
        pdf.ln()
    more = len(df) - n
    if more > 0 and rows is None:
        pdf.set_font("Helvetica", "I", 7.5)
        pdf.set_text_color(*_TEXT_GREY)
        pdf.cell(0, 4, _text(lang.n_("and {n} more material: see the Consumption page.",
                                     "and {n} more materials: see the Consumption page.", more)),
                 new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(2)

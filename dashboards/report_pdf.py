"""The one-page monthly consumption report as PDF, in the reader's language.

fpdf2's built-in Helvetica is written here in Windows-1252, which holds the euro sign and the
accents of Dutch and French; Babel's narrow no-break space (French thousands) becomes a plain
no-break space, which that encoding has. The previous period is the one rule of the
Consumption page (dashboards/data/consumption.py `previous_period`), stated in the footer.
"""
from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards.i18n import Lang, N_

PREVIOUS_RULE = N_("Previous period: for whole calendar months, the same number of months just before; "
                   "otherwise the same number of days just before.")


def _text(value: object) -> str:
    text = str(value).replace("\u202f", "\xa0").replace("\u2009", " ")
    return text.encode("cp1252", "replace").decode("cp1252")


def monthly_report_pdf(lang: Lang, tenant_name: str, month: date, previous: tuple[date, date], totals: pd.DataFrame,
                       daily: pd.DataFrame, categories: pd.DataFrame, materials: pd.DataFrame) -> bytes:
    """One A4 page: totals against the previous month, value per day, top categories and materials."""
    from fpdf import FPDF

    _ = lang._
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_auto_page_break(False)
    pdf.add_page()
    title = _("Consumption report {month}", month=lang.month(month))
    pdf.set_title(_text(f"{title} - {tenant_name}"))
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 9, _text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, _text(tenant_name), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    t = totals.iloc[0] if not totals.empty else pd.Series(dtype=float)
    pdf.set_font("Helvetica", "B", 10)
    heads = (("", 45), (_("This month"), 40), (_("Previous period ({period})", period=lang.period(*previous)), 65),
             (_("Change"), 30))
    for head, w in heads:
        pdf.cell(w, 6, _text(head), border="B", align="R" if head else "L")
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for label, cur, prev, fmt in ((_("Value at cost"), t.get("value"), t.get("previous_value"), lang.money),
                                  (_("Quantity (mixed units)"), t.get("quantity"), t.get("previous_quantity"), lang.number),
                                  (_("Movements"), t.get("movements"), t.get("previous_movements"), lang.integer)):
        pdf.cell(45, 6, _text(label))
        pdf.cell(40, 6, _text(fmt(cur, empty="-")), align="R")
        pdf.cell(65, 6, _text(fmt(prev, empty="-")), align="R")
        pdf.cell(30, 6, _text(lang.change(cur, prev) or ""), align="R")
        pdf.ln()
    pdf.ln(4)

    # value per day, as bars
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, _text(_("Value per day")), new_x="LMARGIN", new_y="NEXT")
    x0, y0, width, height = pdf.l_margin, pdf.get_y() + 2, 180, 45
    values = daily.set_index("period_start")["value"] if not daily.empty else pd.Series(dtype=float)
    days = pd.date_range(month, (pd.Timestamp(month) + pd.offsets.MonthEnd(0)), freq="D")
    top = max([float(v) for v in values.values if not pd.isna(v)] + [0.0]) or 1.0
    bar_w = width / len(days)
    pdf.set_draw_color(160, 160, 160)
    pdf.line(x0, y0 + height, x0 + width, y0 + height)
    pdf.set_fill_color(46, 110, 170)
    pdf.set_font("Helvetica", "", 6)
    for i, d in enumerate(days):
        v = values.get(d.date(), values.get(d, 0.0))
        v = 0.0 if v is None or pd.isna(v) else max(float(v), 0.0)
        h = height * v / top
        if h > 0:
            pdf.rect(x0 + i * bar_w + 0.3, y0 + height - h, max(bar_w - 0.6, 0.2), h, style="F")
        if d.day in (1, 8, 15, 22, 29):
            pdf.text(x0 + i * bar_w, y0 + height + 3, str(d.day))
    pdf.text(x0 + width - 35, y0 - 0.5, _text(_("highest day {amount}", amount=lang.money(top))))
    pdf.set_y(y0 + height + 6)

    def top_table(heading: str, df: pd.DataFrame, with_unit: bool, n: int = 8) -> None:
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 7, _text(heading), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "B", 9)
        for head, w, align in (("", 85, "L"), (_("Value"), 32, "R"), (_("Previous"), 32, "R"), (_("Quantity"), 31, "R")):
            pdf.cell(w, 5, _text(head), border="B", align=align)
        pdf.ln()
        pdf.set_font("Helvetica", "", 9)
        if df.empty:
            pdf.cell(0, 5, _text(_("No consumption this month.")), new_x="LMARGIN", new_y="NEXT")
        for _i, r in df.head(n).iterrows():
            pdf.cell(85, 5, _text(r["label"])[:55])
            pdf.cell(32, 5, _text(lang.money(r["value"], empty="-")), align="R")
            pdf.cell(32, 5, _text(lang.money(r["previous_value"], empty="-")), align="R")
            unit = f" {r['unit']}" if with_unit and isinstance(r.get("unit"), str) else ""
            pdf.cell(31, 5, _text(lang.number(r["quantity"], empty="-") + unit), align="R")
            pdf.ln()
        pdf.ln(3)

    top_table(_("Top categories"), categories, with_unit=False)
    top_table(_("Top materials"), materials, with_unit=True)

    pdf.set_y(-20)
    pdf.set_font("Helvetica", "I", 8)
    pdf.set_text_color(110, 110, 110)
    pdf.multi_cell(0, 4, _text(
        _("Consumption = issues + scrap - returns, valued at cost (movement cost, else catalogue cost).") + " "
        + _(PREVIOUS_RULE) + " " + _("Generated by mira-analytics.")))
    return bytes(pdf.output())

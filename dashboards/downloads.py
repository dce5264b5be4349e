"""Tables as CSV and Excel, and the one-page monthly consumption report as PDF.

Text that starts with = + - @ (or a tab / carriage return) would be run as a formula by a
spreadsheet, and material or location names come from the tenants' own systems: in CSV such
text gets a leading apostrophe (OWASP's advice) and any value with a line break is quoted, so no
cell starts mid-value; in Excel it is stored as text, never as a formula. Files are produced only when the user clicks (deferred), so a page with many tables
stays fast.
"""
from __future__ import annotations

import io
import re
from datetime import date
from typing import Callable

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_MIME = "application/pdf"


def file_stem(name: str) -> str:
    return _SAFE_NAME.sub("-", name.strip().lower()).strip("-") or "table"


def _defuse(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _without_tz(df: pd.DataFrame) -> pd.DataFrame:
    """Excel has no time zones: timestamps are written in UTC, without offset."""
    out = df.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def to_csv(df: pd.DataFrame) -> bytes:
    safe = df.copy()
    for col in safe.columns:
        if safe[col].dtype == object or pd.api.types.is_string_dtype(safe[col]):
            safe[col] = safe[col].map(_defuse)
    safe.columns = [_defuse(c) for c in safe.columns]   # headers too, should one ever come from data
    # CRLF line ends (RFC 4180) make the writer quote any value holding a carriage return: with
    # bare LF ends, "x\r=HYPERLINK(..)" went out unquoted and a spreadsheet started a new row,
    # and a live formula, at the carriage return. The BOM lets Excel read UTF-8.
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def to_xlsx(df: pd.DataFrame, sheet: str = "data") -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        _without_tz(df).to_excel(writer, index=False, sheet_name=sheet[:31] or "data")
        ws = writer.sheets[sheet[:31] or "data"]
        for row in ws.iter_rows(min_row=1):      # the header row too
            for cell in row:
                if cell.data_type == "f":          # openpyxl took text starting with "=" as a formula
                    cell.data_type = "s"
        for i, col in enumerate(df.columns, start=1):
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(40, max(10, len(str(col)) + 2))
    return buf.getvalue()


def buttons(df: pd.DataFrame, name: str, key: str) -> None:
    """CSV and Excel download buttons for a table."""
    import streamlit as st

    stem = file_stem(name)
    left, right, _ = st.columns([1, 1, 6])
    left.download_button("CSV", data=lambda: to_csv(df), file_name=f"{stem}.csv", mime=CSV_MIME,
                         key=f"{key}_csv", icon=":material/download:", on_click="ignore")
    right.download_button("Excel", data=lambda: to_xlsx(df, name), file_name=f"{stem}.xlsx", mime=XLSX_MIME,
                          key=f"{key}_xlsx", icon=":material/download:", on_click="ignore")


# -- the monthly consumption report -------------------------------------------------------------------

def _latin1(text: object) -> str:
    """fpdf2's core fonts are Latin-1: other characters become '?' instead of failing."""
    return str(text).encode("latin-1", "replace").decode("latin-1")


def monthly_report_pdf(tenant_name: str, month: date, totals: pd.DataFrame, daily: pd.DataFrame,
                       categories: pd.DataFrame, materials: pd.DataFrame) -> bytes:
    """One A4 page: totals against the previous month, value per day, top categories and materials."""
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_title(_latin1(f"Consumption {month:%B %Y} - {tenant_name}"))
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 9, _latin1(f"Consumption report {month:%B %Y}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, _latin1(tenant_name), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    t = totals.iloc[0] if not totals.empty else pd.Series(dtype=float)

    def num(v, d=2):
        return "-" if v is None or pd.isna(v) else f"{float(v):,.{d}f}"

    def change(cur, prev):
        if prev is None or pd.isna(prev) or float(prev) == 0:
            return ""
        return f"{(float(cur) - float(prev)) / abs(float(prev)) * 100:+.1f}%"

    pdf.set_font("Helvetica", "B", 10)
    for head, w in (("", 45), ("This month", 40), ("Previous month", 40), ("Change", 30)):
        pdf.cell(w, 6, head, border="B")
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for label, cur, prev, d in (("Value at cost", t.get("value"), t.get("previous_value"), 2),
                                ("Quantity (mixed units)", t.get("quantity"), t.get("previous_quantity"), 2),
                                ("Movements", t.get("movements"), t.get("previous_movements"), 0)):
        pdf.cell(45, 6, label)
        pdf.cell(40, 6, num(cur, d), align="R")
        pdf.cell(40, 6, num(prev, d), align="R")
        pdf.cell(30, 6, change(cur, prev) if cur is not None else "", align="R")
        pdf.ln()
    pdf.ln(4)

    # value per day, as bars
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Value per day", new_x="LMARGIN", new_y="NEXT")
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
    pdf.text(x0 + width - 25, y0 - 0.5, _latin1(f"max {top:,.0f}"))
    pdf.set_y(y0 + height + 6)

    def top_table(title: str, df: pd.DataFrame, with_unit: bool, n: int = 8) -> None:
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "B", 9)
        for head, w, align in (("", 95, "L"), ("Value", 30, "R"), ("Previous", 30, "R"), ("Quantity", 25, "R")):
            pdf.cell(w, 5, head, border="B", align=align)
        pdf.ln()
        pdf.set_font("Helvetica", "", 9)
        if df.empty:
            pdf.cell(0, 5, "No consumption this month.", new_x="LMARGIN", new_y="NEXT")
        for _, r in df.head(n).iterrows():
            pdf.cell(95, 5, _latin1(str(r["label"]))[:60])
            pdf.cell(30, 5, num(r["value"]), align="R")
            pdf.cell(30, 5, num(r["previous_value"]), align="R")
            unit = f" {r['unit']}" if with_unit and isinstance(r.get("unit"), str) else ""
            pdf.cell(25, 5, _latin1(num(r["quantity"]) + unit), align="R")
            pdf.ln()
        pdf.ln(3)

    top_table("Top categories", categories, with_unit=False)
    top_table("Top materials", materials, with_unit=True)

    pdf.set_y(-18)
    pdf.set_font("Helvetica", "I", 8)
    pdf.set_text_color(110, 110, 110)
    pdf.multi_cell(0, 4, _latin1(
        "Consumption = issues + scrap - returns, valued at cost (movement cost, else catalogue cost). "
        "Previous = the month before. Generated by mira-analytics."))
    return bytes(pdf.output())


def deferred(build: Callable[[], bytes], fallback_message: str) -> Callable[[], bytes]:
    """A download callable that never raises into the server: on failure the file says why."""
    def run() -> bytes:
        try:
            return build()
        except Exception as exc:  # the user gets words, not a broken download
            from fpdf import FPDF

            pdf = FPDF()
            pdf.add_page()
            pdf.set_font("Helvetica", "", 11)
            reason = str(exc) if exc.__class__.__name__ == "ServingUnavailable" else "an unexpected problem"
            pdf.multi_cell(0, 6, _latin1(f"{fallback_message}: {reason}"))
            return bytes(pdf.output())
    return run

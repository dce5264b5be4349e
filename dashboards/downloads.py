"""Tables as CSV and Excel, in the reader's language and conventions.

- Headers are words (dashboards/columns.py), never a query's column name; empty cells are empty.
- CSV in Dutch and French is what a Belgian Excel opens by double-click: semicolons, decimal
  commas, dd/mm/yyyy, UTF-8 with a byte order mark. English keeps commas and decimal points.
  Numbers are written without a thousands separator (a reader would take it for decimals).
- Excel holds real numbers and dates with number formats (amounts with the tenant's currency),
  a title row (what, whose, which period, when made), widths that fit, a frozen header.
- Text that starts with = + - @ (or a tab / carriage return) would be run as a formula by a
  spreadsheet, and material or location names come from the tenants' own systems: in CSV such
  text gets a leading apostrophe (OWASP's advice) and any value with a line break is quoted, so
  no cell starts mid-value; in Excel it is stored as text, never as a formula.
Files are produced only when the user clicks (deferred), so a page with many tables stays fast.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable

import pandas as pd

from dashboards.columns import DATE, DATETIME, FLAG, INTEGER, MONEY, PERCENT, TEXT, column
from dashboards.i18n import Lang, blank

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SAFE_NAME = re.compile(r"[^a-z0-9_.-]+")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_MIME = "application/pdf"


@dataclass(frozen=True)
class Title:
    """What a download is: its name (translated), whose data, which period (or as-of date)."""
    name: str
    tenant: str = ""
    start: date | None = None
    end: date | None = None

    def period_text(self, lang: Lang) -> str:
        if self.start and self.end and self.start != self.end:
            return lang.period(self.start, self.end)
        day = self.end or self.start
        return lang._("as of {day}", day=lang.date(day)) if day else ""

    def file_name(self, extension: str) -> str:
        """name_2026-10-01_2026-10-31.csv: the period in the name, so saved files sort and tell."""
        parts = [file_stem(self.name)]
        for day in dict.fromkeys(d for d in (self.start, self.end) if d):
            parts.append(pd.Timestamp(day).strftime("%Y-%m-%d"))
        return "_".join(parts) + "." + extension


def file_stem(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name.strip().lower()).encode("ascii", "ignore").decode()
    return _SAFE_NAME.sub("-", plain).strip("-") or "table"


def _defuse(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def header(name: str, lang: Lang) -> str:
    col = column(name)
    label = lang._(col.label)
    return f"{label} ({lang.currency_symbol})" if col.kind == MONEY else label


def _csv_cell(value: object, kind: str, lang: Lang) -> str:
    if blank(value):
        return ""
    if kind == FLAG:
        return lang._("yes") if bool(value) else lang._("no")
    if kind == DATE:
        return lang.date(value) if lang.belgian else pd.Timestamp(value).strftime("%Y-%m-%d")
    if kind == DATETIME:
        return lang.datetime(value) if lang.belgian else pd.Timestamp(value).isoformat()
    if isinstance(value, bool) or kind == TEXT or isinstance(value, str):
        return str(_defuse(str(value)))
    if kind == INTEGER:
        text = str(int(round(float(value))))
    else:   # the marts keep 6 decimals of a quantity; no exponent, no trailing zeros
        text = ("%.6f" % float(value)).rstrip("0").rstrip(".")
        text = "0" if text in ("-0", "") else text
    return text.replace(".", ",") if lang.belgian else text


def to_csv(df: pd.DataFrame, lang: Lang = Lang()) -> bytes:
    """The table in the reader's CSV dialect (see the module's docstring)."""
    kinds = [column(c).kind for c in df.columns]
    buf = io.StringIO()
    # CRLF line ends (RFC 4180) make the writer quote any value holding a carriage return: with
    # bare LF ends, "x\r=HYPERLINK(..)" went out unquoted and a spreadsheet started a new row,
    # and a live formula, at the carriage return. The BOM lets Excel read UTF-8.
    writer = csv.writer(buf, delimiter=";" if lang.belgian else ",", lineterminator="\r\n")
    writer.writerow([_defuse(header(c, lang)) for c in df.columns])
    for row in df.itertuples(index=False, name=None):
        writer.writerow([_csv_cell(v, k, lang) for v, k in zip(row, kinds)])
    return buf.getvalue().encode("utf-8-sig")


def _excel_format(kind: str, lang: Lang) -> str | None:
    symbol = lang.currency_symbol.replace('"', "")
    return {
        MONEY: f'#,##0.00 "{symbol}"' if lang.code == "fr" else f'"{symbol}" #,##0.00',
        INTEGER: "#,##0", "days": "#,##0.0", "quantity": "#,##0.00####", "rate": "#,##0.000",
        PERCENT: "0.0%", DATE: "dd/mm/yyyy", DATETIME: "dd/mm/yyyy hh:mm",
    }.get(kind)


def _excel_value(value: object, kind: str) -> object:
    if blank(value):
        return None
    if kind in (DATE, DATETIME):
        ts = pd.Timestamp(value)
        if ts.tzinfo is not None:       # Excel has no time zones: Brussels time, as on screen
            ts = ts.tz_convert("Europe/Brussels").tz_localize(None)
        return ts.to_pydatetime() if kind == DATETIME else ts.to_pydatetime().replace(hour=0, minute=0, second=0)
    if kind == FLAG or isinstance(value, bool):
        return bool(value)
    if kind == TEXT or isinstance(value, str):
        return str(value)
    return float(value) if kind != INTEGER else int(round(float(value)))


def sheet_name(name: str) -> str:
    return (_SHEET_FORBIDDEN.sub(" ", name).strip() or "data")[:31]


def to_xlsx(df: pd.DataFrame, lang: Lang = Lang(), title: Title | None = None) -> bytes:
    """One sheet: a title row, the header, the rows as numbers and dates with formats."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    title = title or Title(lang._("Table"))
    wb = Workbook()
    ws = wb.active
    ws.title = sheet_name(title.name)
    heading = " · ".join(p for p in (title.name, title.tenant, title.period_text(lang),
                                      lang._("made {when}", when=lang.datetime(datetime.now().astimezone()))) if p)
    ws.cell(row=1, column=1, value=heading).font = Font(bold=True, size=12)
    kinds = [column(c).kind for c in df.columns]
    widths = []
    for j, name in enumerate(df.columns, start=1):
        cell = ws.cell(row=2, column=j, value=header(name, lang))
        cell.data_type = "s"                 # a header is text, whatever it starts with
        cell.font = Font(bold=True)
        widths.append(len(str(cell.value)))
    for i, row in enumerate(df.itertuples(index=False, name=None), start=3):
        for j, (value, kind) in enumerate(zip(row, kinds), start=1):
            cell = ws.cell(row=i, column=j, value=_excel_value(value, kind))
            if isinstance(cell.value, str):
                cell.data_type = "s"         # openpyxl takes text starting with "=" for a formula
            fmt = _excel_format(kind, lang)
            if fmt and cell.value is not None:
                cell.number_format = fmt
            shown = (lang.money(value) if kind == MONEY else lang.date(value) if kind == DATE
                     else lang.datetime(value) if kind == DATETIME else str(cell.value or "")
                     if kind in (TEXT, FLAG) or isinstance(cell.value, str) else lang.number(value))
            widths[j - 1] = max(widths[j - 1], len(shown) if not blank(value) else 0)
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = min(60, max(8, width + 2))
    ws.freeze_panes = "A3"
    if len(df.columns):
        ws.auto_filter.ref = f"A2:{get_column_letter(len(df.columns))}{max(2, len(df) + 2)}"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def buttons(df: pd.DataFrame, title: Title, key: str, lang: Lang) -> None:
    """CSV and Excel download buttons for a table (every column, in words)."""
    import streamlit as st

    left, right, _ = st.columns([1, 1, 6])
    left.download_button(lang._("CSV"), data=lambda: to_csv(df, lang), file_name=title.file_name("csv"),
                         mime=CSV_MIME, key=f"{key}_csv", icon=":material/download:", on_click="ignore")
    right.download_button(lang._("Excel"), data=lambda: to_xlsx(df, lang, title), file_name=title.file_name("xlsx"),
                          mime=XLSX_MIME, key=f"{key}_xlsx", icon=":material/download:", on_click="ignore")


def deferred(build: Callable[[], bytes], fallback_message: str) -> Callable[[], bytes]:
    """A download callable that never raises into the server: on failure the file says why."""
    def run() -> bytes:
        try:
            return build()
        except Exception as exc:  # the user gets words, not a broken download
            from fpdf import FPDF

            pdf = FPDF()
            pdf.core_fonts_encoding = "windows-1252"
            pdf.add_page()
            pdf.set_font("Helvetica", "", 11)
            reason = str(exc) if exc.__class__.__name__ == "ServingUnavailable" else ""
            text = f"{fallback_message}: {reason}" if reason else fallback_message
            pdf.multi_cell(0, 6, text.encode("cp1252", "replace").decode("cp1252"))
            return bytes(pdf.output())
    return run

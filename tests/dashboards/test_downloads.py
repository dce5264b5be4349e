"""Downloads, opened as their readers open them: CSV in the reader's dialect (semicolons and
decimal commas for a Belgian Excel, read here with the csv module), Excel with real numbers,
dates and number formats (openpyxl), the monthly PDF's text (pypdf); formulas defused in all."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime

import openpyxl
import pandas as pd
import pytest

from dashboards import downloads
from dashboards.downloads import Title
from dashboards.i18n import Lang

NL, FR, EN = Lang("nl"), Lang("fr"), Lang("en")


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "material": ["=HYPERLINK(\"http://x\")", "Béton C25/30", "+1", "plain"],
        "value": [1234.5, -2.25, 3.0, None],
        "quantity": [0.125, 12.0, 1.5, 2.0],
        "period_start": pd.to_datetime(["2026-10-01", "2026-10-02", "2026-10-03", None]),
        "overdue": [True, False, True, False],
    })


def _rows(data: bytes, delimiter: str) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte order mark, so Excel reads the accents"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))


def test_belgian_csv_has_semicolons_decimal_commas_and_words_for_headers():
    rows = _rows(downloads.to_csv(_table(), NL), ";")
    assert rows[0] == ["Artikel", "Waarde (€)", "Hoeveelheid", "Periode", "Te laat"]
    assert rows[1] == ["'=HYPERLINK(\"http://x\")", "1234,5", "0,125", "01/10/2026", "ja"]
    assert rows[2] == ["Béton C25/30", "-2,25", "12", "02/10/2026", "nee"]
    assert rows[4] == ["plain", "", "2", "", "nee"]          # empty is empty, never "None" or "nan"
    fr = _rows(downloads.to_csv(_table(), FR), ";")
    assert fr[0] == ["Article", "Valeur (€)", "Quantité", "Période", "En retard"] and fr[1][1] == "1234,5"


def test_english_csv_keeps_commas_and_decimal_points():
    rows = _rows(downloads.to_csv(_table(), EN), ",")
    assert rows[0] == ["Material", "Value (€)", "Quantity", "Period", "Overdue"]
    assert rows[1] == ["'=HYPERLINK(\"http://x\")", "1234.5", "0.125", "2026-10-01", "yes"]


FORMULAS = ["=1+2", '=HYPERLINK("http://example.test","x")', "+SUM(1)", "-2+3", "@cmd", "\t=1", "\r=1",
            "=cmd|' /C calc'!A0"]


def _hostile() -> pd.DataFrame:
    """Names as a tenant's own system may send them (ingestion loads them: they are the tenant's data)."""
    return pd.DataFrame({"material": FORMULAS, "value": [-2.25] * len(FORMULAS)})


@pytest.mark.parametrize("lang,sep", [(NL, ";"), (EN, ",")])
def test_csv_neutralises_every_formula_start_and_leaves_numbers_alone(lang, sep):
    rows = _rows(downloads.to_csv(_hostile(), lang), sep)
    assert [r[0] for r in rows[1:]] == ["'" + f for f in FORMULAS]
    assert {r[1] for r in rows[1:]} == {"-2,25" if lang.belgian else "-2.25"}   # a negative number stays a number
    hostile_header = pd.DataFrame({"=HYPERLINK(1)": [1]})
    assert _rows(downloads.to_csv(hostile_header, lang), sep)[0] == ["'=HYPERLINK(1)"]


def test_csv_never_breaks_a_value_across_rows():
    """A carriage return inside a name must stay inside its quoted cell: a reader that started a
    new row there would also start a cell with the '=' after it, undefused."""
    names = ["x\r=HYPERLINK(\"http://example.test\")", "two\nlines", "cr\r\nlf"]
    rows = _rows(downloads.to_csv(pd.DataFrame({"material": names, "movements": [1, 2, 3]}), NL), ";")
    assert rows == [["Artikel", "Bewegingen"]] + [[n, str(v)] for n, v in zip(names, [1, 2, 3])]


def test_excel_has_a_title_row_real_numbers_dates_and_formats():
    title = Title("Verbruik per dag", "Bouwwerken Janssens NV", date(2026, 10, 1), date(2026, 10, 31))
    wb = openpyxl.load_workbook(io.BytesIO(downloads.to_xlsx(_table(), NL, title)))
    ws = wb.active
    assert ws.title == "Verbruik per dag"
    heading = ws["A1"].value
    assert heading.startswith("Verbruik per dag · Bouwwerken Janssens NV · 01/10/2026 tot 31/10/2026 · gemaakt ")
    assert [c.value for c in ws[2]] == ["Artikel", "Waarde (€)", "Hoeveelheid", "Periode", "Te laat"]
    assert ws["A3"].value == "=HYPERLINK(\"http://x\")" and ws["A3"].data_type == "s"
    assert ws["B3"].value == 1234.5 and ws["B3"].number_format == '"€" #,##0.00'
    assert ws["C3"].value == 0.125 and ws["C3"].number_format == "#,##0.00####"
    assert ws["D3"].value == datetime(2026, 10, 1) and ws["D3"].number_format == "dd/mm/yyyy"
    assert ws["E3"].value is True
    assert ws["B6"].value is None and ws["D6"].value is None          # empty stays empty
    assert ws.freeze_panes == "A3"
    assert ws.column_dimensions["B"].width >= len("Waarde (€)") + 2
    assert ws.column_dimensions["A"].width >= len("=HYPERLINK(\"http://x\")")
    fr = openpyxl.load_workbook(io.BytesIO(downloads.to_xlsx(_table(), FR, title))).active
    assert fr["B3"].number_format == '#,##0.00 "€"'


def test_excel_stores_every_formula_like_cell_as_text():
    df = _hostile()
    df.columns = ["=material", "value"]
    ws = openpyxl.load_workbook(io.BytesIO(downloads.to_xlsx(df, EN, Title("hostile")))).active
    cells = [c for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    # XML, which an .xlsx is, reads a carriage return as a line feed: the cell is still text
    assert [c.value for c in ws["A"]][2:] == [f.replace("\r", "\n") for f in FORMULAS]
    assert ws["A2"].value == "=material" and ws["A2"].data_type == "s"
    assert [c.value for c in ws["B"]][2:] == [-2.25] * len(FORMULAS)


def test_file_names_carry_the_period_and_sheet_names_are_valid():
    title = Title("Consommation par jour", "X", date(2026, 10, 1), date(2026, 10, 31))
    assert title.file_name("csv") == "consommation-par-jour_2026-10-01_2026-10-31.csv"
    assert Title("Stock à l'entrepôt", "X", None, date(2026, 10, 31)).file_name("xlsx") == \
        "stock-a-l-entrepot_2026-10-31.xlsx"
    sheet = downloads.sheet_name("Voorraad in [Gent]: magazijn/2 * ?" + "x" * 40)
    assert len(sheet) == 31 and sheet.startswith("Voorraad in  Gent") and not set(sheet) & set("[]:*?/\\")


def _pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return " ".join(" ".join(p.extract_text().split()) for p in reader.pages)


@pytest.mark.parametrize("lang", [NL, FR, EN])
def test_monthly_report_is_one_page_in_the_readers_language(lang):
    from dashboards.report_pdf import PREVIOUS_RULE, monthly_report_pdf

    totals = pd.DataFrame([{"quantity": 10.0, "value": 12345.5, "movements": 7, "previous_quantity": 8.0,
                            "previous_value": 10000.0, "previous_movements": 5}])
    daily = pd.DataFrame({"period_start": [date(2026, 10, 1), date(2026, 10, 2)], "value": [100.0, 50.0]})
    tops = pd.DataFrame({"key": ["a"], "label": ["Béton prêt à l'emploi C25/30 – 1 m³"], "value": [1234.5],
                         "previous_value": [1000.0], "quantity": [10.0], "unit": ["m3"]})
    data = {"totals": totals, "daily": daily, "categories": tops, "projects": tops, "materials": tops}
    pdf = downloads.deferred(lambda: __import__("dashboards.report_pdf", fromlist=["x"]).monthly_report_pdf(
        lang, "Bouwwerken Janssens NV", date(2026, 10, 1), (date(2026, 9, 1), date(2026, 9, 30)),
        (date(2025, 10, 1), date(2025, 10, 31)), None, data), "failed")()
    assert monthly_report_pdf   # the module's own function made it (not the fallback page)
    text = _pdf_text(pdf)
    norm = text.replace("\xa0", " ")
    assert lang._("Consumption report {month}", month=lang.month(date(2026, 10, 1))) in text
    assert lang.money(12345.5).replace("\u202f", " ").replace("\xa0", " ") in norm     # € on amounts
    assert lang.month(date(2026, 9, 1)) in text and lang.month(date(2025, 10, 1)) in text   # the months compared
    assert " ".join(lang._(PREVIOUS_RULE).split()) in text
    assert "Béton prêt à l'emploi" in text

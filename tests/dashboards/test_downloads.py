"""Downloads: CSV and Excel give back the table (formulas defused), the monthly report is one PDF page."""
from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pandas as pd

from dashboards import downloads


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "material": ["=HYPERLINK(\"http://x\")", "Béton C25/30", "+1", "plain"],
        "value": [1.5, -2.25, 3.0, 0.0],
        "at": pd.to_datetime(["2026-10-01T08:00:00Z"] * 4),
    })


def test_csv_round_trips_with_formulas_defused():
    back = pd.read_csv(io.BytesIO(downloads.to_csv(_table())), encoding="utf-8-sig")
    assert list(back["material"]) == ["'=HYPERLINK(\"http://x\")", "Béton C25/30", "'+1", "plain"]
    assert list(back["value"]) == [1.5, -2.25, 3.0, 0.0]


def test_excel_round_trips_and_stores_formula_like_text_as_text():
    wb = openpyxl.load_workbook(io.BytesIO(downloads.to_xlsx(_table(), "stock per location")))
    ws = wb.active
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0] == ["material", "value", "at"]
    assert [r[0] for r in rows[1:]] == ["=HYPERLINK(\"http://x\")", "Béton C25/30", "+1", "plain"]
    assert ws["A2"].data_type == "s"
    assert [r[1] for r in rows[1:]] == [1.5, -2.25, 3, 0]


def test_monthly_report_is_one_page_pdf():
    totals = pd.DataFrame([{"quantity": 10.0, "value": 1234.5, "movements": 7, "previous_quantity": 8.0,
                            "previous_value": 1000.0, "previous_movements": 5}])
    daily = pd.DataFrame({"period_start": [date(2026, 10, 1), date(2026, 10, 2)], "value": [100.0, 50.0]})
    tops = pd.DataFrame({"key": ["a"], "label": ["Ready-mix concrete C25/30 – 1 m³"], "value": [1234.5],
                         "previous_value": [1000.0], "quantity": [10.0], "unit": ["m3"]})
    pdf = downloads.monthly_report_pdf("Bouwwerken Janssens NV", date(2026, 10, 1), totals, daily, tops, tops)
    assert pdf.startswith(b"%PDF")
    assert b"/Count 1" in pdf


FORMULAS = ["=1+2", '=HYPERLINK("http://example.test","x")', "+SUM(1)", "-2+3", "@cmd", "\t=1", "\r=1",
            "=cmd|' /C calc'!A0"]


def _hostile() -> pd.DataFrame:
    """Names as a tenant's own system may send them (ingestion loads them: they are the tenant's data)."""
    return pd.DataFrame({"material": FORMULAS, "value": [-2.25] * len(FORMULAS)})


def test_csv_neutralises_every_formula_start_and_leaves_numbers_alone():
    back = pd.read_csv(io.BytesIO(downloads.to_csv(_hostile())), encoding="utf-8-sig", keep_default_na=False)
    assert list(back["material"]) == ["'" + f for f in FORMULAS]
    assert list(back["value"]) == [-2.25] * len(FORMULAS)     # a negative number is a number, not a formula
    header = downloads.to_csv(pd.DataFrame({"=HYPERLINK(1)": [1]})).decode("utf-8-sig").splitlines()[0]
    assert header == "'=HYPERLINK(1)"


def test_csv_never_breaks_a_value_across_rows():
    """A carriage return inside a name must stay inside its quoted cell: a reader that started a
    new row there would also start a cell with the '=' after it, undefused."""
    names = ["x\r=HYPERLINK(\"http://example.test\")", "two\nlines", "cr\r\nlf"]
    raw = downloads.to_csv(pd.DataFrame({"material": names, "value": [1, 2, 3]})).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    assert rows == [["material", "value"]] + [[n, str(v)] for n, v in zip(names, [1, 2, 3])]


def test_excel_stores_every_formula_like_cell_as_text():
    df = _hostile()
    df.columns = ["=material", "value"]
    ws = openpyxl.load_workbook(io.BytesIO(downloads.to_xlsx(df, "hostile"))).active
    cells = [c for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    # XML, which an .xlsx is, reads a carriage return as a line feed: the cell is still text
    assert [c.value for c in ws["A"]][1:] == [f.replace("\r", "\n") for f in FORMULAS]
    assert ws["A1"].value == "=material" and ws["A1"].data_type == "s"
    assert [c.value for c in ws["B"]][1:] == [-2.25] * len(FORMULAS)

"""Downloads: CSV and Excel give back the table (formulas defused), the monthly report is one PDF page."""
from __future__ import annotations

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

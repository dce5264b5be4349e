"""The foundation's overview page, run with Streamlit's AppTest (no server, no browser)."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from pipelines.ingest.load import ingest
from pipelines.transform import run_dbt_build
from tests.conftest import write_csv
from tests.factories import MATERIAL_FIELDS, MOVEMENT_FIELDS, material, movement

PAGE = str(Path(__file__).resolve().parents[2] / "dashboards" / "pages" / "overview.py")


def test_empty_state_says_what_to_do(mira_home):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert any("mira run" in i.value for i in at.info)


def test_overview_shows_ingested_counts_and_consumption(mira_home, landing):
    write_csv(landing / "acme/materials/c.csv", MATERIAL_FIELDS, [material("MAT-1", unit_cost="2.5")])
    write_csv(landing / "acme/movements/m.csv", MOVEMENT_FIELDS,
              [movement("M1", quantity="4"), movement("M2", quantity="x")])
    ingest()
    run_dbt_build(mira_home)
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    table = at.dataframe[0].value
    row = table[table.entity == "movements"].iloc[0]
    assert (row.rows_loaded, row.rows_quarantined) == (1, 1)
    assert len(at.get("vega_lite_chart")) == 1

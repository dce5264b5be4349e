"""The report marts (tag `reports`) over a small hand-built warehouse, checked against figures
computed by hand.

The core marts they read (ledger, daily levels, usage, dimensions) are written directly into
the `marts` schema, so only the report models are built and each figure below follows from the
movements in MOVEMENTS by arithmetic written next to it. The daily levels and the usage are
derived from the same legs with the core marts' own definitions (sum of signed legs per day;
issue + scrap - return), so the fixture cannot contradict itself.

Tenant t1's as-of date is 2026-06-30 (its latest movement), so the default 90-day window is
2026-04-02 .. 2026-06-30. Tenant t2 ends on 2026-05-15.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.ingest.schema import ensure_schema
from pipelines.transform.project import dbt_env as _dbt_env
from pipelines.warehouse import open_file
from tests.conftest import point_at

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")

REPORTS = {
    "rpt_stock_on_hand", "rpt_reorder_suggestions", "rpt_days_of_cover", "rpt_stock_ageing",
    "rpt_abc_xyz", "rpt_tool_custody", "rpt_tool_utilisation", "rpt_count_accuracy", "rpt_slow_stock",
}
U1, U2, SK, V2 = "1" * 64, "2" * 64, "5" * 64, "9" * 64  # pseudonyms: two technicians, a storekeeper; t2's user

# tenant, material, kind, unit, unit_cost, min_stock, reorder_qty, lead_time_days
MATERIALS = [
    ("t1", "M1", "consumable", "pcs", 2, 50, 200, 5),      # screws
    ("t1", "M2", "consumable", "m", 1.5, 100, 500, 10),    # cable
    ("t1", "M3", "material", "pcs", 10, None, None, None),  # pipe, no reorder settings
    ("t1", "T1", "tool", "pcs", 100, 1, 1, 10),            # drills
    ("t1", "T2", "tool", "pcs", 300, 1, 1, 10),            # laser
    ("t2", "M1", "consumable", "pcs", 5, 10, 5, 20),       # same id, other tenant, own settings
]
SUPPLIERS = {("t1", "M2"): "Elektro Groothandel Maes"}   # the rest name none
LOCATIONS = [("t1", "W1", "warehouse"), ("t1", "V1", "van"), ("t1", "S1", "site"), ("t2", "W1", "warehouse")]
USERS = [(U1, "t1", "technician"), (U2, "t1", "technician"), (SK, "t1", "storekeeper"), (V2, "t2", "foreman")]

# movement id, tenant, day, type, material, from, to, quantity, user, project
MOVEMENTS = [
    # M1 screws at the warehouse W1
    ("r1", "t1", "2025-05-01", "receipt", "M1", None, "W1", 100, SK, None),
    ("r2", "t1", "2026-01-15", "receipt", "M1", None, "W1", 200, SK, None),
    ("i1", "t1", "2026-02-01", "issue", "M1", "W1", None, 150, U1, "P1"),     # before the window
    ("i2", "t1", "2026-05-01", "issue", "M1", "W1", None, 60, U1, "P1"),
    ("a1", "t1", "2026-05-29", "adjustment", "M1", None, "W1", -5, SK, None),
    ("x1", "t1", "2026-06-01", "transfer", "M1", "W1", "V1", 40, SK, None),
    ("s1", "t1", "2026-06-05", "scrap", "M1", "W1", None, 2, SK, None),
    ("r3", "t1", "2026-06-10", "receipt", "M1", None, "W1", 100, SK, None),
    ("i3", "t1", "2026-06-20", "issue", "M1", "W1", None, 30, U2, "P1"),
    ("b1", "t1", "2026-06-25", "return", "M1", None, "W1", 10, U2, "P1"),
    # M1 on the van V1
    ("i4", "t1", "2026-06-12", "issue", "M1", "V1", None, 15, U1, "P2"),
    ("s2", "t1", "2026-06-26", "scrap", "M1", "V1", None, 1, U1, None),
    # M2 cable at W1
    ("r4", "t1", "2026-04-10", "receipt", "M2", None, "W1", 500, SK, None),
    ("i5", "t1", "2026-04-20", "issue", "M2", "W1", None, 200, U1, "P1"),
    ("i6", "t1", "2026-05-20", "issue", "M2", "W1", None, 150, U2, "P2"),
    ("a2", "t1", "2026-05-29", "adjustment", "M2", None, "W1", 10, SK, None),
    ("i7", "t1", "2026-06-30", "issue", "M2", "W1", None, 100, U1, "P1"),
    # M3 pipe: warehouse, then a site
    ("r5", "t1", "2025-12-01", "receipt", "M3", None, "W1", 20, SK, None),
    ("x2", "t1", "2026-06-15", "transfer", "M3", "W1", "S1", 10, SK, None),
    ("i8", "t1", "2026-06-16", "issue", "M3", "S1", None, 6, U2, "P2"),
    # T1 drills: three bought; checkouts and checkins (see the custody test for the story)
    ("r6", "t1", "2025-10-01", "receipt", "T1", None, "W1", 3, SK, None),
    ("cz", "t1", "2026-03-15", "checkin", "T1", None, "W1", 1, U1, None),
    ("ca", "t1", "2026-04-01", "checkout", "T1", "W1", None, 1, U1, "P1"),
    ("cx", "t1", "2026-04-20", "checkin", "T1", None, "W1", 1, SK, None),
    ("cb", "t1", "2026-05-10", "checkout", "T1", "W1", None, 1, U1, "P1"),
    ("cc", "t1", "2026-06-01", "checkout", "T1", "W1", None, 1, U2, "P2"),
    ("cy", "t1", "2026-06-05", "checkin", "T1", None, "W1", 1, U2, None),
    ("cd", "t1", "2026-06-20", "checkout", "T1", "W1", None, 1, U2, "P2"),
    # T2 laser: one bought, checked out and never back; a second bought later
    ("r7", "t1", "2026-02-01", "receipt", "T2", None, "W1", 1, SK, None),
    ("cf", "t1", "2026-03-01", "checkout", "T2", "W1", None, 1, U1, None),
    ("r8", "t1", "2026-05-20", "receipt", "T2", None, "W1", 1, SK, None),
    # tenant t2: a short history ending 2026-05-15
    ("r1", "t2", "2026-05-01", "receipt", "M1", None, "W1", 20, V2, None),
    ("i1", "t2", "2026-05-15", "issue", "M1", "W1", None, 18, V2, "P1"),
]

OUT_TYPES = {"issue", "transfer", "checkout", "scrap"}
IN_TYPES = {"receipt", "return", "transfer", "checkin", "adjustment"}


def _legs() -> list[tuple]:
    """The ledger's legs, by fct_stock_movements' rules; valued at the catalogue cost."""
    cost = {(t, m): c for t, m, _, _, c, *_ in MATERIALS}
    unit = {(t, m): u for t, m, _, u, *_ in MATERIALS}
    legs = []
    for n, (mid, tenant, day, mtype, mat, frm, to, qty, user, project) in enumerate(MOVEMENTS):
        at = f"{day} {8 + n % 9:02d}:00:00+00"
        sides = []
        if mtype in OUT_TYPES:
            sides.append(("out", frm, -qty))
        if mtype in IN_TYPES:
            sides.append(("in", to, qty))  # an adjustment's quantity is already signed
        for leg, loc, delta in sides:
            c = cost[(tenant, mat)]
            legs.append((tenant, mid, leg, at, day, mtype, mat, loc, project, user, delta,
                         unit[(tenant, mat)], c, delta * c))
    return legs


FIXTURE_SQL = """
CREATE SCHEMA marts;
CREATE TABLE marts.dim_materials (tenant_id VARCHAR, material_id VARCHAR, sku VARCHAR,
    material_name VARCHAR, category VARCHAR, material_kind VARCHAR, unit VARCHAR,
    unit_cost DECIMAL(18,6), min_stock DECIMAL(18,6), reorder_qty DECIMAL(18,6),
    lead_time_days INTEGER, is_in_catalogue BOOLEAN, supplier VARCHAR);
CREATE TABLE marts.dim_locations (tenant_id VARCHAR, location_id VARCHAR, location_name VARCHAR,
    location_kind VARCHAR);
CREATE TABLE marts.dim_users (user_pseudonym VARCHAR, tenant_id VARCHAR, role VARCHAR);
CREATE TABLE marts.fct_stock_movements (tenant_id VARCHAR, movement_id VARCHAR, leg VARCHAR,
    occurred_at TIMESTAMPTZ, movement_date DATE, movement_type VARCHAR, material_id VARCHAR,
    location_id VARCHAR, project_id VARCHAR, user_pseudonym VARCHAR, quantity_delta DECIMAL(18,6),
    unit VARCHAR, unit_cost DECIMAL(18,6), value_delta DECIMAL(38,12),
    loaded_at TIMESTAMPTZ DEFAULT '2026-07-01 00:00:00+00');
"""

# Same definitions as the core marts: end-of-day level per change day, valid until the next one,
# with the day's net use (issue + scrap + transfer out - return), net tool checkouts and the
# running total of arrivals; consumption = issue + scrap - return at the location the stock left
# or came back to. (test_marts_core checks the core marts' own figures against raw movements.)
DERIVED_SQL = """
CREATE TABLE marts.fct_stock_levels_daily AS
WITH daily AS (
    SELECT tenant_id, material_id, location_id, movement_date AS stock_date,
           sum(CASE WHEN quantity_delta > 0 THEN quantity_delta ELSE 0 END) AS quantity_in,
           sum(CASE WHEN quantity_delta < 0 THEN -quantity_delta ELSE 0 END) AS quantity_out,
           sum(CASE WHEN movement_type IN ('issue', 'scrap', 'return')
                      OR (movement_type = 'transfer' AND leg = 'out')
               THEN -quantity_delta ELSE 0 END) AS quantity_used,
           sum(CASE WHEN movement_type IN ('checkout', 'checkin') THEN -quantity_delta ELSE 0 END)
               AS quantity_checked_out
    FROM marts.fct_stock_movements GROUP BY ALL
)
SELECT daily.*,
       sum(quantity_in - quantity_out) OVER w AS quantity_on_hand,
       sum(quantity_in) OVER w AS cumulative_quantity_in,
       sum(quantity_in - quantity_out) OVER w * mat.unit_cost AS value_on_hand,
       lead(stock_date) OVER (PARTITION BY daily.tenant_id, daily.material_id, daily.location_id
                              ORDER BY stock_date) AS valid_to
FROM daily JOIN marts.dim_materials mat USING (tenant_id, material_id)
WINDOW w AS (PARTITION BY daily.tenant_id, daily.material_id, daily.location_id ORDER BY stock_date
             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);

CREATE TABLE marts.fct_material_usage_daily AS
SELECT tenant_id, movement_date AS usage_date, material_id, project_id, location_id, user_pseudonym,
       unit, sum(-quantity_delta) AS consumed_quantity, sum(-value_delta) AS consumed_value,
       count(*) AS movement_count
FROM marts.fct_stock_movements
WHERE movement_type IN ('issue', 'scrap', 'return')
GROUP BY ALL;
"""


def _build_fixture(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    with open_file(home / "warehouse.duckdb") as con:
        ensure_schema(con)          # empty raw tables: int_tenant_loads reads them
        con.execute(FIXTURE_SQL)
        con.executemany(
            "INSERT INTO marts.dim_materials VALUES (?, ?, ?, ?, 'test', ?, ?, ?, ?, ?, ?, true, ?)",
            [(t, m, f"SKU-{m}", f"Article {m}", kind, unit, cost, mn, rq, lt, SUPPLIERS.get((t, m)))
             for t, m, kind, unit, cost, mn, rq, lt in MATERIALS])
        con.executemany("INSERT INTO marts.dim_locations VALUES (?, ?, ?, ?)",
                        [(t, loc, f"Place {loc}", kind) for t, loc, kind in LOCATIONS])
        con.executemany("INSERT INTO marts.dim_users VALUES (?, ?, ?)", USERS)
        con.executemany(
            "INSERT INTO marts.fct_stock_movements (tenant_id, movement_id, leg, occurred_at, "
            "movement_date, movement_type, material_id, location_id, project_id, user_pseudonym, "
            "quantity_delta, unit, unit_cost, value_delta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _legs())
        con.execute(DERIVED_SQL)


def _dbt(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(DBT), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(home / "target"), "--log-path", str(home / "logs")],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, **_dbt_env(home)},
        capture_output=True, text=True,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Report models, their unit tests and data tests, built once over the fixture (with the
    working table of tool custody, which they read like the core marts but dbt builds). The
    module's tests run with this home and the test key (the files they write are encrypted)."""
    mp = pytest.MonkeyPatch()
    home = point_at(mp, tmp_path_factory.mktemp("reports"))
    try:
        _build_fixture(home)
        done = _dbt(home, "build", "--select", "tag:reports", "int_tool_custody_events", "int_tenant_loads")
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
        yield home
    finally:
        mp.undo()


def _query(home: Path, sql: str) -> list[tuple]:
    with open_file(home / "warehouse.duckdb", read_only=True) as con:
        return con.execute(sql).fetchall()


# Ratios (divisions: shares, averages, days of cover) are compared at the 6 decimals the figures
# by hand are written with; sums and values, which the marts keep exactly, are compared exactly.
RATIOS = {"avg_daily_use", "days_of_cover", "reorder_level", "average_age_days", "cumulative_value_share",
          "demand_cv", "utilisation_share", "count_accuracy"}


def _by_key(home: Path, table: str, key: list[str], cols: list[str], where: str = "true") -> dict:
    shown = [f"round({c}, 6) as {c}" if c in RATIOS else c for c in cols]
    rows = _query(home, f"select {', '.join(key + shown)} from marts.{table} where {where}")
    out = {tuple(r[:len(key)]): tuple(r[len(key):]) for r in rows}
    assert len(out) == len(rows), f"{table}: key {key} is not unique"
    return out


D = Decimal


def test_stock_on_hand_is_the_current_level_per_location(built):
    got = _by_key(built, "rpt_stock_on_hand", ["tenant_id", "location_id", "material_id"],
                  ["quantity_on_hand", "value_on_hand", "last_movement_date", "unit"])
    assert got == {
        # 100 + 200 + 100 + 10 in; 150 + 60 + 30 + 40 + 5 + 2 out = 123, at 2 each
        ("t1", "W1", "M1"): (D(123), D(246), date(2026, 6, 25), "pcs"),
        # 500 - 200 - 150 + 10 - 100 = 60, at 1.5
        ("t1", "W1", "M2"): (D(60), D(90), date(2026, 6, 30), "m"),
        ("t1", "W1", "M3"): (D(10), D(100), date(2026, 6, 15), "pcs"),
        ("t1", "V1", "M1"): (D(24), D(48), date(2026, 6, 26), "pcs"),      # 40 - 15 - 1
        ("t1", "S1", "M3"): (D(4), D(40), date(2026, 6, 16), "pcs"),       # 10 - 6
        # 3 + 3 checkins - 4 checkouts; checked-out tools are at no location
        ("t1", "W1", "T1"): (D(2), D(200), date(2026, 6, 20), "pcs"),
        ("t1", "W1", "T2"): (D(1), D(300), date(2026, 5, 20), "pcs"),      # 1 - 1 + 1
        ("t2", "W1", "M1"): (D(2), D(10), date(2026, 5, 15), "pcs"),       # 20 - 18, at t2's cost 5
    }


def test_days_of_cover_from_recent_use(built):
    got = _by_key(built, "rpt_days_of_cover", ["tenant_id", "location_id", "material_id"],
                  ["as_of_date", "used_quantity", "observed_days", "avg_daily_use", "days_of_cover",
                   "predicted_stockout_date"])
    assert got == {
        # use in 2026-04-02..06-30: issues 60 + 30, transfer out 40, scrap 2, return -10 = 122 over
        # 90 days; cover 123 * 90 / 122 = 90.7377 days -> runs out during day 91: 2026-09-29
        ("t1", "W1", "M1"): (date(2026, 6, 30), D(122), 90, D("1.355556"), D("90.737705"), date(2026, 9, 29)),
        # first moved here 2026-04-10: 82 days observed; 450 / 82 a day; 60 * 82 / 450 = 10.93 -> 07-11
        ("t1", "W1", "M2"): (date(2026, 6, 30), D(450), 82, D("5.487805"), D("10.933333"), date(2026, 7, 11)),
        # 10 transferred to the site is the warehouse's use: 10 * 90 / 10 = exactly 90 days -> 09-28
        ("t1", "W1", "M3"): (date(2026, 6, 30), D(10), 90, D("0.111111"), D(90), date(2026, 9, 28)),
        # the van since 06-01 (30 days): 15 + 1 used; 24 * 30 / 16 = 45 -> 08-14
        ("t1", "V1", "M1"): (date(2026, 6, 30), D(16), 30, D("0.533333"), D(45), date(2026, 8, 14)),
        # the site since 06-15 (16 days): 6 used; 4 * 16 / 6 = 10.67 -> 07-11
        ("t1", "S1", "M3"): (date(2026, 6, 30), D(6), 16, D("0.375"), D("10.666667"), date(2026, 7, 11)),
        # checkouts come back: no use, no stock-out
        ("t1", "W1", "T1"): (date(2026, 6, 30), D(0), 90, D(0), None, None),
        ("t1", "W1", "T2"): (date(2026, 6, 30), D(0), 90, D(0), None, None),
        # t2's own as-of date (2026-05-15), 15 days of history: 18 / 15 = 1.2 a day; 2 / 1.2 -> 05-17
        ("t2", "W1", "M1"): (date(2026, 5, 15), D(18), 15, D("1.2"), D("1.666667"), date(2026, 5, 17)),
    }


def test_reorder_suggestions_follow_the_erpnext_rule(built):
    got = _by_key(built, "rpt_reorder_suggestions", ["tenant_id", "location_id", "material_id"],
                  ["safety_stock", "lead_time_days", "reorder_level", "is_below_minimum",
                   "is_below_reorder_level", "suggested_order_qty", "supplier"])
    assert got == {
        # 122 / 90 * 5 + 50 = 56.777778; 123 on hand: nothing to order
        ("t1", "W1", "M1"): (D(50), 5, D("56.777778"), False, False, D(0), None),
        # 450 / 82 * 10 + 100 = 154.878049; 60 on hand: short 94.88 -> 95, less than the usual 500;
        # bought from the catalogue's supplier (the purchase proposal groups by it)
        ("t1", "W1", "M2"): (D(100), 10, D("154.878049"), True, True, D(500), "Elektro Groothandel Maes"),
        # no minimum, no lead time: reorder level 0
        ("t1", "W1", "M3"): (D(0), 0, D(0), False, False, D(0), None),
        # 1.2 * 20 + 10 = 34; 2 on hand: short 32, more than the usual 5
        ("t2", "W1", "M1"): (D(10), 20, D(34), True, True, D(32), None),
    }  # vans, sites and tools get no purchase suggestions


def test_slow_stock_counts_days_since_the_materials_last_issue(built):
    got = _by_key(built, "rpt_slow_stock", ["tenant_id", "location_id", "material_id"],
                  ["as_of_date", "quantity_on_hand", "value_on_hand", "last_issue_date", "first_movement_date",
                   "days_without_issue"])
    assert got == {
        # M1's last issue anywhere: 06-20 (W1; the van's 06-12 is older): 10 days to 06-30, for the
        # van's stock too (per material); first moved 2025-05-01
        ("t1", "W1", "M1"): (date(2026, 6, 30), D(123), D(246), date(2026, 6, 20), date(2025, 5, 1), 10),
        ("t1", "V1", "M1"): (date(2026, 6, 30), D(24), D(48), date(2026, 6, 20), date(2025, 5, 1), 10),
        ("t1", "W1", "M2"): (date(2026, 6, 30), D(60), D(90), date(2026, 6, 30), date(2026, 4, 10), 0),
        # the pipe's issue on the site (06-16) counts for the warehouse's pipes as well
        ("t1", "W1", "M3"): (date(2026, 6, 30), D(10), D(100), date(2026, 6, 16), date(2025, 12, 1), 14),
        ("t1", "S1", "M3"): (date(2026, 6, 30), D(4), D(40), date(2026, 6, 16), date(2025, 12, 1), 14),
        # t2's own as-of day
        ("t2", "W1", "M1"): (date(2026, 5, 15), D(2), D(10), date(2026, 5, 15), date(2026, 5, 1), 0),
    }  # tools (T1, T2 on hand at W1) are never issued: left out


def test_stock_ageing_bands_fifo(built):
    bands = ["0_30", "31_60", "61_90", "91_180", "181_365", "over_365"]
    got = _by_key(built, "rpt_stock_ageing", ["tenant_id", "location_id", "material_id"],
                  [f"quantity_age_{b}" for b in bands] + ["value_age_0_30", "value_age_91_180", "average_age_days"])
    assert got == {
        # newest first: return 06-25 (10, 5 days), receipt 06-10 (100, 20 days), 13 of the
        # receipt of 01-15 (166 days); the receipt of 2025-05-01 is used up.
        # average (10*5 + 100*20 + 13*166) / 123 = 34.211382
        ("t1", "W1", "M1"): (D(110), D(0), D(0), D(13), D(0), D(0), D(220), D(26), D("34.211382")),
        # the count found 10 on 05-29 (32 days), the rest is the receipt of 04-10 (81 days)
        ("t1", "W1", "M2"): (D(0), D(10), D(50), D(0), D(0), D(0), D(0), D(0), D("72.833333")),
        # received 2025-12-01: 211 days
        ("t1", "W1", "M3"): (D(0), D(0), D(0), D(0), D(10), D(0), D(0), D(0), D(211)),
        # transferred in 06-01: the van's clock starts then (29 days)
        ("t1", "V1", "M1"): (D(24), D(0), D(0), D(0), D(0), D(0), D(48), D(0), D(29)),
        ("t1", "S1", "M3"): (D(4), D(0), D(0), D(0), D(0), D(0), D(40), D(0), D(15)),
        # checked in 06-05 (25 days) and 04-20 (71 days)
        ("t1", "W1", "T1"): (D(1), D(0), D(1), D(0), D(0), D(0), D(100), D(0), D(48)),
        ("t1", "W1", "T2"): (D(0), D(1), D(0), D(0), D(0), D(0), D(0), D(0), D(41)),
        ("t2", "W1", "M1"): (D(2), D(0), D(0), D(0), D(0), D(0), D(10), D(0), D(14)),
    }


def test_abc_xyz_classes(built):
    got = _by_key(built, "rpt_abc_xyz", ["tenant_id", "material_id"],
                  ["consumed_value", "value_rank", "cumulative_value_share", "abc_class", "weeks_observed",
                   "demand_cv", "xyz_class", "abc_xyz_class"])
    # window values: M2 450 * 1.5 = 675; M1 (60 + 30 + 15 + 2 + 1 - 10) * 2 = 196; M3 6 * 10 = 60;
    # total 931. M1 follows 675 / 931 = 72.5% (< 80%: A), M3 follows 93.6% (< 95%: B).
    # Weekly demand over 12 weeks back from 06-30 (04-08..06-30):
    #   M2: 200 (week 10), 150 (week 5), 100 (week 0): mean 37.5, sd 68.084, CV 1.8156 -> Z
    #   M1: 60, 2, 15, 30, -9 (return 10, scrap 1): mean 8.1667, CV 2.2383 -> Z
    #   M3: 6 in week 2: CV sqrt(11) = 3.3166 -> Z
    # t2 has 15 days of history: 2 whole weeks, 18 and 0: mean 9, sd 9, CV exactly 1.0 -> Z
    assert got == {
        ("t1", "M2"): (D(675), 1, D("0.725027"), "A", 12, D("1.815571"), "Z", "AZ"),
        ("t1", "M1"): (D(196), 2, D("0.935553"), "A", 12, D("2.238302"), "Z", "AZ"),
        ("t1", "M3"): (D(60), 3, D(1), "B", 12, D("3.316625"), "Z", "BZ"),
        ("t1", "T1"): (D(0), 4, D(1), "C", 12, None, "Z", "CZ"),
        ("t1", "T2"): (D(0), 5, D(1), "C", 12, None, "Z", "CZ"),
        ("t2", "M1"): (D(90), 1, D(1), "A", 2, D(1), "Z", "AZ"),
    }


def test_tool_custody_matches_checkins_to_checkouts(built):
    # T1: u1 checked one in on 03-15 with nothing out (history starts mid-loan): it closes nothing.
    # u1 takes one on 04-01 (ca); the storekeeper books one in on 04-20: he had none out, so it
    # closes the latest checkout before it that its holder has not closed: ca. u1 takes another
    # on 05-10 (cb): still out, 51 days. u2 takes one 06-01 (cc), brings it back 06-05 (own
    # checkin), takes one 06-20 (cd): 10 days.
    # T2: u1 took the laser on 03-01 (cf) and never brought it back: 121 days, lost.
    got = _by_key(built, "rpt_tool_custody", ["tenant_id", "checkout_movement_id"],
                  ["material_id", "user_pseudonym", "location_id", "checkout_date", "open_quantity",
                   "days_out", "is_overdue", "is_lost"])
    assert got == {
        ("t1", "cb"): ("T1", U1, "W1", date(2026, 5, 10), D(1), 51, True, False),
        ("t1", "cd"): ("T1", U2, "W1", date(2026, 6, 20), D(1), 10, False, False),
        ("t1", "cf"): ("T2", U1, "W1", date(2026, 3, 1), D(1), 121, True, True),
    }


def test_tool_utilisation_in_unit_days(built):
    got = _by_key(built, "rpt_tool_utilisation", ["tenant_id", "material_id"],
                  ["window_start_date", "units_checked_out", "units_in_store", "unit_days_checked_out",
                   "unit_days_in_store", "utilisation_share"])
    assert got == {
        # out 1 (04-02..04-19) 18 + 1 (05-10..05-31) 22 + 2 (06-01..06-04) 8 + 1 (06-05..06-19) 15
        #   + 2 (06-20..06-30) 22 = 85; in store 3*18 + 4*20 + 3*22 + 2*4 + 3*15 + 2*11 = 275
        ("t1", "T1"): (date(2026, 4, 2), D(2), D(2), D(85), D(275), D("0.236111")),
        # out all 90 days; in store only the second laser, from 05-20: 42 days. 90 / 132
        ("t1", "T2"): (date(2026, 4, 2), D(1), D(1), D(90), D(42), D("0.681818")),
    }


def test_count_accuracy_and_shrinkage(built):
    got = _by_key(built, "rpt_count_accuracy", ["tenant_id", "location_id", "month_start"],
                  ["adjustment_count", "counted_value", "absolute_adjustment_value", "found_value",
                   "missing_value", "scrap_value", "shrinkage_value", "count_accuracy"])
    assert got == {
        # 05-29 counts at W1: M1 found 85 (value 170) after -5 (10); M2 found 160 (240) after +10 (15).
        # accuracy 1 - 25 / 410; shrinkage = 10 missing (the +15 found is not netted)
        ("t1", "W1", date(2026, 5, 1)): (2, D(410), D(25), D(15), D(10), D(0), D(10), D("0.939024")),
        ("t1", "W1", date(2026, 6, 1)): (0, D(0), D(0), D(0), D(0), D(4), D(4), None),
        ("t1", "V1", date(2026, 6, 1)): (0, D(0), D(0), D(0), D(0), D(2), D(2), None),
    }


def test_window_length_is_a_var(built, tmp_path):
    """mira_use_window_days changes the window: 30 days (06-01..06-30) at W1 for M1."""
    home = tmp_path / "short"
    _build_fixture(home)
    done = _dbt(home, "run", "--select", "rpt_days_of_cover", "int_tenant_loads", "--vars", "{mira_use_window_days: 30}")
    assert done.returncode == 0, done.stdout[-4000:]
    # transfer 40 + scrap 2 + issue 30 - return 10 = 62 in 30 days; 123 * 30 / 62 = 59.52 -> 60 days
    assert _query(home, """select used_quantity, observed_days, predicted_stockout_date
                           from marts.rpt_days_of_cover
                           where tenant_id = 't1' and location_id = 'W1' and material_id = 'M1'""") == [
        (D(62), 30, date(2026, 8, 29))]


def test_every_report_has_contract_descriptions_and_tests(built):
    manifest = json.loads((built / "target" / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values()
              if n["resource_type"] == "model" and "reports" in n["tags"]}
    assert set(models) == REPORTS
    tests_by_model: dict[str, set[str]] = {name: set() for name in REPORTS}
    keys_by_model: dict[str, list[str]] = {}
    unit_tests_by_model: dict[str, int] = {name: 0 for name in REPORTS}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test":
            for dep in node["depends_on"]["nodes"]:
                name = dep.split(".")[-1]
                if name in REPORTS and node.get("attached_node") == dep:
                    tests_by_model[name].add(node["test_metadata"]["name"])
                    if node["test_metadata"]["name"] == "unique_combination":
                        keys_by_model[name] = node["test_metadata"]["kwargs"]["combination_of_columns"]
    for ut in manifest.get("unit_tests", {}).values():
        if ut["model"] in REPORTS:
            unit_tests_by_model[ut["model"]] += 1
    for name, node in models.items():
        assert node["config"]["contract"]["enforced"], name
        # rebuilt per tenant whose data changed (macros/tenant_incremental.sql)
        assert node["config"]["materialized"] == "incremental" and node["schema"] == "marts", name
        assert node["config"]["incremental_strategy"] == "core_replace_touched", name
        assert node["config"]["touched_partitions"] == "tenants_touched", name
        assert len(node["description"]) > 80, name
        assert node["columns"], name
        for col in node["columns"].values():
            assert col["data_type"] and col["description"], (name, col["name"])
        assert "unique_combination" in tests_by_model[name], name
        # key columns are never null: the enforced contract's not_null constraint refuses the
        # build (a not_null data test on such a column would only repeat it)
        for key in keys_by_model[name]:
            assert {"type": "not_null"} in [{"type": c["type"]} for c in node["columns"][key]["constraints"]], (
                name, key)
        assert "relationships_within_tenant" in tests_by_model[name], name
    # the tricky logic has hand-checked unit tests, and the build ran them
    for name in ["rpt_days_of_cover", "rpt_reorder_suggestions", "rpt_abc_xyz", "rpt_stock_ageing",
                 "rpt_tool_custody"]:
        assert unit_tests_by_model[name] >= 1, name
    results = json.loads((built / "target" / "run_results.json").read_text())["results"]
    ran = {r["unique_id"].split(".")[2] for r in results
           if r["unique_id"].startswith("unit_test.") and r["status"] == "pass"}
    assert ran >= {"rpt_days_of_cover", "rpt_reorder_suggestions", "rpt_abc_xyz", "rpt_stock_ageing",
                   "rpt_tool_custody"}


def test_no_personal_data_in_report_columns(built):
    columns = _query(built, """select table_name, column_name from information_schema.columns
                               where table_schema = 'marts' and table_name like 'rpt\\_%' escape '\\'""")
    assert {t for t, _ in columns} == REPORTS
    assert not [c for c in columns if any(w in c[1] for w in ("name", "email", "user_id"))]

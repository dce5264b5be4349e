"""Values are never silently changed: a real-looking catalogue (costs with 6 decimals, quantities
with 5) goes through ingestion, dbt and publishing, and every value, value on hand and sum in the
tenant's serving file equals quantity x cost computed exactly here; values that do not fit the
contract are quarantined under their own rule, never rounded."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest

from pipelines.contracts import load_contract
from pipelines.ingest.load import ingest
from pipelines.warehouse import open_file
from tests.conftest import point_at, write_csv
from tests.factories import MATERIAL_FIELDS, MOVEMENT_FIELDS, USER_FIELDS, material, movement, user

D = Decimal
CATALOGUE = {   # material -> (unit, unit cost as a catalogue sends it)
    "MAT-SCR": ("pcs", "0.120743"), "MAT-TIE": ("pcs", "0.019876"), "MAT-CAB": ("m", "0.873412"),
    "MAT-MOR": ("kg", "0.212758"), "MAT-GEN": ("pcs", "1234567.891234"),
}
OUT = {"issue", "transfer", "checkout", "scrap"}
IN = {"receipt", "return", "transfer", "checkin", "adjustment"}


def _mv(mid, kind, mat, qty, day=1, cost="", src="", dst="", project=""):
    return movement(mid, occurred_at=f"2026-10-{day:02d}T{8 + len(mid) % 8:02d}:15:00+02:00", movement_type=kind,
                    material_id=mat, quantity=qty, unit=CATALOGUE[mat][0], unit_cost=cost, from_location_id=src,
                    to_location_id=dst, project_id=project, user_id="u-31d0")


MOVES = [
    _mv("R1", "receipt", "MAT-SCR", "12345.12345", 1, "0.120744", dst="W"),
    _mv("R2", "receipt", "MAT-TIE", "5000.5", 1, "0.019876", dst="W"),
    _mv("R3", "receipt", "MAT-CAB", "1500.33333", 1, "0.873411", dst="W"),
    _mv("R4", "receipt", "MAT-MOR", "2500.00007", 2, "0.212759", dst="W"),
    _mv("R5", "receipt", "MAT-GEN", "99999.99999", 2, "1234567.891233", dst="W"),
    _mv("I1", "issue", "MAT-SCR", "123.45678", 3, src="W", project="P1"),
    _mv("I2", "issue", "MAT-SCR", "0.00001", 3, src="W", project="P1"),
    _mv("I3", "issue", "MAT-CAB", "17.77777", 3, "0.873413", src="W", project="P1"),
    _mv("I4", "issue", "MAT-MOR", "33.33333", 4, src="W", project="P1"),
    _mv("I5", "issue", "MAT-GEN", "3.00001", 4, src="W", project="P1"),
    _mv("T1", "transfer", "MAT-CAB", "250.12345", 4, src="W", dst="V"),
    _mv("S1", "scrap", "MAT-CAB", "0.00001", 5, src="V"),
    _mv("N1", "return", "MAT-SCR", "1.00001", 5, dst="W", project="P1"),
    _mv("A1", "adjustment", "MAT-TIE", "-0.33333", 5, dst="W"),
    _mv("I6", "issue", "MAT-TIE", "4444.44444", 5, src="W", project="P1"),
]


def expected():
    """Legs, stock on hand and consumption computed here with Python's exact decimals."""
    cost = {m: D(c) for m, (_, c) in CATALOGUE.items()}
    rows = [dict(zip(MOVEMENT_FIELDS, r)) for r in MOVES]
    legs, on_hand, used = {}, defaultdict(D), defaultdict(D)
    for r in rows:
        q, leg_cost = D(r["quantity"]), D(r["unit_cost"]) if r["unit_cost"] else cost[r["material_id"]]
        for leg, where, sign in (("out", r["from_location_id"], -1), ("in", r["to_location_id"], 1)):
            if r["movement_type"] in (OUT if leg == "out" else IN):
                legs[(r["movement_id"], leg)] = (sign * q, leg_cost, sign * q * leg_cost)
                on_hand[(r["material_id"], where)] += sign * q
                if r["movement_type"] in ("issue", "scrap", "return"):
                    used[r["material_id"]] -= sign * q * leg_cost
    values = {k: (q, q * cost[k[0]]) for k, q in on_hand.items()}
    return legs, values, used


@pytest.fixture(scope="module")
def built(tmp_path_factory, transform):
    from pipelines.cli.pipeline import run_full_build

    mp = pytest.MonkeyPatch()
    home = point_at(mp, tmp_path_factory.mktemp("precision") / "mira")
    land = home / "landing/acme"
    write_csv(land / "materials/catalogue.csv", MATERIAL_FIELDS,
              [material(m, unit=u, unit_cost=c, min_stock="12.5", reorder_qty="1000.00001")
               for m, (u, c) in CATALOGUE.items()])
    write_csv(land / "users/u.csv", USER_FIELDS, [user("u-31d0")])
    write_csv(land / "tenants/t.csv", load_contract("tenants").field_names,
              [["acme", "Acme Installations NV", "BE", "active", "2025-01-01", ""]])
    write_csv(land / "movements/2026-10.csv", MOVEMENT_FIELDS, MOVES)
    summary = run_full_build()
    assert summary["success"], summary["failure"]
    from pipelines.serving.files import open_tenant

    con = open_tenant("acme")
    yield con
    con.close()
    mp.undo()


def test_the_catalogue_needs_more_than_four_decimals(built):
    """The figures below would differ under the old DECIMAL(18,4): the test can tell."""
    legs, values, used = expected()
    assert any(-v.as_tuple().exponent > 6 for _, _, v in legs.values())
    assert any(-v.as_tuple().exponent > 6 for _, v in values.values())


def test_every_leg_is_quantity_times_its_cost_exactly(built):
    legs, _, _ = expected()
    got = {(m, leg): (q, c, v) for m, leg, q, c, v in built.execute(
        "SELECT movement_id, leg, quantity_delta, unit_cost, value_delta FROM marts.fct_stock_movements").fetchall()}
    assert got == legs


def test_value_on_hand_is_quantity_times_catalogue_cost_exactly(built):
    _, values, _ = expected()
    on_hand = {(m, loc): (q, v) for m, loc, q, v in built.execute(
        "SELECT material_id, location_id, quantity_on_hand, value_on_hand FROM marts.rpt_stock_on_hand").fetchall()}
    assert on_hand == values
    levels = {(m, loc): (q, v) for m, loc, q, v in built.execute(
        "SELECT material_id, location_id, quantity_on_hand, value_on_hand FROM marts.fct_stock_levels_daily "
        "WHERE valid_to IS NULL").fetchall()}
    assert levels == values
    # the ageing bands share the value exactly: they add up to the value on hand to the last decimal
    for m, loc, v, *bands in built.execute(
            "SELECT material_id, location_id, value_on_hand, value_age_0_30, value_age_31_60, value_age_61_90, "
            "value_age_91_180, value_age_181_365, value_age_over_365 FROM marts.rpt_stock_ageing").fetchall():
        assert sum(bands) == v == values[(m, loc)][1]


def test_consumption_values_and_their_rollups_are_exact(built):
    _, _, used = expected()
    daily = dict(built.execute("SELECT material_id, sum(consumed_value) FROM marts.fct_material_usage_daily "
                               "GROUP BY 1").fetchall())
    assert daily == {m: v for m, v in used.items()}
    rolled = dict(built.execute("SELECT material_id, sum(consumed_value) FROM rollups.usage "
                                "WHERE dimension = 'material' AND grain = 'month' GROUP BY 1").fetchall())
    assert rolled == daily
    (total,), = built.execute("SELECT sum(consumed_value) FROM rollups.usage WHERE dimension = 'total' "
                              "AND grain = 'day'").fetchall()
    assert total == sum(used.values())


def test_the_catalogue_keeps_its_costs(built):
    got = dict(built.execute("SELECT material_id, unit_cost FROM marts.dim_materials").fetchall())
    assert got == {m: D(c) for m, (_, c) in CATALOGUE.items()}
    types = dict(built.execute("SELECT column_name, data_type FROM information_schema.columns "
                               "WHERE table_name = 'fct_stock_movements'").fetchall())
    assert (types["quantity_delta"], types["unit_cost"], types["value_delta"]) == (
        "DECIMAL(18,6)", "DECIMAL(18,6)", "DECIMAL(38,12)")


# -- values that do not fit: quarantined under their own rule, never rounded -------------------------

RULE_CASES = [   # (entity, field, text, rule or None when it loads, the value it loads as)
    ("materials", "unit_cost", "0.1234567", "materials.unit_cost.precision", None),
    ("materials", "unit_cost", "999999999999.9999999", "materials.unit_cost.precision", None),  # fits only rounded
    ("materials", "unit_cost", "1234567890123", "materials.unit_cost.overflow", None),
    ("materials", "unit_cost", "0.1200000000", None, D("0.12")),                               # zeros change nothing
    ("materials", "unit_cost", "000000000000000007.5", None, D("7.5")),
    ("materials", "unit_cost", "999999999999.999999", None, D("999999999999.999999")),
    ("materials", "min_stock", "0.0000001", "materials.min_stock.precision", None),
    ("materials", "reorder_qty", "10000000000000", "materials.reorder_qty.overflow", None),
    ("materials", "lead_time_days", "3000000000", "materials.lead_time_days.overflow", None),
    ("materials", "lead_time_days", "12.5", "materials.lead_time_days.type", None),
    ("movements", "quantity", "1.0000001", "movements.quantity.precision", None),
    ("movements", "quantity", "-99999999999999", "movements.quantity.overflow", None),
    ("movements", "quantity", "12345.12345", None, D("12345.12345")),
    ("movements", "unit_cost", "0.0000005", "movements.unit_cost.precision", None),
    ("movements", "unit_cost", "5000000000000.1", "movements.unit_cost.overflow", None),
]


def test_values_beyond_the_contract_are_quarantined_under_their_rule(mira_home, landing):
    materials, movements = [], []
    for i, (entity, name, text, _, _) in enumerate(RULE_CASES):
        if entity == "materials":
            materials.append(material(f"X{i}", **{name: text}))
        else:
            over = {"movement_type": "receipt", "to_location_id": "W", "from_location_id": "", "project_id": "",
                    "unit_cost": "1", name: text}
            movements.append(movement(f"X{i}", **over))
    write_csv(landing / "acme/materials/m.csv", MATERIAL_FIELDS, materials)
    write_csv(landing / "acme/movements/m.csv", MOVEMENT_FIELDS, movements)
    report = ingest()
    con = open_file(mira_home / "warehouse.duckdb", read_only=True)
    try:
        quarantined = {r[0]: (r[1], r[2]) for r in con.execute(
            "SELECT json_extract_string(payload, CASE entity WHEN 'materials' THEN '$.material_id' "
            "ELSE '$.movement_id' END), rule_id, reason FROM quarantine.rows").fetchall()}
        loaded = {r[0]: r[1:] for r in con.execute(
            "SELECT material_id, unit_cost, min_stock, reorder_qty, lead_time_days FROM raw.materials "
            "UNION ALL SELECT movement_id, unit_cost, quantity, NULL, NULL FROM raw.movements").fetchall()}
    finally:
        con.close()
    reasons = {r.id: r.reason for e in ("materials", "movements") for r in load_contract(e).rules()}
    for i, (entity, name, text, rule, value) in enumerate(RULE_CASES):
        key = f"X{i}"
        if rule:
            assert quarantined.get(key) == (rule, reasons[rule]) and key not in loaded, (name, text)
            assert text not in reasons[rule]
        else:
            column = {"unit_cost": 0, "min_stock": 1, "quantity": 1}[name]
            assert key not in quarantined and loaded[key][column] == value, (name, text)
    assert sum(report.quarantined_by_rule.values()) == sum(1 for c in RULE_CASES if c[3])


def test_a_warehouse_from_before_keeps_no_column_that_would_round(mira_home, landing):
    """raw.* made when decimals had 4 places is widened before new rows are cast into it."""
    from pipelines.ingest.schema import ensure_schema

    con = open_file(mira_home / "warehouse.duckdb")
    try:
        ensure_schema(con)
        con.execute("ALTER TABLE raw.movements ALTER COLUMN quantity TYPE DECIMAL(18,4)")
        con.execute("ALTER TABLE raw.materials ALTER COLUMN unit_cost TYPE DECIMAL(18,4)")
    finally:
        con.close()
    write_csv(landing / "acme/materials/m.csv", MATERIAL_FIELDS, [material("MAT-1", unit_cost="0.120743")])
    write_csv(landing / "acme/movements/m.csv", MOVEMENT_FIELDS, [movement("M1", quantity="2.12345")])
    ingest()
    con = open_file(mira_home / "warehouse.duckdb", read_only=True)
    try:
        assert con.execute("SELECT unit_cost FROM raw.materials").fetchall() == [(D("0.120743"),)]
        assert con.execute("SELECT quantity FROM raw.movements").fetchall() == [(D("2.12345"),)]
    finally:
        con.close()

"""dbt build over a tiny hand-written warehouse, and the Dagster view of the dbt project.

The figures below are computed by hand from the rows in RAW_SQL, so a change in the
consumption rules shows up here as a wrong number, not as a silently different mart.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.warehouse import open_file
from tests.conftest import point_at

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

PERSONAL_COLUMN = re.compile(r"(first|last)_?name|e_?mail|user_?id", re.IGNORECASE)
RAW_TABLES = {"tenants", "users", "materials", "locations", "projects", "movements"}

LINEAGE_COLUMNS = """,
    _source_file VARCHAR, _source_row BIGINT, _row_hash UBIGINT, _run_id VARCHAR,
    _loaded_at TIMESTAMPTZ DEFAULT now()"""

P1, P2 = "a" * 64, "b" * 64  # user pseudonyms (64 hex characters)

RAW_SQL = f"""
CREATE SCHEMA raw;
CREATE TABLE raw.tenants (tenant_id VARCHAR, name VARCHAR, country VARCHAR,
    subscription_status VARCHAR, subscribed_at DATE, terminated_at DATE{LINEAGE_COLUMNS});
CREATE TABLE raw.users (user_pseudonym VARCHAR, tenant_id VARCHAR, role VARCHAR,
    created_at TIMESTAMPTZ, last_login_date DATE{LINEAGE_COLUMNS});
CREATE TABLE raw.materials (material_id VARCHAR, tenant_id VARCHAR, sku VARCHAR, name VARCHAR,
    category VARCHAR, kind VARCHAR, unit VARCHAR, unit_cost DECIMAL(18,6),
    min_stock DECIMAL(18,6), reorder_qty DECIMAL(18,6), lead_time_days INTEGER, supplier VARCHAR{LINEAGE_COLUMNS});
CREATE TABLE raw.locations (location_id VARCHAR, tenant_id VARCHAR, name VARCHAR,
    kind VARCHAR{LINEAGE_COLUMNS});
CREATE TABLE raw.projects (project_id VARCHAR, tenant_id VARCHAR, name VARCHAR,
    cost_centre VARCHAR, status VARCHAR, started_at DATE, ended_at DATE{LINEAGE_COLUMNS});
CREATE TABLE raw.movements (movement_id VARCHAR, tenant_id VARCHAR, occurred_at TIMESTAMPTZ,
    movement_type VARCHAR, material_id VARCHAR, quantity DECIMAL(18,6), unit VARCHAR,
    from_location_id VARCHAR, to_location_id VARCHAR, project_id VARCHAR,
    user_pseudonym VARCHAR, unit_cost DECIMAL(18,6){LINEAGE_COLUMNS});

INSERT INTO raw.tenants (tenant_id, name, country, subscription_status, subscribed_at, terminated_at) VALUES
    ('t1', 'Acme Bau', 'DE', 'active', '2025-01-01', NULL),
    ('t2', 'Beta Werk', 'AT', 'trial', '2026-02-01', NULL);
INSERT INTO raw.users (user_pseudonym, tenant_id, role, created_at, last_login_date) VALUES
    ('{P1}', 't1', 'storekeeper', '2025-01-02 08:00:00+01', '2026-03-02'),
    ('{P2}', 't2', 'foreman', '2026-02-01 08:00:00+01', '2026-03-02');
INSERT INTO raw.materials (material_id, tenant_id, sku, name, category, kind, unit, unit_cost,
        min_stock, reorder_qty, lead_time_days, supplier) VALUES
    ('M1', 't1', 'SCR-4x40', 'Screws 4x40', 'fixings', 'consumable', 'pcs', 2.5, 50, 200, 5, 'Visserie Lambert'),
    ('M2', 't1', 'DRL-18V', 'Cordless drill', 'power tools', 'tool', 'pcs', 40, 1, 1, 10, NULL),
    ('M1', 't2', 'GLV-L', 'Gloves L', 'safety', 'consumable', 'pcs', 10, 10, 50, 3, 'Protection Martin');
INSERT INTO raw.locations (location_id, tenant_id, name, kind) VALUES
    ('L1', 't1', 'Main store', 'warehouse'), ('L2', 't1', 'Van 1', 'van'), ('L1', 't2', 'Store', 'warehouse');
INSERT INTO raw.projects (project_id, tenant_id, name, cost_centre, status, started_at, ended_at) VALUES
    ('P1', 't1', 'School roof', 'CC-10', 'active', '2026-01-10', NULL),
    ('P2', 't1', 'Office fit-out', 'CC-20', 'active', '2026-02-01', NULL),
    ('P1', 't2', 'Hall', 'CC-1', 'active', '2026-02-01', NULL);
-- mv6 references M7, which is not in raw.materials yet (late reference data).
INSERT INTO raw.movements (movement_id, tenant_id, occurred_at, movement_type, material_id, quantity,
        unit, from_location_id, to_location_id, project_id, user_pseudonym, unit_cost) VALUES
    ('mv1', 't1', '2026-03-02 08:00:00+01', 'receipt',    'M1', 100, 'pcs', NULL, 'L1', NULL, '{P1}', 2.4),
    ('mv2', 't1', '2026-03-02 09:00:00+01', 'issue',      'M1',   5, 'pcs', 'L1', NULL, 'P1', '{P1}', NULL),
    ('mv3', 't1', '2026-03-02 10:00:00+01', 'scrap',      'M1',   1, 'pcs', 'L1', NULL, 'P1', '{P1}', NULL),
    ('mv4', 't1', '2026-03-02 16:00:00+01', 'return',     'M1',   2, 'pcs', NULL, 'L1', 'P1', '{P1}', NULL),
    ('mv5', 't1', '2026-03-02 11:00:00+01', 'issue',      'M1',   3, 'pcs', 'L2', NULL, 'P2', '{P1}', 3.0),
    ('mv6', 't1', '2026-03-02 12:00:00+01', 'issue',      'M7',   6, 'pcs', 'L1', NULL, 'P1', '{P1}', NULL),
    ('mv7', 't1', '2026-03-03 09:00:00+01', 'checkout',   'M2',   1, 'pcs', 'L1', NULL, NULL, '{P1}', NULL),
    ('mv8', 't1', '2026-03-03 09:30:00+01', 'adjustment', 'M1',  -1, 'pcs', NULL, 'L1', NULL, '{P1}', NULL),
    ('mv9', 't1', '2026-03-03 10:00:00+01', 'transfer',   'M1',  10, 'pcs', 'L1', 'L2', NULL, '{P1}', NULL),
    ('mv10','t1', '2026-03-03 11:00:00+01', 'issue',      'M1',   4, 'pcs', 'L1', NULL, 'P1', '{P1}', NULL),
    ('mv1', 't2', '2026-03-02 10:00:00+01', 'issue',      'M1',   1, 'pcs', 'L1', NULL, 'P1', '{P2}', NULL);
"""

# (tenant, day, material, project, location) -> (quantity, value at cost, movements), by hand:
EXPECTED_USAGE = {
    # issue 5 + scrap 1 - return 2 = 4, at catalogue cost 2.5
    ("t1", "2026-03-02", "M1", "P1", "L1"): (Decimal("4"), Decimal("10"), 3),
    # the movement's own cost (3.0) wins over the catalogue's
    ("t1", "2026-03-02", "M1", "P2", "L2"): (Decimal("3"), Decimal("9"), 1),
    # late material: kept, value unknown until M7 arrives
    ("t1", "2026-03-02", "M7", "P1", "L1"): (Decimal("6"), None, 1),
    ("t1", "2026-03-03", "M1", "P1", "L1"): (Decimal("4"), Decimal("10"), 1),
    # same material id in another tenant: that tenant's cost, 1 * 10
    ("t2", "2026-03-02", "M1", "P1", "L1"): (Decimal("1"), Decimal("10"), 1),
}


def _make_raw_warehouse(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    with open_file(home / "warehouse.duckdb") as con:
        con.execute(RAW_SQL)


def _rows(home: Path, sql: str) -> list[tuple]:
    with open_file(home / "warehouse.duckdb", read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def built_home(tmp_path_factory, transform) -> Path:
    mp = pytest.MonkeyPatch()
    home = point_at(mp, tmp_path_factory.mktemp("mira_home"))   # its key, whatever ran before
    _make_raw_warehouse(home)
    # CI runs every dbt unit test here; pipeline builds leave them out (dbt_build_flags)
    transform.run_dbt_build(home, unit_tests=True)
    yield home
    mp.undo()


def test_the_ci_build_runs_every_dbt_unit_test(built_home):
    target = built_home / "dbt" / "target"
    declared = set(json.loads((target / "manifest.json").read_text())["unit_tests"])
    results = json.loads((target / "run_results.json").read_text())["results"]
    ran = {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}
    assert len(declared) >= 12 and set(ran) == declared
    assert set(ran.values()) == {"pass"}


def test_pipeline_builds_leave_unit_tests_to_ci(transform):
    assert transform.dbt_build_flags() == ["--exclude-resource-type", "unit_test"]
    assert transform.dbt_build_flags(unit_tests=True) == []
    assert transform.dbt_build_flags(full_refresh=True) == ["--exclude-resource-type", "unit_test", "--full-refresh"]
    assert transform.dbt_build_flags(full_tests=True)[-2:] == ["--vars", "{mira_full_tests: true}"]


def _dbt_test(transform, home: Path, select: str, *args: str) -> dict[str, str]:
    """`dbt test` on the warehouse in `home`; status per test name."""
    done = subprocess.run(
        [transform.dbt_executable(), "test", "--select", select, *args,
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(home / "dbt" / "target"), "--log-path", str(home / "logs" / "dbt")],
        cwd=DBT_PROJECT_DIR, env={**os.environ, **transform.dbt_env(home)}, capture_output=True, text=True)
    results = json.loads((home / "dbt" / "target" / "run_results.json").read_text())["results"]
    assert results, done.stdout[-3000:]
    return {r["unique_id"].split(".")[2]: r["status"] for r in results}


def test_scoped_data_tests_check_what_the_build_wrote(built_home, transform, tmp_path):
    """The large marts' data tests check the rows the latest build wrote, and staging the rows
    not built yet (macros/test_scope.sql): a bad row there fails, also when it clashes with a
    row the build kept; a bad row the build kept is left to the full (nightly) tests."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "warehouse.duckdb").write_bytes((built_home / "warehouse.duckdb").read_bytes())
    with open_file(home / "warehouse.duckdb") as con:
        con.execute(f"""INSERT INTO raw.movements (movement_id, tenant_id, occurred_at, movement_type,
                material_id, quantity, unit, from_location_id, project_id, user_pseudonym)
            VALUES ('mv11', 't1', '2026-03-03 12:00:00+01', 'issue', 'M1', 1, 'pcs', 'L1', 'P1', '{P1}')""")
    transform.run_dbt_build(home, select="+fct_stock_movements")
    with open_file(home / "warehouse.duckdb") as con:
        assert con.execute("select count(distinct built_at) from marts.fct_stock_movements").fetchone() == (2,)
        # the build wrote mv11's leg and kept mv2's
        con.execute("update marts.fct_stock_movements set movement_type = 'teleport' where movement_id = 'mv11'")
        con.execute("update marts.fct_stock_movements set leg = 'sideways' where movement_id = 'mv2'")
        # a loaded row not built yet that repeats the key of one already built
        con.execute("""INSERT INTO raw.movements (movement_id, tenant_id, occurred_at, movement_type,
                material_id, quantity, unit, to_location_id, user_pseudonym)
            SELECT movement_id, tenant_id, occurred_at, 'receipt', material_id, 1, unit, 'L1', user_pseudonym
            FROM raw.movements WHERE movement_id = 'mv1' AND tenant_id = 't1'""")

    scoped = _dbt_test(transform, home, "stg_mira__movements fct_stock_movements")
    assert scoped["accepted_values_fct_stock_movements_movement_type__receipt__issue__return__transfer__checkout__checkin__adjustment__scrap"] == "fail"
    assert scoped["accepted_values_fct_stock_movements_leg__out__in"] == "pass"        # mv2 was kept
    assert scoped["unique_combination_stg_mira__movements_tenant_id__movement_id"] == "fail"

    full = _dbt_test(transform, home, "fct_stock_movements", "--vars", "{mira_full_tests: true}")
    assert full["accepted_values_fct_stock_movements_leg__out__in"] == "fail"


def test_usage_figures_match_hand_computed(built_home):
    rows = _rows(built_home, """
        select tenant_id, strftime(usage_date, '%Y-%m-%d'), material_id, project_id, location_id,
               consumed_quantity, consumed_value, movement_count
        from marts.fct_material_usage_daily""")
    actual = {tuple(r[:5]): tuple(r[5:]) for r in rows}
    assert len(rows) == len(actual), "grain is not unique"
    assert actual == EXPECTED_USAGE


def test_late_material_movement_is_kept_and_in_dimension(built_home):
    assert _rows(built_home, """
        select consumed_quantity, consumed_value from marts.fct_material_usage_daily
        where tenant_id = 't1' and material_id = 'M7'""") == [(Decimal("6"), None)]
    assert _rows(built_home, """
        select is_in_catalogue, material_name from marts.dim_materials
        where tenant_id = 't1' and material_id = 'M7'""") == [(False, None)]
    assert _rows(built_home, "select count(*) from marts.dim_materials") == [(4,)]


def test_late_material_resolves_once_it_arrives(built_home, transform, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "warehouse.duckdb").write_bytes((built_home / "warehouse.duckdb").read_bytes())
    with open_file(home / "warehouse.duckdb") as con:
        con.execute("""INSERT INTO raw.materials (material_id, tenant_id, sku, name, category, kind,
                unit, unit_cost, min_stock, reorder_qty, lead_time_days)
            VALUES ('M7', 't1', 'TAPE-50', 'Duct tape', 'fixings', 'consumable', 'roll', 1.5, 5, 20, 2)""")
    transform.run_dbt_build(home)
    assert _rows(home, """
        select consumed_quantity, consumed_value from marts.fct_material_usage_daily
        where tenant_id = 't1' and material_id = 'M7'""") == [(Decimal("6"), Decimal("9"))]
    assert _rows(home, """
        select is_in_catalogue, material_name from marts.dim_materials
        where tenant_id = 't1' and material_id = 'M7'""") == [(True, "Duct tape")]


def test_missing_manifest_says_how_to_make_it(transform, monkeypatch):
    from dagster_dbt import DbtProject

    monkeypatch.setattr(
        transform, "project",
        lambda: DbtProject(project_dir=DBT_PROJECT_DIR, target_path="no-such-target"),
    )
    with pytest.raises(FileNotFoundError, match="make manifest"):
        transform.require_manifest()


def test_no_personal_data_columns_in_staging_or_marts(built_home):
    columns = _rows(built_home, """
        select table_schema, table_name, column_name from information_schema.columns
        where table_schema in ('staging', 'marts')""")
    assert {schema for schema, _, _ in columns} == {"staging", "marts"}
    leaks = [c for c in columns if PERSONAL_COLUMN.search(c[2])]
    assert leaks == []


def test_schemas_are_named_exactly(built_home):
    tables = set(_rows(built_home, """
        select table_schema, table_name from information_schema.tables
        where table_schema in ('staging', 'marts')"""))
    assert ("marts", "fct_material_usage_daily") in tables
    assert ("marts", "dim_materials") in tables
    assert {name for schema, name in tables if schema == "staging"} == {
        f"stg_mira__{t}" for t in RAW_TABLES
    }


def test_dbt_assets_depend_on_raw_ingest_keys(transform):
    from dagster import AssetKey

    from pipelines.transform.assets import dbt_assets_def

    assets = dbt_assets_def()
    own_keys = set(assets.keys)
    upstream = {dep.asset_key for spec in assets.specs for dep in spec.deps} - own_keys
    assert upstream == {AssetKey(["raw", t]) for t in RAW_TABLES}

    movements = next(s for s in assets.specs if s.key == AssetKey(["staging", "stg_mira__movements"]))
    assert AssetKey(["raw", "movements"]) in {d.asset_key for d in movements.deps}
    assert AssetKey(["marts", "fct_material_usage_daily"]) in own_keys
    assert {s.group_name for s in assets.specs} == {"warehouse"}
    # dbt data tests are asset checks on the marts
    assert any(
        c.asset_key == AssetKey(["marts", "fct_material_usage_daily"]) for c in assets.check_specs
    )


def test_dagster_materialize_runs_dbt_build_with_checks(transform, tmp_path, monkeypatch):
    from dagster import AssetKey, DagsterInstance, materialize

    from pipelines.transform.assets import dbt_assets_def

    home = tmp_path / "home"
    _make_raw_warehouse(home)
    monkeypatch.setenv("MIRA_HOME", str(home))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_target"))  # keep the repo's target/ clean
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [dbt_assets_def()],
            instance=instance,
        )
    assert result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert AssetKey(["marts", "fct_material_usage_daily"]) in materialized
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations)
    assert _rows(home, "select sum(consumed_quantity) from marts.fct_material_usage_daily") == [
        (Decimal("18"),)
    ]

    # `mira run --full-refresh`: the job's run config reaches the dbt step, which rebuilds the
    # incremental marts from scratch (a plain build would keep every ledger row: nothing changed)
    from pipelines.cli.pipeline import full_build_run_config

    ledger = AssetKey(["marts", "fct_stock_movements"])
    (first_built,) = _rows(home, "select max(built_at) from marts.fct_stock_movements")[0]
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [dbt_assets_def()], selection=[ledger],
            instance=instance,
            run_config={"ops": full_build_run_config(full_refresh=True)["ops"]},
        )
    assert result.success
    ((rows, builds, built),) = _rows(home, "select count(*), count(distinct built_at), min(built_at) "
                                           "from marts.fct_stock_movements")
    assert (rows, builds) == (12, 1) and built > first_built   # 11 movements, the transfer has 2 legs


def test_mira_run_has_a_full_refresh_flag(monkeypatch):
    from dagster import validate_run_config
    from typer.testing import CliRunner

    from pipelines.cli import app as cli
    from pipelines.cli import pipeline as runner
    from pipelines.definitions import defs

    assert validate_run_config(defs.resolve_job_def("full_build"), runner.full_build_run_config(True))
    seen = []

    def fake_run(full_refresh: bool = False, **_) -> dict:       # holding_lock, console: as `mira run` passes them
        seen.append(full_refresh)
        return {"run_id": "r", "success": True, "failure": "", "models_built": 0, "files_loaded": 0,
                "files_rejected": 0, "files_duplicate": 0, "rows_loaded": 0, "rows_quarantined": 0,
                "quarantined_by_rule": {}, "rejected_files": []}

    monkeypatch.setattr(runner, "run_full_build", fake_run)
    assert CliRunner().invoke(cli.app, ["run", "--full-refresh"]).exit_code == 0
    assert CliRunner().invoke(cli.app, ["run"]).exit_code == 0
    assert seen == [True, False]

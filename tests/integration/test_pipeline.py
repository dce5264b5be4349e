"""End to end on generated data: `mira run`'s job in process, recorded in Dagster, checked by counts."""
from __future__ import annotations

import pytest

from pipelines.privacy.scan import identities, scan_duckdb
from pipelines.warehouse import open_file
from tests.conftest import point_at, key_for


@pytest.fixture
def built(e2e, monkeypatch):
    point_at(monkeypatch, e2e[0])   # the shared home, whatever other modules pointed at meanwhile
    return e2e


def test_run_succeeds_and_quarantine_counts_are_exact(built):
    home, gen, first, _ = built
    assert first["success"], first["failure"]
    assert gen.defects and sum(gen.defects.values()) == round(0.02 * gen.rows["movements"])
    assert first["quarantined_by_rule"] == gen.defects
    assert first["rows_quarantined"] == sum(gen.defects.values())
    assert first["rows_loaded"] + first["rows_quarantined"] == sum(gen.rows.values())
    assert first["models_built"] >= 2


def test_every_file_reconciles(built):
    home, gen, _, _ = built
    con = open_file(home / "warehouse.duckdb", read_only=True)
    try:
        files = con.execute("SELECT file_path, rows_read, rows_loaded, rows_quarantined FROM audit.files "
                            "WHERE status = 'loaded'").fetchall()
        assert len(files) == len(gen.files)
        assert all(r == l + q for _, r, l, q in files)
        # rows in quarantine match the per-file counts exactly
        for path, _, _, quarantined in files:
            n = con.execute("SELECT count(*) FROM quarantine.rows WHERE file_path = ?", [path]).fetchone()[0]
            assert n == quarantined
        movements = con.execute("SELECT count(*) FROM raw.movements").fetchone()[0]
        assert movements == gen.rows["movements"] - sum(gen.defects.values())
    finally:
        con.close()


def test_second_run_changes_nothing(built):
    home, gen, first, second = built
    assert second["success"]
    assert second["rows_loaded"] == 0 and second["files_loaded"] == 0


def test_no_identity_anywhere_in_the_warehouse(built):
    home, gen, _, _ = built
    people = identities(home / "vault.duckdb")
    assert len(people) > 20
    assert scan_duckdb(home / "warehouse.duckdb", people) == []
    # the scanner itself finds them where they are
    assert {h.kind for h in scan_duckdb(home / "vault.duckdb", people, key=key_for(home / "vault.duckdb"))} >= {"email", "user_id", "name"}


def test_marts_are_built_and_consumption_is_there(built):
    home, _, _, _ = built
    con = open_file(home / "warehouse.duckdb", read_only=True)
    try:
        n, value = con.execute("SELECT count(*), sum(consumed_value) FROM marts.fct_material_usage_daily").fetchone()
        assert n > 0 and value > 0
    finally:
        con.close()


def test_runs_are_recorded_in_the_dagster_instance(built):
    home, _, first, second = built
    from dagster import DagsterInstance

    from pipelines.runs import prepare_dagster_home

    prepare_dagster_home()
    with DagsterInstance.get() as instance:
        run_ids = {r.run_id for r in instance.get_runs()}
        assert {first["run_id"], second["run_id"]} <= run_ids
        checks = instance.get_latest_materialization_event
        assert checks(__import__("dagster").AssetKey(["raw", "movements"])) is not None
    assert list((home / "gx" / "movements").glob("*.json"))

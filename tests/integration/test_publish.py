"""The analyst snapshot: after a build it holds every mart and nothing else, `mira sql` reads it,
readers of the old snapshot survive a publish, and the marts and snapshot pass their freshness checks."""
from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from pipelines.warehouse import open_file
from pipelines.generate import generate
from pipelines.privacy.scan import identities, scan_duckdb
from pipelines.serving.assets import publish_analyst_snapshot
from pipelines.cli.pipeline import run_full_build
from tests.conftest import point_at


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small generated landing zone built once (ingest, dbt, publish) for the module."""
    mp = pytest.MonkeyPatch()
    home = point_at(mp, tmp_path_factory.mktemp("publish") / "mira")
    generate(home / "landing", tenants=2, days=20, seed=5, movements_per_day=8, end_date=date(2026, 10, 31))
    summary = run_full_build()
    assert summary["success"], summary["failure"]
    yield home, summary
    mp.undo()


def tables(path, schema_filter: str = "true") -> dict[tuple[str, str], int]:
    con = open_file(path, read_only=True)
    try:
        names = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            f"WHERE table_catalog = current_database() AND {schema_filter}").fetchall()
        return {(s, t): con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0] for s, t in names}
    finally:
        con.close()


def mira(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True, timeout=120)


def test_snapshot_holds_every_mart_and_nothing_else(built):
    home, _ = built
    marts = tables(home / "warehouse.duckdb", "table_schema = 'marts'")
    assert len(marts) >= 2 and all(n > 0 for n in marts.values())
    assert tables(home / "serving" / "analyst.duckdb") == marts
    # no temp files or WAL left: the published files only (the tenants' in their own folder), and
    # the records of what each was published from
    assert sorted(p.name for p in (home / "serving").iterdir()) == [
        "analyst.duckdb", "keyring.bin", "ops.duckdb", "published-analyst.json", "published.json", "tenants"]


def test_snapshot_holds_no_identity(built):
    home, _ = built
    people = identities(home / "vault.duckdb")
    assert people
    assert scan_duckdb(home / "serving" / "analyst.duckdb", people) == []


def test_publish_is_recorded_as_an_asset_of_the_build(built):
    home, summary = built
    from dagster import AssetKey, DagsterInstance

    from pipelines.runs import prepare_dagster_home

    prepare_dagster_home()
    with DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(AssetKey(["serving", "analyst"]))
        assert event is not None and event.run_id == summary["run_id"]
        metadata = event.asset_materialization.metadata
        assert metadata["tables"].value == len(tables(home / "warehouse.duckdb", "table_schema = 'marts'"))


def test_mira_sql_reads_the_snapshot(built):
    home, _ = built
    n = tables(home / "serving" / "analyst.duckdb")[("marts", "dim_materials")]
    res = mira("sql", "SELECT count(*) AS n FROM marts.dim_materials")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["n", str(n)]
    # raw data is not in the snapshot; only --warehouse reaches it
    res = mira("sql", "SELECT count(*) FROM raw.movements")
    assert res.returncode == 1 and "does not exist" in res.stderr and "Traceback" not in res.stderr
    assert mira("sql", "--warehouse", "SELECT count(*) FROM raw.movements").returncode == 0


def test_a_reader_of_the_old_snapshot_survives_a_publish(built):
    home, _ = built
    snapshot = home / "serving" / "analyst.duckdb"
    reader = open_file(snapshot, read_only=True)
    try:
        before = reader.execute("SELECT count(*) FROM marts.dim_materials").fetchone()[0]
        with open_file(home / "warehouse.duckdb") as wh:
            wh.execute("CREATE TABLE marts.zz_added AS SELECT 42 AS answer")
        try:
            publish_analyst_snapshot()
            # the open reader still sees its consistent old snapshot
            assert reader.execute("SELECT count(*) FROM marts.dim_materials").fetchone()[0] == before
            assert reader.execute("SELECT count(*) FROM information_schema.tables "
                                  "WHERE table_name = 'zz_added'").fetchone()[0] == 0
            # a new reader (another process, as analysts are) sees the new one
            res = mira("sql", "SELECT answer FROM marts.zz_added")
            assert res.stdout.splitlines() == ["answer", "42"], res.stderr
        finally:
            with open_file(home / "warehouse.duckdb") as wh:
                wh.execute("DROP TABLE marts.zz_added")
    finally:
        reader.close()
    publish_analyst_snapshot()
    assert ("marts", "zz_added") not in tables(snapshot)


def test_marts_and_snapshot_are_fresh_after_the_build(built):
    """The build itself runs the freshness checks after the assets, and they pass; so does a
    later evaluation (what the freshness sensor launches)."""
    _, summary = built
    from dagster import AssetSelection, DagsterEventType, DagsterInstance, Definitions, define_asset_job

    from pipelines.definitions import defs
    from pipelines.runs import prepare_dagster_home

    prepare_dagster_home()
    freshness_checks = [c for c in defs.get_repository_def().asset_graph.asset_check_keys if c.name.startswith("freshness")]
    check_job = define_asset_job("freshness_now", selection=AssetSelection.checks(*freshness_checks))
    with DagsterInstance.get() as instance:
        in_build = [e.dagster_event.event_specific_data for e in
                    instance.all_logs(summary["run_id"], of_type=DagsterEventType.ASSET_CHECK_EVALUATION)]
        result = Definitions.merge(defs, Definitions(jobs=[check_job])).resolve_job_def("freshness_now") \
            .execute_in_process(instance=instance)
    in_build = [e for e in in_build if e.check_name == "freshness_check"]
    later = result.get_asset_check_evaluations()
    for evaluations in (in_build, later):
        assert {e.asset_key.path[0] for e in evaluations} == {"marts", "serving"}
        assert all(e.passed for e in evaluations), [(e.asset_key, e.description) for e in evaluations]


def test_failed_publish_keeps_the_previous_snapshot(mira_home):
    """No marts to publish: the publish fails and the snapshot analysts have stays as it was."""
    with open_file(mira_home / "warehouse.duckdb") as wh:
        wh.execute("CREATE SCHEMA raw; CREATE TABLE raw.movements AS SELECT 1 AS x")
    serving = mira_home / "serving"
    serving.mkdir()
    with open_file(serving / "analyst.duckdb") as old:
        old.execute("CREATE SCHEMA marts; CREATE TABLE marts.kept AS SELECT 7 AS v")
    (serving / ".analyst-crashed.duckdb").write_bytes(b"half a file")
    with pytest.raises(RuntimeError, match="no marts"):
        publish_analyst_snapshot()
    assert tables(serving / "analyst.duckdb") == {("marts", "kept"): 1}
    assert [p.name for p in serving.iterdir()] == ["analyst.duckdb"]


def test_every_tenant_file_published_side_by_side_is_complete(built):
    """Two workers publish tenants' files side by side. They shared one DuckDB instance, where a
    DETACH skips its checkpoint while the other worker's transaction is active: about one file in
    six was swapped in without the rows left in its write-ahead log, some with no table at all.
    Each worker now has an instance of its own, and warehouse.detach refuses a file whose WAL
    stayed behind; published again and again, every file holds every mart's rows."""
    from pipelines.serving import files as serving
    from pipelines.serving.publish import publish_tenants

    home, _ = built
    marts = tables(home / "warehouse.duckdb", "table_schema = 'marts'")
    for _ in range(6):
        published = publish_tenants()          # raises IncompleteWrite on a skipped checkpoint
        assert len(published) >= 2
        for tenant in published:
            con = serving.open_tenant(tenant)
            try:
                held = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE "
                                                  "database_name = current_database() AND schema_name = 'marts'").fetchall()}
            finally:
                con.close()
            assert held == {t for _, t in marts}, f"{tenant}'s file lacks {sorted({t for _, t in marts} - held)}"
        assert not list((home / "serving" / "tenants").glob(".publishing-*")), "a temporary file or WAL is left"

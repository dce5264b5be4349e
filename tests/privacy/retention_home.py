"""A small built MIRA_HOME shared by the retention and backup tests (built once per session), and a
search that looks for values in every file under a home: raw bytes, and every text column of every
DuckDB file, decrypted with the key its place calls for."""
from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import point_at

END_DATE = date(2026, 10, 31)


@dataclass(frozen=True)
class Built:
    home: Path
    retired: str                 # the terminated tenant's id
    retired_name: str
    terminated_on: date
    others: tuple[str, ...]
    retired_people: tuple[tuple[str, str, str, str], ...]   # user_id, first, last, email
    ingest_run_id: str

    @property
    def as_of(self) -> date:
        """A day on which the terminated tenant is past the 90 days."""
        return self.terminated_on + timedelta(days=100)


_built: dict[str, Built] = {}


def built_home(tmp_path_factory) -> Built:
    """Generate 3 tenants (one terminated), ingest them in a Dagster run, build every dbt model,
    publish the analyst snapshot. Once per session: both test modules use it (dbt is the slow part)."""
    if "home" in _built:
        return _built["home"]
    from dagster import DagsterInstance

    from pipelines.generate import generate
    from pipelines.runs import prepare_dagster_home
    from pipelines.ingest.assets import raw_tables

    mp = pytest.MonkeyPatch()
    home = point_at(mp, tmp_path_factory.mktemp("retention") / "mira")
    try:
        generate(home / "landing", tenants=3, days=20, seed=11, movements_per_day=3, end_date=END_DATE)
        prepare_dagster_home()
        from pipelines.definitions import defs
        from pipelines.serving.analyst import publish_analyst_snapshot
        from pipelines.transform.project import run_dbt_build

        with DagsterInstance.get() as instance:
            result = defs.resolve_job_def("full_build").execute_in_process(
                instance=instance, asset_selection=list(raw_tables.keys),
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
        assert result.success
        run_dbt_build(home)
        publish_analyst_snapshot()
        tenants = {}
        for f in sorted((home / "landing").glob("*/tenants/*.csv")):
            with open(f, newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    tenants[row["tenant_id"]] = row
        (retired,) = [t for t, r in tenants.items() if r["subscription_status"] == "terminated"]
        people = []
        for f in sorted((home / "landing" / retired / "users").glob("*.csv")):
            with open(f, newline="", encoding="utf-8") as fh:
                people += [(r["user_id"], r["first_name"], r["last_name"], r["email"]) for r in csv.DictReader(fh)]
        _built["home"] = Built(home, retired, tenants[retired]["name"],
                               date.fromisoformat(tenants[retired]["terminated_at"]),
                               tuple(sorted(t for t in tenants if t != retired)), tuple(people), result.run_id)
    finally:
        mp.undo()
    return _built["home"]


def copy_home(built: Built, dst: Path, mp: pytest.MonkeyPatch) -> Path:
    """A private copy of the built home, and the platform pointed at it."""
    home = dst / "mira"
    shutil.copytree(built.home, home, symlinks=True)
    point_at(mp, home)
    return home


# ---------------------------------------------------------------------------------------------
def _duckdb_key(path: Path, home: Path) -> str | None:
    from pipelines import keys
    from pipelines.settings import get_settings

    settings = get_settings()
    rel = path.relative_to(home).parts
    if rel[0] == "backups":
        return keys.file_key("backup", settings=settings)
    if rel[0] == "serving" and len(rel) == 3 and rel[1] == "tenants":
        from pipelines.serving.files import read_keyring

        return read_keyring(settings).get(path.stem)
    from pipelines.warehouse import purpose_of
    from tests.conftest import key_for

    return key_for(path) or keys.file_key(purpose_of(path), settings=settings)


def search_home(home: Path, needles: list[str]) -> list[str]:
    """Every place under `home` where one of `needles` is found: '<file>:bytes' for the raw bytes
    of any file, '<file>:<schema>.<table>' for a decrypted DuckDB table (views hold no data)."""
    from pipelines.warehouse import attach, memory_connection

    hits = []
    wanted = [n for n in needles if n]
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        rel = str(path.relative_to(home))
        data = path.read_bytes()
        hits += [f"{rel}:bytes" for n in wanted if n.encode("utf-8") in data][:1]
        if not path.name.endswith(".duckdb") or path.name.startswith("."):
            continue
        key = _duckdb_key(path, home)
        assert key, f"no key known for {rel}"
        con = memory_connection()
        try:
            attach(con, path, "f", key, read_only=True)
            con.execute("CREATE TEMP TABLE needles (v VARCHAR)")
            con.executemany("INSERT INTO needles VALUES (?)", [(n,) for n in wanted])
            tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                                 "WHERE database_name = 'f'").fetchall()   # views hold no data
            for schema, table in tables:
                cols = [c for (c,) in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name = 'f' AND schema_name = ? "
                    "AND table_name = ?", [schema, table]).fetchall()]
                row = "concat_ws(chr(31), " + ", ".join(f'CAST("{c}" AS VARCHAR)' for c in cols) + ")"
                found = con.execute(f'SELECT count(*) FROM (SELECT {row} AS r FROM f."{schema}"."{table}") t '
                                    f'JOIN needles n ON contains(t.r, n.v)').fetchone()[0]
                if found:
                    hits.append(f"{rel}:{schema}.{table}")
        finally:
            con.close()
    return hits


def tenant_counts(home: Path, tenants: tuple[str, ...]) -> dict[str, int]:
    """Rows per (file, table, tenant) for these tenants in the warehouse and the vault."""
    from pipelines.privacy import dbcopy
    from pipelines.settings import get_settings
    from pipelines.warehouse import connect

    settings = get_settings()
    counts = {}
    from pipelines.vault import store as vault

    vault_path, vault_key = vault.encrypted_file(settings)
    for path, key in ((settings.warehouse_path, None), (vault_path, vault_key)):
        with connect(path, read_only=True, key=key) as con:
            catalog = con.execute("SELECT current_database()").fetchone()[0]
            for s, t, cond in dbcopy.tenant_tables(con, catalog):
                for tenant in tenants:
                    counts[f"{path.name}:{s}.{t}:{tenant}"] = con.execute(
                        f'SELECT count(*) FROM "{s}"."{t}" WHERE {cond}', {"tenants": [tenant]}).fetchone()[0]
    return counts

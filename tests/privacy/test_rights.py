"""Data-subject rights end to end on generated data: `mira privacy export|rectify|erase|restrict|
unrestrict|resume`, each run as its Dagster job, checked by counts and by searching every file.

One small generated landing zone is ingested, built with dbt and published once for the module;
every test works on its own copy of that MIRA_HOME.
"""
from __future__ import annotations

import json
import shutil
import stat
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.contracts import load_contract
from pipelines.generate import generate
from pipelines.ingest.load import ingest
from pipelines.privacy.scan import _scan_tables, scan_home
from pipelines.vault.store import open_vault
from pipelines.warehouse import connect
from tests.conftest import point_at

runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory, transform):
    """Two tenants, a month: ingested, every dbt model built, the analyst snapshot published."""
    from pipelines.serving.assets import publish_analyst_snapshot

    mp = pytest.MonkeyPatch()
    home = point_at(mp, tmp_path_factory.mktemp("rights") / "mira")
    generate(home / "landing", tenants=2, days=30, seed=7, movements_per_day=10, end_date=date(2026, 10, 31))
    ingest()
    transform.run_dbt_build(home)
    publish_analyst_snapshot()
    yield home
    mp.undo()


@pytest.fixture
def home(built, tmp_path, monkeypatch) -> Path:
    """A private copy of the built MIRA_HOME, and the platform pointed at it."""
    copy = tmp_path / "mira"
    shutil.copytree(built, copy)
    return point_at(monkeypatch, copy)


def mira(*args: str):
    from pipelines.cli.app import app

    return runner.invoke(app, list(args), catch_exceptions=False)


def rows(sql: str, params=(), path: Path | None = None) -> list[tuple]:
    with connect(path, read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def vault_rows(sql: str, params=()) -> list[tuple]:
    with open_vault(read_only=True) as v:
        return v.execute(sql, list(params)).fetchall()


def person(home: Path) -> dict:
    """The known person with the most consumption rows (so every kind of row is there)."""
    tenant, p = rows("SELECT tenant_id, user_pseudonym FROM marts.fct_material_usage_daily "
                     "GROUP BY ALL ORDER BY count(*) DESC, 2 LIMIT 1")[0]
    user_id, first, last, email = vault_rows(
        "SELECT user_id, first_name, last_name, email FROM identities WHERE tenant_id = ? AND user_pseudonym = ?",
        [tenant, p])[0]
    return {"tenant": tenant, "user_id": user_id, "pseudonym": p, "first": first, "last": last, "email": email}


def needles(who: dict) -> list[bytes]:
    return [v.encode() for v in (who["user_id"], who["email"], f"{who['first']} {who['last']}")]


def tables_with(value: str, path: Path | None = None) -> list[str]:
    """Every table.column (text or JSON) of a decrypted DuckDB file holding `value` anywhere."""
    with connect(path, read_only=True) as con:
        cols = con.execute("""
            SELECT schema_name, table_name, column_name FROM duckdb_columns()
            WHERE database_name = current_database() AND data_type IN ('VARCHAR', 'JSON')""").fetchall()
        by_table: dict[tuple[str, str], list[str]] = {}
        for s, t, c in cols:
            by_table.setdefault((s, t), []).append(c)
        found = []
        for (s, t), cs in by_table.items():   # one scan per table; columns named only when it hits
            where = " OR ".join(f'contains(CAST("{c}" AS VARCHAR), $1)' for c in cs)
            if con.execute(f'SELECT count(*) FROM "{s}"."{t}" WHERE {where}', [value]).fetchone()[0]:
                found += [f"{s}.{t}.{c}" for c in cs if con.execute(
                    f'SELECT count(*) FROM "{s}"."{t}" WHERE contains(CAST("{c}" AS VARCHAR), ?)', [value]).fetchone()[0]]
        return found


def usage_totals(path: Path | None = None) -> list[tuple]:
    return rows("SELECT tenant_id, material_id, unit, sum(consumed_quantity), sum(consumed_value), sum(movement_count) "
                "FROM marts.fct_material_usage_daily GROUP BY ALL ORDER BY ALL", path=path)


def stock_totals(path: Path | None = None) -> list[tuple]:
    return rows("SELECT tenant_id, material_id, location_id, sum(quantity_delta), count(*) "
                "FROM marts.fct_stock_movements GROUP BY ALL ORDER BY ALL", path=path)


def snapshot(home: Path) -> Path:
    return home / "serving" / "analyst.duckdb"


def request_id(output: str) -> str:
    line = next(line for line in output.splitlines() if line.startswith("request "))
    return line.split()[1]


def audit(home: Path, rid: str) -> dict:
    with connect(read_only=True) as con:
        cur = con.execute("SELECT * FROM audit.privacy_requests WHERE request_id = ?", [rid])
        return dict(zip([d[0] for d in cur.description], cur.fetchone()))


def assert_run_config_is_only_the_request_id(home: Path, rid: str, who: dict) -> None:
    from dagster import DagsterInstance

    from pipelines.runs import prepare_dagster_home

    prepare_dagster_home()
    with DagsterInstance.get() as instance:
        runs = [r for r in instance.get_runs() if r.job_name.startswith("privacy_")
                and r.run_config.get("ops", {}).get("execute_request", {}).get("config", {}).get("request_id") == rid]
        assert len(runs) == 1
        assert runs[0].run_config == {"ops": {"execute_request": {"config": {"request_id": rid}}}}
        text = json.dumps([str(e) for e in instance.all_logs(runs[0].run_id)])
    assert who["pseudonym"] not in text
    for needle in needles(who) + [who["first"].encode(), who["last"].encode()]:
        assert needle.decode() not in text


# ---------------------------------------------------------------------------------------------


def test_export_holds_the_identity_and_exactly_the_persons_rows(home):
    who = person(home)
    result = mira("privacy", "export", "--tenant", who["tenant"], "--user", who["user_id"])
    assert result.exit_code == 0, result.output
    rid = request_id(result.output)
    folder = home / "exports" / rid
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700

    identity = json.loads((folder / "identity.json").read_text())
    assert identity[0]["email"] == who["email"] and identity[0]["user_id"] == who["user_id"]
    assert identity[0]["first_name"] == who["first"]

    expected_movements = rows("SELECT count(*) FROM raw.movements WHERE user_pseudonym = ?", [who["pseudonym"]])[0][0]
    expected_usage = rows("SELECT count(*) FROM marts.fct_material_usage_daily WHERE user_pseudonym = ?",
                          [who["pseudonym"]])[0][0]
    assert expected_movements > 0 and expected_usage > 0
    movements = json.loads((folder / "raw.movements.json").read_text())
    usage = json.loads((folder / "marts.fct_material_usage_daily.json").read_text())
    assert len(movements) == expected_movements and len(usage) == expected_usage
    # only this person's rows, named by their user id (the pseudonym is an internal key)
    assert {r["user_id"] for r in movements} == {who["user_id"]} == {r["user_id"] for r in usage}
    assert who["pseudonym"] not in (folder / "export.json").read_text()
    assert sum(1 for _ in open(folder / "raw.movements.csv")) == expected_movements + 1
    document = json.loads((folder / "export.json").read_text())
    assert document["identity"]["email"] == who["email"]
    assert len(document["tables"]["raw.movements"]) == expected_movements

    row = audit(home, rid)
    assert row["kind"] == "export" and row["status"] == "done" and row["finished_at"] is not None
    assert json.loads(row["row_counts"])["raw.movements"] == expected_movements
    assert not any(n.decode() in json.dumps(row, default=str) for n in needles(who))
    assert who["pseudonym"] not in json.dumps(row, default=str)
    assert_run_config_is_only_the_request_id(home, rid, who)
    # done: the vault's record of the request no longer names the person
    assert vault_rows("SELECT user_id, value, status FROM requests WHERE request_id = ?", [rid]) == [(None, None, "done")]


def test_rectify_changes_the_vault_only(home):
    who = person(home)
    warehouse_before = (home / "warehouse.duckdb").read_bytes()
    landing_before = {p: p.read_bytes() for p in (home / "landing").rglob("*") if p.is_file()}
    result = mira("privacy", "rectify", "--tenant", who["tenant"], "--user", who["user_id"],
                  "--field", "email", "--value", "corrected.address@example.org")
    assert result.exit_code == 0, result.output
    assert vault_rows("SELECT email, first_name FROM identities WHERE tenant_id = ? AND user_id = ?",
                      [who["tenant"], who["user_id"]]) == [("corrected.address@example.org", who["first"])]
    assert {p: p.read_bytes() for p in (home / "landing").rglob("*") if p.is_file()} == landing_before
    # the warehouse gained only the audit row
    assert rows("SELECT count(*) FROM audit.privacy_requests") == [(1,)]
    assert "corrected.address" not in json.dumps(rows("SELECT * FROM audit.privacy_requests"), default=str)
    assert warehouse_before != (home / "warehouse.duckdb").read_bytes()  # the audit row only
    assert tables_with("corrected.address") == []

    bad = mira("privacy", "rectify", "--tenant", who["tenant"], "--user", who["user_id"],
               "--field", "role", "--value", "admin")
    assert bad.exit_code == 1
    assert "field 'role' cannot be rectified; one of first_name, last_name, email" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
    bad_email = mira("privacy", "rectify", "--tenant", who["tenant"], "--user", who["user_id"],
                     "--field", "email", "--value", "not-an-email")
    assert bad_email.exit_code == 1 and "not an email address" in bad_email.output


def test_erase_removes_the_person_everywhere_and_replay_does_not_bring_them_back(home, tmp_path):
    who = person(home)
    tenant_landing = home / "landing" / who["tenant"]
    originals = {p: p.read_bytes() for p in tenant_landing.rglob("*") if p.is_file()
                 and who["user_id"].encode() in p.read_bytes()}
    assert any("users" in str(p) for p in originals) and any("movements" in str(p) for p in originals)
    usage_before, stock_before = usage_totals(), stock_totals()
    snapshot_usage_before = usage_totals(snapshot(home))
    counts_before = {t: rows(f"SELECT count(*) FROM raw.{t}")[0][0] for t in ("users", "movements")}
    # an earlier export for the same person, under MIRA_HOME: erasure removes it too
    assert mira("privacy", "export", "--tenant", who["tenant"], "--user", who["user_id"]).exit_code == 0

    result = mira("privacy", "erase", "--tenant", who["tenant"], "--user", who["user_id"], "--yes")
    assert result.exit_code == 0, result.output
    rid = request_id(result.output)

    # vault: identity gone; a tombstone with no user id or name; nothing else names the person
    assert vault_rows("SELECT count(*) FROM identities WHERE user_id = ? OR user_pseudonym = ?",
                      [who["user_id"], who["pseudonym"]]) == [(0,)]
    (token,) = vault_rows("SELECT token FROM tombstones WHERE tenant_id = ? AND user_pseudonym = ?",
                          [who["tenant"], who["pseudonym"]])[0]
    assert len(token) == 64 and token != who["pseudonym"]
    person_tuple = [(who["user_id"], who["first"], who["last"], who["email"])]
    with open_vault(read_only=True) as v:
        assert _scan_tables(v, "vault", person_tuple) == []

    # warehouse, snapshot, logs, Dagster: no trace of the pseudonym, the user id, names or email
    assert tables_with(who["pseudonym"]) == []
    assert tables_with(who["pseudonym"], snapshot(home)) == []
    hits, scanned = scan_home(people=person_tuple)
    assert hits == [] and scanned > 3
    assert not (home / "exports").exists() or not any((home / "exports").iterdir())
    # landing files: purged (raw bytes)
    for path in tenant_landing.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(n in data for n in needles(who)), path
    assert token.encode() in b"".join(p.read_bytes() for p in (tenant_landing / "movements").iterdir())

    # the person's rows are there, under the token: every total is unchanged
    assert rows("SELECT count(*) FROM raw.movements WHERE user_pseudonym = ?", [token])[0][0] > 0
    assert usage_totals() == usage_before and stock_totals() == stock_before
    assert usage_totals(snapshot(home)) == snapshot_usage_before
    # row hashes recomputed as ingestion computes them
    cols = ", ".join(f'"{n}"' for n, _, _ in load_contract("movements").warehouse_columns)
    assert rows(f"SELECT count(*) FROM raw.movements WHERE _row_hash <> hash({cols})") == [(0,)]

    row = audit(home, rid)
    counts = json.loads(row["row_counts"])
    assert row["status"] == "done" and counts["raw.movements"] > 0 and counts["vault.identities"] == 1
    assert counts["landing.files"] >= 2 and counts["landing.rows_dropped"] == 1
    assert not any(n.decode() in json.dumps(row, default=str) for n in needles(who))
    assert_run_config_is_only_the_request_id(home, rid, who)

    # the purged files are not re-ingested as changed
    before = rows("SELECT count(*) FROM audit.files")[0][0]
    report = ingest()
    assert report.files == [] and rows("SELECT count(*) FROM audit.files")[0][0] == before

    # replaying the original files (under new names) does not bring the person back
    for path, data in originals.items():
        (path.parent / f"replay_{path.name}").write_bytes(data)
    report = ingest()
    assert {f.status for f in report.files} == {"loaded"} and len(report.files) == len(originals)
    assert vault_rows("SELECT count(*) FROM identities WHERE user_id = ? OR user_pseudonym IN (?, ?)",
                      [who["user_id"], who["pseudonym"], token]) == [(0,)]
    assert tables_with(who["pseudonym"]) == []
    assert {t: rows(f"SELECT count(*) FROM raw.{t}")[0][0] for t in ("users", "movements")} == counts_before


def test_restrict_hides_the_person_from_published_marts_until_lifted(home):
    from dagster import materialize

    from pipelines.definitions import defs
    from pipelines.privacy.assets import RESTRICTIONS_KEY

    restrictions = defs.get_assets_def(RESTRICTIONS_KEY)

    who = person(home)
    p = who["pseudonym"]
    snap = snapshot(home)
    usage_before = usage_totals(snap)
    person_rows = {t: rows(f'SELECT count(*) FROM marts."{t}" WHERE user_pseudonym = ?', [p], snap)[0][0]
                   for t in ("dim_users", "fct_material_usage_daily", "fct_stock_movements")}
    assert all(person_rows.values())

    result = mira("privacy", "restrict", "--tenant", who["tenant"], "--user", who["user_id"])
    assert result.exit_code == 0, result.output
    assert tables_with(p, snap) == []               # gone from every published mart
    assert rows("SELECT count(*) FROM marts.dim_users WHERE tenant_id = ?", [who["tenant"]], snap)[0][0] == \
        rows("SELECT count(*) FROM marts.dim_users WHERE tenant_id = ?", [who["tenant"]])[0][0] - 1
    assert usage_totals(snap) == usage_before        # rows kept, pseudonym blanked: totals equal
    assert rows("SELECT count(*) FROM marts.fct_stock_movements WHERE user_pseudonym IS NULL", path=snap)[0][0] == \
        person_rows["fct_stock_movements"]
    # the warehouse keeps the rows (restriction is not erasure) and lists the pseudonym
    assert rows("SELECT count(*) FROM raw.movements WHERE user_pseudonym = ?", [p])[0][0] > 0
    assert rows("SELECT tenant_id FROM privacy.restricted_subjects WHERE user_pseudonym = ?", [p]) == [(who["tenant"],)]
    again = mira("privacy", "restrict", "--tenant", who["tenant"], "--user", who["user_id"])
    assert again.exit_code == 1 and "already restricted" in again.output

    # each build's privacy/restrictions asset rebuilds the warehouse's list from the vault
    with connect() as con:
        con.execute("DELETE FROM privacy.restricted_subjects")
    assert materialize([restrictions]).success
    assert rows("SELECT count(*) FROM privacy.restricted_subjects WHERE user_pseudonym = ?", [p]) == [(1,)]

    result = mira("privacy", "unrestrict", "--tenant", who["tenant"], "--user", who["user_id"])
    assert result.exit_code == 0, result.output
    assert {t: rows(f'SELECT count(*) FROM marts."{t}" WHERE user_pseudonym = ?', [p], snap)[0][0]
            for t in person_rows} == person_rows
    assert usage_totals(snap) == usage_before
    assert rows("SELECT count(*) FROM privacy.restricted_subjects") == [(0,)]
    kinds = rows("SELECT kind, status FROM audit.privacy_requests ORDER BY requested_at")
    assert kinds == [("restrict", "done"), ("unrestrict", "done")]
    again = mira("privacy", "unrestrict", "--tenant", who["tenant"], "--user", who["user_id"])
    assert again.exit_code == 1 and "is not restricted" in again.output


def test_a_failed_erasure_resumes_and_completes(home, monkeypatch):
    from pipelines.privacy.rights import erase

    who = person(home)

    def broken(*args, **kwargs):
        raise OSError(f"disk trouble near {who['user_id']}")   # an error quoting personal data

    monkeypatch.setattr(erase, "purge_landing", broken)
    result = mira("privacy", "erase", "--tenant", who["tenant"], "--user", who["user_id"], "--yes")
    assert result.exit_code == 1
    assert "step landing" in result.output and who["user_id"] not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    rid = result.output.split("request ")[1].split()[0]
    row = audit(home, rid)
    assert row["status"] == "failed"
    state = json.loads(vault_rows("SELECT state FROM requests WHERE request_id = ?", [rid])[0][0])
    assert state["done"] == ["tombstone", "warehouse"] and who["user_id"] not in state["error"]
    assert tables_with(who["pseudonym"]) == []      # the warehouse step is done already
    assert_run_config_is_only_the_request_id(home, rid, who)

    # still broken: `resume` runs the same request again, and it fails again at the same step
    still = mira("privacy", "resume", rid)
    assert still.exit_code == 1 and f"request {rid} failed" in still.output and "step landing" in still.output

    monkeypatch.undo()
    point_at(monkeypatch, home)
    # fixed: running the same command again picks up the same request and completes it
    again = mira("privacy", "erase", "--tenant", who["tenant"], "--user", who["user_id"], "--yes")
    assert again.exit_code == 0, again.output
    assert request_id(again.output) == rid
    row = audit(home, rid)
    assert row["status"] == "done" and json.loads(row["row_counts"])["landing.files"] >= 2
    assert rows("SELECT count(*) FROM audit.privacy_requests") == [(1,)]
    assert vault_rows("SELECT count(*) FROM identities WHERE user_id = ?", [who["user_id"]]) == [(0,)]
    for path in (home / "landing").rglob("*"):
        if path.is_file():
            assert not any(n in path.read_bytes() for n in needles(who))
    assert mira("privacy", "resume", rid).exit_code == 0      # a done request: nothing to do


def test_reapply_tombstones_after_a_restore(home, built):
    from pipelines.privacy.rights import reapply_tombstones

    who = person(home)
    assert mira("privacy", "erase", "--tenant", who["tenant"], "--user", who["user_id"], "--yes").exit_code == 0
    # a backup from before the erasure comes back: warehouse and snapshot with the pseudonym, the
    # identity in the vault (the tombstone survives: it is what a restore re-applies)
    shutil.copy2(built / "warehouse.duckdb", home / "warehouse.duckdb")
    shutil.copy2(built / "serving" / "analyst.duckdb", snapshot(home))
    with open_vault() as v:
        v.execute("INSERT INTO identities (tenant_id, user_id, user_pseudonym, first_name, last_name, email) "
                  "VALUES (?, ?, ?, ?, ?, ?)",
                  [who["tenant"], who["user_id"], who["pseudonym"], who["first"], who["last"], who["email"]])
    assert tables_with(who["pseudonym"]) != []
    counts = reapply_tombstones()
    assert counts["raw.movements"] > 0 and counts["vault.identities"] == 1 and counts["serving.analyst"] == 1
    assert tables_with(who["pseudonym"]) == [] and tables_with(who["pseudonym"], snapshot(home)) == []
    assert vault_rows("SELECT count(*) FROM identities WHERE user_id = ?", [who["user_id"]]) == [(0,)]
    assert reapply_tombstones().get("raw.movements", 0) == 0     # idempotent


def test_requests_that_cannot_be_made_fail_in_one_line(home):
    who = person(home)
    for args, message in [
        (("export", "--tenant", "no-such-tenant", "--user", who["user_id"]), "tenant no-such-tenant is not known"),
        (("export", "--tenant", who["tenant"], "--user", "nobody"), "no data is held on user nobody"),
        (("erase", "--tenant", who["tenant"], "--user", "nobody", "--yes"), "nothing to erase"),
        (("unrestrict", "--tenant", who["tenant"], "--user", who["user_id"]), "is not restricted"),
        (("resume", "0" * 32), "no request"),
    ]:
        result = mira("privacy", *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    # the help says objection is handled as restriction
    assert "objection" in mira("privacy", "restrict", "--help").output.lower()


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_erasure_purges_landing_files_of_every_format(fmt, mira_home):
    """Without marts (ingested only): the landing purge and the tombstone, in the other formats."""
    from pipelines.privacy import rights

    generate(mira_home / "landing", tenants=1, days=10, seed=3, movements_per_day=6, fmt=fmt,
             defect_rate=0.2, end_date=date(2026, 10, 31))
    ingest()
    with connect() as con:
        p = con.execute("SELECT user_pseudonym FROM raw.movements GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
    tenant, user_id, first, last, email = vault_rows(
        "SELECT tenant_id, user_id, first_name, last_name, email FROM identities WHERE user_pseudonym = ?", [p])[0]
    before = rows("SELECT count(*), sum(quantity) FROM raw.movements")
    quarantined = rows("SELECT count(*) FROM quarantine.rows WHERE contains(CAST(payload AS VARCHAR), ?)", [p])[0][0]
    assert quarantined > 0          # the pseudonym is inside quarantined rows' JSON too
    originals = [f for f in (mira_home / "landing").rglob(f"*.{fmt}")]
    saved = {f: f.read_bytes() for f in originals}

    rid = rights.submit("erase", tenant, user_id, requested_by="test")
    counts = rights.execute(rid)
    assert counts["raw.movements"] > 0 and counts["landing.rows_dropped"] == 1
    assert counts["quarantine.rows"] == quarantined
    import polars as pl

    read = pl.read_ndjson if fmt == "jsonl" else pl.read_parquet
    users = read(next((mira_home / "landing" / tenant / "users").iterdir()))
    assert user_id not in users["user_id"].to_list() and email not in users["email"].to_list()
    movements = pl.concat([read(f) for f in (mira_home / "landing" / tenant / "movements").iterdir()])
    assert user_id not in movements["user_id"].to_list()
    notes = " ".join(n for n in movements["note"].to_list() if n)
    assert f"{first} {last}" not in notes and email not in notes
    assert ingest().files == []                                   # not taken for changed files
    # a replay of the original files (those the erasure purged) brings nobody back
    purged = {path: data for path, data in saved.items() if path.read_bytes() != data}
    assert len(purged) >= 2
    for path, data in purged.items():
        path.with_name(f"replay_{path.name}").write_bytes(data)
    report = ingest()
    assert report.files and all(f.status == "loaded" for f in report.files)
    assert vault_rows("SELECT count(*) FROM identities WHERE user_id = ?", [user_id]) == [(0,)]
    assert tables_with(p) == [] and rows("SELECT count(*), sum(quantity) FROM raw.movements") == before


def _rollup_rows(tenant: str, sql: str, params=()) -> list[tuple]:
    from pipelines.serving.files import read_keyring, tenant_path
    from pipelines.warehouse import open_file

    with open_file(tenant_path(tenant), read_only=True, key=read_keyring()[tenant]) as con:
        return con.execute(sql, list(params)).fetchall()


def test_restriction_and_the_leak_scanner_cover_the_tenant_files_rollups(home):
    """The Consumption rollups (pipelines/serving/rollups.py) are a person-level table of the tenant's
    serving file: a restricted person's pseudonym must leave them as it leaves the marts (totals
    unchanged), and the scanner must read them."""
    from pipelines.serving import rollups
    from pipelines.serving.files import read_keyring, tenant_path
    from pipelines.serving.publish import publish_tenants
    from pipelines.warehouse import open_file

    who = person(home)
    t, p = who["tenant"], who["pseudonym"]
    publish_tenants()
    totals = f"SELECT dimension, grain, sum(consumed_value), sum(movement_count) FROM {rollups.TABLE} GROUP BY ALL ORDER BY ALL"
    before = _rollup_rows(t, totals)
    assert _rollup_rows(t, f"SELECT count(*) FROM {rollups.TABLE} WHERE user_pseudonym = ?", [p])[0][0] > 0

    result = mira("privacy", "restrict", "--tenant", t, "--user", who["user_id"])
    assert result.exit_code == 0, result.output
    assert _rollup_rows(t, f"SELECT count(*) FROM {rollups.TABLE} WHERE user_pseudonym = ?", [p]) == [(0,)]
    assert _rollup_rows(t, totals) == before
    assert [h for h in scan_home()[0] if h.place.startswith("serving/tenants/")] == []

    # a name planted in the rollups is found by the scanner
    with open_file(tenant_path(t), key=read_keyring()[t]) as con:
        con.execute(f"UPDATE {rollups.TABLE} SET category = ? WHERE dimension = 'category'",
                    [f"{who['first']} {who['last']}"])
    places = {h.place for h in scan_home()[0] if h.kind == "full_name"}
    assert f"serving/tenants/{t}.duckdb:{rollups.TABLE}.category" in places

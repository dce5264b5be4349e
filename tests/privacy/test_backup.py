"""Backups: encrypted with the backup key (unreadable without it, no name or email in their bytes),
a restore brings the data back and a person erased after the backup stays erased, and backups past
90 days are deleted."""
from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from tests.conftest import key_for
from tests.privacy.retention_home import Built, built_home, copy_home, search_home


@pytest.fixture(scope="module")
def built(tmp_path_factory, transform) -> Built:
    return built_home(tmp_path_factory)


def _people(built: Built) -> list[tuple[str, str, str, str]]:
    people = []
    for f in sorted((built.home / "landing").glob("*/users/*.csv")):
        with open(f, newline="", encoding="utf-8") as fh:
            people += [(r["tenant_id"], r["user_id"], f"{r['first_name']} {r['last_name']}", r["email"])
                       for r in csv.DictReader(fh)]
    return people


def _counts(path) -> dict[str, int]:
    from pipelines.privacy.dbcopy import table_counts
    from pipelines.warehouse import connect

    with connect(path, read_only=True, key=key_for(path)) as con:
        return table_counts(con, con.execute("SELECT current_database()").fetchone()[0])


def test_backup_is_encrypted_and_holds_no_name_or_email(built, tmp_path, monkeypatch):
    from pipelines import keys
    from pipelines.privacy.backup import create_backup, list_backups
    from pipelines.warehouse import CannotOpen, attach, memory_connection

    home = copy_home(built, tmp_path, monkeypatch)
    b = create_backup()
    assert [x.id for x in list_backups()] == [b.id] and b.path.parent == home / "backups"
    assert {p.name for p in b.path.iterdir()} == {"warehouse.duckdb", "vault.duckdb", "manifest.json"}
    assert b.files["warehouse.duckdb"]["tables"] == _counts(home / "warehouse.duckdb")
    assert b.files["vault.duckdb"]["tables"] == _counts(home / "vault.duckdb")
    people = _people(built)
    names = [built.retired_name, *(p[3] for p in people), *(p[2] for p in people), *(p[1] for p in people)]
    for f in b.path.iterdir():
        data = f.read_bytes()
        assert not [n for n in names if n.encode() in data], f.name
        assert f.stat().st_mode & 0o077 == 0
    # the manifest: table names and counts only
    manifest = (b.path / "manifest.json").read_text()
    assert not any(t in manifest for t in (built.retired, *built.others))
    for name in ("warehouse.duckdb", "vault.duckdb"):
        path = b.path / name
        with pytest.raises(duckdb.Error):
            duckdb.connect(str(path), read_only=True).execute("SELECT 1 FROM duckdb_tables()").fetchall()
        for wrong in (keys.file_key("warehouse"), keys.file_key("vault"), "0" * 64):
            con = memory_connection()
            try:
                with pytest.raises(CannotOpen):
                    attach(con, path, "b", wrong, read_only=True)
            finally:
                con.close()
        con = memory_connection()
        try:
            attach(con, path, "b", keys.file_key("backup"), read_only=True)
            assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'b'").fetchone()[0] > 0
        finally:
            con.close()


def test_restore_brings_data_back_and_an_erasure_after_the_backup_holds(built, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipelines.cli.app import app
    from pipelines.privacy import rights
    from pipelines.privacy.backup import create_backup
    from pipelines.vault.store import open_vault
    from pipelines.warehouse import connect

    home = copy_home(built, tmp_path, monkeypatch)
    warehouse_before = _counts(home / "warehouse.duckdb")
    vault_before = _counts(home / "vault.duckdb")
    create_backup()

    # After the backup: a person is erased, then the warehouse loses rows.
    tenant = built.others[0]
    person = next(p for p in _people(built) if p[0] == tenant)
    with open_vault(read_only=True) as v:
        (pseudonym,) = v.execute("SELECT user_pseudonym FROM identities WHERE tenant_id = ? AND user_id = ?",
                                 [tenant, person[1]]).fetchone()
    rights.execute(rights.submit("erase", tenant, person[1]))
    with connect() as con:
        assert con.execute("SELECT count(*) FROM raw.movements WHERE user_pseudonym = ?", [pseudonym]).fetchone()[0] == 0
        con.execute("DELETE FROM raw.movements")

    result = CliRunner().invoke(app, ["restore"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert person[1] not in result.output and tenant not in result.output

    # every row is back (an erasure re-keys rows, it deletes none)...
    warehouse_after = _counts(home / "warehouse.duckdb")
    assert {k: warehouse_after[k] for k in warehouse_before} == warehouse_before
    vault_after = _counts(home / "vault.duckdb")
    assert vault_after["main.identities"] == vault_before["main.identities"] - 1
    # ...and the erased person is not: no identity, no pseudonym, no id, email or name anywhere
    with open_vault(read_only=True) as v:
        assert v.execute("SELECT count(*) FROM tombstones WHERE tenant_id = ?", [tenant]).fetchone()[0] == 1
    # (the backup itself still holds the person until it rolls off after 90 days)
    assert [h for h in search_home(home, [person[1], person[3], person[2]]) if not h.startswith("backups/")] == []
    assert [h for h in search_home(home, [pseudonym]) if not h.startswith(("backups/", "vault.duckdb"))] == []


def test_backups_past_90_days_are_deleted(built, tmp_path, monkeypatch):
    from pipelines.privacy.backup import create_backup, list_backups
    from pipelines.privacy.retention import overdue

    copy_home(built, tmp_path, monkeypatch)
    now = datetime.now(timezone.utc)
    old = create_backup(now=now - timedelta(days=91), prune=False)
    kept = create_backup(now=now - timedelta(days=89), prune=False)
    assert [b.id for b in list_backups()] == [old.id, kept.id]
    assert overdue()["backups"] == 1
    latest = create_backup()
    assert [b.id for b in list_backups()] == [kept.id, latest.id]
    assert not old.path.exists() and overdue()["backups"] == 0


def test_restore_of_an_unknown_backup_is_one_line(built, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipelines.cli.app import app

    copy_home(built, tmp_path, monkeypatch)
    result = CliRunner().invoke(app, ["privacy", "restore", "nope"])
    assert result.exit_code == 1
    assert "no backup" in result.output or "no backup" in str(result.stderr_bytes or b"")


def test_the_daily_backup_job_makes_a_backup(built, tmp_path, monkeypatch):
    """The scheduled job (what ops see in the Dagster UI) makes the same verified backup as `mira backup`."""
    from dagster import DagsterInstance

    from pipelines.definitions import defs
    from pipelines.privacy.assets import BACKUP_KEY
    from pipelines.privacy.backup import list_backups

    home = copy_home(built, tmp_path, monkeypatch)
    schedule = defs.resolve_schedule_def("daily_backup")
    assert schedule.job_name == "backup" and schedule.default_status.value == "RUNNING"
    # its own schedule, never a step of a build (a first build has nothing to back up yet)
    assert not [n.name for n in defs.resolve_job_def("full_build").nodes if "backup" in n.name]
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("backup").execute_in_process(instance=instance)
        assert result.success
        (made,) = list_backups()
        assert made.path.parent == home / "backups"
        event = instance.get_latest_materialization_event(BACKUP_KEY)
        meta = event.asset_materialization.metadata
        assert meta["backup_id"].value == made.id
        assert meta["warehouse_rows"].value == sum(_counts(home / "warehouse.duckdb").values())
        assert meta["vault_rows"].value == sum(_counts(home / "vault.duckdb").values())

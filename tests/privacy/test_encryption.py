"""Encryption at rest, keys that never leak, rotation without loss, and the leak scanner,
on the shared end-to-end build (generated tenants with defects, `mira run` twice)."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines import keys
from pipelines.privacy.rotate import RotationError, rotate
from pipelines.privacy.scan import Hit, identities, scan_home
from pipelines.warehouse import CannotOpen, open_file
from tests.conftest import TEST_MASTER_KEY, point_at, key_for

FILES = ("warehouse.duckdb", "vault.duckdb", "serving/analyst.duckdb", "serving/ops.duckdb")


@pytest.fixture
def home(e2e, monkeypatch) -> Path:
    home = point_at(monkeypatch, e2e[0])
    return home


@pytest.fixture
def copy(e2e, tmp_path, monkeypatch) -> Path:
    """A private copy of the built home, for tests that change it."""
    target = tmp_path / "mira"
    shutil.copytree(e2e[0], target, ignore=shutil.ignore_patterns("landing"))
    return point_at(monkeypatch, target)


def _business_words(home: Path) -> dict[str, set[str]]:
    """Known values a thief must not read from the bytes: people, and the business itself."""
    people = identities(home / "vault.duckdb")
    with open_file(home / "warehouse.duckdb", read_only=True) as con:
        materials = {n for (n,) in con.execute("SELECT DISTINCT name FROM raw.materials WHERE length(name) > 8").fetchall()}
        tenants = {n for (n,) in con.execute("SELECT DISTINCT name FROM raw.tenants").fetchall()}
    return {"email": {p[3] for p in people}, "name": {f"{p[1]} {p[2]}" for p in people},
            "material": materials, "tenant": tenants}


@pytest.mark.parametrize("rel", FILES)
def test_files_do_not_open_without_their_key(home, rel):
    path = home / rel
    assert path.exists()
    with pytest.raises(duckdb.Error, match="encrypted"):
        duckdb.connect(str(path), read_only=True)
    wrong = "f" * 64
    with pytest.raises(CannotOpen) as caught:
        open_file(path, read_only=True, key=wrong)
    assert wrong not in str(caught.value)


@pytest.mark.parametrize("rel", FILES)
def test_file_bytes_hold_no_known_value(home, rel):
    words = _business_words(home)
    assert all(words.values()), words.keys()
    blob = (home / rel).read_bytes()
    found = {kind for kind, values in words.items() for v in values if v.encode() in blob}
    assert found == set()


def test_the_same_files_do_hold_them_when_decrypted(home):
    """The byte test above is only worth something if the values are in the files."""
    with open_file(home / "warehouse.duckdb", read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.materials").fetchone()[0] > 0
    with open_file(home / "vault.duckdb", read_only=True, key=key_for(home / "vault.duckdb")) as con:
        assert con.execute("SELECT count(*) FROM identities WHERE email LIKE '%@%'").fetchone()[0] > 20


def test_keys_appear_in_no_file_and_no_output(home, e2e):
    """Master and derived keys: not in logs, dbt artefacts, Dagster run storage (run configs,
    event logs), alerts, GX results, nor anything else written under MIRA_HOME."""
    secrets = [TEST_MASTER_KEY] + [keys.file_key(p) for p in keys.PURPOSES]
    secrets += [keys.derive_key(p).hex().upper() for p in keys.PURPOSES]
    leaks = []
    scanned = 0
    for folder, _, files in os.walk(home):
        for name in files:
            path = Path(folder) / name
            blob = path.read_bytes()
            scanned += 1
            leaks += [str(path.relative_to(home)) for s in secrets if s.encode() in blob]
    assert scanned > 50 and leaks == []
    # the CLI's own output, including an error path
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", "status"], capture_output=True, text=True)
    bad = subprocess.run([sys.executable, "-m", "pipelines.cli", "sql", "SELECT * FROM nowhere"],
                         capture_output=True, text=True)
    text = out.stdout + out.stderr + bad.stdout + bad.stderr
    assert bad.returncode != 0 and not any(s in text for s in secrets)


def test_scanner_finds_nothing_outside_the_vault(home):
    hits, scanned = scan_home()
    assert scanned > 50
    assert hits == []


def test_scanner_reports_a_planted_email_in_a_log_and_a_table(copy):
    people = identities(copy / "vault.duckdb")
    (copy / "logs" / "planted.log").write_text(f"user {people[0][3]} did something\n")
    with open_file(copy / "warehouse.duckdb") as con:
        con.execute("CREATE TABLE audit.planted AS SELECT ? AS who", [f"{people[1][1]} {people[1][2]}"])
    hits, _ = scan_home()
    assert Hit("logs/planted.log:bytes", "email") in hits
    assert Hit("warehouse.duckdb:audit.planted.who", "full_name") in hits
    # a hit names the place and the kind, never the value
    assert not any(people[0][3] in h.place or people[1][2] in h.place for h in hits)


def test_scanner_cli_exits_nonzero_on_a_leak(copy):
    mira = [sys.executable, "-m", "pipelines.cli", "privacy", "scan"]
    clean = subprocess.run(mira, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    people = identities(copy / "vault.duckdb")
    (copy / "gx").mkdir(exist_ok=True)
    (copy / "gx" / "result.json").write_text(f'{{"unexpected": ["{people[2][0]}"]}}')
    leaky = subprocess.run(mira, capture_output=True, text=True)
    assert leaky.returncode == 1 and "LEAK user_id: gx/result.json:bytes" in leaky.stdout
    assert people[2][0] not in leaky.stdout + leaky.stderr


def _counts(path: Path, key: str | None = None) -> dict[str, int]:
    with open_file(path, read_only=True, key=key or key_for(path)) as con:
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                             "WHERE database_name = current_database()").fetchall()
        return {f"{s}.{t}": con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0] for s, t in tables}


def test_rotation_keeps_every_row_and_retires_the_old_key(copy, monkeypatch):
    before = {rel: _counts(copy / rel) for rel in FILES}
    old_keys = {rel: keys.file_key(p) for rel, p in zip(FILES, ("warehouse", "vault", "analyst", "ops"))}
    new_master = "rotated-master-key-" + "1" * 45
    with pytest.raises(RotationError, match="stdin"):
        rotate(None)  # with MIRA_MASTER_KEY set, the new key must be given
    report = rotate(new_master)
    assert set(report.files) == set(FILES)
    monkeypatch.setenv("MIRA_MASTER_KEY", new_master)
    after = {rel: _counts(copy / rel) for rel in FILES}
    assert after == before and sum(before["warehouse.duckdb"].values()) > 1000
    for rel in FILES:
        with pytest.raises(CannotOpen):
            open_file(copy / rel, read_only=True, key=old_keys[rel])
    assert not list(copy.rglob("*.rotating"))
    # tenant files keep their own keys; the keyring that hands them out follows the new master key
    from pipelines.serving.files import open_tenant, read_keyring

    tenant = sorted(read_keyring())[0]
    with open_tenant(tenant) as con:
        assert con.execute("SELECT count(*) FROM marts.dim_materials").fetchone()[0] > 0
    # the pipeline carries on under the new key: dbt included
    from pipelines.cli.pipeline import run_full_build

    summary = run_full_build()
    assert summary["success"], summary["failure"]


def test_rotation_from_the_cli_reads_the_new_key_from_stdin(copy, monkeypatch):
    mira = [sys.executable, "-m", "pipelines.cli", "keys", "rotate"]
    empty = subprocess.run(mira, input="", capture_output=True, text=True)
    assert empty.returncode == 1 and "no new master key" in empty.stderr
    short = subprocess.run(mira, input="too-short\n", capture_output=True, text=True)
    assert short.returncode != 0 and "too short" in short.stderr and "too-short" not in short.stderr
    new_master = "cli-rotated-master-key-" + "2" * 41
    done = subprocess.run(mira, input=new_master + "\n", capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert new_master not in done.stdout + done.stderr and "secret store" in done.stdout
    monkeypatch.setenv("MIRA_MASTER_KEY", new_master)
    assert _counts(copy / "warehouse.duckdb")["raw.movements"] > 0


def test_demo_key_is_created_owner_only_with_a_notice(copy, monkeypatch, capsys):
    monkeypatch.delenv("MIRA_MASTER_KEY")
    first = keys.master_key()
    notice = capsys.readouterr().err
    path = copy / "secrets" / "master.key"
    assert "DEMO" in notice and "MIRA_MASTER_KEY" in notice and first.decode() not in notice
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert keys.master_key() == first  # reused, not replaced
    # rotation with the demo key makes and stores a new one
    with pytest.raises(CannotOpen):  # the copy was encrypted under the test key, not this one
        open_file(copy / "warehouse.duckdb", read_only=True)
    path.chmod(0o644)
    with pytest.raises(keys.KeyProblem, match="chmod 600"):
        keys.master_key()


def test_demo_rotation_replaces_the_key_file(tmp_path, monkeypatch):
    home = point_at(monkeypatch, tmp_path / "mira")
    monkeypatch.delenv("MIRA_MASTER_KEY")
    with open_file(home / "warehouse.duckdb") as con:
        con.execute("CREATE TABLE t AS SELECT range AS i FROM range(1000)")
    old = keys.master_key()
    report = rotate()
    assert report.demo_key_replaced and keys.master_key() != old
    assert _counts(home / "warehouse.duckdb") == {"main.t": 1000}
    assert sorted(p.name for p in (home / "secrets").iterdir()) == ["master.key"]


def test_a_short_master_key_is_refused_without_echoing_it(monkeypatch, tmp_path):
    point_at(monkeypatch, tmp_path / "mira")
    monkeypatch.setenv("MIRA_MASTER_KEY", "hunter2")
    with pytest.raises(keys.KeyProblem) as caught:
        keys.master_key()
    assert "hunter2" not in str(caught.value)

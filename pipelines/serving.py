"""Serving files: what the dashboards read, one encrypted DuckDB file per tenant, plus ops.

Tenant isolation is physical: serving/tenants/<tenant>.duckdb holds only that tenant's marts and
is encrypted with the tenant's own random key (kept in the vault), so a session that has A's key
cannot open B's file. serving/ops.duckdb holds counts only (freshness, quarantine per rule,
runs with their status, failures by step and error class) for the Operations page. Every file is written to a temporary name and swapped in with
os.replace: a reader sees the old file or the new one, never half of one.

Dashboards must not open the vault (the pipeline may hold it), so the publish also writes the
keyring: the tenants' serving keys, AES-GCM encrypted under a key derived from the master key,
swapped in before the files it opens. Keys are stable per tenant, so an old keyring still opens
the files of every tenant it lists.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import uuid
from dataclasses import astuple
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import duckdb
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pipelines import ops_runs, rollups
from pipelines.privacy import keys
from pipelines.settings import Settings, get_settings
from pipelines.warehouse import CannotOpen, WarehouseMissing, attach, connect, open_file

MARTS = "marts"
TENANTS_DIR = "tenants"
OPS_FILE = "ops.duckdb"
KEYRING_FILE = "keyring.bin"
_TMP = ".publishing-"
_AAD = b"mira-serving/keyring"
_TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
SERVING_KEYS_DDL = """
CREATE TABLE IF NOT EXISTS serving_keys (
    tenant_id VARCHAR PRIMARY KEY, serving_key BLOB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())"""


class ServingUnavailable(RuntimeError):
    """Words for the user: what is missing and what to do."""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def tenant_path(tenant_id: str, settings: Settings | None = None) -> Path:
    if not _TENANT_RE.match(tenant_id or ""):
        raise ValueError("not a tenant id")   # never quote it: it may come from a hostile request
    return (settings or get_settings()).serving_dir / TENANTS_DIR / f"{tenant_id}.duckdb"


def ops_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).serving_dir / OPS_FILE


# -- keys ---------------------------------------------------------------------------------------

def serving_keys(tenants: list[str], settings: Settings) -> dict[str, str]:
    """Each tenant's serving key (random, 256 bits), created in the vault on first use."""
    with connect(settings.vault_path, settings=settings) as con:
        con.execute(SERVING_KEYS_DDL)
        found = {t: bytes(k).hex() for t, k in con.execute(
            "SELECT tenant_id, serving_key FROM serving_keys WHERE tenant_id IN (SELECT unnest(?))",
            [tenants]).fetchall()}
        new = {t: secrets.token_bytes(32) for t in tenants if t not in found}
        if new:
            con.executemany("INSERT INTO serving_keys (tenant_id, serving_key) VALUES (?, ?)", list(new.items()))
    return {**found, **{t: k.hex() for t, k in new.items()}}


def _keyring_key(settings: Settings, master: bytes | None = None) -> bytes:
    return keys.derive_key("serving", master, settings)


def write_keyring(ring: dict[str, str], settings: Settings, master: bytes | None = None) -> None:
    folder = settings.serving_dir
    folder.mkdir(parents=True, exist_ok=True)
    nonce = os.urandom(12)
    blob = nonce + AESGCM(_keyring_key(settings, master)).encrypt(nonce, json.dumps(ring).encode(), _AAD)
    tmp = folder / f"{_TMP}{uuid.uuid4().hex}.bin"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(blob)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / KEYRING_FILE)


def read_keyring(settings: Settings | None = None, master: bytes | None = None) -> dict[str, str]:
    settings = settings or get_settings()
    path = settings.serving_dir / KEYRING_FILE
    if not path.exists():
        raise ServingUnavailable("Nothing has been published yet: run `mira run` (or `make demo`).")
    st = path.stat()
    return _read_keyring(str(path), st.st_ino, st.st_mtime_ns, _keyring_key(settings, master))


@lru_cache(maxsize=4)
def _read_keyring(path: str, _ino: int, _mtime: int, key: bytes) -> dict[str, str]:
    blob = Path(path).read_bytes()
    try:
        return json.loads(AESGCM(key).decrypt(blob[:12], blob[12:], _AAD))
    except InvalidTag:
        raise ServingUnavailable("The serving files cannot be opened with this installation's key: "
                                 "ask ops to check MIRA_MASTER_KEY and republish.") from None


# -- readers (dashboards) -------------------------------------------------------------------------

def open_tenant(tenant_id: str, settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """Read-only connection to one tenant's serving file; the caller closes it."""
    settings = settings or get_settings()
    path = tenant_path(tenant_id, settings)
    ring = read_keyring(settings)
    if tenant_id not in ring or not path.exists():
        raise ServingUnavailable("Your organisation's data has not been published yet: it appears after "
                                 "the next pipeline run.")
    return _open(path, ring[tenant_id], settings)


def open_analyst(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    settings = settings or get_settings()
    return _open(settings.serving_dir / "analyst.duckdb", None, settings)


def open_ops(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    settings = settings or get_settings()
    return _open(ops_path(settings), None, settings)


def _open(path: Path, key: str | None, settings: Settings) -> duckdb.DuckDBPyConnection:
    try:
        return open_file(path, read_only=True, settings=settings, key=key, alias="serving")
    except WarehouseMissing:
        raise ServingUnavailable("Nothing has been published yet: run `mira run` (or `make demo`).") from None
    except CannotOpen:
        raise ServingUnavailable("This serving file cannot be opened with the current keys; ask ops to "
                                 "republish.") from None


# -- names on demand (a tenant's choice), audited ---------------------------------------------------

def lookup_names(tenant_id: str, pseudonyms: list[str], settings: Settings | None = None) -> dict[str, str]:
    """pseudonym -> "First Last" for one tenant, read from the vault now and never stored."""
    settings = settings or get_settings()
    if not pseudonyms:
        return {}
    try:
        with connect(settings.vault_path, read_only=True, settings=settings) as con:
            rows = con.execute(
                "SELECT user_pseudonym, concat_ws(' ', first_name, last_name) FROM identities "
                "WHERE tenant_id = ? AND user_pseudonym IN (SELECT unnest(?))", [tenant_id, list(pseudonyms)]).fetchall()
    except (duckdb.IOException, WarehouseMissing):
        raise ServingUnavailable("Names are unavailable while the pipeline updates them; pseudonyms are "
                                 "shown instead. Try again in a minute.") from None
    return dict(rows)


_SETTINGS_DDL = """CREATE TABLE IF NOT EXISTS tenant_settings (
    tenant_id TEXT PRIMARY KEY, names_visible INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL)"""


def names_visible(tenant_id: str) -> bool:
    from pipelines.privacy import accounts

    with accounts.connect() as con:
        con.execute(_SETTINGS_DDL)
        row = con.execute("SELECT names_visible FROM tenant_settings WHERE tenant_id = ?", [tenant_id]).fetchone()
    return bool(row and row[0])


def set_names_visible(tenant_id: str, visible: bool) -> None:
    from pipelines.privacy import accounts

    tenant_path(tenant_id)  # validates the id
    with accounts.connect() as con:
        con.execute(_SETTINGS_DDL)
        con.execute("INSERT INTO tenant_settings VALUES (?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE "
                    "SET names_visible = excluded.names_visible, updated_at = excluded.updated_at",
                    [tenant_id, int(visible), datetime.now(timezone.utc).isoformat()])


def audit_names_view(account_id: int, tenant_id: str, page: str, count: int) -> None:
    """Who saw how many names of which tenant on which page, when (never the names)."""
    from pipelines.privacy import accounts

    with accounts.connect() as con:
        con.execute("INSERT INTO auth_events (at, event, account_id, client, detail) VALUES (?, 'names_view', ?, ?, ?)",
                    [accounts._ts(datetime.now(timezone.utc)), account_id, tenant_id,
                     json.dumps({"tenant": tenant_id, "page": page, "names": count})])


# -- publish (pipeline side) -----------------------------------------------------------------------

def _swap(tmp: Path, final: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)


def _cleanup(folder: Path) -> None:
    if folder.is_dir():
        for stale in folder.glob(f"{_TMP}*"):
            stale.unlink(missing_ok=True)


def publish_tenants(settings: Settings | None = None, log=lambda m: None) -> dict[str, int]:
    """One file per tenant with its rows of every mart; rows per tenant. Tenants that are gone
    from the warehouse (retention) lose their file too."""
    from pipelines.privacy.restrictions import mask_restricted

    settings = settings or get_settings()
    folder = settings.serving_dir / TENANTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    _cleanup(folder)
    with connect(settings=settings, read_only=True) as con:
        tenants = [t for (t,) in con.execute("SELECT DISTINCT tenant_id FROM raw.tenants ORDER BY 1").fetchall()
                   if _TENANT_RE.match(t)]
    ring = serving_keys(tenants, settings) if tenants else {}
    write_keyring(ring, settings)
    rows: dict[str, int] = {}
    try:
        with connect(settings=settings, read_only=True) as con:
            tables = con.execute(
                "SELECT t.table_name, bool_or(c.column_name = 'tenant_id') FROM information_schema.tables t "
                "JOIN information_schema.columns c USING (table_catalog, table_schema, table_name) "
                "WHERE t.table_catalog = current_database() AND t.table_schema = ? GROUP BY 1 ORDER BY 1",
                [MARTS]).fetchall()
            for i, tenant in enumerate(tenants, start=1):
                tmp = folder / f"{_TMP}{uuid.uuid4().hex}.duckdb"
                attach(con, tmp, "tenant_copy", ring[tenant])
                con.execute(f"CREATE SCHEMA tenant_copy.{MARTS}")
                n = 0
                for table, tenanted in tables:
                    name = f"{MARTS}.{_ident(table)}"
                    where = " WHERE tenant_id = ?" if tenanted else ""
                    con.execute(f"CREATE TABLE tenant_copy.{name} AS SELECT * FROM {name}{where}",
                                [tenant] if tenanted else [])
                    mask_restricted(con, "tenant_copy", table)
                    n += con.execute(f"SELECT count(*) FROM tenant_copy.{name}").fetchone()[0]
                if {"fct_material_usage_daily", "dim_materials"} <= {t for t, _ in tables}:
                    n += sum(rollups.build(con, "tenant_copy").values())   # from the masked copy
                    mask_restricted(con, "tenant_copy", schema=rollups.SCHEMA)
                con.execute("DETACH tenant_copy")
                _swap(tmp, tenant_path(tenant, settings))
                rows[tenant] = n
                log(f"published tenant {i}/{len(tenants)}")
    finally:
        _cleanup(folder)
    for stale in folder.glob("*.duckdb"):
        if stale.stem not in rows:
            stale.unlink()
    return rows


_OPS_SQL = {
    "tenant_freshness": """
        SELECT f.tenant_id, max(f.ingested_at) AS last_ingest_at,
               (SELECT max(occurred_at) FROM raw.movements m WHERE m.tenant_id = f.tenant_id) AS last_movement_at,
               count(*) FILTER (f.status = 'loaded') AS files_loaded,
               count(*) FILTER (f.status = 'rejected') AS files_rejected,
               coalesce(sum(f.rows_loaded), 0) AS rows_loaded, coalesce(sum(f.rows_quarantined), 0) AS rows_quarantined
        FROM audit.files f GROUP BY f.tenant_id""",
    "quarantine_by_rule": """
        SELECT tenant_id, entity, rule_id, any_value(reason) AS reason, count(*) AS rows
        FROM quarantine.rows GROUP BY ALL""",
    "published": "SELECT now() AS published_at",
}


# Every Dagster run (status from the run storage) with the ingest figures of the runs that
# ingested; ingests recorded without a Dagster run (`mira ingest` in tests) keep a NULL status.
_RUNS_SQL = """
    SELECT coalesce(d.run_id, a.run_id) AS run_id, d.job, d.status,
           coalesce(d.started_at, a.started_at) AS started_at, coalesce(d.finished_at, a.finished_at) AS finished_at,
           a.files_ingested, a.rows_loaded, a.rows_quarantined
    FROM ops_copy.ops.dagster_runs d FULL OUTER JOIN audit.runs a ON a.run_id = d.run_id"""


def publish_ops(settings: Settings | None = None, instance=None) -> dict[str, int]:
    """Counts for the Operations page: no business data, no personal data (quarantine reasons are
    rule texts from the contracts, never a row's values; a failure is its step and error class,
    see pipelines/ops_runs.py). `instance`: the Dagster instance whose runs to list (default:
    the one under MIRA_HOME)."""
    settings = settings or get_settings()
    if instance is None:
        with ops_runs.instance_for(settings) as found:
            runs, failures = ops_runs.read(found)
    else:
        runs, failures = ops_runs.read(instance)
    settings.serving_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.serving_dir / f"{_TMP}{uuid.uuid4().hex}.duckdb"
    rows = {}
    try:
        with connect(settings=settings, read_only=True) as con:
            attach(con, tmp, "ops_copy", keys.file_key("ops", settings=settings))
            con.execute("CREATE SCHEMA ops_copy.ops")
            for table, sql in _OPS_SQL.items():
                con.execute(f"CREATE TABLE ops_copy.ops.{table} AS {sql}")
                rows[table] = con.execute(f"SELECT count(*) FROM ops_copy.ops.{table}").fetchone()[0]
            con.execute(f"CREATE TABLE ops_copy.ops.dagster_runs {ops_runs.RUNS_DDL}")
            con.execute(f"CREATE TABLE ops_copy.ops.failures {ops_runs.FAILURES_DDL}")
            if runs:
                con.executemany("INSERT INTO ops_copy.ops.dagster_runs VALUES (?, ?, ?, ?, ?)",
                                [astuple(r) for r in runs])
            if failures:
                con.executemany("INSERT INTO ops_copy.ops.failures VALUES (?, ?, ?, ?, ?)",
                                [astuple(f) for f in failures])
            con.execute(f"CREATE TABLE ops_copy.ops.runs AS {_RUNS_SQL}")
            con.execute("DROP TABLE ops_copy.ops.dagster_runs")
            for table in ("runs", "failures"):
                rows[table] = con.execute(f"SELECT count(*) FROM ops_copy.ops.{table}").fetchone()[0]
            con.execute("DETACH ops_copy")
        _swap(tmp, ops_path(settings))
    finally:
        _cleanup(settings.serving_dir)
    return rows

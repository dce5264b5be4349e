"""The vault file, opened here and nowhere else.

vault.duckdb holds what the rest of the platform must never hold: identities (user id, names,
email), the random per-tenant pseudonym keys, the tenants' serving keys, erasure tombstones,
restrictions and the data-subject requests. Every table is declared below, every query on them
lives in this package, and the file's key is derived here only: `grep -r pipelines.vault`
answers "what touches personal data?".

Two ways in: `open_vault()` (the vault alone) and `session()` (the warehouse with the vault
attached as catalog `vault`, for the few operations that must see both, like ingestion writing
identities beside raw rows, or an erasure re-keying the warehouse under a tombstone). Each
transaction still writes one of the two files only: DuckDB commits one database atomically,
not two. Whole-file operations that never read a row by meaning (backups, key rotation,
retention's purge of a retired tenant) get the file and its key from `encrypted_file()`.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from pipelines import keys
from pipelines.settings import Settings, get_settings
from pipelines.warehouse import attach, connect

VAULT_FILE = "vault.duckdb"
ALIAS = "vault"
PURPOSE = "vault"

DDL = """
CREATE TABLE IF NOT EXISTS {schema}.tenant_keys (
    tenant_id VARCHAR PRIMARY KEY,
    pseudonym_key BLOB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {schema}.identities (
    tenant_id VARCHAR NOT NULL,
    user_id VARCHAR NOT NULL,
    user_pseudonym VARCHAR NOT NULL,
    first_name VARCHAR,
    last_name VARCHAR,
    email VARCHAR,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
-- Erased subjects (pipelines/privacy/rights): a pseudonym computed at ingestion that is listed
-- here becomes its token and its identity is never written again. No user id, no names.
CREATE TABLE IF NOT EXISTS {schema}.tombstones (
    tenant_id VARCHAR NOT NULL,
    user_pseudonym VARCHAR NOT NULL,
    token VARCHAR NOT NULL,
    erased_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_pseudonym)
);
CREATE TABLE IF NOT EXISTS {schema}.requests (
    request_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    tenant_id VARCHAR NOT NULL,
    user_id VARCHAR,             -- cleared when the request is done, and by the person's erasure
    user_pseudonym VARCHAR,
    field VARCHAR,
    value VARCHAR,               -- rectify: the corrected value; cleared when done
    out_dir VARCHAR,             -- export: the folder asked for (default under MIRA_HOME/exports)
    requested_by VARCHAR,
    requested_at TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL,     -- pending | running | failed | done
    state JSON,                  -- steps done, rows per table, last error (never personal data)
    finished_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS {schema}.restrictions (
    tenant_id VARCHAR NOT NULL,
    user_pseudonym VARCHAR NOT NULL,
    since TIMESTAMPTZ NOT NULL,
    request_id VARCHAR,
    PRIMARY KEY (tenant_id, user_pseudonym)
);
-- Each tenant's key for its serving file (pipelines/serving): random, handed to the dashboards
-- in the encrypted keyring, so the dashboards never open this file.
CREATE TABLE IF NOT EXISTS {schema}.serving_keys (
    tenant_id VARCHAR PRIMARY KEY,
    serving_key BLOB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""


def vault_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home / VAULT_FILE


def exists(settings: Settings | None = None) -> bool:
    return vault_path(settings).exists()


def _key(settings: Settings) -> str:
    return keys.file_key(PURPOSE, settings=settings)


def key_under(master: bytes) -> str:
    """The vault's key under a given master key (key rotation re-encrypts the file)."""
    return keys.file_key(PURPOSE, master)


def encrypted_file(settings: Settings | None = None) -> tuple[Path, str]:
    """The vault file and its key, for operations on the file as a whole (backup and restore,
    key rotation, retention's purge of a retired tenant's rows): they copy or filter every
    table by tenant, never read a row for what it says."""
    settings = settings or get_settings()
    return vault_path(settings), _key(settings)


def ensure(con: duckdb.DuckDBPyConnection, schema: str = ALIAS) -> None:
    """Create the vault's tables where missing (`schema`: the vault's catalog in `con`)."""
    con.execute(DDL.format(schema=schema))


def attach_to(con: duckdb.DuckDBPyConnection, settings: Settings | None = None, read_only: bool = False) -> None:
    """Attach the vault beside an open warehouse connection, as catalog `vault`."""
    settings = settings or get_settings()
    attach(con, vault_path(settings), ALIAS, _key(settings), read_only=read_only)


@contextmanager
def open_vault(read_only: bool = False, settings: Settings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """The vault alone, as the default catalog `vault` (tables: vault.identities, ...)."""
    settings = settings or get_settings()
    with connect(vault_path(settings), read_only=read_only, settings=settings, key=_key(settings),
                 alias=ALIAS) as con:
        if not read_only:
            ensure(con)
        yield con


@contextmanager
def session(settings: Settings | None = None, vault_read_only: bool = False,
            warehouse_read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse (default catalog) with the vault attached as `vault`. Warehouse tables are
    written unqualified, vault tables `vault.<table>`; a transaction writes one of the two."""
    settings = settings or get_settings()
    with connect(settings=settings, read_only=warehouse_read_only) as con:
        attach_to(con, settings, read_only=vault_read_only)
        if not vault_read_only:
            ensure(con)
        yield con


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the vault attached to `con` has `table` yet (a read-only vault is never migrated)."""
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
                            [ALIAS, table]).fetchone()[0])

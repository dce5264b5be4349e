"""Leak scanner: look for the vault's identities everywhere else under MIRA_HOME.

Given the identities the vault knows (user ids, emails, names), it searches
- every DuckDB file (decrypted, by SQL over every text column, so compression cannot hide a
  value) and its raw bytes (WAL, free blocks);
- every other file: logs, dbt artefacts, Great Expectations results, the Dagster instance
  (run and event-log databases, compute logs), Parquet and CSV exports, accounts, backups' bytes;
- with the Spark engine, the lake (MIRA_LAKE: raw tables as Parquet, under MIRA_HOME by default,
  scanned as well when it is a folder elsewhere) and Spark's marts and metastore under the home.
Emails and user ids are searched as substrings anywhere; names as "first last" substrings and, in
tables, as exact cell values (a single first name is too short to search inside free text).

Not scanned, by design: the vault itself, the demo secrets, the landing zone (the operational
platform's exports, personal data by nature, purged by erasure and retention), and a
controller's subject-access exports under exports/ (made to hand personal data over).
A hit reports its place and the kind of value, never the value.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.serving.files import TENANTS_DIR, ServingUnavailable, read_keyring
from pipelines.settings import Settings, get_settings
from pipelines.vault import names
from pipelines.vault.names import Person
from pipelines.warehouse import CannotOpen, memory_connection, open_file

SKIPPED_DIRS = ("landing", "secrets", "exports", "tmp")
DUCKDB_MAGIC = b"DUCK"


@dataclass(frozen=True)
class Hit:
    place: str      # file, file:schema.table.column, or file:bytes
    kind: str       # email, user_id, full_name, name


def identities(vault_path: Path | None = None) -> list[Person]:
    """(user_id, first_name, last_name, email) of every identity in the vault (or a copy of it)."""
    return names.everyone(vault_path)


def _needles(people: list[Person]) -> dict[str, set[str]]:
    return {"email": {p[3] for p in people if p[3]}, "user_id": {p[0] for p in people if p[0]},
            "full_name": {f"{p[1]} {p[2]}" for p in people if p[1] and p[2]}}


def _scan_tables(con: duckdb.DuckDBPyConnection, label: str, people: list[Person]) -> list[Hit]:
    hits: list[Hit] = []
    con.execute("CREATE OR REPLACE TEMP TABLE needles (needle_kind VARCHAR, needle VARCHAR)")
    rows = [(k, v) for k, vs in _needles(people).items() for v in vs]
    if rows:
        con.executemany("INSERT INTO needles VALUES (?, ?)", rows)
    con.execute("CREATE OR REPLACE TEMP TABLE names (name_value VARCHAR)")
    names = {n for p in people for n in (p[1], p[2]) if n}
    if names:
        con.executemany("INSERT INTO names VALUES (?)", [(n,) for n in names])
    cols = con.execute("""
        SELECT database_name, schema_name, table_name, column_name FROM duckdb_columns()
        WHERE NOT internal AND database_name NOT IN ('temp', 'system', 'memory')
          AND data_type IN ('VARCHAR', 'JSON')""").fetchall()
    for db, schema, table, column in cols:
        ref = f'"{db}"."{schema}"."{table}"'
        c = f'CAST("{column}" AS VARCHAR)'
        found = con.execute(f"""
            SELECT DISTINCT n.needle_kind FROM {ref} t JOIN needles n ON contains({c}, n.needle)
            UNION SELECT 'name' FROM {ref} t JOIN names n ON {c} = n.name_value""").fetchall()
        hits += [Hit(f"{label}:{schema}.{table}.{column}", k) for (k,) in found]
    return hits


def _scan_bytes(path: Path, label: str, people: list[Person]) -> list[Hit]:
    blob = path.read_bytes()
    return [Hit(f"{label}:bytes", kind) for kind, values in _needles(people).items()
            if any(v.encode() in blob for v in values)]


def scan_duckdb(path: Path, people: list[Person], key: str | None = None) -> list[Hit]:
    """Decrypt the file (its key is derived from its role, or given) and search every text
    column; then search its bytes, which must be ciphertext."""
    with open_file(path, read_only=True, key=key) as con:
        hits = _scan_tables(con, path.name, people)
    return hits + _scan_bytes(path, path.name, people)


def scan_parquet(path: Path, people: list[Person], label: str) -> list[Hit]:
    with memory_connection() as con:
        con.execute(f"CREATE TEMP VIEW exported AS SELECT * FROM read_parquet('{str(path).replace(chr(39), chr(39) * 2)}')")
        cols = [c for c, t in con.execute("SELECT column_name, data_type FROM duckdb_columns() "
                                          "WHERE table_name = 'exported'").fetchall()]
        hits: list[Hit] = []
        needles = _needles(people)
        for column in cols:
            values = {v for (v,) in con.execute(f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM exported').fetchall() if v}
            for kind, vs in needles.items():
                if any(n in v for v in values for n in vs):
                    hits.append(Hit(f"{label}:{column}", kind))
        return hits + _scan_bytes(path, label, people)


def _serving_keys(settings: Settings):
    """Tenant serving files open with the tenant's key from the keyring."""
    def key_for(path: Path) -> str | None:
        if path.parent.name != TENANTS_DIR:
            return None
        try:
            return read_keyring(settings).get(path.stem)
        except ServingUnavailable:
            return None
    return key_for


def _is_duckdb(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(16)
    return head[8:12] == DUCKDB_MAGIC


def _walk(settings: Settings):
    """os.walk of MIRA_HOME, then of the lake (MIRA_LAKE, the Spark engine's raw layer as Parquet)
    when it is a folder outside the home; each entry with the label of its root (None: the home).
    A lake in object storage (abfss://) is scanned where it lives, with the storage's own tools."""
    yield from ((*entry, None) for entry in os.walk(settings.home))
    lake = Path(settings.lake) if settings.lake_is_local else None
    if lake is not None and lake.is_dir() and not lake.resolve().is_relative_to(settings.home.resolve()):
        yield from ((*entry, "lake") for entry in os.walk(lake))


def scan_home(settings: Settings | None = None, people: list[Person] | None = None,
              key_for=None) -> tuple[list[Hit], int]:
    """Scan every file under MIRA_HOME outside the vault; returns (hits, files scanned).

    `key_for(path)` may supply keys for DuckDB files whose key is not derived from their role
    (tenant serving files, backups); a file that cannot be opened is reported as a hit of kind
    `unreadable`, so nothing is silently skipped."""
    settings = settings or get_settings()
    home = settings.home
    people = people if people is not None else identities()
    key_for = key_for or _serving_keys(settings)
    hits: list[Hit] = []
    scanned = 0
    for folder, dirs, files, label in _walk(settings):
        rel_folder = Path(folder).relative_to(home) if label is None else None
        if rel_folder is not None and rel_folder.parts and rel_folder.parts[0] in SKIPPED_DIRS:
            dirs[:] = []
            continue
        for name in sorted(files):
            path = Path(folder) / name
            rel = str(path.relative_to(home)) if label is None else f"{label}/{path.relative_to(settings.lake)}"
            if names.is_vault_file(path):
                continue
            scanned += 1
            if name.endswith(".parquet"):
                hits += scan_parquet(path, people, rel)
            elif _is_duckdb(path):
                key = key_for(path) if key_for else None
                try:
                    with open_file(path, read_only=True, key=key) as con:
                        hits += _scan_tables(con, rel, people)
                except (CannotOpen, ValueError):
                    hits.append(Hit(rel, "unreadable"))
                hits += _scan_bytes(path, rel, people)
            else:
                hits += _scan_bytes(path, rel, people)
    return hits, scanned

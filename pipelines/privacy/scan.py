"""Leak scanner: look for the vault's identities in a DuckDB file, by SQL and by raw bytes.

SQL finds values however DuckDB compresses them; the byte scan catches anything stored outside
tables (WAL, free blocks). Emails and user ids are searched as substrings anywhere; names as
"first last" substrings and as exact cell values (single names are too short to search inside text).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class Hit:
    place: str      # file, table.column, or "bytes"
    kind: str       # email, user_id, full_name, name


def identities(vault_path: Path) -> list[tuple[str, str, str, str]]:
    """(user_id, first_name, last_name, email) of every identity in the vault."""
    con = duckdb.connect(str(vault_path), read_only=True)
    try:
        return con.execute("SELECT user_id, first_name, last_name, email FROM identities").fetchall()
    finally:
        con.close()


def scan_duckdb(path: Path, people: list[tuple[str, str, str, str]]) -> list[Hit]:
    needles = {"email": {p[3] for p in people if p[3]}, "user_id": {p[0] for p in people if p[0]},
               "full_name": {f"{p[1]} {p[2]}" for p in people if p[1] and p[2]}}
    names = {n for p in people for n in (p[1], p[2]) if n}
    hits: list[Hit] = []
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("CREATE TEMP TABLE needles (needle_kind VARCHAR, needle VARCHAR)")
        rows = [(k, v) for k, vs in needles.items() for v in vs]
        if rows:
            con.executemany("INSERT INTO needles VALUES (?, ?)", rows)
        con.execute("CREATE TEMP TABLE names (name_value VARCHAR)")
        if names:
            con.executemany("INSERT INTO names VALUES (?)", [(n,) for n in names])
        cols = con.execute("""
            SELECT database_name, schema_name, table_name, column_name FROM duckdb_columns()
            WHERE NOT internal AND database_name NOT IN ('temp', 'system')
              AND (data_type = 'VARCHAR' OR data_type = 'JSON')""").fetchall()
        for db, schema, table, column in cols:
            ref = f'"{db}"."{schema}"."{table}"'
            c = f'CAST("{column}" AS VARCHAR)'
            found = con.execute(f"""
                SELECT DISTINCT n.needle_kind FROM {ref} t JOIN needles n ON contains({c}, n.needle)
                UNION SELECT 'name' FROM {ref} t JOIN names n ON {c} = n.name_value""").fetchall()
            hits += [Hit(f"{path.name}:{schema}.{table}.{column}", k) for (k,) in found]
    finally:
        con.close()
    blob = path.read_bytes()
    for kind, values in needles.items():
        if any(v.encode() in blob for v in values):
            hits.append(Hit(f"{path.name}:bytes", kind))
    return hits

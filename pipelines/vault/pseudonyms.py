"""Pseudonyms, and what ingestion writes to the vault.

Pseudonym = HMAC-SHA256(tenant key, user id). The key is random per tenant and never leaves
the vault package (not in SQL text, logs or exceptions): ingestion gets the keys as bytes for the
HMAC it computes per distinct id, and nothing else of the vault. So the same person has
unrelated pseudonyms in two tenants and nobody can recompute a pseudonym by hashing a guessed id
or email.

Erasure leaves a tombstone (pseudonym -> random token): a replayed old file then lands on the
token, and its identity is never written again (pipelines/privacy/rights).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Iterable

import duckdb

def _tenant_keys(con: duckdb.DuckDBPyConnection, tenants: Iterable[str], schema: str = "vault") -> dict[str, bytes]:
    """Each tenant's pseudonym key, created (random, 256 bits) on first use."""
    wanted = sorted(set(tenants))
    if not wanted:
        return {}
    rows = con.execute(
        f"SELECT tenant_id, pseudonym_key FROM {schema}.tenant_keys WHERE tenant_id IN (SELECT unnest(?))",
        [wanted],
    ).fetchall()
    keys = {t: bytes(k) for t, k in rows}
    missing = [t for t in wanted if t not in keys]
    if missing:
        new = {t: secrets.token_bytes(32) for t in missing}
        con.executemany(
            f"INSERT INTO {schema}.tenant_keys (tenant_id, pseudonym_key) VALUES (?, ?)",
            [(t, k) for t, k in new.items()],
        )
        keys.update(new)
    return keys


def ensure_keys(con: duckdb.DuckDBPyConnection, tenants: Iterable[str], schema: str = "vault") -> None:
    """Create the missing tenants' keys now, in the vault's own transaction (one transaction
    writes one database, so never inside a warehouse transaction)."""
    _tenant_keys(con, tenants, schema)


def pseudonym(key: bytes, user_id: str) -> str:
    return hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonymise(con: duckdb.DuckDBPyConnection, pairs: list[tuple[str, str]], schema: str = "vault") -> list[str]:
    """The pseudonym of each (tenant, user id), under keys read from the vault attached to `con`
    (create them first with ensure_keys). Only the pseudonyms leave: the keys stay here."""
    keys = _tenant_keys(con, {t for t, _ in pairs}, schema=schema)
    return [pseudonym(keys[t], v) for t, v in pairs]


def pseudonym_of(con: duckdb.DuckDBPyConnection, tenant_id: str, user_id: str, schema: str = "vault") -> str | None:
    """The person's pseudonym in the tenant, or None when nothing of the tenant was ever ingested
    (no key yet: none is made here)."""
    row = con.execute(f"SELECT pseudonym_key FROM {schema}.tenant_keys WHERE tenant_id = ?", [tenant_id]).fetchone()
    return pseudonym(bytes(row[0]), user_id) if row else None


def apply_tombstones(con: duckdb.DuckDBPyConnection, pseudo_map: str) -> None:
    """In ingestion's (tenant, value, pseudonym) map, an erased subject's pseudonym becomes its
    token, and so does a token already written into a landing file purged by the erasure."""
    con.execute(f"""
        UPDATE {pseudo_map} SET pseudonym = t.token FROM vault.tombstones t
        WHERE t.tenant_id = {pseudo_map}.tenant
          AND (t.user_pseudonym = {pseudo_map}.pseudonym OR t.token = {pseudo_map}.value)""")


def write_identities(con: duckdb.DuckDBPyConnection, checked: str) -> None:
    """Names and emails of the valid rows of ingestion's checked users view go to the vault,
    nowhere else; an erased subject never comes back.

    Written before the warehouse transaction: if that one then fails, the vault holds identities
    of rows that will be loaded on the next run (idempotent); the reverse order could leave
    pseudonymised rows whose identities were lost.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"""
            INSERT OR REPLACE INTO vault.identities
                (tenant_id, user_id, user_pseudonym, first_name, last_name, email, updated_at)
            SELECT _folder_tenant, user_id, _pseudo_user_id, first_name, last_name, email, now()
            FROM {checked} c WHERE _rule IS NULL
              AND NOT EXISTS (SELECT 1 FROM vault.tombstones t
                              WHERE t.tenant_id = c._folder_tenant AND t.token = c._pseudo_user_id)
            QUALIFY row_number() OVER (PARTITION BY _folder_tenant, user_id ORDER BY _rowid DESC) = 1""")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise

"""The vault: the only file that holds identities and the per-tenant pseudonym keys.

Pseudonym = HMAC-SHA256(tenant key, user id). The key is random per tenant and never leaves
this module (not in SQL text, logs or exceptions), so the same person has unrelated pseudonyms
in two tenants and nobody can recompute a pseudonym by hashing a guessed id or email.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Iterable

import duckdb

def vault_ddl(schema: str = "vault") -> str:
    return f"""
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
-- Erased subjects (pipelines/privacy/rights.py): a pseudonym computed at ingestion that is
-- listed here becomes its token and its identity is never written again. No user id, no names.
CREATE TABLE IF NOT EXISTS {schema}.tombstones (
    tenant_id VARCHAR NOT NULL,
    user_pseudonym VARCHAR NOT NULL,
    token VARCHAR NOT NULL,
    erased_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_pseudonym)
);
"""


def tenant_keys(con: duckdb.DuckDBPyConnection, tenants: Iterable[str], schema: str = "vault") -> dict[str, bytes]:
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


def pseudonym(key: bytes, user_id: str) -> str:
    return hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()

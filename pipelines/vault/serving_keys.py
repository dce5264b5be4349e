"""Each tenant's serving key: random, created in the vault on first publish, stable after.

The dashboards never open the vault; the publish hands them these keys in the encrypted keyring
(pipelines/serving/files.py). Stable keys mean an old keyring still opens every file it lists.
"""
from __future__ import annotations

import secrets

from pipelines.settings import Settings
from pipelines.vault import store


def serving_keys(tenants: list[str], settings: Settings) -> dict[str, str]:
    """tenant -> serving key (hex), each created (256 random bits) on first use."""
    with store.open_vault(settings=settings) as con:
        found = {t: bytes(k).hex() for t, k in con.execute(
            "SELECT tenant_id, serving_key FROM vault.serving_keys WHERE tenant_id IN (SELECT unnest(?))",
            [tenants]).fetchall()}
        new = {t: secrets.token_bytes(32) for t in tenants if t not in found}
        if new:
            con.executemany("INSERT INTO vault.serving_keys (tenant_id, serving_key) VALUES (?, ?)",
                            list(new.items()))
    return {**found, **{t: k.hex() for t, k in new.items()}}

"""Restriction (and objection), rectification, and keeping erasures and restrictions true.

Restriction (see pipelines/serving/restrictions.py): the vault lists restricted people, the
warehouse their pseudonyms (`privacy.restricted_subjects`); every published copy masks them. The
warehouse's dbt marts keep them (the incremental marts and the tool-custody matching would break
if blanked in place), so lifting a restriction needs no rebuild, only a publish.
"""
from __future__ import annotations

from pipelines.privacy.rights.common import Con, Log, RequestError, session
from pipelines.privacy.rights.person_rows import marts_rows, rekey
from pipelines.serving.publish import republish
from pipelines.serving.restrictions import RESTRICTED_TABLE
from pipelines.serving.restrictions import WAREHOUSE_DDL as RESTRICTIONS_DDL
from pipelines.settings import Settings, get_settings
from pipelines.vault import requests as vault_requests
from pipelines.vault import store as vault
from pipelines.vault.requests import RECTIFIABLE, Request
from pipelines.warehouse import connect


def rectify(req: Request, con: Con, settings: Settings, log: Log) -> bool:
    if req.field not in RECTIFIABLE:
        raise RequestError(f"field {req.field!r} cannot be rectified")
    n = vault_requests.rectify(con, req.tenant_id, req.user_pseudonym, req.field, req.value)
    if not n:
        raise RequestError("no identity is held on this person (erased meanwhile?)")
    req.counts.clear()
    req.add({"vault.identities": n})
    log(f"rectified {req.field} in the vault")
    return False


def restrict(req: Request, con: Con, settings: Settings, log: Log) -> bool:
    since = vault_requests.restrict(con, req.tenant_id, req.user_pseudonym, req.request_id)
    req.state["step"] = "warehouse"
    con.execute(f"DELETE FROM {RESTRICTED_TABLE} WHERE tenant_id = ? AND user_pseudonym = ?",
                [req.tenant_id, req.user_pseudonym])
    con.execute(f"INSERT INTO {RESTRICTED_TABLE} VALUES (?, ?, ?)", [req.tenant_id, req.user_pseudonym, since])
    req.counts.clear()
    req.add({RESTRICTED_TABLE: 1, **{f"{k} (masked)": n for k, n in marts_rows(con, req.user_pseudonym).items()}})
    return True


def unrestrict(req: Request, con: Con, settings: Settings, log: Log) -> bool:
    vault_requests.unrestrict(con, req.tenant_id, req.user_pseudonym)
    req.state["step"] = "warehouse"
    n = con.execute(f"DELETE FROM {RESTRICTED_TABLE} WHERE tenant_id = ? AND user_pseudonym = ?",
                    [req.tenant_id, req.user_pseudonym]).fetchone()[0]
    req.counts.clear()
    req.add({RESTRICTED_TABLE: n, **{f"{k} (unmasked)": m for k, m in marts_rows(con, req.user_pseudonym).items()}})
    return True


def _sync_restricted_list(con: Con) -> tuple[int, bool]:
    """privacy.restricted_subjects made equal to the vault's restrictions; (how many, changed?)."""
    restricted = vault_requests.restrictions(con)
    current = con.execute(f"SELECT tenant_id, user_pseudonym, since FROM {RESTRICTED_TABLE} ORDER BY ALL").fetchall()
    if current == restricted:
        return len(restricted), False
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {RESTRICTED_TABLE}")
        if restricted:
            con.executemany(f"INSERT INTO {RESTRICTED_TABLE} VALUES (?, ?, ?)", restricted)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(restricted), True


def reapply_tombstones(settings: Settings | None = None, republish_after: bool = True) -> dict[str, int]:
    """Make every erasure (and restriction) true again, after `mira restore` or at any time:
    tombstoned pseudonyms still in the warehouse are re-keyed to their tokens, tombstoned
    identities and restrictions leave the vault, the warehouse's list of restricted pseudonyms
    follows the vault, and (unless the caller republishes itself) the published files are rebuilt
    if a mart or that list changed. Idempotent. Returns rows changed per table."""
    settings = settings or get_settings()
    if not vault.exists(settings):
        return {}
    with session(settings) as con:
        stones = vault_requests.tombstones(con)
        counts = rekey(con, stones)
        if stones:
            counts.update(vault_requests.forget_tombstoned(con))
        _, restricted_changed = _sync_restricted_list(con)
        if restricted_changed:
            counts[RESTRICTED_TABLE + " (synced)"] = 1
    changed = restricted_changed or any(k.startswith("marts.") for k in counts)
    if republish_after and changed and republish(settings):
        counts["serving.analyst"] = 1
    return counts


def sync_restrictions(settings: Settings | None = None) -> dict[str, int]:
    """What the `privacy/restrictions` asset does after each build: the warehouse's list of
    restricted pseudonyms made equal to the vault's, and any tombstoned pseudonym a build brought
    back re-keyed. Reads the vault (attached read-only), writes the warehouse only."""
    settings = settings or get_settings()
    if not vault.exists(settings):
        with connect(settings=settings) as con:
            con.execute(RESTRICTIONS_DDL)
        return {"restricted_subjects": 0, "tombstones": 0, "rows_rekeyed": 0}
    with session(settings, vault_read_only=True) as con:
        restricted, _ = _sync_restricted_list(con)
        stones = vault_requests.tombstones(con)
        rekeyed = rekey(con, stones)
    return {"restricted_subjects": restricted, "tombstones": len(stones), "rows_rekeyed": sum(rekeyed.values())}

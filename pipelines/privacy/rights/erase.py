"""Erasure: the person removed everywhere, every total unchanged.

Ordered so that a crash at any point leaves a state a re-run completes, and never an identity
without its tombstone:
1. tombstone (vault): tenant, pseudonym, random token. From then on ingestion maps that
   pseudonym to the token and never writes the identity again (pipelines/vault/pseudonyms.py).
2. warehouse, one transaction: every `*_pseudonym` column of every table (raw, marts, ...) and
   every JSON column (quarantined rows) re-keyed from the pseudonym to the token; raw row hashes
   recomputed, so a replayed file merges onto the re-keyed rows unchanged. Nothing is deleted
   or summed differently, so every total stays identical.
3. landing: the tenant's files (or blobs) purged of the person (landing.py), manifest records
   updated so they are not taken for changed files.
4. vault, one transaction: identity, restriction, and the user id and values of this person's
   requests deleted; earlier exports under MIRA_HOME/exports removed.
5. the published files rebuilt (requests.execute, outside the session).
The token is random: neither the tenant key nor the user id derives it. Only the tombstone, inside
the vault, links the erased pseudonym to it, so that a replayed file or a restored backup lands on
the same token (no duplicate person) instead of bringing the person back.
"""
from __future__ import annotations

import shutil

from pipelines.privacy.rights.common import EXPORTS_DIR, Con, Log, RequestError
from pipelines.privacy.rights.landing import Subject, purge_landing
from pipelines.privacy.rights.person_rows import rekey, update_manifest
from pipelines.settings import Settings
from pipelines.transform.lake import drop_spark_copies
from pipelines.vault import requests as vault_requests
from pipelines.vault.requests import Request, save

STEPS = ("tombstone", "warehouse", "landing", "vault", "publish")   # state["done"], in order


def erase(req: Request, con: Con, settings: Settings, log: Log) -> bool:
    tenant, p = req.tenant_id, req.user_pseudonym
    done = req.done_steps

    def finished(step: str) -> None:
        done.append(step)
        save(con, req)

    if "tombstone" not in done:
        req.state["step"] = "tombstone"
        vault_requests.tombstone(con, tenant, p)
        finished("tombstone")
        log("tombstone recorded")
    token = vault_requests.tombstone(con, tenant, p, create=False)
    if token is None:
        raise RequestError("the erasure has no tombstone (its first step did not finish)")

    if "warehouse" not in done:
        req.state["step"] = "warehouse"
        counts = rekey(con, [(tenant, p, token)])
        req.add(counts)
        if drop_spark_copies(settings):   # Spark's Parquet copies cannot be re-keyed in place
            log("spark: marts and lake dropped, rebuilt whole by the next build")
        finished("warehouse")
        log(f"warehouse: {sum(counts.values())} rows re-keyed in {len(counts)} tables")

    if "landing" not in done:
        req.state["step"] = "landing"
        if req.user_id:
            identity = vault_requests.identity(con, tenant, p) or {}
            subject = Subject(req.user_id, token).with_values(
                [identity.get("first_name")], [identity.get("last_name")], [identity.get("email")])
            rewritten = purge_landing(settings.landing_url or settings.landing, tenant, subject, settings=settings)
            update_manifest(con, rewritten)
            req.add({"landing.files": len(rewritten), "landing.rows_dropped": sum(r.rows_dropped for r in rewritten),
                     "landing.values_replaced": sum(r.values_replaced for r in rewritten)})
            log(f"landing: {len(rewritten)} files purged")
        finished("landing")

    if "vault" not in done:
        req.state["step"] = "vault"
        def vault_done(counts: dict[str, int]) -> None:   # inside the vault step's transaction
            req.add(counts)
            done.append("vault")
            save(con, req)

        counts, exports = vault_requests.forget(con, req, on_done=vault_done)
        n = counts["vault.identities"]
        removed = 0
        for rid in exports:   # subject-access exports left under MIRA_HOME: the person's data too
            folder = settings.home / EXPORTS_DIR / rid
            if folder.is_dir():
                shutil.rmtree(folder)
                removed += 1
        if removed:
            req.add({"exports.removed": removed})
        log(f"vault: identity removed ({n})")
    return "publish" not in done



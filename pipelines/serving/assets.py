"""Dagster side of serving: the analyst snapshot, the tenants' files and the ops file as assets.

`defs(mart_keys, after)` builds them: the deps are every mart (from the dbt manifest, which the
code location passes in) and the assets that must run first (the restricted list the copies are
masked with), so importing this module needs no manifest.
"""

from functools import partial

from dagster import (
    AssetExecutionContext, AssetKey, AssetMaterialization, AssetSpec, Definitions, DynamicPartitionsDefinition,
    MaterializeResult, asset,
)

from pipelines.serving import versions
from pipelines.serving.files import ANALYST_FILE
from pipelines.serving.ops_file import publish_ops
from pipelines.serving.analyst import publish_analyst_snapshot
from pipelines.serving.publish import publish_tenants, tenant_ids
from pipelines.warehouse import WAREHOUSE_POOL

ANALYST_KEY = AssetKey(["serving", "analyst"])
TENANTS_KEY = AssetKey(["serving", "tenants"])
OPS_KEY = AssetKey(["serving", "ops"])
KEYS = (ANALYST_KEY, TENANTS_KEY, OPS_KEY)
# One partition per tenant (added as tenants appear, removed at retirement): each tenant's serving
# file, reported by the tenants step when it rewrites that file, so the UI shows per tenant when
# its file was last published. One step publishes every changed tenant in one run (a run per
# tenant would pay Dagster's start-up 200 times); the partitions record what it did.
TENANT_PARTITIONS = DynamicPartitionsDefinition(name=versions.PARTITIONS)
TENANT_FILE_KEY = AssetKey(["serving", "tenant_file"])
# Every step that opens the warehouse (reads included: a reader blocks DuckDB's one writer) runs
# in the warehouse pool, one at a time.
warehouse_asset = partial(asset, group_name="serving", kinds={"duckdb"}, pool=WAREHOUSE_POOL)


def defs(mart_keys: list[AssetKey], after: list[AssetKey]) -> Definitions:
    deps = [*mart_keys, *after]

    def analyst(context: AssetExecutionContext) -> MaterializeResult:
        rows = publish_analyst_snapshot(changed_only=True)
        if rows is None:
            context.log.info(f"serving/{ANALYST_FILE} is up to date: no tenant's data changed")
            return MaterializeResult(metadata={"published": False})
        context.log.info(f"published {len(rows)} marts to serving/{ANALYST_FILE}")
        return MaterializeResult(metadata={"tables": len(rows), "rows": sum(rows.values()),
                                           **{f"rows.{t}": n for t, n in rows.items()}})

    def tenants(context: AssetExecutionContext) -> MaterializeResult:
        def reported(tenant: str, n: int) -> None:   # the tenant's partition shows when it was published
            context.log_event(AssetMaterialization(asset_key=TENANT_FILE_KEY, partition=tenant,
                                                   metadata={"rows": n}))

        present = set(context.instance.get_dynamic_partitions(TENANT_PARTITIONS.name))
        wanted = set(tenant_ids())
        if wanted - present:
            context.instance.add_dynamic_partitions(TENANT_PARTITIONS.name, sorted(wanted - present))
        rows = publish_tenants(log=context.log.debug, changed_only=True, on_published=reported)
        for gone in sorted(present - wanted):          # retired: its file went with it
            context.instance.delete_dynamic_partition(TENANT_PARTITIONS.name, gone)
        context.log.info(f"published {len(rows)} of {len(wanted)} tenant serving files (the others had not changed)")
        return MaterializeResult(metadata={"tenants": len(wanted), "published": len(rows), "rows": sum(rows.values()),
                                           "published_tenants": ", ".join(sorted(rows)) or "none"})

    # The tenants' files first: they are what customers wait for; the analyst and ops files follow.
    analyst_snapshot = warehouse_asset(
        key=ANALYST_KEY, deps=[*deps, TENANTS_KEY],
        description="Cross-tenant, pseudonymised copy of every mart for analysts (`mira sql`, `mira export`), "
        "replaced atomically after each build.")(analyst)
    tenant_snapshots = warehouse_asset(
        key=TENANTS_KEY, deps=deps,
        description="One encrypted file per tenant (serving/tenants/<tenant>.duckdb) with only that tenant's marts, "
        "under the tenant's own key; what the customer managers' dashboards read. Replaced atomically.")(tenants)

    @warehouse_asset(
        key=OPS_KEY,
        deps=[AssetKey(["raw", "movements"]), TENANTS_KEY],
        description="Counts for the Operations page (freshness, quarantine per rule, runs with their status, failures "
        "by step and error class); no business or personal data.",
    )
    def ops_snapshot(context: AssetExecutionContext) -> MaterializeResult:
        rows = publish_ops(instance=context.instance, running=context.run_id)
        return MaterializeResult(metadata={f"rows.{t}": n for t, n in rows.items()})

    tenant_file = AssetSpec(TENANT_FILE_KEY, deps=[TENANTS_KEY], partitions_def=TENANT_PARTITIONS, group_name="serving",
                            kinds={"duckdb"}, description="A tenant's serving file (serving/tenants/<tenant>.duckdb), one "
                            "partition per tenant; materialized when the tenants step rewrites that file.")
    return Definitions(assets=[analyst_snapshot, tenant_snapshots, ops_snapshot, tenant_file])

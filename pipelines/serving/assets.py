"""Dagster side of serving: the analyst snapshot, the tenants' files and the ops file as assets.

`defs(mart_keys, after)` builds them: the deps are every mart (from the dbt manifest, which the
code location passes in) and the assets that must run first (the restricted list the copies are
masked with), so importing this module needs no manifest.
"""

from functools import partial

from dagster import AssetExecutionContext, AssetKey, Definitions, MaterializeResult, asset

from pipelines.serving.files import ANALYST_FILE
from pipelines.serving.ops_file import publish_ops
from pipelines.serving.publish import publish_analyst_snapshot, publish_tenants
from pipelines.warehouse import WAREHOUSE_POOL

ANALYST_KEY = AssetKey(["serving", "analyst"])
TENANTS_KEY = AssetKey(["serving", "tenants"])
OPS_KEY = AssetKey(["serving", "ops"])
KEYS = (ANALYST_KEY, TENANTS_KEY, OPS_KEY)
# Every step that opens the warehouse (reads included: a reader blocks DuckDB's one writer) runs
# in the warehouse pool, one at a time.
warehouse_asset = partial(asset, group_name="serving", kinds={"duckdb"}, pool=WAREHOUSE_POOL)


def defs(mart_keys: list[AssetKey], after: list[AssetKey]) -> Definitions:
    deps = [*mart_keys, *after]

    def analyst(context: AssetExecutionContext) -> MaterializeResult:
        rows = publish_analyst_snapshot()
        context.log.info(f"published {len(rows)} marts to serving/{ANALYST_FILE}")
        return MaterializeResult(metadata={"tables": len(rows), "rows": sum(rows.values()),
                                           **{f"rows.{t}": n for t, n in rows.items()}})

    def tenants(context: AssetExecutionContext) -> MaterializeResult:
        rows = publish_tenants(log=context.log.debug)
        context.log.info(f"published {len(rows)} tenant serving files")
        return MaterializeResult(metadata={"tenants": len(rows), "rows": sum(rows.values())})

    analyst_snapshot = warehouse_asset(
        key=ANALYST_KEY, deps=deps,
        description="Cross-tenant, pseudonymised copy of every mart for analysts (`mira sql`, `mira export`), "
        "replaced atomically after each build.")(analyst)
    tenant_snapshots = warehouse_asset(
        key=TENANTS_KEY, deps=deps,
        description="One encrypted file per tenant (serving/tenants/<tenant>.duckdb) with only that tenant's marts, "
        "under the tenant's own key; what the customer managers' dashboards read. Replaced atomically.")(tenants)

    @warehouse_asset(
        key=OPS_KEY,
        deps=[AssetKey(["raw", "movements"])],
        description="Counts for the Operations page (freshness, quarantine per rule, runs with their status, failures "
        "by step and error class); no business or personal data.",
    )
    def ops_snapshot(context: AssetExecutionContext) -> MaterializeResult:
        rows = publish_ops(instance=context.instance)
        return MaterializeResult(metadata={f"rows.{t}": n for t, n in rows.items()})

    return Definitions(assets=[analyst_snapshot, tenant_snapshots, ops_snapshot])

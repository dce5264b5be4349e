"""Dagster side of ingestion: the raw.<entity> assets and their contract checks."""


import json

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Definitions,
    MaterializeResult,
    multi_asset,
    multi_asset_check,
)

from pipelines import progress
from pipelines.warehouse import WAREHOUSE_POOL
from pipelines.contracts import ENTITIES, load_contract
from pipelines.ingest.load import IngestReport, ingest
from pipelines.settings import get_settings
from pipelines.warehouse import connect

def raw_key(entity: str) -> AssetKey:
    return AssetKey(["raw", entity])


def _checks(entity: str) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec("contract_rows", asset=raw_key(entity),
                       description=f"Rows of this run that broke a rule of data_contracts/{entity}.yaml "
                       "(they are in quarantine.rows with the rule and reason)."),
        AssetCheckSpec("reconciliation", asset=raw_key(entity),
                       description="For every file: rows read = rows loaded + rows quarantined."),
    ]


GX_CHECK = "great_expectations"


def _gx_spec(entity: str, after: list[AssetKey]) -> AssetCheckSpec:
    return AssetCheckSpec(GX_CHECK, asset=raw_key(entity), additional_deps=after,
                          description="Great Expectations suite derived from the contract, on the rows loaded "
                          "by this run; results kept under MIRA_HOME/gx. Runs after the tenants' serving files "
                          "are published: it warns and gates nothing, so a customer's dashboard does not wait "
                          "for it.")


@multi_asset(
    specs=[AssetSpec(raw_key(e), group_name="ingest", kinds={"duckdb"},
                     description=load_contract(e).description) for e in ENTITIES],
    check_specs=[c for e in ENTITIES for c in _checks(e)],
    pool=WAREHOUSE_POOL,
)
def raw_tables(context: AssetExecutionContext):
    """Ingest every new landing file (all entities in one pass: one connection, one writer)."""
    report = ingest(run_id=context.run_id, log=context.log.info, warn=context.log.warning,
                    progress=lambda done, total: progress.report("ingest files", done, total))
    yield from _results(report)


def _results(report: IngestReport):
    settings = get_settings()
    with connect(settings=settings, read_only=True) as con:
        for e in ENTITIES:
            totals = con.execute(f"SELECT count(*) FROM raw.{e}").fetchone()[0]
            files = report.for_entity(e)
            row_rules = {r: n for r, n in report.quarantined_by_rule.items() if r.startswith(e + ".")}
            rejected = [f for f in files if f.status == "rejected"]
            yield MaterializeResult(
                asset_key=raw_key(e),
                metadata={
                    "files_loaded": sum(1 for f in files if f.status == "loaded"),
                    "files_rejected": len(rejected),
                    "rows_loaded": sum(f.rows_loaded for f in files),
                    "rows_quarantined": sum(f.rows_quarantined for f in files),
                    "table_rows": totals,
                },
            )
            yield AssetCheckResult(
                asset_key=raw_key(e), check_name="contract_rows",
                passed=not row_rules and not rejected, severity=AssetCheckSeverity.WARN,
                metadata={"quarantined_by_rule": json.dumps(row_rules),
                          "rejected_files": json.dumps({f.rel: f.reason for f in rejected})},
            )
            bad = [f.rel for f in files if f.status == "loaded" and f.rows_read != f.rows_loaded + f.rows_quarantined]
            yield AssetCheckResult(asset_key=raw_key(e), check_name="reconciliation", passed=not bad,
                                   metadata={"files_checked": len(files), "unbalanced": json.dumps(bad)})


def gx_checks(after: list[AssetKey]):
    """The Great Expectations check of every raw table, on the rows this run loaded, run after
    `after` (the serving files: what customers wait for comes first)."""

    @multi_asset_check(specs=[_gx_spec(e, after) for e in ENTITIES], pool=WAREHOUSE_POOL,
                       name="raw_great_expectations")
    def raw_great_expectations(context: AssetCheckExecutionContext):
        settings = get_settings()
        frames = {}
        with connect(settings=settings, read_only=True) as con:
            for e in ENTITIES:
                frames[e] = con.execute(
                    f"SELECT * FROM raw.{e} WHERE _run_id = ? ORDER BY _source_file, _source_row LIMIT 100000",
                    [context.op_execution_context.run_id]).df()
        for e in ENTITIES:
            if frames[e].empty:   # nothing of this entity loaded by this run: nothing to validate (and no GX start-up)
                yield AssetCheckResult(asset_key=raw_key(e), check_name=GX_CHECK, passed=True,
                                       severity=AssetCheckSeverity.WARN,
                                       metadata={"rows_validated": 0, "failed": "[]",
                                                 "result_file": "none: no rows loaded"})
                continue
            from pipelines.ingest.quality import validate  # GX is slow to import; only a run with rows pays for it

            summary = validate(e, frames[e], settings.gx_dir, context.op_execution_context.run_id)
            yield AssetCheckResult(
                asset_key=raw_key(e), check_name=GX_CHECK, passed=summary.success,
                severity=AssetCheckSeverity.WARN,
                metadata={"rows_validated": len(frames[e]), "failed": json.dumps(summary.failed),
                          "result_file": str(summary.path.relative_to(settings.home))},
            )

    return raw_great_expectations


def defs(after: list[AssetKey] | None = None) -> Definitions:
    """after: what the Great Expectations checks wait for (the serving files, from definitions.py)."""
    return Definitions(assets=[raw_tables], asset_checks=[gx_checks(after or [])])

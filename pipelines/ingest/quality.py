"""Great Expectations over the typed rows of raw.<entity>: the second line after the row rules.

The ingestion has already quarantined rows that break a contract's row rules; this module checks
what was actually loaded (typed, pseudonymised, merged) against the same contract and keeps the
GX result as evidence under MIRA_HOME. Every expectation is derived from data_contracts/*.yaml,
so a contract change is still one edit.

Why pandas and not GX's SQL datasource: the SQL datasource fails on DuckDB (DESIGN.md), so the
caller hands us a DataFrame read from the warehouse.

Why GX is imported inside the functions: `import great_expectations` takes ~3 s, and this module
is imported by Dagster definitions and the CLI, which should not pay for it unless they validate.

Privacy: the warehouse holds no names or emails, and `validate` refuses a frame that carries any
column the contract keeps out of the warehouse. Unexpected values of pseudonym columns are removed
from the stored result: a value that fails the pseudonym regex may be a raw user id that escaped
pseudonymisation, and the evidence file must not become the place where it lingers.
"""
from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.contracts import META_COLUMNS as CONTRACT_META_COLUMNS
from pipelines.contracts import Contract, Field, load_contract, load_contracts
from pipelines.warehouse import swap_in

# GX imports pyspark when it is installed (the Spark engine's extra); pyspark then warns that it does
# not support pandas 3 yet, a line that says nothing to someone running the DuckDB engine, and GX
# validates pandas frames here, never Spark ones.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

if TYPE_CHECKING:  # pragma: no cover
    import great_expectations as gx
    import pandas as pd

# Columns every raw.<entity> table carries besides the contract's warehouse columns
# (pipelines/ingest/load.py creates them; kept here as names only to avoid importing the ingest).
META_COLUMNS = tuple(name for name, _ in CONTRACT_META_COLUMNS)
PSEUDONYM_REGEX = r"^[0-9a-f]{64}$"  # hex HMAC-SHA256
_DROPPED_PII = ("direct_identifier", "free_text")
# Counts stay in the evidence; sample values are stripped for pseudonym columns (see module doc).
_RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
_VALUE_KEYS = ("partial_unexpected_list", "partial_unexpected_counts", "unexpected_list",
               "unexpected_rows", "observed_value")


@dataclass(frozen=True)
class ValidationSummary:
    entity: str
    success: bool
    evaluated: int
    failed: list[str]
    path: Path


def _gx():
    """Import GX lazily, with analytics off (DESIGN.md) before its first import."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx

    return gx


def warehouse_name(contract: Contract, f: Field) -> str | None:
    """The raw.<entity> column that field f becomes, or None when it stays out of the warehouse."""
    return contract.warehouse_name(f.name)


def _column_map(contract: Contract) -> dict[str, str]:
    return {f.name: w for f in contract.fields if (w := warehouse_name(contract, f)) is not None}


def forbidden_columns(contract: Contract) -> set[str]:
    """Column names that must never reach GX: names, emails, notes and raw identifiers.

    Taken from every contract, not only this one: an `email` column has no business in any
    frame handed to GX, whichever entity it claims to be.
    """
    contracts = {contract.entity: contract}
    contracts.update({e: c for e, c in load_contracts().items() if e != contract.entity})
    dropped = {f.name for c in contracts.values() for f in c.fields
               if f.pii in _DROPPED_PII or f.pii == "identifier"}
    return dropped - {n for n, _, _ in contract.warehouse_columns}


def _condition(when: dict[str, tuple[str, ...]], cmap: dict[str, str], negate: bool):
    """`k1 in v1 OR k2 in v2` (or its negation) as a GX row condition; None if not expressible."""
    from great_expectations.expectations.row_conditions import Column

    if any(k not in cmap for k in when):
        return None
    parts = [Column(cmap[k]).is_not_in(list(v)) if negate else Column(cmap[k]).is_in(list(v))
             for k, v in when.items()]
    cond = parts[0]
    for p in parts[1:]:
        cond = (cond & p) if negate else (cond | p)  # De Morgan: NOT (a OR b) = NOT a AND NOT b
    return cond


def build_suite(contract: Contract) -> "gx.ExpectationSuite":
    """The contract's rules, restated as GX expectations over the warehouse columns."""
    gx = _gx()
    E = gx.expectations
    entity = contract.entity
    cmap = _column_map(contract)
    exps: list[Any] = [
        E.ExpectTableColumnsToMatchSet(
            column_set=[n for n, _, _ in contract.warehouse_columns] + list(META_COLUMNS),
            exact_match=True,  # an extra column (a name, an email) in raw.* is a failure too
            meta={"contract_rule": f"{entity}.columns"},
        )
    ]
    for f in contract.fields:
        col = cmap.get(f.name)
        if col is None or f.pii in _DROPPED_PII:
            continue
        rid = f"{entity}.{f.name}"
        if f.required:
            exps.append(E.ExpectColumnValuesToNotBeNull(column=col, meta={"contract_rule": f"{rid}.required"}))
        elif f.required_when:
            cond = _condition(f.required_when, cmap, negate=False)
            if cond is not None:
                exps.append(E.ExpectColumnValuesToNotBeNull(
                    column=col, row_condition=cond, meta={"contract_rule": f"{rid}.required"}))
        if f.pii == "identifier":
            exps.append(E.ExpectColumnValuesToMatchRegex(
                column=col, regex=PSEUDONYM_REGEX, meta={"contract_rule": f"{rid}.pseudonym"}))
            continue  # the landing value's own rules (pattern ...) do not apply to its pseudonym
        if f.allowed:
            exps.append(E.ExpectColumnValuesToBeInSet(
                column=col, value_set=list(f.allowed), meta={"contract_rule": f"{rid}.allowed"}))
        if f.pattern:
            exps.append(E.ExpectColumnValuesToMatchRegex(
                column=col, regex=f.pattern, meta={"contract_rule": f"{rid}.pattern"}))
        if f.is_numeric:
            if f.nonzero:
                exps.append(E.ExpectColumnValuesToNotBeInSet(
                    column=col, value_set=[0], meta={"contract_rule": f"{rid}.nonzero"}))
            if f.min is not None or f.max is not None:
                exps.append(E.ExpectColumnValuesToBeBetween(
                    column=col, min_value=f.min, max_value=f.max, meta={"contract_rule": f"{rid}.range"}))
            if f.min_exclusive is not None:
                cond = None
                if f.min_exclusive_unless:
                    cond = _condition(f.min_exclusive_unless, cmap, negate=True)
                if cond is not None or not f.min_exclusive_unless:
                    exps.append(E.ExpectColumnValuesToBeBetween(
                        column=col, min_value=f.min_exclusive, strict_min=True, row_condition=cond,
                        meta={"contract_rule": f"{rid}.range"}))
    for cols, rule in _unique_sets(contract, cmap):
        meta = {"contract_rule": rule}
        if len(cols) == 1:
            exps.append(E.ExpectColumnValuesToBeUnique(column=cols[0], meta=meta))
        else:
            exps.append(E.ExpectCompoundColumnsToBeUnique(column_list=list(cols), meta=meta))
    # Passing the list to the constructor: suite.add_expectation() needs an active data context.
    return gx.ExpectationSuite(name=f"{entity}_contract", expectations=exps, meta={"entity": entity})


def _unique_sets(contract: Contract, cmap: dict[str, str]) -> list[tuple[tuple[str, ...], str]]:
    """The key, plus (tenant_id, field) for each `unique: true` field ("unique within the tenant").

    In today's contracts both are the same column set; it is tested once.
    """
    e = contract.entity
    sets = [(tuple(contract.key), contract.unique_rule.id)]
    for f in contract.fields:
        if f.unique:
            cols = (f.name,) if f.name == "tenant_id" else ("tenant_id", f.name)
            sets.append((cols, f"{e}.{f.name}.unique"))
    out: list[tuple[tuple[str, ...], str]] = []
    for cols, rule in sets:
        if all(n in cmap for n in cols):
            mapped = tuple(cmap[n] for n in cols)
            if mapped not in [m for m, _ in out]:
                out.append((mapped, rule))
    return out


def _columns_of(config: dict) -> list[str]:
    kw = config.get("kwargs", {})
    if "column" in kw:
        return [kw["column"]]
    return list(kw.get("column_list") or [])


def _redact(result: dict, sensitive: set[str]) -> dict:
    """Drop sample values of pseudonym columns from a GX result dict (counts stay)."""
    for r in result.get("results", []):
        if set(_columns_of(r.get("expectation_config", {}))) & sensitive:
            res = r.get("result") or {}
            for k in _VALUE_KEYS:
                if k in res:
                    res[k] = []
            res["values_redacted"] = True
    return result


def _write_atomic(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=1, sort_keys=True, default=str)
        swap_in(Path(tmp), path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def validate(entity: str, df: "pd.DataFrame", out_dir: Path, run_id: str,
             contract: Contract | None = None) -> ValidationSummary:
    """Validate typed raw.<entity> rows; write the GX result to out_dir/<entity>/<run_id>.json."""
    contract = contract or load_contract(entity)
    leaked = forbidden_columns(contract) & {str(c) for c in df.columns}
    if leaked:
        # Refuse before GX sees the data: its results would copy sample values into the evidence.
        raise ValueError(f"{entity}: refusing to validate columns kept out of the warehouse: "
                         f"{sorted(leaked)}")
    if not run_id or Path(run_id).name != run_id or run_id.startswith("."):
        raise ValueError(f"run_id {run_id!r} must be a plain file name")

    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    suite = build_suite(contract)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch_def = (context.data_sources.add_pandas(f"mira_{entity}")
                 .add_dataframe_asset(f"raw_{entity}")
                 .add_batch_definition_whole_dataframe("whole"))
    batch = batch_def.get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(suite, result_format=_RESULT_FORMAT)

    payload = result.to_json_dict()
    pseudonyms = {n for n, _, _ in contract.warehouse_columns if n.endswith("_pseudonym")}
    payload = _redact(payload, pseudonyms)
    payload.setdefault("meta", {}).update({"mira_run_id": run_id, "mira_entity": entity,
                                           "row_count": int(len(df))})
    path = Path(out_dir) / entity / f"{run_id}.json"
    _write_atomic(path, payload)

    failed = []
    for r in payload.get("results", []):
        if not r.get("success"):
            cfg = r.get("expectation_config", {})
            cols = _columns_of(cfg)
            failed.append(f"{cfg.get('type')}({','.join(cols)})" if cols else str(cfg.get("type")))
    stats = payload.get("statistics", {})
    return ValidationSummary(entity=entity, success=bool(payload.get("success")),
                             evaluated=int(stats.get("evaluated_expectations", 0)),
                             failed=failed, path=path)

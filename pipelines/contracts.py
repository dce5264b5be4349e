"""Data contracts: data_contracts/<entity>.yaml is the single source of every row rule.

The row rules (SQL over the raw text of a landing file), the Great Expectations suites, the typed
columns of the warehouse and the README table are all derived from these files, so a contract
change is one edit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from pipelines.rules import Rule, field_rules, num, sql_type, typed
from pipelines.settings import CONTRACTS_DIR
from pipelines.warehouse import ident, literal

__all__ = ["Rule", "typed"]   # re-exported: the contract is where callers look for its rules

ENTITIES = ("tenants", "users", "materials", "locations", "projects", "movements")
PII_CLASSES = ("none", "identifier", "direct_identifier", "free_text")
TYPES = ("string", "integer", "decimal", "date", "timestamp")
_KNOWN_KEYS = {
    "type", "required", "required_when", "unique", "allowed", "pattern", "min", "max",
    "min_exclusive", "min_exclusive_unless", "nonzero", "pii", "description", "coarsen",
    "decimals", "integer_digits", "max_length",
}
# A decimal field states its size: `decimals` (digits after the point the warehouse keeps) and
# `integer_digits` (before it). Within DuckDB's widest exact decimal, and leaving room for a
# quantity times a cost (see dbt_project/macros/types.sql).
MAX_DECIMAL_DIGITS = 18
# Lineage columns every raw.<entity> table carries after the contract's own columns.
META_COLUMNS = (("_source_file", "VARCHAR"), ("_source_row", "BIGINT"), ("_row_hash", "UBIGINT"),
                ("_run_id", "VARCHAR"), ("_loaded_at", "TIMESTAMPTZ"))


class ContractError(ValueError):
    """A contract file is malformed; raised at load so a bad contract never reaches data."""


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    pii: str
    description: str
    required: bool = False
    required_when: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unique: bool = False
    allowed: tuple[str, ...] = ()
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    min_exclusive: float | None = None
    min_exclusive_unless: dict[str, tuple[str, ...]] = field(default_factory=dict)
    nonzero: bool = False
    coarsen: str | None = None
    decimals: int | None = None
    integer_digits: int | None = None
    max_length: int | None = None      # strings; rules.DEFAULT_MAX_LENGTH when unset

    @property
    def sql_type(self) -> str:
        return sql_type(self)

    @property
    def is_numeric(self) -> bool:
        return self.type in ("integer", "decimal")


@dataclass(frozen=True)
class Contract:
    entity: str
    description: str
    key: tuple[str, ...]
    fields: tuple[Field, ...]

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def warehouse_columns(self) -> list[tuple[str, str, str]]:
        """(warehouse column, SQL type, expression over the typed landing columns).

        Identifiers become pseudonyms, direct identifiers and free text are dropped (direct
        identifiers go to the vault), timestamps marked `coarsen: day` keep only the date.
        """
        cols: list[tuple[str, str, str]] = []
        for f in self.fields:
            name = self.warehouse_name(f.name)
            if f.pii == "identifier":
                cols.append((name, "VARCHAR", f"_pseudo_{f.name}"))
            elif f.pii in ("direct_identifier", "free_text"):
                continue
            elif f.coarsen == "day":
                cols.append((name, "DATE", f"CAST({typed(f)} AS DATE)"))
            else:
                cols.append((name, f.sql_type, typed(f)))
        return cols

    def warehouse_name(self, field_name: str) -> str | None:
        """The raw.<entity> column a landing field becomes; None when it stays out of the warehouse."""
        f = self.field(field_name)
        if f.pii in ("direct_identifier", "free_text"):
            return None
        if f.pii == "identifier":
            return f.name.removesuffix("_id") + "_pseudonym"
        if f.coarsen == "day":
            return f.name.removesuffix("_at") + "_date"
        return f.name

    @property
    def warehouse_key(self) -> tuple[str, ...]:
        return tuple(self.warehouse_name(k) for k in self.key)

    def rules(self) -> list[Rule]:
        """Row rules in evaluation order; a row is quarantined under the first it breaks."""
        rules: list[Rule] = []
        for f in self.fields:
            rules.extend(field_rules(self.entity, f))
        rules.append(
            Rule(
                id=f"{self.entity}.tenant_id.folder",
                field="tenant_id",
                check="folder",
                violation="tenant_id IS DISTINCT FROM _folder_tenant",
                reason="tenant_id differs from the tenant folder the file lies in; "
                "a file can only write its own tenant's data",
            )
        )
        return rules

    @property
    def unique_rule(self) -> Rule:
        keyname = self.key[-1]
        return Rule(
            id=f"{self.entity}.{keyname}.unique",
            field=keyname,
            check="unique",
            violation="",  # evaluated with a window over the rows passing every other rule
            reason=f"{keyname} appears earlier in the same file; a key may occur once per file",
        )

    def all_rule_ids(self) -> list[str]:
        return [r.id for r in self.rules()] + [self.unique_rule.id]


q = ident      # short names: contract SQL is built from many of them
_lit = literal


@lru_cache(maxsize=1)
def tenant_id_pattern() -> re.Pattern:
    """The tenant-id pattern of the tenants contract: the one every folder name, file name and
    login is checked against (a serving file's name is a tenant id, so a looser copy elsewhere
    would let a path through that ingestion never accepts)."""
    return re.compile(load_contract("tenants").field("tenant_id").pattern)


def is_tenant_id(value: object) -> bool:
    return isinstance(value, str) and tenant_id_pattern().fullmatch(value) is not None


def _check_size(entity: str, name: str, spec: dict) -> None:
    """A decimal says how many digits it keeps; nothing else may (it would be documented and ignored)."""
    if "max_length" in spec and (spec["type"] != "string" or not isinstance(spec["max_length"], int)
                                 or isinstance(spec["max_length"], bool) or spec["max_length"] < 1):
        raise ContractError(f"{entity}.{name}: max_length is a whole number of characters, for strings only")
    sized = [k for k in ("decimals", "integer_digits") if k in spec]
    if spec["type"] != "decimal":
        if sized:
            raise ContractError(f"{entity}.{name}: {', '.join(sized)} only apply to decimals")
        return
    d, i = spec.get("decimals"), spec.get("integer_digits")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (d, i)) or d + i < 1:
        raise ContractError(f"{entity}.{name}: a decimal needs decimals and integer_digits (whole numbers, 0 or more)")
    if d + i > MAX_DECIMAL_DIGITS:
        raise ContractError(f"{entity}.{name}: decimals + integer_digits must be at most {MAX_DECIMAL_DIGITS}")


def _parse(entity: str, raw: dict) -> Contract:
    if raw.get("entity") != entity:
        raise ContractError(f"{entity}.yaml: 'entity' must be {entity!r}")
    fields = []
    for name, spec in (raw.get("fields") or {}).items():
        unknown = set(spec) - _KNOWN_KEYS
        if unknown:
            raise ContractError(f"{entity}.{name}: unknown contract keys {sorted(unknown)}")
        if spec.get("type") not in TYPES:
            raise ContractError(f"{entity}.{name}: type must be one of {sorted(TYPES)}")
        if spec.get("pii") not in PII_CLASSES:
            raise ContractError(f"{entity}.{name}: pii must be one of {PII_CLASSES}")
        if not spec.get("description"):
            raise ContractError(f"{entity}.{name}: a description is required")
        _check_size(entity, name, spec)
        when = {k: tuple(v) for k, v in (spec.get("required_when") or {}).items()}
        unless = {k: tuple(v) for k, v in (spec.get("min_exclusive_unless") or {}).items()}
        fields.append(
            Field(
                name=name, type=spec["type"], pii=spec["pii"], description=spec["description"].strip(),
                required=bool(spec.get("required", False)), required_when=when,
                unique=bool(spec.get("unique", False)), allowed=tuple(spec.get("allowed") or ()),
                pattern=spec.get("pattern"), min=spec.get("min"), max=spec.get("max"),
                min_exclusive=spec.get("min_exclusive"), min_exclusive_unless=unless,
                nonzero=bool(spec.get("nonzero", False)), coarsen=spec.get("coarsen"),
                decimals=spec.get("decimals"), integer_digits=spec.get("integer_digits"),
                max_length=spec.get("max_length"),
            )
        )
    names = {f.name for f in fields}
    key = tuple(raw.get("key") or ())
    if not key or not set(key) <= names:
        raise ContractError(f"{entity}.yaml: key {list(key)} must name fields of the contract")
    if "tenant_id" not in names:
        raise ContractError(f"{entity}.yaml: every entity carries tenant_id")
    for f in fields:
        for other in list(f.required_when) + list(f.min_exclusive_unless):
            if other not in names:
                raise ContractError(f"{entity}.{f.name}: condition names unknown field {other!r}")
    return Contract(entity=entity, description=str(raw.get("description", "")).strip(), key=key,
                    fields=tuple(fields))


@lru_cache(maxsize=None)
def load_contract(entity: str, directory: Path = CONTRACTS_DIR) -> Contract:
    path = Path(directory) / f"{entity}.yaml"
    if entity not in ENTITIES:
        raise ContractError(f"unknown entity {entity!r}; expected one of {', '.join(ENTITIES)}")
    if not path.exists():
        raise ContractError(f"contract file {path.name} is missing")
    return _parse(entity, yaml.safe_load(path.read_text(encoding="utf-8")))


def load_contracts(directory: Path = CONTRACTS_DIR) -> dict[str, Contract]:
    return {e: load_contract(e, Path(directory)) for e in ENTITIES}


def markdown_table(contract: Contract) -> str:
    """The README's landing-format table for one entity, derived from its contract."""
    lines = [
        f"#### `{contract.entity}` ([contract](data_contracts/{contract.entity}.yaml)), key: "
        + ", ".join(contract.key),
        "",
        "| field | type | required | allowed / range | personal data | description |",
        "|---|---|---|---|---|---|",
    ]
    for f in contract.fields:
        req = "yes" if f.required else ("when " + "; ".join(
            f"{k} in {', '.join(v)}" for k, v in f.required_when.items()) if f.required_when else "no")
        limits = []
        if f.type == "decimal":
            limits.append(f"up to {f.integer_digits} digits before the point and {f.decimals} after")
        if f.allowed:
            limits.append(", ".join(f.allowed))
        if f.pattern:
            limits.append(f"pattern `{f.pattern}`")
        if f.max_length:
            limits.append(f"at most {f.max_length} characters")
        if f.min is not None:
            limits.append(f">= {num(f.min)}")
        if f.max is not None:
            limits.append(f"<= {num(f.max)}")
        if f.min_exclusive is not None:
            unless = ""
            if f.min_exclusive_unless:
                unless = " (except " + "; ".join(", ".join(v) for v in f.min_exclusive_unless.values()) + ")"
            limits.append(f"> {num(f.min_exclusive)}{unless}")
        if f.nonzero:
            limits.append("non-zero")
        if f.unique:
            limits.append("unique per tenant")
        pii = f.pii.replace("_", " ")
        lines.append(f"| {f.name} | {f.type} | {req} | {'; '.join(limits)} | {pii} | {f.description} |")
    return "\n".join(lines)


def contracts_markdown(directory: Path = CONTRACTS_DIR) -> str:
    return "\n\n".join(markdown_table(c) for c in load_contracts(directory).values())

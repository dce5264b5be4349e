"""The landing columns and allowed values, read from the data contracts.

The generator never hard-codes a column list or an allowed set: if a contract changes, the
demo files follow it (or the generator fails loudly because a value it wants to write is no
longer allowed), instead of silently drifting from what the ingestion checks.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from pipelines.settings import CONTRACTS_DIR

ENTITIES = ("tenants", "users", "materials", "locations", "projects", "movements")


@lru_cache(maxsize=None)
def contract(entity: str, contracts_dir: Path = CONTRACTS_DIR) -> dict:
    with open(contracts_dir / f"{entity}.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def columns(entity: str) -> list[str]:
    """Field names in contract order: the exact header of every landing file."""
    return list(contract(entity)["fields"])


def allowed(entity: str, field: str) -> list[str]:
    return list(contract(entity)["fields"][field]["allowed"])


def require_allowed(entity: str, field: str, values) -> None:
    """Fail early if the generator would write a value the contract does not allow."""
    ok = set(allowed(entity, field))
    bad = sorted(set(values) - ok)
    if bad:
        raise ValueError(f"{entity}.{field}: generator values {bad} not allowed by the contract {sorted(ok)}")

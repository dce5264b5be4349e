"""Deliberately broken movement rows, so the ingestion's quarantine has something to catch.

Exactly round(rate * rows) rows get exactly one defect each. The rules take turns, so every
rule gets a known count; a rule that needs a particular kind of row (a receipt, an issue)
hands any shortfall to the rules that can use any row, keeping the total exact. The rows are
drawn uniformly over all tenants and months, from a stream of their own so that switching
defects on does not change the valid data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .movements import ADJUSTMENT, ISSUE, RECEIPT

RULES = (
    "movements.material_id.required",
    "movements.movement_type.allowed",
    "movements.quantity.type",
    "movements.quantity.range",
    "movements.occurred_at.type",
    "movements.tenant_id.folder",
    "movements.unit_cost.required",
    "movements.unit.allowed",
    "movements.movement_id.unique",
)
CODE = {rule: i + 1 for i, rule in enumerate(RULES)}
MAX_RATE = 0.5


@dataclass
class DefectPlan:
    codes: list[np.ndarray]     # per tenant, per row: 0 = valid, else CODE[rule]
    dup_src: list[np.ndarray]   # per tenant, per row: the earlier row whose id is copied, -1 if none
    counts: dict[str, int]      # rule -> rows broken; rules with no rows are left out


def plan(mtypes: list[np.ndarray], months: list[np.ndarray], rate: float, seed: int) -> DefectPlan:
    """`mtypes` and `months` per tenant, rows in file order (time order within each month file)."""
    sizes = [len(x) for x in mtypes]
    total = sum(sizes)
    codes = [np.zeros(n, dtype=np.int8) for n in sizes]
    dup_src = [np.full(n, -1, dtype=np.int64) for n in sizes]
    k = round(rate * total)
    counts = {rule: 0 for rule in RULES}
    if k == 0:
        return DefectPlan(codes, dup_src, {})
    want = {rule: k // len(RULES) + (i < k % len(RULES)) for i, rule in enumerate(RULES)}

    rng = np.random.default_rng([seed, 0xDEFEC7])
    offsets = np.r_[0, np.cumsum(sizes)]
    mtype = np.concatenate(mtypes).astype(np.int64) if total else np.zeros(0, np.int64)
    month = np.concatenate([m + i * 10_000 for i, m in enumerate(months)]).astype(np.int64)
    local = np.arange(total) - np.repeat(offsets[:-1], sizes)
    code = np.zeros(total, dtype=np.int8)
    src = np.full(total, -1, dtype=np.int64)
    taken = np.zeros(total, dtype=bool)
    shortfall = 0

    def draw(pool: np.ndarray, c: int) -> np.ndarray:
        pool = pool[~taken[pool]]
        return np.sort(rng.choice(pool, size=min(c, len(pool)), replace=False)) if len(pool) else pool

    # Duplicated ids first: a target at an odd position copies the id of the row just before it
    # in the same file; odd targets and even sources can never collide.
    same_file_prev = np.r_[False, month[1:] == month[:-1]]
    cand = np.flatnonzero((local % 2 == 1) & same_file_prev)
    rule = "movements.movement_id.unique"
    chosen = draw(cand, want[rule])
    code[chosen] = CODE[rule]
    src[chosen] = chosen - 1
    taken[chosen] = taken[chosen - 1] = True
    counts[rule] = len(chosen)
    shortfall += want[rule] - len(chosen)

    restricted = [
        ("movements.unit_cost.required", np.flatnonzero(mtype == RECEIPT)),
        ("movements.quantity.range", np.flatnonzero(mtype == ISSUE)),
        # an adjustment's quantity may be negative, which "borrow" would turn into a range error too
        ("movements.movement_type.allowed", np.flatnonzero(mtype != ADJUSTMENT)),
    ]
    for rule, pool in restricted:
        chosen = draw(pool, want[rule])
        code[chosen] = CODE[rule]
        taken[chosen] = True
        counts[rule] = len(chosen)
        shortfall += want[rule] - len(chosen)

    anywhere = [r for r in RULES if r not in dict(restricted) and r != "movements.movement_id.unique"]
    for i in range(shortfall):
        want[anywhere[i % len(anywhere)]] += 1
    everything = np.arange(total)
    for rule in anywhere:
        chosen = draw(everything, want[rule])
        if len(chosen) < want[rule]:
            raise ValueError(f"defect_rate {rate} too high for {total} rows")
        code[chosen] = CODE[rule]
        taken[chosen] = True
        counts[rule] = len(chosen)

    for i in range(len(sizes)):
        a, b = offsets[i], offsets[i + 1]
        codes[i] = code[a:b].copy()
        s = src[a:b]
        dup_src[i] = np.where(s >= 0, s - a, -1)
    assert sum(counts.values()) == k
    return DefectPlan(codes, dup_src, {rule: c for rule, c in counts.items() if c})

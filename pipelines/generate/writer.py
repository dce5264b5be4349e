"""Landing files: every value a string, columns exactly the contract's, one folder per tenant.

Formatting is done by polars expressions on whole columns (numbers to decimal strings,
local seconds to ISO 8601 with the Brussels offset), and the defects are applied here, at
the string level, because most of them are about how a value is written.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from . import rhythm, schema
from .defects import CODE
from .movements import TYPES, Movements

FORMATS = ("csv", "jsonl", "parquet")


def ts_strings(secs: np.ndarray, with_offset: bool = True) -> pl.Series:
    """Local seconds since 1970 -> '2026-03-01T08:15:00+01:00'; -1 -> null."""
    secs = np.asarray(secs, dtype=np.int64)
    df = pl.DataFrame({"s": secs, "o": rhythm.utc_offsets(np.maximum(secs, 0) // 86400)})
    fmt = "%Y-%m-%dT%H:%M:%S" if with_offset else "%Y-%m-%d %H:%M:%S"
    expr = pl.from_epoch("s", time_unit="s").dt.strftime(fmt)
    if with_offset:
        expr = expr + pl.col("o")
    return df.select(pl.when(pl.col("s") >= 0).then(expr).alias("v"))["v"]


def day_strings(days: np.ndarray) -> pl.Series:
    days = np.asarray(days, dtype=np.int64)
    df = pl.DataFrame({"d": days})
    return df.select(
        pl.when(pl.col("d") >= 0).then(pl.col("d").cast(pl.Date).dt.strftime("%Y-%m-%d")).alias("v"))["v"]


def _qty_expr(col: str) -> pl.Expr:
    """Thousandths -> shortest decimal string: 12000 -> '12', 12500 -> '12.5', -250 -> '-0.25'."""
    a = pl.col(col).abs()
    frac = (a % 1000).cast(pl.Utf8).str.zfill(3).str.strip_chars_end("0")
    return pl.concat_str([
        pl.when(pl.col(col) < 0).then(pl.lit("-")).otherwise(pl.lit("")),
        (a // 1000).cast(pl.Utf8),
        pl.when(a % 1000 != 0).then(pl.lit(".") + frac).otherwise(pl.lit("")),
    ])


def qty_strings(milli: np.ndarray) -> pl.Series:
    df = pl.DataFrame({"q": np.asarray(milli, dtype=np.int64)})
    return df.select(_qty_expr("q").alias("v"))["v"]


def _micro_expr(col: str) -> pl.Expr:
    """Micro-euros -> the decimal a catalogue shows: 12500000 -> '12.50', 873412 -> '0.873412'; -1 -> null."""
    c = pl.col(col)
    frac = (c % 1_000_000).cast(pl.Utf8).str.zfill(6).str.strip_chars_end("0").str.pad_end(2, "0")
    return pl.when(c >= 0).then(pl.concat_str([(c // 1_000_000).cast(pl.Utf8), pl.lit("."), frac]))


def micro_strings(micro: np.ndarray) -> pl.Series:
    df = pl.DataFrame({"c": np.asarray(micro, dtype=np.int64)})
    return df.select(_micro_expr("c").alias("v"))["v"]


def lookup(values, idx: np.ndarray) -> pl.Series:
    """values[idx] as a string Series; idx -1 -> null."""
    idx = np.asarray(idx, dtype=np.int64)
    s = pl.Series(list(values), dtype=pl.Utf8)
    i = pl.Series(np.where(idx >= 0, idx, 0)).cast(pl.UInt32)
    return pl.DataFrame({"v": s.gather(i), "ok": idx >= 0}).select(
        pl.when(pl.col("ok")).then(pl.col("v")).alias("v"))["v"]


def frame(entity: str, columns: dict) -> pl.DataFrame:
    """Contract-ordered, all-string frame; fails if a column is missing or extra."""
    names = schema.columns(entity)
    if set(columns) != set(names):
        raise ValueError(f"{entity}: columns {sorted(columns)} != contract {names}")
    n = max(len(v) for v in columns.values() if not isinstance(v, str))
    out = {}
    for name in names:
        v = columns[name]
        if isinstance(v, str):
            v = pl.Series([v] * n, dtype=pl.Utf8)
        elif not isinstance(v, pl.Series):
            v = pl.Series(list(v), dtype=pl.Utf8)
        out[name] = v.cast(pl.Utf8).alias(name)
    return pl.DataFrame(out)


def write(df: pl.DataFrame, path_no_ext: Path, fmt: str) -> Path:
    path = path_no_ext.with_suffix(f".{fmt}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        df.write_csv(path, null_value="", quote_style="necessary")
    elif fmt == "jsonl":
        df.write_ndjson(path)
    elif fmt == "parquet":
        df.write_parquet(path, statistics=False)
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {FORMATS}")
    return path


def movements_frame(tenant_id: str, other_tenant: str, mv: Movements, material_ids: list[str], units: np.ndarray,
                    location_ids: list[str], project_ids: list[str], user_ids: list[str], note_texts: list[str],
                    codes: np.ndarray, dup_src: np.ndarray) -> pl.DataFrame:
    """All of a tenant's movements (in file order) with defects applied, plus a '_month' column."""
    n = len(mv)
    seq = np.arange(1, n + 1, dtype=np.int64)
    seq = np.where(dup_src >= 0, seq[np.maximum(dup_src, 0)], seq)
    day = mv.ts // 86400
    base = pl.DataFrame({
        "seq": seq, "ts": mv.ts, "off": rhythm.utc_offsets(day), "mtype": mv.mtype, "q": mv.qty, "cost": mv.cost,
        "code": codes.astype(np.int64), "note_ref": mv.note_ref,
        "material_id": lookup(material_ids, mv.mat), "unit": lookup(list(units), mv.mat),
        "from_location_id": lookup(location_ids, mv.from_loc), "to_location_id": lookup(location_ids, mv.to_loc),
        "project_id": lookup(project_ids, mv.proj), "user_id": lookup(user_ids, mv.user),
        "note_text": lookup(note_texts, mv.note) if note_texts else pl.Series([None] * n, dtype=pl.Utf8),
    })
    code = pl.col("code")
    dt = pl.from_epoch("ts", time_unit="s")

    def broken(rule: str) -> pl.Expr:
        return code == CODE[rule]

    qty = _qty_expr("q")
    out = base.select(
        movement_id=pl.lit("MV-") + pl.col("seq").cast(pl.Utf8).str.zfill(9),
        tenant_id=pl.when(broken("movements.tenant_id.folder")).then(pl.lit(other_tenant)).otherwise(pl.lit(tenant_id)),
        occurred_at=pl.when(broken("movements.occurred_at.type"))
        .then(dt.dt.strftime("%Y-%m-%d %H:%M:%S"))
        .otherwise(dt.dt.strftime("%Y-%m-%dT%H:%M:%S") + pl.col("off")),
        movement_type=pl.when(broken("movements.movement_type.allowed")).then(pl.lit("borrow"))
        .otherwise(pl.col("mtype").replace_strict(list(range(len(TYPES))), list(TYPES), return_dtype=pl.Utf8)),
        material_id=pl.when(broken("movements.material_id.required")).then(pl.lit(None, dtype=pl.Utf8))
        .otherwise(pl.col("material_id")),
        quantity=pl.when(broken("movements.quantity.type"))
        .then(pl.concat_str([pl.when(pl.col("q") < 0).then(pl.lit("-")).otherwise(pl.lit("")),
                             (pl.col("q").abs() // 1000).cast(pl.Utf8), pl.lit(",5")]))
        .when(broken("movements.quantity.range")).then(pl.lit("-") + qty)
        .otherwise(qty),
        unit=pl.when(broken("movements.unit.allowed")).then(pl.lit("stuks")).otherwise(pl.col("unit")),
        from_location_id=pl.col("from_location_id"),
        to_location_id=pl.col("to_location_id"),
        project_id=pl.col("project_id"),
        user_id=pl.col("user_id"),
        unit_cost=pl.when(broken("movements.unit_cost.required")).then(pl.lit(None, dtype=pl.Utf8))
        .otherwise(_micro_expr("cost")),
        note=pl.when(pl.col("note_ref") >= 0).then(pl.lit("Delivery note DN") + pl.col("note_ref").cast(pl.Utf8))
        .otherwise(pl.col("note_text")),
        _month=dt.dt.strftime("%Y-%m"),
    )
    expected = schema.columns("movements")
    missing = set(expected) - set(out.columns)
    if missing or len(out.columns) != len(expected) + 1:
        raise ValueError(f"movements columns {out.columns[:-1]} != contract {expected}")
    return out.select(expected + ["_month"])

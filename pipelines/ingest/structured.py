"""The formats that carry their own types (JSON Lines, Parquet): where a type would change a value
on its way to text, the row or the file is refused instead.

- JSON Lines: a nested object or list in a field is not a value of the contract's type (the
  row is quarantined under `<entity>.<field>.type`); a JSON number is parsed into a binary
  double before DuckDB prints it, so one with more than 15 significant digits may come out
  changed (123456789012.123456 prints as 123456789012.12346) and is quarantined under
  `<entity>.<field>.precision`. A line that is not a whole JSON object (a truncated last line,
  a list) makes the file malformed: its line is named, nothing of it is loaded.
- Parquet: a file without Parquet's signature is another format under a .parquet name; a
  column whose type would change values on the way to text (floating point for decimals, a
  timestamp without time zone, lists, structs, blobs) rejects the file, naming the column.
"""
from __future__ import annotations

import json

import duckdb

from pipelines.contracts import Contract, q
from pipelines.ingest.discover import LandingFile
from pipelines.ingest.rejection import FileRejected
from pipelines.rules import JSON_EXACT_DIGITS, significant_digits_of

_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
             "UBIGINT", "UHUGEINT"}
# Parquet column types each contract type takes, and the words for them when a file has another.
_TAKES = {
    "string": (lambda t: t == "VARCHAR" or t in _INTEGERS, "text (or whole numbers, for identifiers)"),
    "integer": (lambda t: t == "VARCHAR" or t in _INTEGERS, "an integer type or text"),
    "decimal": (lambda t: t == "VARCHAR" or t in _INTEGERS or t.startswith("DECIMAL("),
                "DECIMAL, an integer type or text (floating point does not hold decimals exactly)"),
    "date": (lambda t: t in ("VARCHAR", "DATE"), "DATE or text"),
    "timestamp": (lambda t: t in ("VARCHAR", "TIMESTAMP WITH TIME ZONE"),
                  "a timestamp with time zone (UTC-adjusted) or text with a UTC offset; a timestamp without "
                  "one does not say which instant it is"),
}


def check_columns(columns: list[str], contract: Contract) -> None:
    expected = contract.field_names
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise FileRejected("file.duplicate_column", f"column(s) {', '.join(dupes)} appear more than once")
    unknown = [c for c in columns if c not in expected]
    missing = [c for c in expected if c not in columns]
    if unknown:
        raise FileRejected("file.unknown_column",
                           f"unknown column(s) {', '.join(unknown)}; the {contract.entity} contract has: "
                           + ", ".join(expected))
    if missing:
        raise FileRejected("file.missing_column", f"missing column(s) {', '.join(missing)}")


# -- JSON Lines -----------------------------------------------------------------------------------

def _first_bad_line(f: LandingFile) -> FileRejected:
    """The reason a JSON Lines file cannot be read, naming the line (DuckDB's message may quote it)."""
    with open(f.path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                return FileRejected("file.encoding", f"line {number} is not valid UTF-8 (is the file in another "
                                                     "encoding?); nothing of it was loaded")
            except ValueError:
                return FileRejected("file.malformed", f"line {number} is not a whole JSON object (a truncated last "
                                                      "line?); nothing of the file was loaded")
            if not isinstance(value, dict):
                return FileRejected("file.malformed", f"line {number} is not a JSON object (JSON Lines holds one "
                                                      "object per line); nothing of the file was loaded")
    return FileRejected("file.malformed", "the file is not valid JSON Lines (one object per line); "
                                          "nothing of it was loaded")


def _shape_rule(contract: Contract) -> str:
    """SQL: the rule a row breaks by the JSON shape of a value (or NULL), before any row rule."""
    whens = []
    for fld in contract.fields:
        if fld.pii == "free_text":     # never loaded, whatever its shape
            continue
        path = f"'$.\"{fld.name}\"'"
        kind = f"json_type(json, {path})"
        whens.append(f"WHEN {kind} IN ('OBJECT', 'ARRAY') THEN '{contract.entity}.{fld.name}.type'")
        if fld.type == "decimal":
            digits = significant_digits_of(f"json_extract_string(json, {path})")
            whens.append(f"WHEN {kind} = 'DOUBLE' AND {digits} > {JSON_EXACT_DIGITS} "
                         f"THEN '{contract.entity}.{fld.name}.precision'")
    return f"CASE {' '.join(whens)} END" if whens else "NULL"


def read_jsonl(con: duckdb.DuckDBPyConnection, stage: str, f: LandingFile, contract: Contract, prefix: str,
               rule_sql: str) -> None:
    """Append the objects of a JSON Lines file to the stage, fields as text."""
    try:
        keys, not_objects = con.execute(
            "SELECT list(DISTINCT k) FILTER (k IS NOT NULL), count(*) FILTER (t <> 'OBJECT') FROM ("
            "SELECT json_type(json) AS t, unnest(CASE WHEN json_type(json) = 'OBJECT' THEN json_keys(json) "
            "ELSE [NULL] END) AS k FROM read_ndjson_objects(?))", [str(f.path)]).fetchone()
    except duckdb.Error:
        raise _first_bad_line(f) from None
    if not_objects:
        raise _first_bad_line(f)
    unknown = [k for k in keys or [] if k not in contract.field_names]
    if unknown:
        raise FileRejected("file.unknown_column",
                           f"unknown field(s) {', '.join(sorted(unknown))}; the {contract.entity} contract "
                           f"has: {', '.join(contract.field_names)}")
    cols = ", ".join(f"NULLIF(json_extract_string(json, '$.\"{n}\"'), '') AS {q(n)}" for n in contract.field_names)
    con.execute(f"INSERT INTO {stage} SELECT * EXCLUDE (_shape), coalesce(_shape, {rule_sql}) FROM "
                f"({prefix}, {cols}, {_shape_rule(contract)} AS _shape FROM read_ndjson_objects(?))",
                [f.tenant_id, str(f.path)])


# -- Parquet --------------------------------------------------------------------------------------

def read_parquet(con: duckdb.DuckDBPyConnection, f: LandingFile, contract: Contract) -> list[str]:
    """The file's columns, once its signature, names and types are fit to read as text."""
    with open(f.path, "rb") as fh:
        head = fh.read(4)
        fh.seek(max(f.size - 4, 0))
        tail = fh.read(4)
    if head != b"PAR1":
        raise FileRejected("file.format", "the file does not start with Parquet's signature (PAR1): is it CSV or "
                                          "another format named .parquet?")
    if f.size < 12 or tail != b"PAR1":
        raise FileRejected("file.malformed", "the Parquet file does not end with its signature: it is truncated "
                                             "or still being written; nothing of it was loaded")
    try:
        described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(f.path)]).fetchall()
    except duckdb.Error:
        raise FileRejected("file.malformed", "the file is not a readable Parquet file") from None
    columns = [r[0] for r in described]
    check_columns(columns, contract)
    for name, kind, *_ in described:
        takes, words = _TAKES[contract.field(name).type]
        if takes(kind):
            continue
        # a column with no value at all (a null-typed column is read as INTEGER) changes nothing
        if con.execute(f"SELECT count({q(name)}) FROM read_parquet(?)", [str(f.path)]).fetchone()[0] == 0:
            continue
        raise FileRejected("file.column_type", f"column {name} is {kind} in the Parquet file; the "
                                               f"{contract.entity} contract's {contract.field(name).type} takes {words}")
    return columns

"""CSV files DuckDB's strict reader refuses, read again by Python's csv module before they are
rejected.

DuckDB takes the line ending from a file's first line and stops at the first line that ends
otherwise, so an export concatenated from two systems (CRLF and LF) or an old Mac file (CR only)
was rejected whole although every record in it is well formed. Python's csv module takes any of
the three as the end of a record and keeps line breaks inside quoted fields as written; in strict
mode it refuses what DuckDB refuses (a stray quote inside a field, a quote left open at the end of
the file), and a row with more or fewer fields than the header is refused here. So a file either
loads with every value as written, or is rejected with the line at fault. Rows reach DuckDB in
Arrow batches, so memory stays bounded by a batch, not by the file.
"""
from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.ingest.rejection import FileRejected

BATCH_ROWS = 50_000
# Python's default (128 KB per field) is below what DuckDB reads (a line of 2 MB): a long but
# valid field must not turn into a rejected file here.
csv.field_size_limit(64 * 1024 * 1024)


def read_csv_python(con: duckdb.DuckDBPyConnection, path: Path, columns: list[str], insert_sql: str,
                    params: list, file_no: int, stage: str) -> int:
    """Insert the rows of `path` through `insert_sql` (which selects from `_py_rows`, the header's
    columns as text); return how many. Raises FileRejected, leaving nothing of the file in `stage`."""
    rows = 0
    batch: list[list[str]] = []
    reader = None
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, strict=True)
            next(reader, None)                  # the header, checked by the caller
            for record in reader:
                if not record:                  # a blank line, as DuckDB skips it
                    continue
                if len(record) != len(columns):
                    raise FileRejected("file.malformed",
                                       f"a row has {len(record)} fields instead of {len(columns)} at line {reader.line_num}; "
                                       "is the file truncated or wrongly quoted? Nothing of it was loaded")
                batch.append(record)
                if len(batch) >= BATCH_ROWS:
                    rows += _flush(con, batch, columns, insert_sql, params)
            rows += _flush(con, batch, columns, insert_sql, params)
    except (FileRejected, csv.Error, UnicodeDecodeError) as exc:
        con.execute(f"DELETE FROM {stage} WHERE _file_no = ?", [file_no])
        if isinstance(exc, FileRejected):
            raise
        if isinstance(exc, UnicodeDecodeError):
            raise FileRejected("file.encoding", "file is not valid UTF-8 (is it in another encoding?)") from None
        where = f" at line {reader.line_num}" if reader is not None else ""
        raise FileRejected("file.malformed", f"the file could not be parsed as CSV{where}: a quote is misplaced "
                           "or left open; nothing of it was loaded") from None
    return rows


def _flush(con: duckdb.DuckDBPyConnection, batch: list[list[str]], columns: list[str], insert_sql: str,
           params: list) -> int:
    if not batch:
        return 0
    table = pa.table({c: pa.array([r[i] for r in batch], pa.string()) for i, c in enumerate(columns)})
    con.register("_py_rows", table)
    try:
        con.execute(insert_sql, params)
    finally:
        con.unregister("_py_rows")
    n = len(batch)
    batch.clear()
    return n

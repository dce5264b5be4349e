"""Read one landing file into a text staging table, or say in words why it cannot be read.

Every value is read as text so that the contract's row rules, not the reader, decide what is
wrong with a row. Engine error messages are never passed on: they can quote row content,
which may hold personal data.
"""
from __future__ import annotations

import csv
import io

import duckdb

from pipelines.contracts import Contract, q
from pipelines.ingest.discover import LandingFile
from pipelines.ingest.rejection import FileRejected
from pipelines.ingest.structured import check_columns, read_jsonl, read_parquet
from pipelines.ingest.textcsv import read_csv_python

__all__ = ["FileRejected", "read_csv_files", "read_into"]


def _csv_header(f: LandingFile, contract: Contract) -> list[str]:
    with open(f.path, "rb") as fh:
        head = fh.read(65536)
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    if b"\x00" in head:
        raise FileRejected("file.encoding", "file is binary, not UTF-8 CSV text")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRejected("file.encoding", "header is not valid UTF-8 (is the file in another encoding?)")
    columns = [c.strip() for c in next(csv.reader(io.StringIO(text)), [])]
    if len(columns) == 1:
        for delim, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if delim in columns[0]:
                raise FileRejected("file.delimiter",
                                   f"fields are separated by {name}; the landing format uses commas")
    check_columns(columns, contract)
    return columns


def _select_list(columns: list[str], contract: Contract) -> str:
    """Contract-ordered text columns, empty strings as NULL."""
    present = set(columns)
    parts = []
    for name in contract.field_names:
        parts.append(f"NULLIF(CAST({q(name)} AS VARCHAR), '') AS {q(name)}" if name in present
                     else f"CAST(NULL AS VARCHAR) AS {q(name)}")
    return ", ".join(parts)


def _csv_scan(columns: list[str], source: str, extra: str = "") -> str:
    """read_csv of `source` (a parameter: one path or a list) with the header's columns as text."""
    spec = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in columns) + "}"
    return (f"read_csv({source}, header=true, auto_detect=false, columns={spec}, delim=',', quote='\"', "
            f"escape='\"', strict_mode=true, null_padding=false, parallel=true{extra})")


def read_csv_files(con: duckdb.DuckDBPyConnection, stage: str, files: list[tuple[int, LandingFile]],
                   contract: Contract, rule_sql: str = "NULL") -> tuple[dict[int, int], list[tuple[int, FileRejected]]]:
    """Append many CSV files of one entity to the staging table: {file_no: rows}, [(file_no, why rejected)].

    Files with the same header are read in one statement (one scan over all their bytes, the
    rule evaluated in the same pass), so a landing of many small files costs per byte, not per
    file; each row still carries its file's number, and each file's rows stay contiguous and in
    order (preserve_insertion_order), which is checked before they are counted. A group that
    fails to parse, or whose rows came back out of order, is read again file by file, so the
    broken file is named and rejected alone and the others load."""
    rows: dict[int, int] = {}
    rejected: list[tuple[int, FileRejected]] = []
    groups: dict[tuple[str, ...], list[tuple[int, LandingFile]]] = {}
    for no, f in files:
        try:
            if f.size == 0:
                raise FileRejected("file.empty", "file is empty")
            groups.setdefault(tuple(_csv_header(f, contract)), []).append((no, f))
        except FileRejected as rej:
            rejected.append((no, rej))
    for columns, members in groups.items():
        counted = _read_group(con, stage, list(columns), members, contract, rule_sql) if len(members) > 1 else None
        if counted is None:
            for no, f in members:
                try:
                    rows[no] = read_into(con, stage, f, contract, no, rule_sql)
                except FileRejected as rej:
                    rejected.append((no, rej))
            continue
        for no, _ in members:
            if counted.get(no, 0) == 0:
                rejected.append((no, FileRejected("file.no_rows", "file has no data rows (header only?)")))
            else:
                rows[no] = counted[no]
    return rows, rejected


def _read_group(con, stage: str, columns: list[str], members: list[tuple[int, LandingFile]], contract: Contract,
                rule_sql: str) -> dict[int, int] | None:
    """One INSERT for files sharing a header; {file_no: rows}, or None (nothing inserted) when it
    cannot be trusted: a parse error somewhere, or a file's rows not contiguous."""
    import pyarrow as pa

    names = pa.table({"filename": [str(f.path) for _, f in members], "_file_no": [no for no, _ in members],
                      "_folder_tenant": [f.tenant_id for _, f in members]})
    con.register("_group_files", names)
    try:
        nos = [no for no, _ in members]
        try:
            con.execute(
                f"INSERT INTO {stage} SELECT *, {rule_sql} FROM (SELECT g._file_no, g._folder_tenant, "
                f"{_select_list(columns, contract)} FROM {_csv_scan(columns, '?', ', filename=true')} "
                "JOIN _group_files g USING (filename))", [names.column("filename").to_pylist()])
        except duckdb.Error:
            return None
        stats = con.execute(f"SELECT _file_no, count(*), max(rowid) - min(rowid) + 1 FROM {stage} "
                            "WHERE list_contains(?, _file_no) GROUP BY 1", [nos]).fetchall()
        if any(n != span for _, n, span in stats):
            con.execute(f"DELETE FROM {stage} WHERE list_contains(?, _file_no)", [nos])
            return None
        return {no: n for no, n, _ in stats}
    finally:
        con.unregister("_group_files")


def read_into(con: duckdb.DuckDBPyConnection, stage: str, f: LandingFile, contract: Contract, file_no: int,
              rule_sql: str = "NULL") -> int:
    """Append the rows of f to the staging table; return how many. Raises FileRejected.

    `rule_sql` (the first broken row rule, over the text columns) is evaluated in the same
    pass, so the rows are not copied again just to be checked.
    """
    if f.size == 0:
        raise FileRejected("file.empty", "file is empty")
    # No row_number() here: a window over the scan costs as much as the parse. The stage is
    # append-only, so a row's number is its rowid minus the file's first rowid (insertion order
    # follows file order: preserve_insertion_order is on).
    prefix = f"SELECT {file_no} AS _file_no, ? AS _folder_tenant"
    try:
        if f.fmt == "csv":
            columns = _csv_header(f, contract)
            body = f"INSERT INTO {stage} SELECT *, {rule_sql} FROM ({prefix}, {_select_list(columns, contract)} "
            try:
                con.execute(body + f"FROM {_csv_scan(columns, '?')})", [f.tenant_id, str(f.path)])
            except duckdb.InterruptException:
                raise
            except duckdb.Error:   # DuckDB's parser is stricter than the format: Python's has the last word
                read_csv_python(con, f.path, columns, body + "FROM _py_rows)", [f.tenant_id], file_no, stage)
        elif f.fmt == "jsonl":
            read_jsonl(con, stage, f, contract, prefix, rule_sql)
        elif f.fmt == "parquet":
            columns = read_parquet(con, f, contract)
            con.execute(f"INSERT INTO {stage} SELECT *, {rule_sql} FROM ({prefix}, {_select_list(columns, contract)} "
                        "FROM read_parquet(?))",
                        [f.tenant_id, str(f.path)])
        else:  # discover() marks these; kept for safety
            raise FileRejected("file.format", "unsupported file format")
    except duckdb.InterruptException:   # Ctrl-C is not a malformed file
        raise
    except duckdb.Error:
        raise FileRejected("file.malformed", f"the file could not be read as {f.fmt}; nothing of it was loaded") from None
    rows = con.execute(f"SELECT count(*) FROM {stage} WHERE _file_no = ?", [file_no]).fetchone()[0]
    if rows == 0:
        raise FileRejected("file.no_rows", "file has no data rows (header only?)")
    return rows

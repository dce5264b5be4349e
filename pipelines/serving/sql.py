"""Read-only SQL for analysts and ops: one SELECT, no file access, no writes."""
from __future__ import annotations

from typing import Callable

import duckdb

from pipelines.serving.files import analyst_path
from pipelines.settings import get_settings
from pipelines.warehouse import WarehouseMissing, connect

BATCH = 10_000


class QueryRefused(ValueError):
    pass


def snapshot_path(warehouse: bool):
    """The analyst snapshot once it is published, else the warehouse (until publishing exists)."""
    s = get_settings()
    analyst = analyst_path(s)
    return s.warehouse_path if warehouse or not analyst.exists() else analyst


def run_query(query: str, on_header: Callable[[list[str]], None], on_rows: Callable[[list[tuple]], None],
              warehouse: bool = False) -> None:
    """Stream the result of one SELECT to the callbacks, batch by batch."""
    path = snapshot_path(warehouse)
    if not path.exists():
        raise WarehouseMissing(f"{path.name} does not exist yet: run `mira run` first")
    parser = duckdb.connect(":memory:")
    try:
        statements = parser.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryRefused(f"the query does not parse: {str(exc).splitlines()[0]}")
    finally:
        parser.close()
    if len(statements) != 1:
        raise QueryRefused("give exactly one statement")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise QueryRefused(f"only SELECT queries are allowed here (got {statements[0].type.name}); writes are refused")

    with connect(path, read_only=True) as con:
        con.execute("SET enable_external_access = false")  # no reading or writing other files
        con.execute("SET lock_configuration = true")
        try:
            cur = con.execute(query)
        except duckdb.Error as exc:
            raise QueryRefused(f"query failed: {str(exc).splitlines()[0]}")
        on_header([d[0] for d in cur.description])
        while rows := cur.fetchmany(BATCH):
            on_rows(rows)

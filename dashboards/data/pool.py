"""Where the dashboards' data comes from, and the cache in front of it.

- Isolation is physical: a manager's queries open only their tenant's serving file
  (`source="tenant"`); an analyst's open the pseudonymised cross-tenant file (`source="analyst"`).
  The page modules still filter every tenant query on `tenant_id = ?`, so a mistake in one layer
  is caught by the other.
- Serving files are swapped atomically by the pipeline; `_Pool` keeps one connection per file
  and reopens it as soon as the file on disk is another one.
- No Streamlit at import, so the benchmark times exactly what a page asks for; `Cached` wraps the
  same functions in `st.cache_data`, whose key includes the tenant and the source (both explicit
  arguments), so one tenant's cached result can never be served to another.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Literal

import duckdb
import pandas as pd

from pipelines.serving import files as serving
from pipelines.serving.files import ServingUnavailable
from pipelines.settings import get_settings

Source = Literal["tenant", "analyst"]
SOURCES = ("tenant", "analyst")
CACHE_TTL_S = 60


class _Pool:
    """One open connection per serving file, reused while the file is the same file.

    Opening an encrypted serving file costs ~100 ms (a fresh DuckDB instance, the crypto
    extension, decrypting the catalogue): more than every query of a page together. So each
    file is attached once per process and queried through short-lived cursors (DuckDB's way to
    share one database between threads). The pipeline swaps a file by renaming a new one over
    it: before every query the file's identity (inode, size, mtime) is compared with the one
    opened, and a changed or deleted file is reopened or reported, so a reader never answers
    from a snapshot that has been replaced. Least recently used files are dropped beyond
    MAX_OPEN. A dropped connection is kept for RETIRE_S more seconds (a query another thread
    runs on it finishes) and then left to the garbage collector."""

    MAX_OPEN = 32
    RETIRE_S = 120.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # key -> (file identity, connection, catalog, its tables as "schema.table")
        self._open: OrderedDict[tuple, tuple[tuple, duckdb.DuckDBPyConnection, str, frozenset]] = OrderedDict()
        self._retired: list[tuple[float, duckdb.DuckDBPyConnection]] = []

    def _retire(self, entry) -> None:
        """Called under the lock."""
        now = time.monotonic()
        self._retired = [(t, c) for t, c in self._retired if now - t < self.RETIRE_S]
        if entry is not None:
            self._retired.append((now, entry[1]))

    @staticmethod
    def _path(source: str, tenant_id: str | None) -> Path:
        settings = get_settings()
        if source == "tenant":
            return serving.tenant_path(tenant_id, settings)
        if source == "analyst":
            return settings.serving_dir / "analyst.duckdb"
        return serving.ops_path(settings)

    @staticmethod
    def _opener(source: str, tenant_id: str | None) -> duckdb.DuckDBPyConnection:
        if source == "tenant":
            return serving.open_tenant(tenant_id)
        if source == "analyst":
            return serving.open_analyst()
        return serving.open_ops()

    def cursor(self, source: str, tenant_id: str | None) -> duckdb.DuckDBPyConnection:
        return self._entry(source, tenant_id)[0]

    def tables(self, source: str, tenant_id: str | None) -> frozenset:
        """The file's tables ("schema.table"), read once per opened file: which optional tables
        (the rollups) a file has decides the SQL, and asking the catalog per query would cost a
        query."""
        cur, tables = self._entry(source, tenant_id)
        cur.close()
        return tables

    def _entry(self, source: str, tenant_id: str | None) -> tuple[duckdb.DuckDBPyConnection, frozenset]:
        path = self._path(source, tenant_id)
        key = (str(get_settings().home), source, tenant_id)
        try:
            stat = path.stat()
            identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:
            identity = None
        with self._lock:
            entry = self._open.get(key)
            if entry is not None and identity is not None and entry[0] == identity:
                self._open.move_to_end(key)
                return self._use(entry[1], entry[2]), entry[3]
            self._retire(self._open.pop(key, None))
        con = self._opener(source, tenant_id)    # raises ServingUnavailable when missing
        catalog = con.execute("SELECT current_database()").fetchone()[0]
        tables = frozenset(f"{s}.{t}" for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?", [catalog]).fetchall())
        with self._lock:
            self._retire(self._open.pop(key, None))     # another thread may have opened it meanwhile
            self._open[key] = (identity, con, catalog, tables)
            while len(self._open) > self.MAX_OPEN:
                self._retire(self._open.popitem(last=False)[1])
            return self._use(con, catalog), tables

    @staticmethod
    def _use(con: duckdb.DuckDBPyConnection, catalog: str) -> duckdb.DuckDBPyConnection:
        """A cursor of the shared connection (made under the pool's lock: the parent connection
        is not thread-safe, its cursors are each used by one thread)."""
        cur = con.cursor()
        cur.execute(f"USE {catalog}")   # the alias serving.files attached it as: an identifier (checked there)
        return cur

    def clear(self) -> None:
        with self._lock:
            self._open.clear()
            self._retired.clear()


_pool = _Pool()


@contextmanager
def _connection(source: str, tenant_id: str | None) -> Iterator[duckdb.DuckDBPyConnection]:
    if source not in ("tenant", "analyst", "ops"):
        raise ValueError("unknown source")
    if source == "tenant" and not tenant_id:
        raise ServingUnavailable("This account has no organisation: ask an administrator.")
    cur = _pool.cursor(source, tenant_id)
    try:
        yield cur
    finally:
        cur.close()


def query(source: str, tenant_id: str | None, sql: str, params: list | None = None) -> pd.DataFrame:
    try:
        with _connection(source, tenant_id) as con:
            return con.execute(sql, params or []).df()
    except duckdb.CatalogException:
        raise ServingUnavailable("The published data lacks a report this page needs: it appears after the "
                                 "next `mira run`.") from None
    except duckdb.IOException:
        raise ServingUnavailable("The data is being replaced right now: try again in a few seconds.") from None


def tables(source: str, tenant_id: str | None) -> frozenset:
    """The tables ("schema.table") of the serving file the query would open (see `_Pool.tables`)."""
    return _pool.tables(source, tenant_id)


def clear() -> None:
    """Forgets every open file: the next query opens (and decrypts) its file again."""
    _pool.clear()


# -- the cache ----------------------------------------------------------------------------------------

def _cache(fn):
    import streamlit as st

    return st.cache_data(ttl=CACHE_TTL_S, max_entries=512, show_spinner=False)(fn)


class Cached:
    """st.cache_data versions of a page module's tenant functions (first argument: the tenant,
    always explicit; `source` is part of the key too). Wrapped on first use, so importing a page
    module (the benchmark does) needs no Streamlit runtime."""

    def __init__(self, *functions) -> None:
        self._by_name = {fn.__name__: fn for fn in functions}

    def __getattr__(self, name: str):
        fn = vars(self).get("_by_name", {}).get(name)
        if fn is None:
            raise AttributeError(name)
        wrapped = _cache(fn)
        setattr(self, name, wrapped)
        return wrapped

"""DuckDB connections, and the small SQL and file helpers every stage shares.

Every file is encrypted at rest (AES-GCM, DuckDB's ATTACH ... ENCRYPTION_KEY). A connection is
an in-memory DuckDB that loads httpfs (which carries the writable crypto module) from the
`duckdb-ext-httpfs` package, offline, and attaches the file with its key passed as a statement
parameter, so the key is in no SQL text. `USE` makes the attached file the default catalog:
callers write `raw.movements`, as if they had opened the file directly.

DuckDB allows one writing process or many readers per file, so the pipeline opens read-write
only for the short span of a write and every reader asks for read_only explicitly. Limits come
from settings so a 2-core, shared machine is not swamped.
"""
from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import duckdb

from pipelines import keys
from pipelines.settings import Settings, get_settings

# Dagster concurrency pool of every step that opens warehouse.duckdb (DuckDB: one writer per
# file; the instance limits each pool to one at a time, runs.DAGSTER_YAML).
WAREHOUSE_POOL = "warehouse"


class WarehouseMissing(RuntimeError):
    """Raised when a reader asks for a file the pipeline has not written yet."""


class CannotOpen(RuntimeError):
    """A file exists but cannot be opened with the key at hand (wrong key, or not encrypted)."""


@lru_cache(maxsize=1)
def extension_directory() -> str:
    """The `extensions` folder of the duckdb-ext-httpfs package: a valid DuckDB extension_directory."""
    import duckdb_ext  # namespace package: no __file__

    for base in duckdb_ext.__path__:
        folder = Path(base) / "extensions"
        if folder.is_dir():
            return str(folder)
    raise RuntimeError("duckdb-ext-httpfs is not installed: run `make bootstrap` (it is in constraints.txt)")


def _config(settings: Settings) -> dict:
    settings.home.mkdir(parents=True, exist_ok=True)
    tmp = settings.home / "tmp"
    tmp.mkdir(exist_ok=True)
    return {
        "memory_limit": settings.memory_limit,
        "threads": settings.threads,
        "temp_directory": str(tmp),
        "preserve_insertion_order": True,
        "extension_directory": extension_directory(),
        "autoinstall_known_extensions": False,  # offline: never try to download anything
    }


def purpose_of(path: Path) -> str:
    """Which derived key protects a file, by its role in the MIRA_HOME layout (so a copy of the
    warehouse elsewhere, a backup being restored say, opens with the same key). The vault is not
    known here: pipelines/vault passes its key itself, so no other module opens it by path."""
    path = Path(path)
    if path.name == "warehouse.duckdb":
        return "warehouse"
    if path.parent.name == "serving" and path.name.startswith(("analyst", ".analyst-")):
        return "analyst"
    if path.parent.name == "serving" and path.name == "ops.duckdb":
        return "ops"
    if path.parent.parent.name == "backups":
        return "backup"
    raise ValueError(f"no key is known for {path.name}: pass key= explicitly")


def memory_connection(settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB able to read and write encrypted files (httpfs loaded, offline)."""
    con = duckdb.connect(":memory:", config=_config(settings or get_settings()))
    con.execute("LOAD httpfs")
    con.execute("SET enable_progress_bar = false")  # the CLI draws its own; DuckDB's would garble stdout
    return con


def literal(value: object) -> str:
    """A quoted SQL string literal, for what DuckDB takes no parameter for (an ATTACH path, a
    COPY target, a SET value). Values from users go in as parameters, never through this."""
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier (schema, table and column names found in the catalog)."""
    return '"' + str(name).replace('"', '""') + '"'


def fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class IncompleteWrite(OSError):
    """A DuckDB file that could not be written completely: never swapped in, kept or restored."""


def check_complete(path: Path) -> None:
    """Raise IncompleteWrite when `path` still has its write-ahead log beside it after DETACH.

    DuckDB checkpoints a file on DETACH, but when the checkpoint fails (a full disk: the log fit,
    the checkpointed file does not) DETACH says nothing and leaves the log behind. The file alone
    then lacks what the log holds; renamed into place without it, it was published empty."""
    wal = Path(f"{path}.wal")
    if wal.exists():
        raise IncompleteWrite(errno.EIO, f"could not write {Path(path).name} completely: its checkpoint failed and "
                              "left the write-ahead log behind (is the disk full?)")


def detach(con: duckdb.DuckDBPyConnection, alias: str, path: Path) -> None:
    """DETACH a file this connection wrote, which checkpoints it; then make sure it is complete."""
    con.execute(f"DETACH {alias}")
    check_complete(path)


def swap_in(tmp: Path, final: Path) -> None:
    """Replace `final` by the complete file `tmp`, durably: the file is flushed before the rename
    and the rename before anyone is told. A reader sees the old file or the new one, never half
    of one (os.replace is atomic on POSIX); one that holds the old file open keeps reading it.
    A DuckDB file whose checkpoint failed (check_complete) is refused: the old file stays."""
    check_complete(tmp)
    fsync(tmp)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    fsync(final.parent)


def attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str, key: str, read_only: bool = False) -> None:
    """ATTACH an encrypted file. The key travels as a parameter; errors never quote it."""
    if not alias.isidentifier():
        raise ValueError(f"not a valid alias: {alias!r}")
    mode = ", READ_ONLY" if read_only else ""
    try:
        con.execute(f"ATTACH {literal(path)} AS {alias} (ENCRYPTION_KEY ?{mode})", [key])
    except (duckdb.IOException, duckdb.CatalogException, duckdb.InvalidInputException) as err:
        text = str(err)
        if "encryption key" in text.lower() or "encrypted" in text.lower() or "not a valid DuckDB" in text:
            raise CannotOpen(
                f"cannot open {Path(path).name}: the key does not match (wrong MIRA_MASTER_KEY?) or the file "
                "was written unencrypted by an older version (remove it and run `mira run` again)") from None
        raise


def open_file(path: Path | None = None, read_only: bool = False, settings: Settings | None = None,
              key: str | None = None, alias: str | None = None) -> duckdb.DuckDBPyConnection:
    """An encrypted file, attached and made the default catalog; the caller closes it
    (prefer `connect`, which closes it for you)."""
    settings = settings or get_settings()
    path = Path(path or settings.warehouse_path)
    if read_only and not path.exists():
        raise WarehouseMissing(f"{path.name} does not exist yet under {settings.home}: run `mira run` first")
    key = key or keys.file_key(purpose_of(path), settings=settings)
    alias = alias or _alias(path)
    con = memory_connection(settings)
    try:
        attach(con, path, alias, key, read_only=read_only)
        con.execute(f"USE {alias}")
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def connect(path: Path | None = None, read_only: bool = False, settings: Settings | None = None,
            key: str | None = None, alias: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse (or the vault, a serving file, any encrypted file given its key) and
    always close it. The file is the connection's default catalog."""
    con = open_file(path, read_only, settings, key, alias)
    try:
        yield con
    finally:
        con.close()


def _alias(path: Path) -> str:
    """The warehouse keeps its name (SQL may qualify it); any other file is `db`, which no
    schema inside it is called (the ops file has a schema `ops`)."""
    try:
        purpose = purpose_of(path)
    except ValueError:
        return "db"
    return purpose if purpose == "warehouse" else "db"

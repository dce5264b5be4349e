"""DuckDB connections: the one place that opens warehouse, vault and serving files.

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

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import duckdb

from pipelines.privacy import keys
from pipelines.settings import Settings, get_settings


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
    warehouse elsewhere, a backup being restored say, opens with the same key)."""
    path = Path(path)
    if path.name == "warehouse.duckdb":
        return "warehouse"
    if path.name == "vault.duckdb":
        return "vault"
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


def sql_string(value: object) -> str:
    """A quoted SQL string literal (file paths: DuckDB takes no parameter for an ATTACH path)."""
    return "'" + str(value).replace("'", "''") + "'"


def attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str, key: str, read_only: bool = False) -> None:
    """ATTACH an encrypted file. The key travels as a parameter; errors never quote it."""
    if not alias.isidentifier():
        raise ValueError(f"not a valid alias: {alias!r}")
    mode = ", READ_ONLY" if read_only else ""
    try:
        con.execute(f"ATTACH {sql_string(path)} AS {alias} (ENCRYPTION_KEY ?{mode})", [key])
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
    """The warehouse and the vault keep their names (SQL may qualify them); any other file is
    `db`, which no schema inside it is called (the ops file has a schema `ops`)."""
    try:
        purpose = purpose_of(path)
    except ValueError:
        return "db"
    return purpose if purpose in ("warehouse", "vault") else "db"


def attach_vault(con: duckdb.DuckDBPyConnection, settings: Settings | None = None, read_only: bool = False) -> None:
    """Attach the vault beside an open warehouse connection, as catalog `vault`."""
    settings = settings or get_settings()
    attach(con, settings.vault_path, "vault", keys.file_key("vault", settings=settings), read_only=read_only)


@contextmanager
def open_vault(read_only: bool = False, settings: Settings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """The vault alone (its tables: vault.tenant_keys, vault.identities, ...)."""
    settings = settings or get_settings()
    with connect(settings.vault_path, read_only=read_only, settings=settings) as con:
        yield con

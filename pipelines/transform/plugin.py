"""dbt-duckdb plugin: lets dbt write the encrypted warehouse offline.

dbt-duckdb runs `configure_connection` before it attaches the databases of the profile. Writing
an encrypted file needs httpfs's crypto module; listing httpfs under `extensions:` would make
dbt-duckdb run INSTALL, which downloads. Here the extension comes from the duckdb-ext-httpfs
package's folder instead, as in pipelines.warehouse.
"""
import hashlib
from functools import lru_cache

from duckdb import DuckDBPyConnection
from dbt.adapters.duckdb.plugins import BasePlugin

from pipelines.settings import DBT_PROJECT_DIR, dbt_warehouse, get_settings
from pipelines.warehouse import extension_directory, literal


@lru_cache(maxsize=1)
def project_version() -> str:
    """A digest of the dbt project's sources (models, macros, tests, dbt_project.yml). The
    tenant-incremental models (macros/tenant_incremental.sql) record it with each tenant they
    build: after an edit of a model or a macro, every tenant is recomputed, not only those whose
    data changed."""
    h = hashlib.sha256()
    files = [DBT_PROJECT_DIR / "dbt_project.yml",
             *sorted(p for d in ("models", "macros", "tests") for p in (DBT_PROJECT_DIR / d).rglob("*")
                     if p.is_file() and p.suffix in (".sql", ".yml"))]
    for path in files:
        h.update(path.relative_to(DBT_PROJECT_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        warehouse, key = dbt_warehouse()   # first: without the pipeline's variables, write nothing anywhere
        conn.execute(f"SET extension_directory = {literal(extension_directory())}")
        conn.execute("SET autoinstall_known_extensions = false")
        conn.execute("LOAD httpfs")
        # Spill space under MIRA_HOME, set once per connection (not in the profile's `settings`,
        # which dbt-duckdb re-applies per cursor; DuckDB refuses that after the first spill).
        tmp = get_settings().home / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        conn.execute(f"SET temp_directory = {literal(tmp)}")
        # The warehouse is attached here, not by the profile: the profile then names no home, so its
        # hash (part of dbt's partial-parse state) is the same for every MIRA_HOME, and a fresh home
        # reuses the parse `make manifest` made instead of parsing the project again. The key goes
        # in as a parameter; the profile's own `attach` entry (ATTACH IF NOT EXISTS) then finds the
        # alias taken and does nothing.
        conn.execute(f"ATTACH {literal(warehouse)} AS warehouse (ENCRYPTION_KEY ?)", [key])
        # In the in-memory catalog (shared by dbt's threads, gone with the process), read by
        # macros/tenant_incremental.sql.
        conn.execute("CREATE OR REPLACE TABLE memory.main.mira_project AS SELECT ? AS version", [project_version()])

"""The one place environment variables are read.

Everything else asks this module, so a test can point the whole platform at a temporary
MIRA_HOME by setting one variable, and the README's configuration table has one source.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = REPO_ROOT / "data_contracts"
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# The variable that hands dbt the warehouse key (the DBT_ENV_SECRET_ prefix makes dbt scrub its
# value from logs and output); set by pipelines.transform, read by its dbt-duckdb plugin.
DBT_WAREHOUSE_KEY_VAR = "DBT_ENV_SECRET_MIRA_WAREHOUSE_KEY"
# The engines dbt can build the marts on (MIRA_ENGINE): DuckDB in one process (the default), or
# Spark (dbt-spark) when the data outgrows one machine.
ENGINES = ("duckdb", "spark")
# Schedules run on the customers' clock (Belgium): a nightly build at 02:00 local time.
TIMEZONE = "Europe/Brussels"
# MIRA_LANDING may name a Blob Storage container instead of a folder: az://<container>/<prefix>.
BLOB_SCHEME = "az://"


@dataclass(frozen=True)
class AzureAccess:
    """How the landing container is reached (pipelines/ingest/blobs.py), in the order tried: a
    connection string; else the storage account with its key, or with a SAS token, or, with
    neither, the identity azure-identity finds (workload or managed identity, a service principal
    from AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, `az login`). The secrets are never
    printed: repr=False, and no error message quotes them."""
    connection_string: str | None = field(default=None, repr=False)
    account: str | None = None
    key: str | None = field(default=None, repr=False)
    sas_token: str | None = field(default=None, repr=False)
    endpoint: str | None = None      # blob endpoint override (private endpoint, sovereign cloud, Azurite)


@dataclass(frozen=True)
class Settings:
    home: Path
    landing: Path           # the landing folder; when MIRA_LANDING is az://..., where `mira generate` writes
    memory_limit: str
    threads: int
    # Ops: where failure alerts are POSTed (None: the log file only), the UI base for run links,
    # and how long logs and validation results are kept (the privacy statement promises <= 90 days).
    alert_webhook: str | None = None
    dagster_url: str = "http://127.0.0.1:3000"
    log_retention_days: int = 90
    # Retention (privacy statement): a tenant's data goes this many days after its subscription
    # ended; backups are kept this many days (rolling).
    tenant_retention_days: int = 90
    backup_retention_days: int = 90
    # Optional OIDC login (st.login): the ID-token claims that carry the role and the tenant.
    oidc_role_claim: str = "mira_role"
    oidc_tenant_claim: str = "mira_tenant"
    # Never printed: repr=False keeps the key out of any log line that shows the settings.
    master_key: str | None = field(default=None, repr=False)
    # The engine dbt builds the marts on (ENGINES), and for Spark: where the raw layer is written
    # as Parquet (the lake: a local folder here, abfss:// on Azure) and the Spark master of a
    # session run (`local[2]` on one machine; production connects to a cluster instead, README).
    engine: str = "duckdb"
    lake_setting: str = ""          # MIRA_LAKE as given; `lake` below resolves the default
    spark_master: str = "local[2]"
    spark_driver_memory: str = "2g"  # the JVM's heap of a session run (the executors' too in local mode)
    # MIRA_LANDING=az://<container>/<prefix>: the landing is that container, reached with `azure`;
    # an append blob modified less than `landing_settle_seconds` ago is still being written.
    landing_url: str | None = None
    azure: AzureAccess = field(default_factory=AzureAccess)
    landing_settle_seconds: int = 60
    # Mail to managers (pipelines/mail): the SMTP server (None: no mail is sent, and the mail jobs
    # say so), how to secure it, the login and the sender; the dashboards' address for links.
    smtp: "Smtp | None" = None
    dashboard_url: str = "http://127.0.0.1:8501"

    # Where each thing lives under MIRA_HOME (the README's "Where data lives"; the vault's file is
    # pipelines/vault's own, accounts.db pipelines/accounts').
    warehouse_path = property(lambda self: self.home / "warehouse.duckdb")
    dagster_home = property(lambda self: self.home / "dagster")
    gx_dir = property(lambda self: self.home / "gx")
    log_dir = property(lambda self: self.home / "logs")
    serving_dir = property(lambda self: self.home / "serving")
    backup_dir = property(lambda self: self.home / "backups")
    secrets_dir = property(lambda self: self.home / "secrets")
    # Spark's own files under MIRA_HOME: its warehouse folder (the marts as Parquet tables) and its
    # metastore (which tables exist); both only when the engine is spark.
    spark_dir = property(lambda self: self.home / "spark")
    spark_warehouse = property(lambda self: self.home / "spark" / "warehouse")

    @property
    def lake(self) -> str:
        """Where the raw layer goes as Parquet for Spark: MIRA_LAKE (a folder, or abfss://... on
        Azure), by default `lake/` under MIRA_HOME."""
        return self.lake_setting or str(self.home / "lake")

    @property
    def lake_is_local(self) -> bool:
        return "://" not in self.lake


SMTP_SECURITY = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    security: str                 # starttls | ssl (implicit TLS) | none (a relay on the same host)
    sender: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)


def _smtp() -> Smtp | None:
    host = os.environ.get("MIRA_SMTP_HOST") or None
    if host is None:
        return None
    # checked by pipelines/mail when it sends, so a typo here fails the mail job, not every command
    security = os.environ.get("MIRA_SMTP_SECURITY", "starttls").lower()
    default_port = {"ssl": 465, "none": 25}.get(security, 587)
    return Smtp(host=host, port=int(os.environ.get("MIRA_SMTP_PORT", default_port)), security=security,
                sender=os.environ.get("MIRA_SMTP_FROM") or f"mira-analytics@{host}",
                user=os.environ.get("MIRA_SMTP_USER") or None, password=os.environ.get("MIRA_SMTP_PASSWORD") or None)


def get_settings() -> Settings:
    """Read the environment now (not at import), so tests can change it per test."""
    home = Path(os.environ.get("MIRA_HOME", ".mira")).expanduser().resolve()
    raw_landing = os.environ.get("MIRA_LANDING", "").strip()
    landing_url = raw_landing if raw_landing.startswith(BLOB_SCHEME) else None
    landing = Path(raw_landing if raw_landing and not landing_url else home / "landing").expanduser().resolve()
    env = os.environ.get
    engine = (os.environ.get("MIRA_ENGINE") or "duckdb").strip().lower()
    if engine not in ENGINES:
        raise ValueError(f"MIRA_ENGINE must be one of {', '.join(ENGINES)}, not {engine!r}")
    lake = os.environ.get("MIRA_LAKE") or ""
    if lake and "://" not in lake:
        lake = str(Path(lake).expanduser().resolve())
    return Settings(
        home=home,
        landing=landing,
        landing_url=landing_url,
        azure=AzureAccess(
            connection_string=env("MIRA_AZURE_CONNECTION_STRING") or env("AZURE_STORAGE_CONNECTION_STRING") or None,
            account=env("AZURE_STORAGE_ACCOUNT") or None,
            key=env("AZURE_STORAGE_KEY") or None,
            sas_token=env("AZURE_STORAGE_SAS_TOKEN") or None,
            endpoint=env("MIRA_AZURE_BLOB_ENDPOINT") or None,
        ),
        landing_settle_seconds=int(env("MIRA_LANDING_SETTLE_SECONDS", "60")),
        memory_limit=os.environ.get("MIRA_MEMORY_LIMIT", "3GB"),
        threads=int(os.environ.get("MIRA_THREADS", "2")),
        alert_webhook=os.environ.get("MIRA_ALERT_WEBHOOK") or None,
        dagster_url=os.environ.get("MIRA_DAGSTER_URL", "http://127.0.0.1:3000").rstrip("/"),
        log_retention_days=int(os.environ.get("MIRA_LOG_RETENTION_DAYS", "90")),
        tenant_retention_days=int(os.environ.get("MIRA_TENANT_RETENTION_DAYS", "90")),
        backup_retention_days=int(os.environ.get("MIRA_BACKUP_RETENTION_DAYS", "90")),
        master_key=os.environ.get("MIRA_MASTER_KEY") or None,
        oidc_role_claim=os.environ.get("MIRA_OIDC_ROLE_CLAIM", "mira_role"),
        oidc_tenant_claim=os.environ.get("MIRA_OIDC_TENANT_CLAIM", "mira_tenant"),
        engine=engine,
        lake_setting=lake,
        spark_master=os.environ.get("MIRA_SPARK_MASTER", "local[2]"),
        spark_driver_memory=os.environ.get("MIRA_SPARK_DRIVER_MEMORY", "2g"),
        smtp=_smtp(),
        dashboard_url=os.environ.get("MIRA_DASHBOARD_URL", "http://127.0.0.1:8501").rstrip("/"),
    )


def dbt_warehouse() -> tuple[Path, str]:
    """(warehouse path, key) for dbt's plugin, from the variables pipelines.transform sets. No
    defaults on purpose: a dbt started without them fails instead of writing a stray warehouse
    (MIRA_HOME would otherwise default to `.mira` under dbt's working folder, the project)."""
    missing = [v for v in ("MIRA_HOME", DBT_WAREHOUSE_KEY_VAR) if not os.environ.get(v)]
    if missing:
        raise RuntimeError(f"dbt was started without {', '.join(missing)}: run it through the pipeline "
                           "(mira run, pipelines.transform.project.run_dbt_build)")
    return get_settings().warehouse_path, os.environ[DBT_WAREHOUSE_KEY_VAR]


@contextmanager
def environment(extra: dict[str, str]) -> Iterator[None]:
    """`extra` set in this process's environment for a moment, then every variable as it was
    (unset again if it was unset): for in-process dbt, which reads its settings from there."""
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

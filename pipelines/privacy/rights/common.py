"""What every right shares: errors, the request's session, and the controller-side audit log."""
from __future__ import annotations

import getpass
import json
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterator

import duckdb

from pipelines.serving.restrictions import WAREHOUSE_DDL as RESTRICTIONS_DDL
from pipelines.settings import Settings
from pipelines.vault import store as vault
from pipelines.vault.requests import Request

Con = duckdb.DuckDBPyConnection
Log = Callable[[str], None]
KINDS = ("export", "rectify", "erase", "restrict", "unrestrict")
EXPORTS_DIR = "exports"

AUDIT_DDL = """
CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE IF NOT EXISTS audit.privacy_requests (
    request_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    tenant_id VARCHAR NOT NULL,
    requested_by VARCHAR,
    requested_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,
    row_counts JSON,
    detail VARCHAR
);
"""


class RequestError(RuntimeError):
    """A request that cannot be made or run as asked (unknown tenant, person, field ...)."""


class RequestFailed(RuntimeError):
    """A request stopped midway; the message names the step, never personal data."""

    def __init__(self, request_id: str, message: str):
        super().__init__(f"request {request_id} failed: {message}; fix the cause and run "
                         f"`mira privacy resume {request_id}`")
        self.request_id = request_id


# One connection per request: the warehouse (default catalog) with the vault attached as `vault`.
# Vault tables are read and written by pipelines.vault.requests, warehouse tables here; every
# transaction writes one of the two files only. Files are opened once per request, not per step.
@contextmanager
def session(settings: Settings, vault_read_only: bool = False) -> Iterator[Con]:
    with vault.session(settings, vault_read_only=vault_read_only) as con:
        con.execute(AUDIT_DDL)
        con.execute(RESTRICTIONS_DDL)
        yield con


def now() -> datetime:
    return datetime.now(timezone.utc)


def who_asked(label: str | None) -> str:
    if label:
        return label
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): say so rather than guess
        return "unknown"


def audit(con: Con, req: Request) -> None:
    """The warehouse's audit row of a request: no user id, name, email, value or pseudonym."""
    counts = json.dumps(req.counts)
    n = con.execute("UPDATE audit.privacy_requests SET status = ?, finished_at = ?, row_counts = ? "
                    "WHERE request_id = ?", [req.status, req.finished_at, counts, req.request_id]).fetchone()[0]
    if not n:
        con.execute("INSERT INTO audit.privacy_requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [req.request_id, req.kind, req.tenant_id, req.requested_by, req.requested_at, req.finished_at,
                     req.status, counts, f"field={req.field}" if req.field else None])

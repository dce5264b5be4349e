"""Data-subject rights, asked by the controller (the tenant): access and portability (export),
rectification, erasure, restriction (and objection, handled as restriction).

A request is recorded in the vault (`requests`: kind, tenant, user id, field, value, progress) and
in the warehouse's audit log (`audit.privacy_requests`: who asked, when, status, rows per table;
never the personal data). Its Dagster job gets only the request id. Each step is idempotent and
its completion is recorded, so a request that fails midway completes when it is run again
(`mira privacy resume ID`, or the same command again). When a request finishes, the user id and
the new value are cleared from its vault record: the vault keeps only what a later request needs.

Erasure, ordered so that a crash at any point leaves a state a re-run completes, and never an
identity without its tombstone:
1. tombstone (vault): tenant, pseudonym, random token (secrets.token_hex). From then on ingestion
   maps that pseudonym to the token and never writes the identity again (pipelines/ingest/load.py).
2. warehouse, one transaction: every `*_pseudonym` column of every table (raw, marts, ...) and
   every JSON column (quarantined rows) re-keyed from the pseudonym to the token; raw row hashes
   recomputed, so a replayed file merges onto the re-keyed rows unchanged. Nothing is deleted
   or summed differently, so every total stays identical.
3. landing: the tenant's files purged of the person (rights_landing.py), manifest records updated
   so they are not taken for changed files.
4. vault, one transaction: identity, restriction, and the user id and values of this person's
   requests deleted; earlier exports under MIRA_HOME/exports removed.
5. the published files rebuilt (analyst snapshot, tenants' serving files), outside the session.
The token is random: neither the tenant key nor the user id derives it. Only the tombstone, inside
the vault, links the erased pseudonym to it, so that a replayed file or a restored backup lands on
the same token (no duplicate person) instead of bringing the person back.

Restriction (see restrictions.py): the vault lists restricted people, the warehouse their
pseudonyms; every published copy masks them. The warehouse's dbt marts keep them (the incremental
marts and the tool-custody matching would break if blanked in place), so lifting a restriction
needs no rebuild, only a publish.
"""
from __future__ import annotations

import csv
import getpass
import json
import os
import re
import secrets
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator

import duckdb

from pipelines.contracts import ENTITIES, load_contract
from pipelines.privacy.restrictions import RESTRICTED_SCHEMA, RESTRICTED_TABLE
from pipelines.privacy.restrictions import WAREHOUSE_DDL as RESTRICTIONS_DDL
from pipelines.privacy.rights_landing import Subject, purge_landing
from pipelines.privacy.vault import pseudonym, vault_ddl
from pipelines.settings import Settings, get_settings
from pipelines.warehouse import attach_vault, connect, open_vault

KINDS = ("export", "rectify", "erase", "restrict", "unrestrict")
RECTIFIABLE = ("first_name", "last_name", "email")
ERASE_STEPS = ("tombstone", "warehouse", "landing", "vault", "publish")   # state["done"], in order
EXPORTS_DIR = "exports"

Log = Callable[[str], None]

VAULT_DDL = """
CREATE TABLE IF NOT EXISTS vault.requests (
    request_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    tenant_id VARCHAR NOT NULL,
    user_id VARCHAR,             -- cleared when the request is done, and by the person's erasure
    user_pseudonym VARCHAR,
    field VARCHAR,
    value VARCHAR,               -- rectify: the corrected value; cleared when done
    out_dir VARCHAR,             -- export: the folder asked for (default under MIRA_HOME/exports)
    requested_by VARCHAR,
    requested_at TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL,     -- pending | running | failed | done
    state JSON,                  -- steps done, rows per table, last error (never personal data)
    finished_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS vault.restrictions (
    tenant_id VARCHAR NOT NULL,
    user_pseudonym VARCHAR NOT NULL,
    since TIMESTAMPTZ NOT NULL,
    request_id VARCHAR,
    PRIMARY KEY (tenant_id, user_pseudonym)
);
"""

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


@dataclass
class Request:
    request_id: str
    kind: str
    tenant_id: str
    user_id: str | None
    user_pseudonym: str | None
    field: str | None
    value: str | None
    out_dir: str | None
    requested_by: str | None
    requested_at: datetime
    status: str
    state: dict = field(default_factory=dict)
    finished_at: datetime | None = None

    @property
    def done_steps(self) -> list[str]:
        return self.state.setdefault("done", [])

    @property
    def counts(self) -> dict[str, int]:
        return self.state.setdefault("counts", {})

    def add(self, counts: dict[str, int]) -> None:
        for k, n in counts.items():
            self.counts[k] = self.counts.get(k, 0) + int(n)


# ---------------------------------------------------------------------------------------------
# One connection per request: the warehouse (default catalog) with the vault attached as `vault`.
# Vault tables are always written `vault.<table>`, warehouse tables unqualified; every transaction
# writes one of the two files only. Files are opened once per request, not once per step.


@contextmanager
def session(settings: Settings, vault_read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    with connect(settings=settings) as con:
        attach_vault(con, settings, read_only=vault_read_only)
        if not vault_read_only:
            ensure_vault(con)
        con.execute(AUDIT_DDL)
        con.execute(RESTRICTIONS_DDL)
        yield con


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_vault(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(vault_ddl("vault"))
    con.execute(VAULT_DDL)


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str, catalog: str | None = None) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = coalesce(?, current_database()) "
        "AND schema_name = ? AND table_name = ?", [catalog, schema, table]).fetchone()[0])


def pseudonym_columns(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] | None = None) -> list[tuple[str, str, str]]:
    """(schema, table, column) of every `*_pseudonym` column of a base table in the default catalog
    (the warehouse): found by name, so a table or mart added later is covered without a change here."""
    rows = con.execute("""
        SELECT c.schema_name, c.table_name, c.column_name FROM duckdb_columns() c
        JOIN duckdb_tables() t USING (database_name, schema_name, table_name)
        WHERE c.database_name = current_database() AND ends_with(c.column_name, '_pseudonym')
        ORDER BY 1, 2, 3""").fetchall()
    return [r for r in rows if schemas is None or r[0] in schemas]


def _json_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """JSON columns of base tables (quarantined rows keep their pseudonym inside the payload)."""
    return con.execute("""
        SELECT c.schema_name, c.table_name, c.column_name FROM duckdb_columns() c
        JOIN duckdb_tables() t USING (database_name, schema_name, table_name)
        WHERE c.database_name = current_database() AND c.data_type = 'JSON' ORDER BY 1, 2, 3""").fetchall()


def _has_column(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ? AND column_name = ?", [schema, table, column]).fetchone()[0])


def _tenant_key(con: duckdb.DuckDBPyConnection, tenant_id: str) -> bytes:
    row = con.execute("SELECT pseudonym_key FROM vault.tenant_keys WHERE tenant_id = ?", [tenant_id]).fetchone()
    if row is None:
        raise RequestError(f"tenant {tenant_id} is not known: nothing of it has been ingested")
    return bytes(row[0])


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _requested_by(label: str | None) -> str:
    if label:
        return label
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): say so rather than guess
        return "unknown"


# ---------------------------------------------------------------------------------------------
# Requests: record, load, save, audit


def _validate(kind: str, tenant_id: str, user_id: str, field_name: str | None, value: str | None) -> None:
    if kind not in KINDS:
        raise RequestError(f"unknown request kind {kind!r}; one of {', '.join(KINDS)}")
    if not tenant_id or not user_id:
        raise RequestError("a tenant and a user id are required")
    if kind == "rectify":
        if field_name not in RECTIFIABLE:
            raise RequestError(f"field {field_name!r} cannot be rectified; one of {', '.join(RECTIFIABLE)}")
        if value is None or not value.strip():
            raise RequestError(f"the new {field_name} is empty")
        if field_name == "email":
            pattern = load_contract("users").field("email").pattern
            if pattern and not re.fullmatch(pattern, value):
                raise RequestError("the new email is not an email address")


def submit(kind: str, tenant_id: str, user_id: str, *, field_name: str | None = None, value: str | None = None,
           out_dir: Path | str | None = None, requested_by: str | None = None,
           settings: Settings | None = None) -> str:
    """Record a request in the vault (and the audit log) and return its id; nothing runs yet.

    An unfinished request of the same kind for the same person is returned instead of a new one
    (re-running a command resumes it). Raises RequestError when it cannot be done as asked."""
    settings = settings or get_settings()
    _validate(kind, tenant_id, user_id, field_name, value)
    if not settings.vault_path.exists():
        raise RequestError("there is no vault yet: nothing has been ingested")
    out = str(Path(out_dir).expanduser().resolve()) if out_dir else None
    with session(settings) as con:
        p = pseudonym(_tenant_key(con, tenant_id), user_id)
        open_request = con.execute("""
            SELECT request_id FROM vault.requests
            WHERE kind = ? AND tenant_id = ? AND user_pseudonym = ? AND status <> 'done'
              AND coalesce(field, '') = coalesce(?, '')
            ORDER BY requested_at DESC LIMIT 1""", [kind, tenant_id, p, field_name]).fetchone()
        if open_request:
            con.execute("UPDATE vault.requests SET user_id = ?, value = coalesce(?, value), "
                        "out_dir = coalesce(?, out_dir) WHERE request_id = ?", [user_id, value, out, open_request[0]])
            return open_request[0]
        has_identity = con.execute("SELECT count(*) FROM vault.identities WHERE tenant_id = ? AND user_id = ?",
                                   [tenant_id, user_id]).fetchone()[0] > 0
        erased = con.execute("SELECT count(*) FROM vault.tombstones WHERE tenant_id = ? AND user_pseudonym = ?",
                             [tenant_id, p]).fetchone()[0] > 0
        restricted = con.execute("SELECT since FROM vault.restrictions WHERE tenant_id = ? AND user_pseudonym = ?",
                                 [tenant_id, p]).fetchone()
        held = has_identity or _rows_held(con, p) > 0
        who = f"user {user_id} of tenant {tenant_id}"
        if kind == "erase" and not (held or erased):
            raise RequestError(f"no data is held on {who}: nothing to erase")
        if kind in ("export", "restrict") and not held:
            raise RequestError(f"no data is held on {who}" + (" (erased)" if erased else ""))
        if kind == "rectify" and not has_identity:
            raise RequestError(f"no identity is held on {who}" + (" (erased)" if erased else ""))
        if kind == "restrict" and restricted:
            raise RequestError(f"{who} is already restricted (since {restricted[0]:%Y-%m-%d})")
        if kind == "unrestrict" and not restricted:
            raise RequestError(f"{who} is not restricted")
        req = Request(uuid.uuid4().hex, kind, tenant_id, user_id, p, field_name, value, out,
                      _requested_by(requested_by), _now(), "pending")
        con.execute("INSERT INTO vault.requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, NULL)",
                    [req.request_id, kind, tenant_id, user_id, p, field_name, value, out, req.requested_by,
                     req.requested_at, json.dumps({})])
        _audit(con, req)
    return req.request_id


_REQUEST_COLUMNS = ("request_id, kind, tenant_id, user_id, user_pseudonym, field, value, out_dir, requested_by, "
                    "requested_at, status, state, finished_at")


def _request_from(row) -> Request:
    return Request(*row[:11], state=json.loads(row[11]) if row[11] else {}, finished_at=row[12])


def load_request(request_id: str, settings: Settings | None = None) -> Request:
    """A recorded request, read from the vault alone (read-only)."""
    settings = settings or get_settings()
    if not settings.vault_path.exists():
        raise RequestError(f"no request {request_id}: there is no vault")
    with open_vault(read_only=True, settings=settings) as v:
        row = None
        if _table_exists(v, "main", "requests"):
            row = v.execute(f"SELECT {_REQUEST_COLUMNS} FROM vault.requests WHERE request_id = ?", [request_id]).fetchone()
    if row is None:
        raise RequestError(f"no request {request_id}")
    return _request_from(row)


def _load(con: duckdb.DuckDBPyConnection, request_id: str) -> Request:
    row = con.execute(f"SELECT {_REQUEST_COLUMNS} FROM vault.requests WHERE request_id = ?", [request_id]).fetchone()
    if row is None:
        raise RequestError(f"no request {request_id}")
    return _request_from(row)


def _save(con: duckdb.DuckDBPyConnection, req: Request, status: str | None = None, clear_personal: bool = False) -> None:
    if status:
        req.status = status
    if status == "done":
        req.finished_at = _now()
    sets = "status = ?, state = ?, finished_at = ?" + (", user_id = NULL, value = NULL" if clear_personal else "")
    con.execute(f"UPDATE vault.requests SET {sets} WHERE request_id = ?",
                [req.status, json.dumps(req.state), req.finished_at, req.request_id])


def _audit(con: duckdb.DuckDBPyConnection, req: Request) -> None:
    """The warehouse's audit row of a request: no user id, name, email, value or pseudonym."""
    counts = json.dumps(req.counts)
    n = con.execute("UPDATE audit.privacy_requests SET status = ?, finished_at = ?, row_counts = ? "
                    "WHERE request_id = ?", [req.status, req.finished_at, counts, req.request_id]).fetchone()[0]
    if not n:
        con.execute("INSERT INTO audit.privacy_requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [req.request_id, req.kind, req.tenant_id, req.requested_by, req.requested_at, req.finished_at,
                     req.status, counts, f"field={req.field}" if req.field else None])


def _scrub(message: str, req: Request, con: duckdb.DuckDBPyConnection | None) -> str:
    """An error message without the request's personal values (it goes to Dagster's event log)."""
    secrets_ = [req.user_id, req.value, req.user_pseudonym]
    try:
        identity = (_identity(con, req.tenant_id, req.user_pseudonym) if con is not None else None) or {}
        secrets_ += [identity.get("first_name"), identity.get("last_name"), identity.get("email")]
    except Exception:  # the vault itself may be what failed
        pass
    for secret in sorted((s for s in secrets_ if s), key=len, reverse=True):
        message = message.replace(secret, "[redacted]")
    return message


def _failed(settings: Settings, req: Request, exc: Exception, con: duckdb.DuckDBPyConnection | None) -> RequestFailed:
    step = req.state.get("step", req.kind)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    message = _scrub(f"{req.kind}, step {step}: {type(exc).__name__}: {first}", req, con)
    req.state["error"] = message
    req.status = "failed"
    try:
        if con is not None:
            _save(con, req)
            _audit(con, req)
        else:
            with session(settings) as fresh:
                _save(fresh, req)
                _audit(fresh, req)
    except Exception:  # recording the failure failed too: the request stays resumable as it is
        pass
    return RequestFailed(req.request_id, message)


def execute(request_id: str, settings: Settings | None = None, log: Log = lambda m: None) -> dict[str, int]:
    """Run (or finish) a recorded request; returns rows per table. What the Dagster jobs call.

    On failure the request is marked failed and RequestFailed is raised with a message that names
    the step and carries no personal data (it ends up in Dagster's event log)."""
    settings = settings or get_settings()
    failure = None
    with session(settings) as con:
        req = _load(con, request_id)
        if req.status == "done":
            log(f"request {request_id} ({req.kind}) is already done")
            return req.counts
        req.state.pop("error", None)
        _save(con, req, "running")
        _audit(con, req)
        log(f"request {request_id}: {req.kind} for tenant {req.tenant_id}")
        try:
            publish = HANDLERS[req.kind](req, con, settings, log)
        except Exception as exc:  # recorded, then re-raised without personal data
            failure = _failed(settings, req, exc, con)
    if failure:
        raise failure from None
    if publish:
        req.state["step"] = "publish"
        try:
            _republish(settings, log)
        except Exception as exc:
            raise _failed(settings, req, exc, None) from None
        req.done_steps.append("publish")
    with session(settings) as con:
        _save(con, req, "done", clear_personal=True)
        _audit(con, req)
    log(f"request {request_id} done: " + ", ".join(f"{k}={v}" for k, v in sorted(req.counts.items())))
    return req.counts


# ---------------------------------------------------------------------------------------------
# Reading what is held


def _rows_held(con: duckdb.DuckDBPyConnection, p: str) -> int:
    return sum(con.execute(f"SELECT count(*) FROM {_ident(s)}.{_ident(t)} WHERE {_ident(c)} = ?", [p]).fetchone()[0]
               for s, t, c in pseudonym_columns(con, schemas=("raw",)))


def _identity(con: duckdb.DuckDBPyConnection, tenant_id: str, p: str) -> dict | None:
    cur = con.execute("SELECT tenant_id, user_id, first_name, last_name, email, updated_at FROM vault.identities "
                      "WHERE tenant_id = ? AND user_pseudonym = ?", [tenant_id, p])
    row = cur.fetchone()
    if row is None:
        return None
    identity = dict(zip([d[0] for d in cur.description], row))
    since = con.execute("SELECT since FROM vault.restrictions WHERE tenant_id = ? AND user_pseudonym = ?",
                        [tenant_id, p]).fetchone()
    identity["restricted_since"] = since[0] if since else None
    return identity


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return value


def _held_rows(con: duckdb.DuckDBPyConnection, tenant_id: str, p: str, user_id: str) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every warehouse row carrying the pseudonym, with the pseudonym shown as the user id (the
    controller knows the person by it; the pseudonym is an internal key) and internals dropped."""
    out: dict[str, tuple[list[str], list[tuple]]] = {}
    by_table: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in pseudonym_columns(con):
        by_table.setdefault((schema, table), []).append(column)
    for (schema, table), columns in by_table.items():
        ref = f"{_ident(schema)}.{_ident(table)}"
        where = " OR ".join(f"{_ident(c)} = ?" for c in columns)
        drop = " EXCLUDE (_row_hash)" if _has_column(con, schema, table, "_row_hash") else ""
        cur = con.execute(f"SELECT *{drop} FROM {ref} WHERE {where}", [p] * len(columns))
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
        if not rows:
            continue
        idx = {i for i, n in enumerate(names) if n in columns}
        names = [n.removesuffix("_pseudonym") + "_id" if i in idx else n for i, n in enumerate(names)]
        rows = [tuple(user_id if (i in idx and v == p) else v for i, v in enumerate(r)) for r in rows]
        out[f"{schema}.{table}"] = (names, rows)
    for schema, table, column in _json_columns(con):
        ref = f"{_ident(schema)}.{_ident(table)}"
        tenant = " AND tenant_id = ?" if _has_column(con, schema, table, "tenant_id") else ""
        cur = con.execute(f"SELECT * FROM {ref} WHERE contains(CAST({_ident(column)} AS VARCHAR), ?){tenant}",
                          [p, tenant_id] if tenant else [p])
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
        if not rows:
            continue
        j = names.index(column)
        rows = [tuple(v.replace(p, user_id) if i == j and isinstance(v, str) else v for i, v in enumerate(r))
                for r in rows]
        key = f"{schema}.{table}"
        if key in out:  # a table with both kinds of column: keep each row once
            seen = set(out[key][1])
            rows = out[key][1] + [r for r in rows if r not in seen]
        out[key] = (names, rows)
    return out


def _private_dir(path: Path) -> Path:
    """The export folder, created owner-only. A folder that already exists (asked for with --out)
    keeps its mode: it may be shared, like /tmp; the files themselves are always owner-only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700)
        os.chmod(path, 0o700)   # whatever the umask
    return path


def _private_write(path: Path, write: Callable) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        write(fh)


def _write_table(folder: Path, name: str, names: list[str], rows: list[tuple]) -> None:
    def as_csv(fh):
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(names)
        w.writerows([["" if v is None else _jsonable(v) for v in r] for r in rows])

    _private_write(folder / f"{name}.csv", as_csv)
    records = [{n: _jsonable(v) for n, v in zip(names, r)} for r in rows]
    _private_write(folder / f"{name}.json", lambda fh: json.dump(records, fh, ensure_ascii=False, indent=1))


def export_dir(settings: Settings, req: Request) -> Path:
    return Path(req.out_dir) if req.out_dir else settings.home / EXPORTS_DIR / req.request_id


# ---------------------------------------------------------------------------------------------
# The rights. Each handler runs inside the request's session and returns whether the published
# snapshots must be rebuilt afterwards (done by execute, once the session is closed).

Con = duckdb.DuckDBPyConnection


def _export(req: Request, con: Con, settings: Settings, log: Log) -> bool:
    if not req.user_id:
        raise RequestError("the request no longer names a person (erased meanwhile)")
    folder = _private_dir(export_dir(settings, req))
    req.state["step"] = "collect"
    identity = _identity(con, req.tenant_id, req.user_pseudonym)
    tables = _held_rows(con, req.tenant_id, req.user_pseudonym, req.user_id)
    req.state["step"] = "write"
    if identity:
        _write_table(folder, "identity", list(identity), [tuple(identity.values())])
    for name, (names, rows) in tables.items():
        _write_table(folder, name, names, rows)
    document = {
        "request_id": req.request_id, "tenant_id": req.tenant_id, "user_id": req.user_id,
        "generated_at": _now().isoformat(),
        "identity": {k: _jsonable(v) for k, v in identity.items()} if identity else None,
        "tables": {name: [{n: _jsonable(v) for n, v in zip(names, r)} for r in rows]
                   for name, (names, rows) in tables.items()},
    }
    _private_write(folder / "export.json", lambda fh: json.dump(document, fh, ensure_ascii=False, indent=1))
    req.counts.clear()
    req.add({"vault.identities": 1 if identity else 0, **{n: len(rows) for n, (_, rows) in tables.items()}})
    req.state["files"] = sorted(p.name for p in folder.iterdir())
    log(f"export written: {len(req.state['files'])} files, {sum(len(r) for _, r in tables.values())} rows")
    return False


def _rectify(req: Request, con: Con, settings: Settings, log: Log) -> bool:
    if req.field not in RECTIFIABLE:   # the column name is spliced below: only the known three
        raise RequestError(f"field {req.field!r} cannot be rectified")
    n = con.execute(f"UPDATE vault.identities SET {req.field} = ?, updated_at = now() "
                    "WHERE tenant_id = ? AND user_pseudonym = ?",
                    [req.value, req.tenant_id, req.user_pseudonym]).fetchone()[0]
    if not n:
        raise RequestError("no identity is held on this person (erased meanwhile?)")
    req.counts.clear()
    req.add({"vault.identities": n})
    log(f"rectified {req.field} in the vault")
    return False


def _marts_rows(con: Con, p: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for schema, table, column in pseudonym_columns(con, schemas=("marts",)):
        n = con.execute(f"SELECT count(*) FROM {_ident(schema)}.{_ident(table)} WHERE {_ident(column)} = ?",
                        [p]).fetchone()[0]
        if n:
            out[f"{schema}.{table}"] = out.get(f"{schema}.{table}", 0) + n
    return out


def _restrict(req: Request, con: Con, settings: Settings, log: Log) -> bool:
    row = con.execute("SELECT since FROM vault.restrictions WHERE tenant_id = ? AND user_pseudonym = ?",
                      [req.tenant_id, req.user_pseudonym]).fetchone()
    since = row[0] if row else _now()
    if not row:
        con.execute("INSERT INTO vault.restrictions VALUES (?, ?, ?, ?)",
                    [req.tenant_id, req.user_pseudonym, since, req.request_id])
    req.state["step"] = "warehouse"
    con.execute(f"DELETE FROM {RESTRICTED_TABLE} WHERE tenant_id = ? AND user_pseudonym = ?",
                [req.tenant_id, req.user_pseudonym])
    con.execute(f"INSERT INTO {RESTRICTED_TABLE} VALUES (?, ?, ?)", [req.tenant_id, req.user_pseudonym, since])
    req.counts.clear()
    req.add({RESTRICTED_TABLE: 1, **{f"{k} (masked)": n for k, n in _marts_rows(con, req.user_pseudonym).items()}})
    return True


def _unrestrict(req: Request, con: Con, settings: Settings, log: Log) -> bool:
    con.execute("DELETE FROM vault.restrictions WHERE tenant_id = ? AND user_pseudonym = ?",
                [req.tenant_id, req.user_pseudonym])
    req.state["step"] = "warehouse"
    n = con.execute(f"DELETE FROM {RESTRICTED_TABLE} WHERE tenant_id = ? AND user_pseudonym = ?",
                    [req.tenant_id, req.user_pseudonym]).fetchone()[0]
    req.counts.clear()
    req.add({RESTRICTED_TABLE: n, **{f"{k} (unmasked)": m for k, m in _marts_rows(con, req.user_pseudonym).items()}})
    return True


def _republish(settings: Settings, log: Log) -> bool:
    """Publish the analyst snapshot (and the tenants' serving files, where they exist) again, if
    the warehouse has marts. Opens its own connections: call it with no session open."""
    if not settings.warehouse_path.exists():
        return False
    with connect(read_only=True, settings=settings) as con:
        has_marts = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                                "AND schema_name = 'marts'").fetchone()[0]
    if not has_marts:
        return False
    from pipelines.publish import publish_analyst_snapshot  # Dagster asset module: imported when needed

    publish_analyst_snapshot(settings)
    log("analyst snapshot republished")
    try:
        from pipelines.serving import publish_tenants   # the dashboards' per-tenant files
    except ImportError:  # pragma: no cover  (a checkout without serving files)
        return True
    if (settings.serving_dir / "tenants").is_dir():
        publish_tenants(settings)
        log("tenant serving files republished")
    return True


def _rekey(con: Con, pairs: list[tuple[str, str, str]]) -> dict[str, int]:
    """Re-key (tenant, pseudonym, token) in every base table of the warehouse, in one transaction.

    A restriction of an erased person is dropped (an erasure supersedes it). Raw tables get their
    row hash recomputed with the token, as ingestion would compute it, so a replayed file whose
    pseudonym maps to the token merges unchanged."""
    if not pairs:
        return {}
    hashed = {e: [n for n, _, _ in load_contract(e).warehouse_columns] for e in ENTITIES}
    counts: dict[str, int] = {}
    con.execute("CREATE OR REPLACE TEMP TABLE _rekey (tenant_id VARCHAR, user_pseudonym VARCHAR, token VARCHAR)")
    con.executemany("INSERT INTO _rekey VALUES (?, ?, ?)", pairs)
    targets = [c for c in pseudonym_columns(con) if c[0] != RESTRICTED_SCHEMA]
    jsons = _json_columns(con)
    tenanted = {(s, t) for s, t, _ in targets + jsons if _has_column(con, s, t, "tenant_id")}
    con.execute("BEGIN TRANSACTION")
    try:
        n = con.execute(f"DELETE FROM {RESTRICTED_TABLE} AS t WHERE EXISTS (SELECT 1 FROM _rekey m "
                        "WHERE m.tenant_id = t.tenant_id AND m.user_pseudonym = t.user_pseudonym)").fetchone()[0]
        if n:
            counts[RESTRICTED_TABLE] = n
        for schema, table, column in targets:
            ref = f"{_ident(schema)}.{_ident(table)}"
            extra = ""
            if schema == "raw" and table in hashed and _has_column(con, schema, table, "_row_hash"):
                parts = ", ".join("m.token" if n == column else f"t.{_ident(n)}" for n in hashed[table])
                extra = f", _row_hash = hash({parts})"
            same_tenant = " AND t.tenant_id = m.tenant_id" if (schema, table) in tenanted else ""
            n = con.execute(f"UPDATE {ref} AS t SET {_ident(column)} = m.token{extra} FROM _rekey m "
                            f"WHERE t.{_ident(column)} = m.user_pseudonym{same_tenant}").fetchone()[0]
            if n:
                counts[f"{schema}.{table}"] = counts.get(f"{schema}.{table}", 0) + n
        for schema, table, column in jsons:
            ref = f"{_ident(schema)}.{_ident(table)}"
            c = _ident(column)
            same_tenant = " AND t.tenant_id = m.tenant_id" if (schema, table) in tenanted else ""
            n = con.execute(f"UPDATE {ref} AS t SET {c} = CAST(replace(CAST(t.{c} AS VARCHAR), m.user_pseudonym, "
                            f"m.token) AS JSON) FROM _rekey m "
                            f"WHERE contains(CAST(t.{c} AS VARCHAR), m.user_pseudonym){same_tenant}").fetchone()[0]
            if n:
                counts[f"{schema}.{table}"] = counts.get(f"{schema}.{table}", 0) + n
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("DROP TABLE _rekey")
    return counts


def _update_manifest(con: Con, rewritten) -> int:
    """Record the purged files' new size, mtime and hash, so ingestion does not take them for changed."""
    if not rewritten or not _table_exists(con, "audit", "files"):
        return 0
    con.execute("BEGIN TRANSACTION")
    try:
        n = 0
        for r in rewritten:
            n += con.execute("UPDATE audit.files SET size_bytes = ?, mtime_ns = ?, content_hash = ? "
                             "WHERE file_path = ?", [r.size, r.mtime_ns, r.content_hash, r.rel]).fetchone()[0]
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return n


def _erase(req: Request, con: Con, settings: Settings, log: Log) -> bool:
    tenant, p = req.tenant_id, req.user_pseudonym
    done = req.done_steps

    def finished(step: str) -> None:
        done.append(step)
        _save(con, req)

    if "tombstone" not in done:
        req.state["step"] = "tombstone"
        if not con.execute("SELECT count(*) FROM vault.tombstones WHERE tenant_id = ? AND user_pseudonym = ?",
                           [tenant, p]).fetchone()[0]:
            con.execute("INSERT INTO vault.tombstones (tenant_id, user_pseudonym, token, erased_at) "
                        "VALUES (?, ?, ?, now())", [tenant, p, secrets.token_hex(32)])
        finished("tombstone")
        log("tombstone recorded")
    row = con.execute("SELECT token FROM vault.tombstones WHERE tenant_id = ? AND user_pseudonym = ?",
                      [tenant, p]).fetchone()
    if row is None:
        raise RequestError("the erasure has no tombstone (its first step did not finish)")
    token = row[0]

    if "warehouse" not in done:
        req.state["step"] = "warehouse"
        counts = _rekey(con, [(tenant, p, token)])
        req.add(counts)
        finished("warehouse")
        log(f"warehouse: {sum(counts.values())} rows re-keyed in {len(counts)} tables")

    if "landing" not in done:
        req.state["step"] = "landing"
        if req.user_id:
            identity = _identity(con, tenant, p) or {}
            subject = Subject(req.user_id, token).with_values(
                [identity.get("first_name")], [identity.get("last_name")], [identity.get("email")])
            rewritten = purge_landing(settings.landing, tenant, subject)
            _update_manifest(con, rewritten)
            req.add({"landing.files": len(rewritten), "landing.rows_dropped": sum(r.rows_dropped for r in rewritten),
                     "landing.values_replaced": sum(r.values_replaced for r in rewritten)})
            log(f"landing: {len(rewritten)} files purged")
        finished("landing")

    if "vault" not in done:
        req.state["step"] = "vault"
        con.execute("BEGIN TRANSACTION")
        try:
            n = con.execute("DELETE FROM vault.identities WHERE tenant_id = ? AND (user_pseudonym = ? OR user_id = ?)",
                            [tenant, p, req.user_id]).fetchone()[0]
            r = con.execute("DELETE FROM vault.restrictions WHERE tenant_id = ? AND user_pseudonym = ?",
                            [tenant, p]).fetchone()[0]
            exports = con.execute("SELECT request_id FROM vault.requests WHERE kind = 'export' AND tenant_id = ? "
                                  "AND user_pseudonym = ? AND out_dir IS NULL", [tenant, p]).fetchall()
            con.execute("UPDATE vault.requests SET user_id = NULL, value = NULL WHERE tenant_id = ? "
                        "AND user_pseudonym = ?", [tenant, p])
            req.user_id = req.value = None
            req.add({"vault.identities": n, "vault.restrictions": r})
            done.append("vault")
            _save(con, req)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        removed = 0
        for (rid,) in exports:   # subject-access exports left under MIRA_HOME: the person's data too
            folder = settings.home / EXPORTS_DIR / rid
            if folder.is_dir():
                shutil.rmtree(folder)
                removed += 1
        if removed:
            req.add({"exports.removed": removed})
        log(f"vault: identity removed ({n})")
    return "publish" not in done


HANDLERS: dict[str, Callable[[Request, Con, Settings, Log], bool]] = {
    "export": _export, "rectify": _rectify, "erase": _erase, "restrict": _restrict, "unrestrict": _unrestrict,
}


# ---------------------------------------------------------------------------------------------
# Keeping erasures and restrictions true after restores and on every build


def _tombstones(con: Con) -> list[tuple[str, str, str]]:
    if not _table_exists(con, "main", "tombstones", catalog="vault"):
        return []
    return con.execute("SELECT tenant_id, user_pseudonym, token FROM vault.tombstones ORDER BY ALL").fetchall()


def _sync_restricted_list(con: Con) -> tuple[int, bool]:
    """privacy.restricted_subjects made equal to the vault's restrictions; (how many, changed?)."""
    restricted: list[tuple] = []
    if _table_exists(con, "main", "restrictions", catalog="vault"):
        restricted = con.execute("SELECT tenant_id, user_pseudonym, since FROM vault.restrictions r "
                                 "WHERE NOT EXISTS (SELECT 1 FROM vault.tombstones t WHERE "
                                 "t.tenant_id = r.tenant_id AND t.user_pseudonym = r.user_pseudonym) "
                                 "ORDER BY ALL").fetchall()
    current = con.execute(f"SELECT tenant_id, user_pseudonym, since FROM {RESTRICTED_TABLE} ORDER BY ALL").fetchall()
    if current == restricted:
        return len(restricted), False
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {RESTRICTED_TABLE}")
        if restricted:
            con.executemany(f"INSERT INTO {RESTRICTED_TABLE} VALUES (?, ?, ?)", restricted)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(restricted), True


def reapply_tombstones(settings: Settings | None = None) -> dict[str, int]:
    """Make every erasure (and restriction) true again, after `mira restore` or at any time:
    tombstoned pseudonyms still in the warehouse are re-keyed to their tokens, tombstoned
    identities and restrictions leave the vault, the warehouse's list of restricted pseudonyms
    follows the vault, and the published snapshots are rebuilt if a mart or that list changed.
    Idempotent. Returns rows changed per table."""
    settings = settings or get_settings()
    if not settings.vault_path.exists():
        return {}
    with session(settings) as con:
        stones = _tombstones(con)
        counts = _rekey(con, stones)
        if stones:
            match = ("EXISTS (SELECT 1 FROM vault.tombstones s WHERE s.tenant_id = i.tenant_id "
                     "AND i.user_pseudonym IN (s.user_pseudonym, s.token))")
            con.execute("BEGIN TRANSACTION")
            try:
                n = con.execute(f"DELETE FROM vault.identities AS i WHERE {match}").fetchone()[0]
                r = con.execute(f"DELETE FROM vault.restrictions AS i WHERE {match}").fetchone()[0]
                q = con.execute("UPDATE vault.requests AS i SET user_id = NULL, value = NULL WHERE "
                                f"(user_id IS NOT NULL OR value IS NOT NULL) AND status = 'done' AND {match}").fetchone()[0]
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            counts.update({k: v for k, v in (("vault.identities", n), ("vault.restrictions", r),
                                             ("vault.requests", q)) if v})
        _, restricted_changed = _sync_restricted_list(con)
        if restricted_changed:
            counts[RESTRICTED_TABLE + " (synced)"] = 1
    if (restricted_changed or any(k.startswith("marts.") for k in counts)) and _republish(settings, lambda m: None):
        counts["serving.analyst"] = 1
    return counts


def sync_restrictions(settings: Settings | None = None) -> dict[str, int]:
    """What the `privacy/restrictions` asset does after each build: the warehouse's list of
    restricted pseudonyms made equal to the vault's, and any tombstoned pseudonym a build brought
    back re-keyed. Reads the vault (attached read-only), writes the warehouse only."""
    settings = settings or get_settings()
    if not settings.vault_path.exists():
        with connect(settings=settings) as con:
            con.execute(RESTRICTIONS_DDL)
        return {"restricted_subjects": 0, "tombstones": 0, "rows_rekeyed": 0}
    with session(settings, vault_read_only=True) as con:
        restricted, _ = _sync_restricted_list(con)
        stones = _tombstones(con)
        rekeyed = _rekey(con, stones)
    return {"restricted_subjects": restricted, "tombstones": len(stones), "rows_rekeyed": sum(rekeyed.values())}


def audit_log(settings: Settings | None = None, limit: int = 50) -> list[dict]:
    """The latest requests from the warehouse's audit log (no personal data in it)."""
    settings = settings or get_settings()
    if not settings.warehouse_path.exists():
        return []
    with connect(read_only=True, settings=settings) as con:
        if not _table_exists(con, "audit", "privacy_requests"):
            return []
        cur = con.execute("SELECT * FROM audit.privacy_requests ORDER BY requested_at DESC LIMIT ?", [limit])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

"""The vault's side of the data-subject rights: request records, identities, restrictions and
tombstones, read and written for pipelines/privacy/rights (which orchestrates the requests and
does the warehouse's side).

A request is recorded in the vault (`requests`: kind, tenant, user id, field, value, progress);
its Dagster job carries only the request id. When it finishes, the user id and the new value are
cleared from the record: the vault keeps only what a later request needs. Every function takes a
connection from store.session() or store.open_vault(), with the vault attached as `vault`.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb

from pipelines.settings import Settings, get_settings
from pipelines.vault import store

Con = duckdb.DuckDBPyConnection
RECTIFIABLE = ("first_name", "last_name", "email")
_COLUMNS = ("request_id, kind, tenant_id, user_id, user_pseudonym, field, value, out_dir, requested_by, "
            "requested_at, status, state, finished_at")


class UnknownRequest(LookupError):
    pass


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


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _from_row(row) -> Request:
    return Request(*row[:11], state=json.loads(row[11]) if row[11] else {}, finished_at=row[12])


# --- request records ----------------------------------------------------------------------------

def record(con: Con, req: Request) -> None:
    con.execute("INSERT INTO vault.requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                [req.request_id, req.kind, req.tenant_id, req.user_id, req.user_pseudonym, req.field, req.value,
                 req.out_dir, req.requested_by, req.requested_at, req.status, json.dumps(req.state)])


def open_request(con: Con, kind: str, tenant_id: str, p: str, field_name: str | None) -> str | None:
    """The latest unfinished request of this kind for this person (and field), if any."""
    row = con.execute("""
        SELECT request_id FROM vault.requests
        WHERE kind = ? AND tenant_id = ? AND user_pseudonym = ? AND status <> 'done'
          AND coalesce(field, '') = coalesce(?, '')
        ORDER BY requested_at DESC LIMIT 1""", [kind, tenant_id, p, field_name]).fetchone()
    return row[0] if row else None


def refresh_request(con: Con, request_id: str, user_id: str, value: str | None, out_dir: str | None) -> None:
    """A request asked again: it names the person again (and the new value or folder, if given)."""
    con.execute("UPDATE vault.requests SET user_id = ?, value = coalesce(?, value), "
                "out_dir = coalesce(?, out_dir) WHERE request_id = ?", [user_id, value, out_dir, request_id])


def load(con: Con, request_id: str) -> Request:
    row = con.execute(f"SELECT {_COLUMNS} FROM vault.requests WHERE request_id = ?", [request_id]).fetchone()
    if row is None:
        raise UnknownRequest(f"no request {request_id}")
    return _from_row(row)


def load_request(request_id: str, settings: Settings | None = None) -> Request:
    """A recorded request, read from the vault alone (read-only)."""
    settings = settings or get_settings()
    if not store.exists(settings):
        raise UnknownRequest(f"no request {request_id}: there is no vault")
    with store.open_vault(read_only=True, settings=settings) as v:
        if not store.has_table(v, "requests"):
            raise UnknownRequest(f"no request {request_id}")
        return load(v, request_id)


def save(con: Con, req: Request, status: str | None = None, clear_personal: bool = False) -> None:
    if status:
        req.status = status
    if status == "done":
        req.finished_at = _now()
    sets = "status = ?, state = ?, finished_at = ?" + (", user_id = NULL, value = NULL" if clear_personal else "")
    con.execute(f"UPDATE vault.requests SET {sets} WHERE request_id = ?",
                [req.status, json.dumps(req.state), req.finished_at, req.request_id])


def request_ids_of_tenants(tenants: list[str], settings: Settings | None = None) -> list[str]:
    """Ids of every request made for these tenants (their export folders are named by them)."""
    settings = settings or get_settings()
    if not store.exists(settings):
        return []
    with store.open_vault(read_only=True, settings=settings) as v:
        if not store.has_table(v, "requests"):
            return []
        return [r for (r,) in v.execute("SELECT request_id FROM vault.requests WHERE list_contains(?, tenant_id)",
                                        [tenants]).fetchall()]


# --- what is held on a person -------------------------------------------------------------------

def has_identity(con: Con, tenant_id: str, user_id: str) -> bool:
    return con.execute("SELECT count(*) FROM vault.identities WHERE tenant_id = ? AND user_id = ?",
                       [tenant_id, user_id]).fetchone()[0] > 0


def is_erased(con: Con, tenant_id: str, p: str) -> bool:
    return con.execute("SELECT count(*) FROM vault.tombstones WHERE tenant_id = ? AND user_pseudonym = ?",
                       [tenant_id, p]).fetchone()[0] > 0


def restricted_since(con: Con, tenant_id: str, p: str) -> datetime | None:
    row = con.execute("SELECT since FROM vault.restrictions WHERE tenant_id = ? AND user_pseudonym = ?",
                      [tenant_id, p]).fetchone()
    return row[0] if row else None


def identity(con: Con, tenant_id: str, p: str) -> dict | None:
    """The person's identity as the vault holds it, with the date of any restriction."""
    cur = con.execute("SELECT tenant_id, user_id, first_name, last_name, email, updated_at FROM vault.identities "
                      "WHERE tenant_id = ? AND user_pseudonym = ?", [tenant_id, p])
    row = cur.fetchone()
    if row is None:
        return None
    found = dict(zip([d[0] for d in cur.description], row))
    found["restricted_since"] = restricted_since(con, tenant_id, p)
    return found


# --- changes ----------------------------------------------------------------------------------------

def rectify(con: Con, tenant_id: str, p: str, field_name: str, value: str) -> int:
    """One identity field corrected; returns rows changed (0: no identity held)."""
    if field_name not in RECTIFIABLE:   # the column name is spliced below: only the known three
        raise ValueError(f"field {field_name!r} cannot be rectified")
    return con.execute(f"UPDATE vault.identities SET {field_name} = ?, updated_at = now() "
                       "WHERE tenant_id = ? AND user_pseudonym = ?", [value, tenant_id, p]).fetchone()[0]


def restrict(con: Con, tenant_id: str, p: str, request_id: str) -> datetime:
    """Record a restriction (kept if there is one already); returns since when it holds."""
    since = restricted_since(con, tenant_id, p)
    if since is None:
        since = _now()
        con.execute("INSERT INTO vault.restrictions VALUES (?, ?, ?, ?)", [tenant_id, p, since, request_id])
    return since


def unrestrict(con: Con, tenant_id: str, p: str) -> None:
    con.execute("DELETE FROM vault.restrictions WHERE tenant_id = ? AND user_pseudonym = ?", [tenant_id, p])


def restrictions(con: Con) -> list[tuple]:
    """(tenant, pseudonym, since) of every restriction of a person not erased since."""
    if not store.has_table(con, "restrictions"):
        return []
    return con.execute("SELECT tenant_id, user_pseudonym, since FROM vault.restrictions r "
                       "WHERE NOT EXISTS (SELECT 1 FROM vault.tombstones t WHERE "
                       "t.tenant_id = r.tenant_id AND t.user_pseudonym = r.user_pseudonym) "
                       "ORDER BY ALL").fetchall()


def tombstone(con: Con, tenant_id: str, p: str, create: bool = True) -> str | None:
    """The erased pseudonym's token, recorded (random, 256 bits) on first call; with
    create=False, None when there is no tombstone."""
    if create and not is_erased(con, tenant_id, p):
        con.execute("INSERT INTO vault.tombstones (tenant_id, user_pseudonym, token, erased_at) "
                    "VALUES (?, ?, ?, now())", [tenant_id, p, secrets.token_hex(32)])
    row = con.execute("SELECT token FROM vault.tombstones WHERE tenant_id = ? AND user_pseudonym = ?",
                      [tenant_id, p]).fetchone()
    return row[0] if row else None


def tombstones(con: Con) -> list[tuple[str, str, str]]:
    """(tenant, pseudonym, token) of every erasure."""
    if not store.has_table(con, "tombstones"):
        return []
    return con.execute("SELECT tenant_id, user_pseudonym, token FROM vault.tombstones ORDER BY ALL").fetchall()


def forget(con: Con, req: Request, on_done) -> tuple[dict[str, int], list[str]]:
    """The erasure's vault step, in one transaction: identity and restriction deleted, the user id
    and values of the person's requests cleared; `on_done(counts)` records the step in the same
    transaction. Returns (rows per table, ids of the person's exports left under MIRA_HOME)."""
    tenant, p = req.tenant_id, req.user_pseudonym
    con.execute("BEGIN TRANSACTION")
    try:
        n = con.execute("DELETE FROM vault.identities WHERE tenant_id = ? AND (user_pseudonym = ? OR user_id = ?)",
                        [tenant, p, req.user_id]).fetchone()[0]
        r = con.execute("DELETE FROM vault.restrictions WHERE tenant_id = ? AND user_pseudonym = ?",
                        [tenant, p]).fetchone()[0]
        exports = [rid for (rid,) in con.execute(
            "SELECT request_id FROM vault.requests WHERE kind = 'export' AND tenant_id = ? "
            "AND user_pseudonym = ? AND out_dir IS NULL", [tenant, p]).fetchall()]
        con.execute("UPDATE vault.requests SET user_id = NULL, value = NULL WHERE tenant_id = ? "
                    "AND user_pseudonym = ?", [tenant, p])
        req.user_id = req.value = None
        counts = {"vault.identities": n, "vault.restrictions": r}
        on_done(counts)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts, exports


def forget_tombstoned(con: Con) -> dict[str, int]:
    """After a restore: identities and restrictions of erased people leave the vault again, and
    finished requests of theirs lose the user id and values. Rows changed per table."""
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
    return {k: v for k, v in (("vault.identities", n), ("vault.restrictions", r), ("vault.requests", q)) if v}

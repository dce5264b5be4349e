"""Data-subject rights, asked by the controller (the tenant): access and portability (export),
rectification, erasure, restriction (and objection, handled as restriction).

A request is recorded in the vault (pipelines/vault/requests.py) and in the warehouse's audit log
(`audit.privacy_requests`: who asked, when, status, rows per table; never the personal data). Its
Dagster job gets only the request id. Each step is idempotent and its completion is recorded, so
a request that fails midway completes when it is run again (`mira privacy resume ID`, or the
same command again). The rights themselves: export.py, erase.py, restrict.py (with rectify).
"""
from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Callable

from pipelines.contracts import load_contract
from pipelines.privacy.rights import erase, export, restrict
from pipelines.privacy.rights.common import KINDS, Con, Log, RequestError, RequestFailed, audit, now, session, who_asked
from pipelines.privacy.rights.person_rows import rows_held, table_exists
from pipelines.serving.publish import republish
from pipelines.settings import Settings, get_settings
from pipelines.vault import requests as vault_requests
from pipelines.vault import store as vault
from pipelines.vault.pseudonyms import pseudonym_of
from pipelines.vault.requests import RECTIFIABLE, Request, UnknownRequest
from pipelines.warehouse import connect

# Each handler runs inside the request's session and returns whether the published files must be
# rebuilt afterwards (done by execute, once the session is closed).
HANDLERS: dict[str, Callable[[Request, Con, Settings, Log], bool]] = {
    "export": export.export, "rectify": restrict.rectify, "erase": erase.erase,
    "restrict": restrict.restrict, "unrestrict": restrict.unrestrict,
}


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
    if not vault.exists(settings):
        raise RequestError("there is no vault yet: nothing has been ingested")
    out = str(Path(out_dir).expanduser().resolve()) if out_dir else None
    with session(settings) as con:
        p = pseudonym_of(con, tenant_id, user_id)
        if p is None:
            raise RequestError(f"tenant {tenant_id} is not known: nothing of it has been ingested")
        open_id = vault_requests.open_request(con, kind, tenant_id, p, field_name)
        if open_id:
            vault_requests.refresh_request(con, open_id, user_id, value, out)
            return open_id
        has_identity = vault_requests.has_identity(con, tenant_id, user_id)
        erased = vault_requests.is_erased(con, tenant_id, p)
        restricted = vault_requests.restricted_since(con, tenant_id, p)
        held = has_identity or rows_held(con, p) > 0
        who = f"user {user_id} of tenant {tenant_id}"
        if kind == "erase" and not (held or erased):
            raise RequestError(f"no data is held on {who}: nothing to erase")
        if kind in ("export", "restrict") and not held:
            raise RequestError(f"no data is held on {who}" + (" (erased)" if erased else ""))
        if kind == "rectify" and not has_identity:
            raise RequestError(f"no identity is held on {who}" + (" (erased)" if erased else ""))
        if kind == "restrict" and restricted:
            raise RequestError(f"{who} is already restricted (since {restricted:%Y-%m-%d})")
        if kind == "unrestrict" and not restricted:
            raise RequestError(f"{who} is not restricted")
        req = Request(uuid.uuid4().hex, kind, tenant_id, user_id, p, field_name, value, out,
                      who_asked(requested_by), now(), "pending")
        vault_requests.record(con, req)
        audit(con, req)
    return req.request_id


def load_request(request_id: str, settings: Settings | None = None) -> Request:
    """A recorded request, read from the vault alone (read-only)."""
    try:
        return vault_requests.load_request(request_id, settings)
    except UnknownRequest as exc:
        raise RequestError(str(exc)) from None


def _scrub(message: str, req: Request, con: Con | None) -> str:
    """An error message without the request's personal values (it goes to Dagster's event log)."""
    secrets_ = [req.user_id, req.value, req.user_pseudonym]
    try:
        identity = (vault_requests.identity(con, req.tenant_id, req.user_pseudonym) if con is not None else None) or {}
        secrets_ += [identity.get("first_name"), identity.get("last_name"), identity.get("email")]
    except Exception:  # the vault itself may be what failed
        pass
    for secret in sorted((s for s in secrets_ if s), key=len, reverse=True):
        message = message.replace(secret, "[redacted]")
    return message


def _failed(settings: Settings, req: Request, exc: Exception, con: Con | None) -> RequestFailed:
    step = req.state.get("step", req.kind)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    message = _scrub(f"{req.kind}, step {step}: {type(exc).__name__}: {first}", req, con)
    req.state["error"] = message
    req.status = "failed"
    try:
        if con is not None:
            vault_requests.save(con, req)
            audit(con, req)
        else:
            with session(settings) as fresh:
                vault_requests.save(fresh, req)
                audit(fresh, req)
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
        vault_requests.save(con, req, "running")
        audit(con, req)
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
            republish(settings, log)
        except Exception as exc:
            raise _failed(settings, req, exc, None) from None
        req.done_steps.append("publish")
    with session(settings) as con:
        vault_requests.save(con, req, "done", clear_personal=True)
        audit(con, req)
    log(f"request {request_id} done: " + ", ".join(f"{k}={v}" for k, v in sorted(req.counts.items())))
    return req.counts


def audit_log(settings: Settings | None = None, limit: int = 50) -> list[dict]:
    """The latest requests from the warehouse's audit log (no personal data in it)."""
    settings = settings or get_settings()
    if not settings.warehouse_path.exists():
        return []
    with connect(read_only=True, settings=settings) as con:
        if not table_exists(con, "audit", "privacy_requests"):
            return []
        cur = con.execute("SELECT * FROM audit.privacy_requests ORDER BY requested_at DESC LIMIT ?", [limit])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


def _load(con: Con, request_id: str) -> Request:
    try:
        return vault_requests.load(con, request_id)
    except UnknownRequest as exc:
        raise RequestError(str(exc)) from None

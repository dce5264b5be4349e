"""Access and portability: everything held on one person, as JSON and CSV for the controller.

The export folder is owner-only (0700, files 0600), by default MIRA_HOME/exports/<request id>/;
it holds personal data on purpose, so the leak scanner skips it and retention deletes it after
MIRA_LOG_RETENTION_DAYS. The pseudonym is shown as the user id: the controller knows the person
by it; the pseudonym is an internal key.
"""
from __future__ import annotations

import csv
import json
import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Callable

from pipelines.privacy.rights.common import EXPORTS_DIR, Con, Log, RequestError, now
from pipelines.privacy.rights.person_rows import has_column, json_columns, pseudonym_columns
from pipelines.settings import Settings
from pipelines.vault import requests as vault_requests
from pipelines.vault.requests import Request
from pipelines.warehouse import ident


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return value


def held_rows(con: Con, tenant_id: str, p: str, user_id: str) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every warehouse row carrying the pseudonym, with the pseudonym shown as the user id (the
    controller knows the person by it; the pseudonym is an internal key) and internals dropped."""
    out: dict[str, tuple[list[str], list[tuple]]] = {}
    by_table: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in pseudonym_columns(con):
        by_table.setdefault((schema, table), []).append(column)
    for (schema, table), columns in by_table.items():
        ref = f"{ident(schema)}.{ident(table)}"
        where = " OR ".join(f"{ident(c)} = ?" for c in columns)
        drop = " EXCLUDE (_row_hash)" if has_column(con, schema, table, "_row_hash") else ""
        cur = con.execute(f"SELECT *{drop} FROM {ref} WHERE {where}", [p] * len(columns))
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
        if not rows:
            continue
        idx = {i for i, n in enumerate(names) if n in columns}
        names = [n.removesuffix("_pseudonym") + "_id" if i in idx else n for i, n in enumerate(names)]
        rows = [tuple(user_id if (i in idx and v == p) else v for i, v in enumerate(r)) for r in rows]
        out[f"{schema}.{table}"] = (names, rows)
    for schema, table, column in json_columns(con):
        ref = f"{ident(schema)}.{ident(table)}"
        tenant = " AND tenant_id = ?" if has_column(con, schema, table, "tenant_id") else ""
        cur = con.execute(f"SELECT * FROM {ref} WHERE contains(CAST({ident(column)} AS VARCHAR), ?){tenant}",
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


def export(req: Request, con: Con, settings: Settings, log: Log) -> bool:
    if not req.user_id:
        raise RequestError("the request no longer names a person (erased meanwhile)")
    folder = _private_dir(export_dir(settings, req))
    req.state["step"] = "collect"
    identity = vault_requests.identity(con, req.tenant_id, req.user_pseudonym)
    tables = held_rows(con, req.tenant_id, req.user_pseudonym, req.user_id)
    req.state["step"] = "write"
    if identity:
        _write_table(folder, "identity", list(identity), [tuple(identity.values())])
    for name, (names, rows) in tables.items():
        _write_table(folder, name, names, rows)
    document = {
        "request_id": req.request_id, "tenant_id": req.tenant_id, "user_id": req.user_id,
        "generated_at": now().isoformat(),
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

"""Serving files: one encrypted file per tenant with only its rows, the ops counts, the keyring,
names on demand, on the shared end-to-end build."""
from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from pipelines.serving.files import (
    ServingUnavailable,
    audit_names_view,
    lookup_names,
    names_visible,
    open_ops,
    open_tenant,
    read_keyring,
    tenant_path,
)
from pipelines.accounts.tenants import set_names_visible
from pipelines.serving.publish import publish_tenants
from pipelines.warehouse import CannotOpen, open_file
from tests.conftest import point_at


@pytest.fixture
def home(e2e, monkeypatch) -> Path:
    return point_at(monkeypatch, e2e[0])


@pytest.fixture
def copy(e2e, tmp_path, monkeypatch) -> Path:
    target = tmp_path / "mira"
    shutil.copytree(e2e[0], target, ignore=shutil.ignore_patterns("landing"))
    return point_at(monkeypatch, target)


def _tenants(home: Path) -> list[str]:
    with open_file(home / "warehouse.duckdb", read_only=True) as con:
        return [t for (t,) in con.execute("SELECT DISTINCT tenant_id FROM raw.tenants ORDER BY 1").fetchall()]


def _tenanted_counts(con, tenant: str | None) -> dict[str, int]:
    tables = con.execute("SELECT table_name FROM duckdb_columns() WHERE database_name = current_database() "
                         "AND schema_name = 'marts' AND column_name = 'tenant_id'").fetchall()
    where = "WHERE tenant_id = ?" if tenant else ""
    return {t: con.execute(f'SELECT count(*) FROM marts."{t}" {where}', [tenant] if tenant else []).fetchone()[0]
            for (t,) in tables}


def test_each_tenant_file_holds_exactly_its_rows(home):
    tenants = _tenants(home)
    assert len(tenants) >= 3
    with open_file(home / "warehouse.duckdb", read_only=True) as wh:
        expected = {t: _tenanted_counts(wh, t) for t in tenants}
    for tenant in tenants:
        with open_tenant(tenant) as con:
            assert con.execute("SELECT DISTINCT tenant_id FROM marts.fct_material_usage_daily").fetchall() in ([], [(tenant,)])
            assert _tenanted_counts(con, None) == expected[tenant]
            assert con.execute("SELECT count(*) FROM marts.dim_date").fetchone()[0] > 0  # the shared calendar, whole
    assert sum(expected[t]["fct_stock_movements"] for t in tenants) > 0


def test_a_tenant_file_does_not_open_with_another_tenants_key(home):
    a, b = _tenants(home)[:2]
    ring = read_keyring()
    assert ring[a] != ring[b]
    with pytest.raises(CannotOpen):
        open_file(tenant_path(b), read_only=True, key=ring[a])
    blob = (home / "serving" / "keyring.bin").read_bytes()
    assert not any(k.encode() in blob or bytes.fromhex(k) in blob for k in ring.values())
    assert not any(t.encode() in blob for t in ring)


def test_tenant_ids_from_outside_are_validated_not_quoted(home):
    for hostile in ("../vault", "a/../../b", "", "X" * 80):
        with pytest.raises(ValueError) as caught:
            open_tenant(hostile)
        assert hostile not in str(caught.value) or hostile == ""


def test_unknown_tenant_gets_words_not_a_trace(home):
    with pytest.raises(ServingUnavailable, match="not been published"):
        open_tenant("no-such-tenant")


def test_ops_file_has_counts_per_tenant(home, e2e):
    first = e2e[2]
    with open_ops() as con:
        fresh = dict(con.execute("SELECT tenant_id, rows_quarantined FROM ops.tenant_freshness").fetchall())
        by_rule = con.execute("SELECT sum(rows) FROM ops.quarantine_by_rule").fetchone()[0]
        runs = con.execute("SELECT count(*) FROM ops.runs").fetchone()[0]
    assert set(fresh) == set(_tenants(home))
    assert sum(fresh.values()) == first["rows_quarantined"] == by_rule
    assert runs == 2


def test_republish_swaps_atomically_and_drops_gone_tenants(copy):
    tenants = _tenants(copy)
    reader = open_tenant(tenants[0])
    try:
        before = reader.execute("SELECT count(*) FROM marts.fct_stock_movements").fetchone()[0]
        with open_file(copy / "warehouse.duckdb") as wh:
            wh.execute("DELETE FROM raw.tenants WHERE tenant_id = ?", [tenants[-1]])
        rows = publish_tenants()
        assert reader.execute("SELECT count(*) FROM marts.fct_stock_movements").fetchone()[0] == before
    finally:
        reader.close()
    assert set(rows) == set(tenants[:-1])
    assert not tenant_path(tenants[-1]).exists()
    assert sorted(p.name for p in (copy / "serving" / "tenants").iterdir()) == sorted(f"{t}.duckdb" for t in tenants[:-1])


def test_names_are_looked_up_per_tenant_and_views_audited(copy):
    a, b = _tenants(copy)[:2]
    with open_tenant(a) as con:
        mine = [p for (p,) in con.execute("SELECT user_pseudonym FROM marts.dim_users LIMIT 5").fetchall()]
    with open_tenant(b) as con:
        theirs = [p for (p,) in con.execute("SELECT user_pseudonym FROM marts.dim_users LIMIT 5").fetchall()]
    assert names_visible(a) is False
    set_names_visible(a, True)
    assert names_visible(a) and not names_visible(b)
    names = lookup_names(a, mine + theirs)
    assert set(names) == set(mine) and all(" " in n for n in names.values())
    audit_names_view(7, a, "consumption", len(names))
    with sqlite3.connect(copy / "accounts.db") as db:
        (detail,) = db.execute("SELECT detail FROM auth_events WHERE event = 'names_view'").fetchone()
    assert json.loads(detail) == {"tenant": a, "page": "consumption", "names": len(names)}
    assert not any(n in detail for n in names.values())

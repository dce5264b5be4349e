"""Contract parsing and the rules derived from it."""
from __future__ import annotations

import duckdb
import pytest

from pipelines.contracts import ENTITIES, ContractError, _parse, load_contracts, markdown_table


def test_every_entity_has_a_valid_contract_with_pii_classes():
    contracts = load_contracts()
    assert set(contracts) == set(ENTITIES)
    for c in contracts.values():
        assert "tenant_id" in c.field_names and c.key
        assert all(f.pii in ("none", "identifier", "direct_identifier", "free_text") for f in c.fields)
    users = contracts["users"]
    assert {f.name for f in users.fields if f.pii == "direct_identifier"} == {"first_name", "last_name", "email"}
    assert contracts["movements"].field("note").pii == "free_text"


def test_issue_fields_are_all_named():
    c = load_contracts()
    assert c["movements"].field_names[:12] == [
        "movement_id", "tenant_id", "occurred_at", "movement_type", "material_id", "quantity", "unit",
        "from_location_id", "to_location_id", "project_id", "user_id", "unit_cost"]
    assert c["users"].field_names == ["user_id", "tenant_id", "first_name", "last_name", "email", "role",
                                      "created_at", "last_login_at"]


def test_warehouse_columns_hold_no_personal_data():
    for c in load_contracts().values():
        names = [n for n, _, _ in c.warehouse_columns]
        assert not {"user_id", "first_name", "last_name", "email", "note", "last_login_at"} & set(names)
    assert "user_pseudonym" in [n for n, _, _ in load_contracts()["movements"].warehouse_columns]


@pytest.mark.parametrize("bad, message", [
    ({"type": "money", "pii": "none", "description": "x"}, "type must be"),
    ({"type": "string", "pii": "secret", "description": "x"}, "pii must be"),
    ({"type": "string", "pii": "none"}, "description"),
    ({"type": "string", "pii": "none", "description": "x", "requird": True}, "unknown contract keys"),
    ({"type": "string", "pii": "none", "description": "x", "required_when": {"nope": ["a"]}}, "unknown field"),
    ({"type": "decimal", "pii": "none", "description": "x"}, "a decimal needs decimals and integer_digits"),
    ({"type": "decimal", "pii": "none", "description": "x", "decimals": 6}, "a decimal needs"),
    ({"type": "decimal", "pii": "none", "description": "x", "decimals": 10, "integer_digits": 10}, "at most 18"),
    ({"type": "string", "pii": "none", "description": "x", "decimals": 2}, "only apply to decimals"),
    ({"type": "decimal", "pii": "none", "description": "x", "decimals": 2, "integer_digits": 4, "max_length": 5},
     "max_length"),
])
def test_malformed_contracts_are_refused(bad, message):
    raw = {"entity": "locations", "key": ["tenant_id"],
           "fields": {"tenant_id": {"type": "string", "pii": "none", "description": "t"}, "x": bad}}
    with pytest.raises(ContractError, match=message):
        _parse("locations", raw)


def _first_rule(entity: str, row: dict) -> str | None:
    """Evaluate the derived SQL rules on one text row, the way ingestion does."""
    c = load_contracts()[entity]
    con = duckdb.connect()
    cols = ", ".join(f"CAST(? AS VARCHAR) AS \"{n}\"" for n in c.field_names)
    con.execute(f"CREATE TABLE t AS SELECT {cols}, 'acme' AS _folder_tenant", [row.get(n) for n in c.field_names])
    case = " ".join(f"WHEN {r.violation} THEN '{r.id}'" for r in c.rules())
    return con.execute(f"SELECT CASE {case} END FROM t").fetchone()[0]


BASE = dict(movement_id="M1", tenant_id="acme", occurred_at="2026-03-01T08:15:00+01:00", movement_type="issue",
            material_id="X", quantity="2.5", unit="m", from_location_id="L", project_id="P", user_id="u")


@pytest.mark.parametrize("change, rule", [
    ({}, None),
    ({"occurred_at": "2026-03-01T08:15:00Z"}, None),
    ({"occurred_at": "2026-03-01T08:15:00"}, "movements.occurred_at.type"),
    ({"occurred_at": "2026-02-30T08:15:00+01:00"}, "movements.occurred_at.type"),
    ({"quantity": "0"}, "movements.quantity.nonzero"),
    ({"quantity": "-1"}, "movements.quantity.range"),
    ({"quantity": "-1", "movement_type": "adjustment", "to_location_id": "L"}, None),
    ({"quantity": "1e3"}, "movements.quantity.type"),
    ({"movement_type": "receipt", "to_location_id": "L"}, "movements.unit_cost.required"),
    ({"movement_type": "receipt", "to_location_id": "L", "unit_cost": "-1"}, "movements.unit_cost.range"),
    ({"movement_type": "transfer", "to_location_id": None}, "movements.to_location_id.required"),
    ({"from_location_id": None}, "movements.from_location_id.required"),
    ({"unit": "stuks"}, "movements.unit.allowed"),
    ({"tenant_id": "beta"}, "movements.tenant_id.folder"),
    ({"material_id": None}, "movements.material_id.required"),
    ({"quantity": "2.1234567"}, "movements.quantity.precision"),
    ({"quantity": "2.1234560000"}, None),
    ({"quantity": "1234567890123"}, "movements.quantity.overflow"),
    ({"quantity": "0001234567890.5"}, None),
    ({"quantity": "999999999999.9999999"}, "movements.quantity.precision"),
    ({"material_id": "MAT\x1b[0m"}, "movements.material_id.type"),
    ({"material_id": "M" * 1001}, "movements.material_id.length"),
    ({"occurred_at": "2026-03-01T08:15:00.1234567+01:00"}, "movements.occurred_at.type"),
    ({"occurred_at": "2026-03-01T08:15:00.1234560+01:00"}, None),
])
def test_movement_rules(change, rule):
    assert _first_rule("movements", {**BASE, **change}) == rule


def test_readme_landing_format_is_generated_from_the_contracts():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for c in load_contracts().values():
        assert markdown_table(c) in readme, f"README table for {c.entity} is stale: run `mira contracts`"

"""GX suites derived from the contracts catch what the row rules would, on loaded (typed) rows."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import datetime, timezone

import duckdb
import pandas as pd
import pytest

from pipelines.contracts import ENTITIES, load_contract, load_contracts, q
from pipelines.ingest.quality import META_COLUMNS, PSEUDONYM_REGEX, build_suite, validate, warehouse_name

NOW = datetime(2026, 3, 1, 8, 15, tzinfo=timezone.utc)


def _pseudo(i: int) -> str:
    return hashlib.sha256(f"user-{i}".encode()).hexdigest()


def _meta(n: int) -> dict:
    return {"_source_file": ["t1/x.csv"] * n, "_source_row": list(range(1, n + 1)),
            "_row_hash": list(range(n)), "_run_id": ["run-1"] * n, "_loaded_at": [NOW] * n}


def movements_frame() -> pd.DataFrame:
    rows = [  # type, quantity, from, to, project, unit_cost
        ("receipt", 10.0, None, "wh1", None, 2.5),
        ("issue", 3.0, "wh1", None, "p1", None),
        ("return", 1.0, None, "wh1", "p1", None),
        ("adjustment", -2.0, None, "wh1", None, None),  # signed quantity allowed for adjustments
        ("transfer", 4.0, "wh1", "van1", None, 0.0),
    ]
    n = len(rows)
    return pd.DataFrame({
        "movement_id": [f"mv{i}" for i in range(n)], "tenant_id": ["t1"] * n, "occurred_at": [NOW] * n,
        "movement_type": [r[0] for r in rows], "material_id": ["mat1"] * n,
        "quantity": [r[1] for r in rows], "unit": ["pcs"] * n,
        "from_location_id": [r[2] for r in rows], "to_location_id": [r[3] for r in rows],
        "project_id": [r[4] for r in rows], "user_pseudonym": [_pseudo(i % 2) for i in range(n)],
        "unit_cost": [r[5] for r in rows], **_meta(n),
    })


def materials_frame() -> pd.DataFrame:
    n = 3
    return pd.DataFrame({
        "material_id": ["mat1", "mat2", "mat3"], "tenant_id": ["t1", "t1", "t2"], "sku": ["A1", "A2", "A1"],
        "name": ["Screw 4x40", "Drill", "Cable"], "category": ["fasteners", "power tools", "electrical"],
        "kind": ["consumable", "tool", "material"], "unit": ["box", "pcs", "m"],
        "unit_cost": [4.2, 199.0, 0.0], "min_stock": [10.0, None, 0.0], "reorder_qty": [50.0, None, 100.0],
        "lead_time_days": pd.array([3, None, 365], dtype="Int32"),
        "supplier": ["Visserie Lambert", None, "Câblerie Mosane"], **_meta(n),
    })


FRAMES = {"movements": movements_frame, "materials": materials_frame}


@pytest.mark.parametrize("entity", sorted(FRAMES))
def test_valid_frame_passes_and_writes_parseable_evidence(entity, tmp_path):
    s = validate(entity, FRAMES[entity](), tmp_path, "run-1")
    assert s.success, s.failed
    assert s.failed == []
    assert s.evaluated == len(build_suite(load_contract(entity)).expectations)
    assert s.path == tmp_path / entity / "run-1.json"
    doc = json.loads(s.path.read_text(encoding="utf-8"))
    assert doc["success"] is True and doc["suite_name"] == f"{entity}_contract"
    assert doc["meta"]["mira_run_id"] == "run-1"
    assert [p.name for p in s.path.parent.iterdir()] == ["run-1.json"]  # no temp file left behind


def _set(df: pd.DataFrame, col: str, i: int, value) -> pd.DataFrame:
    df = df.copy()
    df[col] = df[col].astype(object)
    df.loc[i, col] = value
    return df


BREAKS = [
    ("disallowed movement_type", "movements", lambda d: _set(d, "movement_type", 1, "teleport"),
     "expect_column_values_to_be_in_set(movement_type)"),
    ("null required column", "movements", lambda d: _set(d, "material_id", 0, None),
     "expect_column_values_to_not_be_null(material_id)"),
    ("negative unit_cost", "materials", lambda d: _set(d, "unit_cost", 1, -0.01),
     "expect_column_values_to_be_between(unit_cost)"),
    ("lead time above max", "materials", lambda d: _set(d, "lead_time_days", 0, 366),
     "expect_column_values_to_be_between(lead_time_days)"),
    ("duplicate key", "movements", lambda d: _set(d, "movement_id", 1, "mv0"),
     "expect_compound_columns_to_be_unique(tenant_id,movement_id)"),
    ("duplicate material key", "materials", lambda d: _set(d, "material_id", 1, "mat1"),
     "expect_compound_columns_to_be_unique(tenant_id,material_id)"),
    ("non-hex pseudonym", "movements", lambda d: _set(d, "user_pseudonym", 2, "U-1234"),
     "expect_column_values_to_match_regex(user_pseudonym)"),
    ("upper-case hex pseudonym", "movements", lambda d: _set(d, "user_pseudonym", 2, _pseudo(1).upper()),
     "expect_column_values_to_match_regex(user_pseudonym)"),
    ("zero quantity", "movements", lambda d: _set(d, "quantity", 3, 0.0),
     "expect_column_values_to_not_be_in_set(quantity)"),
    ("negative quantity outside adjustments", "movements", lambda d: _set(d, "quantity", 1, -3.0),
     "expect_column_values_to_be_between(quantity)"),
    ("receipt without unit_cost (required_when)", "movements", lambda d: _set(d, "unit_cost", 0, None),
     "expect_column_values_to_not_be_null(unit_cost)"),
    ("issue without project (required_when)", "movements", lambda d: _set(d, "project_id", 1, None),
     "expect_column_values_to_not_be_null(project_id)"),
    ("unexpected extra column", "materials", lambda d: d.assign(colour="red"),
     "expect_table_columns_to_match_set"),
    ("missing meta column", "materials", lambda d: d.drop(columns=["_run_id"]),
     "expect_table_columns_to_match_set"),
]


@pytest.mark.parametrize("entity,breaker,expected", [b[1:] for b in BREAKS], ids=[b[0] for b in BREAKS])
def test_broken_frame_fails_naming_the_expectation(entity, breaker, expected, tmp_path):
    s = validate(entity, breaker(FRAMES[entity]()), tmp_path, "run-2")
    assert not s.success
    assert expected in s.failed, s.failed
    assert len(s.failed) == 1, s.failed  # each break trips exactly its own expectation
    assert json.loads(s.path.read_text(encoding="utf-8"))["success"] is False


def test_conditional_rules_do_not_fire_outside_their_condition(tmp_path):
    df = movements_frame()
    # a transfer has no project and no cost; an adjustment may be negative: both are fine
    assert pd.isna(df.loc[4, "project_id"]) and df.loc[3, "quantity"] < 0
    assert validate("movements", df, tmp_path, "r").success


def test_pseudonym_values_are_kept_out_of_the_evidence(tmp_path):
    leaked = "raw-user-id-4711"
    df = _set(movements_frame(), "user_pseudonym", 0, leaked)
    s = validate("movements", df, tmp_path, "r")
    assert "expect_column_values_to_match_regex(user_pseudonym)" in s.failed
    text = s.path.read_text(encoding="utf-8")
    assert leaked not in text
    # non-personal columns keep their sample values as evidence
    s2 = validate("movements", _set(movements_frame(), "movement_type", 1, "teleport"), tmp_path, "r2")
    assert "teleport" in s2.path.read_text(encoding="utf-8")


@pytest.mark.parametrize("entity,column", [("users", "email"), ("users", "first_name"), ("users", "user_id"),
                                           ("movements", "note"), ("movements", "user_id"),
                                           ("materials", "email")])  # another contract's PII too
def test_frames_with_personal_columns_are_refused_before_gx(entity, column, tmp_path):
    df = FRAMES.get(entity, movements_frame)().assign(**{column: "x"})
    with pytest.raises(ValueError, match="refusing"):
        validate(entity, df, tmp_path, "r")
    assert not (tmp_path / entity).exists()


def test_empty_frame_validates(tmp_path):
    df = movements_frame().iloc[0:0]
    s = validate("movements", df, tmp_path, "empty")
    assert s.success and s.failed == []
    assert s.evaluated == len(build_suite(load_contract("movements")).expectations)
    assert json.loads(s.path.read_text(encoding="utf-8"))["meta"]["row_count"] == 0


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # raised inside duckdb's .df() on pandas 3
@pytest.mark.parametrize("entity", ENTITIES)
def test_frames_typed_by_duckdb_validate(entity, tmp_path):
    """The real input: rows read back from a raw.<entity> table with the warehouse's SQL types."""
    c = load_contract(entity)
    cols = [f"{q(n)} {t}" for n, t, _ in c.warehouse_columns] + [
        "_source_file VARCHAR", "_source_row BIGINT", "_row_hash UBIGINT", "_run_id VARCHAR",
        "_loaded_at TIMESTAMPTZ"]
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE t ({', '.join(cols)})")
        s = validate(entity, con.sql("SELECT * FROM t").df(), tmp_path, "typed-empty")
        assert s.success, s.failed
        if entity in FRAMES:
            src = FRAMES[entity]()
            con.register("src", src)
            con.execute("INSERT INTO t BY NAME SELECT * FROM src")
            typed = con.sql("SELECT * FROM t").df()
            assert len(typed) == len(src)
            s = validate(entity, typed, tmp_path, "typed")
            assert s.success, s.failed
            bad = con.sql("SELECT * REPLACE (CAST(-1 AS DECIMAL(18,4)) AS unit_cost) FROM t").df()
            assert "expect_column_values_to_be_between(unit_cost)" in validate(
                entity, bad, tmp_path, "typed-bad").failed
    finally:
        con.close()


def test_existing_result_is_replaced_atomically(tmp_path):
    first = validate("materials", materials_frame(), tmp_path, "same")
    second = validate("materials", _set(materials_frame(), "kind", 0, "gadget"), tmp_path, "same")
    assert first.path == second.path
    assert json.loads(second.path.read_text(encoding="utf-8"))["success"] is False


def test_run_id_cannot_escape_the_output_folder(tmp_path):
    with pytest.raises(ValueError):
        validate("materials", materials_frame(), tmp_path, "../evil")


# --- the suite covers every contract --------------------------------------------------------------

def _by_type(suite) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in suite.expectations:
        d = e.configuration.to_json_dict()
        out.setdefault(d["type"], []).append(d["kwargs"])
    return out


@pytest.mark.parametrize("entity", ENTITIES)
def test_suite_covers_every_contract_rule(entity):
    c = load_contracts()[entity]
    suite = build_suite(c)
    assert suite.name == f"{entity}_contract"
    ex = _by_type(suite)
    wcols = [n for n, _, _ in c.warehouse_columns]

    (colset,) = ex["expect_table_columns_to_match_set"]
    assert set(colset["column_set"]) == set(wcols) | set(META_COLUMNS)

    not_null = {(k["column"], bool(k.get("row_condition"))) for k in ex["expect_column_values_to_not_be_null"]}
    in_set = {k["column"]: k["value_set"] for k in ex.get("expect_column_values_to_be_in_set", [])}
    regex = {(k["column"], k["regex"]) for k in ex.get("expect_column_values_to_match_regex", [])}
    touched = {k.get("column") for kws in ex.values() for k in kws} | {
        col for kws in ex.values() for k in kws for col in k.get("column_list", [])}

    for f in c.fields:
        col = warehouse_name(c, f)
        if f.pii in ("direct_identifier", "free_text"):
            assert col is None and f.name not in touched, f.name
            continue
        assert col in wcols
        if f.required:
            assert (col, False) in not_null, f.name
        if f.required_when:
            assert (col, True) in not_null, f.name
        if f.allowed:
            assert in_set.get(col) == list(f.allowed), f.name
        if f.pii == "identifier":
            assert col.endswith("_pseudonym") and (col, PSEUDONYM_REGEX) in regex, f.name
        elif f.pattern:
            assert (col, f.pattern) in regex, f.name

    key = [warehouse_name(c, c.field(k)) for k in c.key]
    uniques = [k["column_list"] for k in ex.get("expect_compound_columns_to_be_unique", [])] + [
        [k["column"]] for k in ex.get("expect_column_values_to_be_unique", [])]
    assert key in uniques


def test_importing_the_module_does_not_import_gx():
    code = "import sys, pipelines.ingest.quality; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
